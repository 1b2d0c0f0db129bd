"""The compiled build and ring search of the uniform segment grid (see :mod:`geo.edge_grid`).

Building: every straight segment of every edge is registered in the grid
cells its bounding box covers (:func:`register`). Searching: a point scans
the cells around it ring by ring until the nearest distance found is smaller
than the distance to the block's border (:func:`nearest_one`), then, for
snapping, takes the foot on the nearest segment (:func:`snap_all`).
"""

from __future__ import annotations

import numpy as np

from geo.jit import kernel
from geo.segment_math import foot_on_segment, point_segment

__all__ = ["cell_of", "register", "bounds", "scan_cell", "nearest_one", "nearest_all", "snap_all"]


@kernel
def cell_of(v, origin, size, n):
    """Grid column (or row) of coordinate ``v``, clamped to ``[0, n)``.

    The clamp matters: compiled code does not check bounds, and the last
    vertex can round into cell ``n`` (``nx`` comes from Python's ``//``,
    which may differ from ``floor`` of the rounded quotient by one).
    Registering it in the last cell instead is within rounding of its place,
    which the search's margin covers.
    """
    return min(max(int(np.floor((v - origin) / size)), 0), n - 1)


@kernel
def register(xy, owner, length, edge_segments, x0, y0, size, nx, ny, entry_dtype_probe):
    """The segment grid, straight from the edges' vertices.

    A segment joins two consecutive vertices of one line (``owner[k] ==
    owner[k + 1]``). Segments are numbered in grid order (a stable counting
    sort by the cell of their bounding box's lower-left corner), so that the
    segments a point measures sit close together in memory; then each is
    registered in every cell its bounding box covers, walking them in that
    order so the writes stay near each other. Cell numbers are recomputed
    rather than stored: fresh temporary arrays cost more (page faults) than
    the arithmetic.

    Returns
    -------
    indptr : int64, ``nx * ny + 1`` offsets into ``entries``
    entries : segment numbers registered in each cell
    seg_xy : (n_segments, 4) float64, ``(ax, ay, bx, by)`` per segment
    seg_edge : int64, the edge of each segment
    seg_straight_length : float64, the edge's length if it is this one
        segment, else ``nan``
    edge_seg : int64, each edge's first segment (``-1`` for none)
    """
    n_cells = nx * ny
    first = np.zeros(n_cells + 1, dtype=np.int64)
    n = 0
    for k in range(owner.size - 1):
        if owner[k + 1] == owner[k]:
            lo_x = cell_of(min(xy[k, 0], xy[k + 1, 0]), x0, size, nx)
            lo_y = cell_of(min(xy[k, 1], xy[k + 1, 1]), y0, size, ny)
            first[lo_y * nx + lo_x + 1] += 1
            n += 1
    for c in range(n_cells):
        first[c + 1] += first[c]
    seg_xy = np.empty((n, 4))
    seg_edge = np.empty(n, dtype=np.int64)
    straight = np.empty(n)
    edge_seg = np.full(length.size, -1, dtype=np.int64)
    for k in range(owner.size - 1):
        e = owner[k]
        if owner[k + 1] != e:
            continue
        c = cell_of(min(xy[k, 1], xy[k + 1, 1]), y0, size, ny) * nx + cell_of(min(xy[k, 0], xy[k + 1, 0]), x0, size, nx)
        t = first[c]
        first[c] += 1
        seg_xy[t, 0], seg_xy[t, 1], seg_xy[t, 2], seg_xy[t, 3] = xy[k, 0], xy[k, 1], xy[k + 1, 0], xy[k + 1, 1]
        seg_edge[t] = e
        straight[t] = length[e] if edge_segments[e] == 1 else np.nan
        if k == 0 or owner[k - 1] != e:
            edge_seg[e] = t

    indptr = np.zeros(n_cells + 1, dtype=np.int64)
    for t in range(n):
        ix0, ix1 = cell_of(min(seg_xy[t, 0], seg_xy[t, 2]), x0, size, nx), cell_of(max(seg_xy[t, 0], seg_xy[t, 2]), x0, size, nx)
        iy0, iy1 = cell_of(min(seg_xy[t, 1], seg_xy[t, 3]), y0, size, ny), cell_of(max(seg_xy[t, 1], seg_xy[t, 3]), y0, size, ny)
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                indptr[iy * nx + ix + 1] += 1
    for c in range(n_cells):
        indptr[c + 1] += indptr[c]
    fill = indptr[:-1].copy()
    entries = np.empty(indptr[-1], dtype=entry_dtype_probe.dtype)
    for t in range(n):
        ix0, ix1 = cell_of(min(seg_xy[t, 0], seg_xy[t, 2]), x0, size, nx), cell_of(max(seg_xy[t, 0], seg_xy[t, 2]), x0, size, nx)
        iy0, iy1 = cell_of(min(seg_xy[t, 1], seg_xy[t, 3]), y0, size, ny), cell_of(max(seg_xy[t, 1], seg_xy[t, 3]), y0, size, ny)
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                c = iy * nx + ix
                entries[fill[c]] = t
                fill[c] += 1
    return indptr, entries, seg_xy, seg_edge, straight, edge_seg


