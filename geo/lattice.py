"""Recognising cells that tile one exact lattice of axis-aligned rectangles.

A 100 m population grid is a raster in disguise: every cell is a rectangle
whose sides lie on a common set of vertical and horizontal lines. When that
holds *exactly* (neighbouring cells share their side coordinates bit for
bit), work on the cells can be done on a 2-D array of grid positions instead
of on polygons, and outlines traced on the lattice use the cells' own
coordinates, so they equal a GEOS union of the cells exactly.

Anything else (a management grid of irregular blocks, a grid reprojected
cell by cell so that shared sides differ in the last bits, overlapping or
sparse-over-a-huge-extent cells) is not a lattice here, and callers take
their general polygon path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike

from geo.jit import kernel

__all__ = ["GridLattice", "grid_lattice"]

# Relative tolerance on cell sizes and positions: only used to assign rows
# and columns; exactness is then checked on the coordinates themselves.
_SIZE_TOL = 1e-6
_POS_TOL = 1e-4
# A lattice whose extent holds this many times more slots than cells (a few
# scattered cells over a wide area) is not worth a raster.
_MAX_EMPTY_RATIO = 4
_MIN_SLOTS = 1_000_000
_POLYGON = 3  # shapely.get_type_id of a Polygon


@dataclass(frozen=True, eq=False)
class GridLattice:
    """Cells as positions on an exact lattice.

    Attributes
    ----------
    row, col : numpy.ndarray of int64
        Grid position of every cell (row 0 at the smallest y).
    xs : numpy.ndarray of float64
        ``ncol + 1`` x coordinates of the vertical lattice lines: column ``j``
        spans ``xs[j]`` to ``xs[j + 1]``. Lines no cell touches are NaN.
    ys : numpy.ndarray of float64
        ``nrow + 1`` y coordinates of the horizontal lines, likewise.
    """

    row: np.ndarray
    col: np.ndarray
    xs: np.ndarray
    ys: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(nrow, ncol)`` of the raster that holds every cell."""
        return self.ys.size - 1, self.xs.size - 1

    def raster(self, cells: np.ndarray) -> np.ndarray:
        """Boolean ``(nrow, ncol)`` raster, True at the positions of ``cells``.

        Parameters
        ----------
        cells : numpy.ndarray of int
            Cell positions (indices into ``row`` / ``col``).
        """
        out = np.zeros(self.shape, dtype=bool)
        out[self.row[cells], self.col[cells]] = True
        return out


@kernel
def _rectangle_bounds(xy: np.ndarray) -> tuple[np.ndarray, bool]:
    """Bounds of rings of four corners (``xy``: ``(n, 5, 2)``), and whether all are rectangles.

    A ring is an axis-aligned rectangle when each step between its corners
    moves along exactly one axis and opposite corners differ in both
    coordinates.
    """
    n = xy.shape[0]
    out = np.empty((n, 4))
    for k in range(n):
        for c in range(4):
            nxt = (c + 1) % 4
            moves_x = xy[k, c, 0] != xy[k, nxt, 0]
            moves_y = xy[k, c, 1] != xy[k, nxt, 1]
            if moves_x == moves_y:
                return out, False
        if xy[k, 0, 0] == xy[k, 2, 0] or xy[k, 0, 1] == xy[k, 2, 1]:
            return out, False
        if xy[k, 1, 0] == xy[k, 3, 0] or xy[k, 1, 1] == xy[k, 3, 1]:
            return out, False
        out[k, 0] = min(xy[k, 0, 0], xy[k, 2, 0])
        out[k, 1] = min(xy[k, 0, 1], xy[k, 2, 1])
        out[k, 2] = max(xy[k, 0, 0], xy[k, 2, 0])
        out[k, 3] = max(xy[k, 0, 1], xy[k, 2, 1])
    return out, True


def _axis(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Lattice index of every cell along one axis and the lines' coordinates, if exact.

    ``lo`` / ``hi`` are the cells' smaller and larger side coordinates.
    """
    size = hi - lo
    s0 = float(size[0])
    if not s0 > 0 or np.any(np.abs(size - s0) > _SIZE_TOL * s0):
        return None
    f = (lo - lo.min()) / s0
    idx = np.rint(f)
    if np.any(np.abs(f - idx) > _POS_TOL):
        return None
    idx = idx.astype(np.int64)
    n = int(idx.max()) + 1
    # every cell of a column has the same sides, to the bit
    first_lo = np.full(n, np.nan)
    first_hi = np.full(n, np.nan)
    first_lo[idx] = lo
    first_hi[idx] = hi
    if not (np.array_equal(first_lo[idx], lo) and np.array_equal(first_hi[idx], hi)):
        return None
    # and neighbouring columns share the line between them
    both = ~np.isnan(first_hi[:-1]) & ~np.isnan(first_lo[1:])
    if not np.array_equal(first_hi[:-1][both], first_lo[1:][both]):
        return None
    lines = np.full(n + 1, np.nan)
    lines[n] = first_hi[n - 1]
    lines[1:n] = first_hi[:-1]  # the right side of column j - 1 ...
    present = ~np.isnan(first_lo)
    lines[:n][present] = first_lo[present]  # ... or the left side of column j
    return idx, lines


def grid_lattice(geoms: ArrayLike) -> GridLattice | None:
    """The exact lattice the polygons tile, or ``None`` if they do not.

    Parameters
    ----------
    geoms : array_like of shapely geometries
        Cell polygons.

    Returns
    -------
    GridLattice or None
        ``None`` unless every geometry is a rectangle with its four corners
        (no extra vertices, no holes), all of one size, placed on one lattice
        whose lines neighbouring cells share exactly, with no two cells at
        one position and a raster not much larger than the cell count.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = geoms.size
    if n == 0:
        return None
    # five coordinates in a polygon: one ring of four corners, no holes
    if not (np.all(shapely.get_type_id(geoms) == _POLYGON) and np.all(shapely.get_num_coordinates(geoms) == 5)):
        return None
    # the first cell tells most other layouts apart before every coordinate is read
    if not _rectangle_bounds(shapely.get_coordinates(geoms[:1]).reshape(1, 5, 2))[1]:
        return None
    bounds, rectangles = _rectangle_bounds(shapely.get_coordinates(geoms).reshape(n, 5, 2))
    if not rectangles:
        return None
    cols = _axis(bounds[:, 0], bounds[:, 2])
    rows = _axis(bounds[:, 1], bounds[:, 3])
    if cols is None or rows is None:
        return None
    (col, xs), (row, ys) = cols, rows
    slots = (ys.size - 1) * (xs.size - 1)
    if slots > max(_MAX_EMPTY_RATIO * n, _MIN_SLOTS):
        return None
    occupied = np.bincount(row * (xs.size - 1) + col, minlength=slots)
    if occupied.max() > 1:
        return None  # overlapping cells: the polygon path reports them
    return GridLattice(row=row, col=col, xs=xs, ys=ys)
