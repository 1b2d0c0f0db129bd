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

__all__ = ["trace_rings", "block_polygon", "mesh_block_polygon"]

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
    return _polygon(xs[vj], ys[vi], starts, area2)


def _polygon(x: np.ndarray, y: np.ndarray, starts: np.ndarray, area2: np.ndarray) -> shapely.Polygon | None:
    """One polygon from ring corners (rings not closed), if exactly one ring is an outer one.

    ``x`` / ``y`` hold every ring's corners in order, ring ``k`` at
    ``starts[k]:starts[k + 1]``; ``area2`` is positive for outer rings.
    """
    shells = np.flatnonzero(area2 > 0)
    if shells.size != 1:
        return None
    counts = np.diff(starts)
    # close every ring by repeating its first corner
    ring_of = np.repeat(np.arange(counts.size), counts + 1)
    last = np.r_[ring_of[1:] != ring_of[:-1], True]
    take = np.where(last, starts[ring_of], np.arange(ring_of.size) - ring_of)
    rings = shapely.linearrings(np.column_stack([x[take], y[take]]), indices=ring_of)
    holes = np.delete(rings, shells[0])
    return shapely.polygons(rings[shells[0]], holes=holes if holes.size else None)


@kernel
def _link(tail: np.ndarray, head: np.ndarray, x: np.ndarray, y: np.ndarray, n_vertices: int):
    """Directed boundary edges linked into rings, turning right where two leave one vertex.

    Returns the vertex ids of each ring in order (not closed), ring offsets
    and each ring's doubled signed area (relative to its first vertex).
    """
    m = tail.size
    # out-edges per vertex: at most two on the boundary of a block of mesh cells
    out_count = np.zeros(n_vertices, dtype=np.int64)
    out1 = np.full(n_vertices, -1, dtype=np.int64)
    out2 = np.full(n_vertices, -1, dtype=np.int64)
    for k in range(m):
        t = tail[k]
        if out_count[t] == 0:
            out1[t] = k
        else:
            out2[t] = k
        out_count[t] += 1
    ring = np.empty(m, dtype=np.int64)
    starts = np.empty(m + 1, dtype=np.int64)
    area2 = np.empty(m, dtype=np.float64)
    used = np.zeros(m, dtype=np.bool_)
    n_v = 0
    n_r = 0
    bad = False
    for k0 in range(m):
        if used[k0]:
            continue
        starts[n_r] = n_v
        k = k0
        x0 = x[tail[k0]]
        y0 = y[tail[k0]]
        s = 0.0
        while not used[k]:
            used[k] = True
            ring[n_v] = tail[k]
            n_v += 1
            s += (x[tail[k]] - x0) * (y[head[k]] - y0) - (x[head[k]] - x0) * (y[tail[k]] - y0)
            v = head[k]
            if out_count[v] == 1:
                k = out1[v]
            elif out_count[v] == 2:
                # the sharper right turn: the smaller signed angle from the way in
                dx, dy = x[v] - x[tail[k]], y[v] - y[tail[k]]
                a, b = out1[v], out2[v]
                ax, ay = x[head[a]] - x[v], y[head[a]] - y[v]
                bx, by = x[head[b]] - x[v], y[head[b]] - y[v]
                ta = np.arctan2(dx * ay - dy * ax, dx * ax + dy * ay)
                tb = np.arctan2(dx * by - dy * bx, dx * bx + dy * by)
                k = a if ta < tb else b
            else:
                bad = True
                break
        if bad or k != k0:
            return ring[:0], starts[:1], area2[:0], False
        area2[n_r] = s
        n_r += 1
    starts[n_r] = n_v
    return ring[:n_v], starts[: n_r + 1], area2[:n_r], True


def mesh_block_polygon(
    tail: np.ndarray, head: np.ndarray, x: np.ndarray, y: np.ndarray
) -> shapely.Polygon | None:
    """The union of a block of mesh cells from its boundary edges, every vertex kept.

    Parameters
    ----------
    tail, head : numpy.ndarray of int64
        The block's boundary edges (cell sides whose other side is outside the
        block), directed with the block on their left, as vertex ids.
    x, y : numpy.ndarray of float64
        Vertex coordinates by id.

    Returns
    -------
    shapely.Polygon or None
        ``None`` when the edges do not link into exactly one outer ring.
    """
    # local vertex ids: the kernel's tables are as long as the block's outline, not the mesh
    ids, local = np.unique(np.concatenate([tail, head]), return_inverse=True)
    x, y = x[ids], y[ids]
    ring, starts, area2, ok = _link(local[: tail.size], local[tail.size :], x, y, ids.size)
    return _polygon(x[ring], y[ring], starts, area2) if ok else None
