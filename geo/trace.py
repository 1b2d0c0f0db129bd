"""Outlines of a rook-connected block of raster cells, traced on the lattice.

The outline of a set of grid cells is made of the cell sides that separate a
selected cell from an unselected one. Walking those sides with the selected
cells on the left gives counter-clockwise outer rings and clockwise holes.
Where two selected cells meet only at a corner (a saddle), the walk turns
right, so that each ring bounds one connected piece of the unselected area:
rings then touch at single points at most, which is a valid polygon, and a
rook-connected block has exactly one outer ring. Only corners are emitted;
straight runs of sides are one segment.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo.jit import kernel

__all__ = ["trace_rings", "block_polygon"]

# Directions in counter-clockwise order; (di, dj) steps on the vertex lattice.
_DI = np.array([0, 1, 0, -1], dtype=np.int64)  # east, north, west, south
_DJ = np.array([1, 0, -1, 0], dtype=np.int64)


@kernel
def _has_side(m: np.ndarray, i: int, j: int, d: int) -> bool:
    """Whether a boundary side leaves vertex ``(i, j)`` in direction ``d``.

    Vertex ``(i, j)`` is the lower-left corner of cell ``(i, j)``; the cells
    around it are NE ``(i, j)``, NW ``(i, j-1)``, SW ``(i-1, j-1)`` and SE
    ``(i-1, j)``. A side is directed with its selected cell on the left.
    """
    if d == 0:
        return m[i, j] and not m[i - 1, j]
    if d == 1:
        return m[i, j - 1] and not m[i, j]
    if d == 2:
        return m[i - 1, j - 1] and not m[i, j - 1]
    return m[i - 1, j] and not m[i - 1, j - 1]


@kernel
def _trace(m: np.ndarray, di: np.ndarray, dj: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Corner vertices of every ring, ring offsets and doubled signed areas.

    ``m`` must have an unselected border one cell wide.
    """
    nr, nc = m.shape
    n_sel = 0
    for a in range(nr):
        for b in range(nc):
            if m[a, b]:
                n_sel += 1
    cap = 4 * n_sel + 1  # a ring has at most as many corners as sides
    vi = np.empty(cap, dtype=np.int64)
    vj = np.empty(cap, dtype=np.int64)
    starts = np.empty(n_sel + 2, dtype=np.int64)
    area2 = np.empty(n_sel + 1, dtype=np.int64)
    used = np.zeros((nr + 1, nc + 1), dtype=np.uint8)  # bit d: side leaving in direction d walked
    n_v = 0
    n_r = 0
    for i0 in range(1, nr):
        for j0 in range(1, nc):
            # every ring has an eastward side; start each unwalked one's ring there
            if (used[i0, j0] & 1) or not _has_side(m, i0, j0, 0):
                continue
            starts[n_r] = n_v
            used[i0, j0] |= 1
            i, j, d = i0, j0 + 1, 0
            while True:
                # right turn first (saddles), then straight, then left
                for turn in (3, 0, 1):
                    e = (d + turn) % 4
                    if _has_side(m, i, j, e):
                        break
                if e != d:
                    vi[n_v] = i
                    vj[n_v] = j
                    n_v += 1
                if used[i, j] & (1 << e):
                    break  # back on the first side
                used[i, j] |= 1 << e
                i += di[e]
                j += dj[e]
                d = e
            # the shoelace formula over the ring's corners, in lattice units
            s = 0
            first = starts[n_r]
            for k in range(first, n_v):
                nxt = k + 1 if k + 1 < n_v else first
                s += vj[k] * vi[nxt] - vj[nxt] * vi[k]
            area2[n_r] = s
            n_r += 1
    starts[n_r] = n_v
    return vi[:n_v], vj[:n_v], starts[: n_r + 1], area2[:n_r]


def trace_rings(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rings around the selected cells of a boolean raster.

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (nrow, ncol)
        Row 0 is the bottom row (smallest y).

    Returns
    -------
    vi, vj : numpy.ndarray of int64
        Lattice row and column of each ring corner: corner ``(i, j)`` is the
        lower-left corner of cell ``(i, j)``. Rings are not closed (the first
        corner is not repeated).
    starts : numpy.ndarray of int64
        Ring ``k`` is ``vi[starts[k]:starts[k + 1]]``.
    area2 : numpy.ndarray of int64
        Twice each ring's signed area in cells: positive for outer rings
        (counter-clockwise), negative for holes.
    """
    padded = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), dtype=np.bool_)
    padded[1:-1, 1:-1] = mask
    vi, vj, starts, area2 = _trace(padded, _DI, _DJ)
    return vi - 1, vj - 1, starts, area2


def block_polygon(mask: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> shapely.Polygon | None:
    """The union of a rook-connected block of cells as one polygon.

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (nrow, ncol)
        The block's cells; they must form one rook-connected piece.
    xs, ys : numpy.ndarray of float64
        ``ncol + 1`` and ``nrow + 1`` lattice line coordinates: cell
        ``(i, j)`` spans ``xs[j]..xs[j+1]`` by ``ys[i]..ys[i+1]``.

    Returns
    -------
    shapely.Polygon or None
        The outline with its holes, on the given coordinates exactly; ``None``
        when the cells do not trace to one outer ring (not one piece).
    """
    vi, vj, starts, area2 = trace_rings(mask)
    shells = np.flatnonzero(area2 > 0)
    if shells.size != 1:
        return None
    counts = np.diff(starts)
    # close every ring by repeating its first corner
    ring_of = np.repeat(np.arange(counts.size), counts + 1)
    last = np.r_[ring_of[1:] != ring_of[:-1], True]
    take = np.where(last, starts[ring_of], np.arange(ring_of.size) - ring_of)
    coords = np.column_stack([xs[vj[take]], ys[vi[take]]])
    rings = shapely.linearrings(coords, indices=ring_of)
    holes = np.delete(rings, shells[0])
    return shapely.polygons(rings[shells[0]], holes=holes if holes.size else None)
