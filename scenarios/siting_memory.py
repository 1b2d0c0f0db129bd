"""Giving freed heap memory back to the operating system between the steps of a siting run.

A p-median run allocates and frees a few hundred MB of numpy temporaries while
it shrinks the problem (spacing conflicts, dominance, bounds). glibc keeps much
of that in its heaps once freed: after the first large free it raises its mmap
threshold, so later arrays of up to 32 MB come from the heap, whose free pages
it returns only from the top (or when asked). Measured on the demo, the process
held 50-100 MB of freed memory after the solve, through the check, the writers
and the map; :func:`release_freed_memory` asks glibc to return it.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache

__all__ = ["release_freed_memory"]


@cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


def release_freed_memory() -> bool:
    """Return the free pages of every malloc heap to the operating system.

    Changes no data: only memory already freed is given back. Takes a few
    milliseconds.

    Returns
    -------
    bool
        True when glibc's ``malloc_trim`` ran (it released something or not);
        False where it is not available.
    """
    fn = _malloc_trim()
    if fn is None:
        return False
    fn(0)
    return True
