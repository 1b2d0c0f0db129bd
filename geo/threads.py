"""Running a GIL-free kernel over a large array in even chunks, one per core."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["over_cores"]

T = TypeVar("T")


def over_cores(fn: Callable[[slice], T], n: int, min_chunk: int) -> list[T]:
    """``fn`` over even slices of ``range(n)``, one per core, in order.

    Parameters
    ----------
    fn : callable
        Takes a ``slice`` of the items and returns its part of the result.
        It must release the GIL for the threads to help (numpy, GEOS, the
        kernels of :mod:`geo.jit`).
    n : int
        Number of items.
    min_chunk : int
        Fewest items per slice: below this a thread costs more than it saves,
        so small inputs run in one call on the calling thread.

    Returns
    -------
    list
        ``fn``'s results, slice by slice in order.
    """
    workers = min(os.cpu_count() or 1, n // max(min_chunk, 1))
    if workers <= 1:
        return [fn(slice(0, n))]
    size = -(-n // workers)
    parts = [slice(i, i + size) for i in range(0, n, size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, parts))