@kernel
def bounds(xy):
    """``(x0, y0, x1, y1)`` of the vertices."""
    x0, y0, x1, y1 = np.inf, np.inf, -np.inf, -np.inf
    for k in range(xy.shape[0]):
        x0, x1 = min(x0, xy[k, 0]), max(x1, xy[k, 0])
        y0, y1 = min(y0, xy[k, 1]), max(y1, xy[k, 1])
    return x0, y0, x1, y1


@kernel
def scan_cell(c, px, py, indptr, entries, seg_xy, seg_edge, best_d, best_e, best_s):
    """Nearest of the segments registered in cell ``c``, folded into the best so far.

    The best is its distance, edge (lowest index among equally near ones) and
    segment.
    """
    for k in range(indptr[c], indptr[c + 1]):
        s = entries[k]
        ax, ay, bx, by = seg_xy[s, 0], seg_xy[s, 1], seg_xy[s, 2], seg_xy[s, 3]
        # The distance to the segment's bounding box is a lower bound with no
        # division: skip segments clearly farther than the best (the slack
        # keeps rounding from ever skipping a tie).
        gx = max(min(ax, bx) - px, 0.0, px - max(ax, bx))
        gy = max(min(ay, by) - py, 0.0, py - max(ay, by))
        if gx * gx + gy * gy > best_d * best_d * (1.0 + 1e-9) + 1e-12:
            continue
        d = point_segment(px, py, ax, ay, bx, by)
        if d <= best_d:  # read the edge only when it may win
            e = seg_edge[s]
            if d < best_d or e < best_e:
                best_d, best_e, best_s = d, e, s
    return best_d, best_e, best_s


