"""The one way this package compiles its few numeric kernels (numba).

Most of :mod:`geo` is vectorised numpy, scipy and GEOS. A handful of loops
that have no vectorised form (a ring search per point, building a grid or a
CSR matrix in one pass) are compiled with numba instead:

- ``cache=True``: compiled once per machine and kept beside the module, so a
  process pays only the load (tens of milliseconds), not the compile;
- ``nogil=True``: they release the GIL, so callers may run chunks in threads;
- no ``fastmath``: floating-point operations keep their IEEE order, so the
  kernels reproduce GEOS's and numpy's results to the last bit.
"""

from __future__ import annotations

import numba

__all__ = ["kernel"]

kernel = numba.njit(cache=True, nogil=True)
"""Decorator for a compiled, cached, GIL-free kernel."""