@kernel
def nearest_one(px, py, seg_xy, seg_edge, indptr, entries, x0, y0, size, nx, ny, max_dist, margin, max_rings):
    """Nearest edge of one point by rings of grid cells (see the module notes).

    Returns ``(edge, segment, dist, sure)``: ``edge == -1`` when nothing
    lies within ``max_dist``; ``segment`` is the nearest segment of that edge
    (grid numbering) and ``dist`` its distance; ``sure`` is false where the
    ring budget ran out before the answer was proven (then the rest is
    meaningless).
    """
    # every segment lies inside the grid: a point farther than max_dist from it has no edge
    gx = max(x0 - px, 0.0, px - (x0 + nx * size))
    gy = max(y0 - py, 0.0, py - (y0 + ny * size))
    if np.sqrt(gx * gx + gy * gy) > max_dist + margin:
        return -1, -1, np.inf, True
    cx = int(min(max(np.floor((px - x0) / size), -1.0), float(nx)))  # clamped one cell off the
    cy = int(min(max(np.floor((py - y0) / size), -1.0), float(ny)))  # grid: rings start beside it
    best_d, best_e, best_s = np.inf, np.iinfo(np.int64).max, -1
    for r in range(max_rings + 1):
        # the cells at Chebyshev distance r from (cx, cy), those on the grid
        for iy in range(max(cy - r, 0), min(cy + r, ny - 1) + 1):
            # the block's top and bottom rows whole, the rows between at both ends
            # (r > 0 there, so the step is never 0)
            step = 1 if (iy == cy - r or iy == cy + r) else 2 * r
            ix = cx - r
            while ix <= cx + r:
                # skip cells off the grid, and cells farther than the best so far
                # (a segment's nearest point lies in a cell it is registered in)
                dx = max(x0 + ix * size - px, 0.0, px - (x0 + (ix + 1) * size))
                dy = max(y0 + iy * size - py, 0.0, py - (y0 + (iy + 1) * size))
                reach = min(best_d, max_dist) + margin
                if 0 <= ix < nx and dx * dx + dy * dy <= reach * reach:
                    best_d, best_e, best_s = scan_cell(
                        iy * nx + ix, px, py, indptr, entries, seg_xy, seg_edge, best_d, best_e, best_s
                    )
                ix += step
        # A segment outside the block [cx-r, cx+r] x [cy-r, cy+r] lies beyond one of
        # its borders, and is no nearer than that border; borders at or past the
        # grid's edge have no segment beyond them.
        clearance = np.inf
        if cx - r > 0:
            clearance = min(clearance, px - (x0 + (cx - r) * size))
        if cx + r < nx - 1:
            clearance = min(clearance, x0 + (cx + r + 1) * size - px)
        if cy - r > 0:
            clearance = min(clearance, py - (y0 + (cy - r) * size))
        if cy + r < ny - 1:
            clearance = min(clearance, y0 + (cy + r + 1) * size - py)
        if clearance == np.inf or min(best_d, max_dist) < clearance - margin:
            # the block holds the whole grid, or nothing outside it can be nearer
            if best_d <= max_dist:
                if best_d == np.inf:  # coordinates so large the distance overflowed
                    return -1, -1, np.inf, False
                return best_e, best_s, best_d, True
            return -1, -1, np.inf, True
    return -1, -1, np.inf, False


@kernel
def nearest_all(x, y, seg_xy, seg_edge, indptr, entries, x0, y0, size, nx, ny, max_dist, margin, max_rings,
                 edge, dist, sure):
    for i in range(x.size):
        edge[i], _, dist[i], sure[i] = nearest_one(
            x[i], y[i], seg_xy, seg_edge, indptr, entries, x0, y0, size, nx, ny, max_dist, margin, max_rings
        )


@kernel
def snap_all(x, y, seg_xy, seg_edge, indptr, entries, x0, y0, size, nx, ny, max_dist, margin, max_rings,
              seg_straight_length, edge, to_u, to_v, access, sx, sy, state):
    """Nearest edge of every point and, on straight edges, its foot and distances.

    ``seg_straight_length`` holds, per segment in grid order, its edge's
    walking length if the edge is that one segment, else ``nan`` (read next
    to ``seg_xy``: no random read of per-edge arrays). ``state``: 0 done (or
    nothing within ``max_dist``), 1 snapped to a bent edge (the foot is left
    to shapely), 2 unsure (left to the STRtree).
    """
    for i in range(x.size):
        px, py = x[i], y[i]
        e, s, _, sure = nearest_one(
            px, py, seg_xy, seg_edge, indptr, entries, x0, y0, size, nx, ny, max_dist, margin, max_rings
        )
        edge[i] = e
        state[i] = 0 if sure else 2
        if not sure or e < 0:
            continue
        length = seg_straight_length[s]
        if np.isnan(length):
            state[i] = 1
            continue
        f, fx, fy = foot_on_segment(px, py, seg_xy[s, 0], seg_xy[s, 1], seg_xy[s, 2], seg_xy[s, 3])
        to_u[i] = f * length
        to_v[i] = length - to_u[i]
        sx[i], sy[i] = fx, fy
        access[i] = np.hypot(px - fx, py - fy)
