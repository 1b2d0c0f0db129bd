"""Nearest network edge for many points at once, on a uniform grid of segments.

``shapely.STRtree.query_nearest`` walks its tree once per point in C, about
20 microseconds each: 15 s of CPU for the 750,000 cells of a Guangzhou-sized
city. Here every straight segment of every edge is registered in the cells of
a uniform grid that its bounding box covers, and each point measures the
segments of the grid cells around it, ring by ring, in a small compiled
kernel (numba; it releases the GIL, so chunks of points run in threads).

The answer is exact, not approximate: a segment within distance ``D`` of a
point meets the disc of radius ``D`` around it, so when the nearest distance
found in a block of cells is smaller than the distance from the point to the
block's border, no segment outside the block can be nearer. The search grows
the block one ring of cells at a time until that holds (or until nothing can
lie within the snapping limit); only non-finite coordinates, or points far
outside the network with a very large limit, go to the STRtree. Distances use
GEOS's own point-to-segment formula operation by operation, so they are
bit-for-bit those of ``shapely.distance`` and ties (a point equidistant from
several edges, e.g. at an intersection) resolve exactly as before: lowest
edge index.

The same grid answers straight-line radius queries (:mod:`geo.euclid`): the
facilities go in as zero-length segments (:meth:`EdgeGrid.of_points`).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
import shapely

from geo.jit import kernel
from geo.network import WalkNetwork

__all__ = [
    "EdgeGrid",
    "edge_grid",
    "locate_on_straight_edges",
    "nearest_edges",
    "point_arrays",
    "segment_distance",
    "tree_nearest_edges",
]

# Clearance kept between the nearest distance and the block border, far above
# the rounding of coordinates up to 1e7 m (1e-9 m) and far below any street gap.
_MARGIN_M = 1e-3
# Rings of cells searched around a point before it is handed to the STRtree
# (only points far outside the network with a limit wider than this many
# cells get there).
_MAX_RINGS = 64
# Segments per grid cell on average: the search skips cells farther than the
# best segment so far, so its time barely depends on this; fewer cells build
# faster (measured on the 1M-node city: 1 to 2 per cell, 0.26 -> 0.22 s).
_SEGMENTS_PER_CELL = 2.0
# Largest default cell side, in average segment lengths (see from_vertices).
_CELL_PER_SEGMENT_LENGTH = 4.0
# At most this many grid cells, whatever the extent of the network.
_MAX_CELLS = 8_000_000

# The kernels below release the GIL (see geo.jit), so that
# geo.snap.snap_in_threads runs them on every core; distances round as GEOS's do.


def segment_distance(
    px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
) -> np.ndarray:
    """Point-to-segment distances, computed exactly as GEOS computes them.

    This is ``geos::algorithm::Distance::pointToSegment`` expression by
    expression (same operations in the same order), so that results equal
    ``shapely.distance`` to the last bit and equal distances stay equal.
    The arrays broadcast against each other.
    """
    px, py, ax, ay, bx, by = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (px, py, ax, ay, bx, by)))
    out = np.empty(px.shape)
    _segment_distances(px.ravel(), py.ravel(), ax.ravel(), ay.ravel(), bx.ravel(), by.ravel(), out.reshape(-1))
    return out


@kernel
def _point_segment(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """GEOS's ``Distance::pointToSegment`` for one point and one segment."""
    if ax == bx and ay == by:  # zero-length segment: distance to its one point
        dx, dy = px - ax, py - ay
        return np.sqrt(dx * dx + dy * dy)
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    r = ((px - ax) * dx + (py - ay) * dy) / len2
    if r <= 0.0:
        ex, ey = ax - px, ay - py
        return np.sqrt(ex * ex + ey * ey)
    if r >= 1.0:
        ex, ey = bx - px, by - py
        return np.sqrt(ex * ex + ey * ey)
    return abs(((ay - py) * dx - (ax - px) * dy) / len2) * np.sqrt(len2)


@kernel
def _segment_distances(px, py, ax, ay, bx, by, out):
    for i in range(px.size):
        out[i] = _point_segment(px[i], py[i], ax[i], ay[i], bx[i], by[i])


@kernel
def _cell_of(v, origin, size, n):
    """Grid column (or row) of coordinate ``v``, clamped to ``[0, n)``.

    The clamp matters: compiled code does not check bounds, and the last
    vertex can round into cell ``n`` (``nx`` comes from Python's ``//``,
    which may differ from ``floor`` of the rounded quotient by one).
    Registering it in the last cell instead is within rounding of its place,
    which the search's margin covers.
    """
    return min(max(int(np.floor((v - origin) / size)), 0), n - 1)


@kernel
def _register(xy, owner, length, edge_segments, x0, y0, size, nx, ny, entry_dtype_probe):
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
            lo_x = _cell_of(min(xy[k, 0], xy[k + 1, 0]), x0, size, nx)
            lo_y = _cell_of(min(xy[k, 1], xy[k + 1, 1]), y0, size, ny)
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
        c = _cell_of(min(xy[k, 1], xy[k + 1, 1]), y0, size, ny) * nx + _cell_of(min(xy[k, 0], xy[k + 1, 0]), x0, size, nx)
        t = first[c]
        first[c] += 1
        seg_xy[t, 0], seg_xy[t, 1], seg_xy[t, 2], seg_xy[t, 3] = xy[k, 0], xy[k, 1], xy[k + 1, 0], xy[k + 1, 1]
        seg_edge[t] = e
        straight[t] = length[e] if edge_segments[e] == 1 else np.nan
        if k == 0 or owner[k - 1] != e:
            edge_seg[e] = t

    indptr = np.zeros(n_cells + 1, dtype=np.int64)
    for t in range(n):
        ix0, ix1 = _cell_of(min(seg_xy[t, 0], seg_xy[t, 2]), x0, size, nx), _cell_of(max(seg_xy[t, 0], seg_xy[t, 2]), x0, size, nx)
        iy0, iy1 = _cell_of(min(seg_xy[t, 1], seg_xy[t, 3]), y0, size, ny), _cell_of(max(seg_xy[t, 1], seg_xy[t, 3]), y0, size, ny)
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                indptr[iy * nx + ix + 1] += 1
    for c in range(n_cells):
        indptr[c + 1] += indptr[c]
    fill = indptr[:-1].copy()
    entries = np.empty(indptr[-1], dtype=entry_dtype_probe.dtype)
    for t in range(n):
        ix0, ix1 = _cell_of(min(seg_xy[t, 0], seg_xy[t, 2]), x0, size, nx), _cell_of(max(seg_xy[t, 0], seg_xy[t, 2]), x0, size, nx)
        iy0, iy1 = _cell_of(min(seg_xy[t, 1], seg_xy[t, 3]), y0, size, ny), _cell_of(max(seg_xy[t, 1], seg_xy[t, 3]), y0, size, ny)
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                c = iy * nx + ix
                entries[fill[c]] = t
                fill[c] += 1
    return indptr, entries, seg_xy, seg_edge, straight, edge_seg


@kernel
def _bounds(xy):
    """``(x0, y0, x1, y1)`` of the vertices."""
    x0, y0, x1, y1 = np.inf, np.inf, -np.inf, -np.inf
    for k in range(xy.shape[0]):
        x0, x1 = min(x0, xy[k, 0]), max(x1, xy[k, 0])
        y0, y1 = min(y0, xy[k, 1]), max(y1, xy[k, 1])
    return x0, y0, x1, y1


@kernel
def _scan_cell(c, px, py, indptr, entries, seg_xy, seg_edge, best_d, best_e, best_s):
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
        d = _point_segment(px, py, ax, ay, bx, by)
        if d <= best_d:  # read the edge only when it may win
            e = seg_edge[s]
            if d < best_d or e < best_e:
                best_d, best_e, best_s = d, e, s
    return best_d, best_e, best_s


@kernel
def _nearest_one(px, py, seg_xy, seg_edge, indptr, entries, x0, y0, size, nx, ny, max_dist, margin, max_rings):
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
                    best_d, best_e, best_s = _scan_cell(
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
def _nearest_all(x, y, seg_xy, seg_edge, indptr, entries, x0, y0, size, nx, ny, max_dist, margin, max_rings,
                 edge, dist, sure):
    for i in range(x.size):
        edge[i], _, dist[i], sure[i] = _nearest_one(
            x[i], y[i], seg_xy, seg_edge, indptr, entries, x0, y0, size, nx, ny, max_dist, margin, max_rings
        )


@kernel
def _foot_on_segment(px, py, ax, ay, bx, by):
    """Fraction along a one-segment line and its foot, as GEOS computes them.

    ``GEOSProjectNormalized`` (``LengthIndexOfPoint`` on one segment) then
    ``GEOSInterpolateNormalized`` (``LengthLocationMap``), operation by
    operation; a zero-length line gives fraction 0 and its one point (the
    ``nan`` GEOS returns there is mapped to 0, as :func:`geo.snap.snap` does).
    """
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    seg_len = np.sqrt(len2)
    if seg_len == 0.0:
        return 0.0, ax, ay
    if px == ax and py == ay:
        r = 0.0
    elif px == bx and py == by:
        r = 1.0
    else:
        r = ((px - ax) * dx + (py - ay) * dy) / len2  # LineSegment::projectionFactor
    measure = 0.0 if r <= 0.0 else (r * seg_len if r <= 1.0 else seg_len)
    frac = min(max(measure / seg_len, 0.0), 1.0)
    along = frac * seg_len
    along = 0.0 if along <= 0.0 else along / seg_len
    if along <= 0.0:
        return frac, ax, ay
    if along >= 1.0:
        return frac, bx, by
    return frac, (bx - ax) * along + ax, (by - ay) * along + ay


@kernel
def _feet(x, y, edge, seg_xy, edge_seg, frac, sx, sy):
    """:func:`_foot_on_segment` of every point on the first segment of its edge."""
    for i in range(x.size):
        s = edge_seg[edge[i]]
        frac[i], sx[i], sy[i] = _foot_on_segment(x[i], y[i], seg_xy[s, 0], seg_xy[s, 1], seg_xy[s, 2], seg_xy[s, 3])


@kernel
def _snap_all(x, y, seg_xy, seg_edge, indptr, entries, x0, y0, size, nx, ny, max_dist, margin, max_rings,
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
        e, s, _, sure = _nearest_one(
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
        f, fx, fy = _foot_on_segment(px, py, seg_xy[s, 0], seg_xy[s, 1], seg_xy[s, 2], seg_xy[s, 3])
        to_u[i] = f * length
        to_v[i] = length - to_u[i]
        sx[i], sy[i] = fx, fy
        access[i] = np.hypot(px - fx, py - fy)


@dataclass(frozen=True, eq=False)
class EdgeGrid:
    """The network's straight segments registered in a uniform grid.

    Attributes
    ----------
    seg_xy : numpy.ndarray, shape (n_segments, 4)
        Segment ends ``(ax, ay, bx, by)``, numbered in grid order (the
        numbering :attr:`entries` uses), so that neighbours sit close in memory.
    seg_edge : numpy.ndarray of int64
        Edge index of every segment.
    seg_straight_length : numpy.ndarray of float64
        Per segment, the walking length of its edge when the edge is that one
        straight segment, ``nan`` for a segment of a bent edge.
    cell_size : float
        Side of a grid cell in metres.
    x0, y0 : float
        Lower-left corner of cell ``(0, 0)``.
    nx, ny : int
        Grid cells across and up.
    indptr : numpy.ndarray of int64
        ``nx * ny + 1`` offsets into :attr:`entries`, cell by cell (row-major).
    entries : numpy.ndarray of int32/int64
        Segments registered in each cell.
    edge_seg : numpy.ndarray of int64
        Each edge's first segment (its only one for a straight edge), ``-1``
        for an edge drawn with no segment.
    edge_segments : numpy.ndarray of int64
        Number of segments of each edge (1 for a straight edge).
    """

    seg_xy: np.ndarray
    seg_edge: np.ndarray
    seg_straight_length: np.ndarray
    cell_size: float
    x0: float
    y0: float
    nx: int
    ny: int
    indptr: np.ndarray
    entries: np.ndarray
    edge_seg: np.ndarray
    edge_segments: np.ndarray

    @classmethod
    def build(cls, network: WalkNetwork, cell_size: float | None = None) -> "EdgeGrid":
        """Register every segment of ``network`` in the grid cells its bounding box covers.

        Parameters
        ----------
        network : WalkNetwork
        cell_size : float, optional
            Grid cell side in metres. By default the side of a square holding
            two segments on average over the network's bounding box.
        """
        xy, owner = shapely.get_coordinates(network.edge_lines, return_index=True)
        return cls.from_vertices(xy, owner, np.asarray(network.length, dtype=np.float64), cell_size)

    @classmethod
    def of_points(cls, x: np.ndarray, y: np.ndarray, min_cell_size: float = 1.0) -> "EdgeGrid":
        """A grid of points, each a zero-length segment ("edge" ``i`` is point ``i``).

        :meth:`nearest` then finds each query's nearest point within a limit,
        exactly (ties to the lowest index). ``min_cell_size`` keeps the cells
        from being much smaller than the limits asked (a quarter of the limit
        bounds the search to a few rings of cells).
        """
        xy = np.repeat(np.column_stack([_f64(x), _f64(y)]), 2, axis=0)
        owner = np.repeat(np.arange(len(x), dtype=np.int64), 2)
        return cls.from_vertices(xy, owner, np.zeros(len(x)), min_cell_size=min_cell_size)

    @classmethod
    def from_vertices(
        cls,
        xy: np.ndarray,
        owner: np.ndarray,
        length: np.ndarray,
        cell_size: float | None = None,
        min_cell_size: float = 1.0,
    ) -> "EdgeGrid":
        """The grid of lines given as vertices ``xy`` and the line of each vertex.

        Parameters
        ----------
        xy : numpy.ndarray, shape (n_vertices, 2)
            Vertices, line after line (as ``shapely.get_coordinates`` gives them).
        owner : numpy.ndarray of int64
            Line index of each vertex, non-decreasing.
        length : numpy.ndarray of float64
            Walking length of each line (``to_u``/``to_v`` of points placed on it).
        cell_size : float, optional
            As in :meth:`build`.
        min_cell_size : float, default 1
            Smallest cell side in metres, whatever ``cell_size`` says.
        """
        xy = np.ascontiguousarray(xy, dtype=np.float64)
        owner = np.asarray(owner, dtype=np.int64)
        edge_segments = np.maximum(np.bincount(owner, minlength=length.size) - 1, 0)
        n_seg = int(edge_segments.sum())
        x0, y0, x1, y1 = _bounds(xy) if len(xy) else (0.0, 0.0, 0.0, 0.0)
        width, height = x1 - x0, y1 - y0
        if cell_size is None:
            cell_size = np.sqrt(max(width * height, 1.0) * _SEGMENTS_PER_CELL / max(n_seg, 1))
            # One far-off edge inflates the bounding box, and with it the cells
            # (a stray edge 2,000 km away made them 14.5 km wide and snapping
            # 230x slower): never wider than a few average segment lengths.
            typical = float(length.sum()) / max(n_seg, 1)
            if typical > 0:
                cell_size = min(cell_size, _CELL_PER_SEGMENT_LENGTH * typical)
        # never more than about _MAX_CELLS cells (a long thin network too), never degenerate
        floor = max(np.sqrt(width * height / _MAX_CELLS), max(width, height) / _MAX_CELLS, min_cell_size)
        cell_size = float(max(cell_size, floor))
        nx = int(width // cell_size) + 1
        ny = int(height // cell_size) + 1
        # 32-bit entries where they fit (always, below 2**31 segments): half the memory traffic
        probe = np.zeros(0, dtype=np.int32 if n_seg < 2**31 else np.int64)
        indptr, entries, seg_xy, seg_edge, straight, edge_seg = _register(
            xy, owner, length, edge_segments, x0, y0, cell_size, nx, ny, probe
        )
        return cls(seg_xy, seg_edge, straight, cell_size, x0, y0, nx, ny, indptr, entries, edge_seg, edge_segments)

    def _search_args(self, max_dist: float) -> tuple:
        return (
            self.seg_xy, self.seg_edge, self.indptr, self.entries, self.x0, self.y0, self.cell_size,
            self.nx, self.ny, float(max_dist), _MARGIN_M, _MAX_RINGS,
        )  # fmt: skip

    def nearest(self, x: np.ndarray, y: np.ndarray, max_dist: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest edge of each finite point within ``max_dist`` (inclusive).

        Parameters
        ----------
        x, y : numpy.ndarray of float64
            Finite point coordinates.
        max_dist : float
            Largest distance of interest in metres (may be ``inf``).

        Returns
        -------
        edge : numpy.ndarray of int64
            Nearest edge (lowest index among equally near ones), ``-1`` if
            none lies within ``max_dist``.
        dist : numpy.ndarray of float64
            Its distance (``inf`` for ``-1``).
        sure : numpy.ndarray of bool
            False for points left unanswered (far outside the grid with a
            limit wider than the ring budget): ``edge`` is meaningless there.
        """
        x, y = point_arrays(x, y)
        edge = np.empty(x.size, dtype=np.int64)
        dist = np.empty(x.size)
        sure = np.empty(x.size, dtype=np.bool_)
        _nearest_all(x, y, *self._search_args(max_dist), edge, dist, sure)
        return edge, dist, sure

    def snap(self, x: np.ndarray, y: np.ndarray, max_dist: float) -> tuple[np.ndarray, ...]:
        """Nearest edge of each finite point and, on straight edges, where it lands.

        Parameters
        ----------
        x, y : numpy.ndarray of float64
            Finite point coordinates.
        max_dist : float
            Largest access leg in metres (may be ``inf``).

        Returns
        -------
        edge, to_u, to_v, access, sx, sy : numpy.ndarray
            As the fields of :class:`geo.snap.Snapped`, filled where the
            point is settled (state 0 with ``edge >= 0``).
        state : numpy.ndarray of int8
            0 settled (or nothing within ``max_dist``: ``edge == -1``); 1
            snapped to a bent edge, its position still to be found; 2 not
            answered within the ring budget (see :meth:`nearest`).
        """
        x, y = point_arrays(x, y)
        n = x.size
        edge = np.empty(n, dtype=np.int64)
        out = [np.full(n, np.nan) for _ in range(5)]  # to_u, to_v, access, sx, sy
        state = np.empty(n, dtype=np.int8)
        _snap_all(x, y, *self._search_args(max_dist), self.seg_straight_length, edge, *out, state)
        return (edge, *out, state)


def _f64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def point_arrays(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Point coordinates as flat, contiguous float64 arrays of one length.

    The kernels read ``y[i]`` for every ``x[i]``: arrays of different lengths
    are refused here with a ``ValueError`` rather than read past their end.
    """
    x, y = _f64(x).ravel(), _f64(y).ravel()
    if x.size != y.size:
        raise ValueError(f"points: x and y have different lengths ({x.size} and {y.size})")
    return x, y


def locate_on_straight_edges(
    grid: EdgeGrid, edge: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Position of each point's foot on its straight (one-segment) edge.

    The same numbers as ``shapely.line_locate_point(line, point,
    normalized=True)`` followed by ``shapely.line_interpolate_point(line,
    fraction, normalized=True)``, but without building a shapely point per
    input and per output: GEOS's ``LengthIndexOfPoint`` and
    ``LengthLocationMap`` for one segment, operation by operation (checked
    bit for bit against shapely in the tests).

    Parameters
    ----------
    grid : EdgeGrid
    edge : numpy.ndarray of int64
        Edges with ``grid.edge_segments[edge] == 1``.
    x, y : numpy.ndarray
        The points.

    Returns
    -------
    frac : numpy.ndarray
        Fraction of the edge's drawn length from its ``u`` end, in ``[0, 1]``.
    sx, sy : numpy.ndarray
        Coordinates of the foot.
    """
    x, y = point_arrays(x, y)
    edge = np.ascontiguousarray(edge, dtype=np.int64).ravel()
    if edge.size != x.size:
        raise ValueError(f"one edge per point needed ({edge.size} edges, {x.size} points)")
    if edge.size and (edge.min() < 0 or edge.max() >= grid.edge_seg.size or (grid.edge_seg[edge] < 0).any()):
        raise ValueError("edge index out of range, or an edge with no segment")
    frac, sx, sy = np.empty(x.size), np.empty(x.size), np.empty(x.size)
    _feet(x, y, edge, grid.seg_xy, grid.edge_seg, frac, sx, sy)
    return frac, sx, sy


_GRIDS: "weakref.WeakKeyDictionary[WalkNetwork, EdgeGrid]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def edge_grid(network: WalkNetwork) -> EdgeGrid:
    """The network's :class:`EdgeGrid`, built once and kept while the network lives.

    Thread-safe: concurrent callers (cells snapped in threads) share one build.
    """
    with _LOCK:
        grid = _GRIDS.get(network)
        if grid is None:
            grid = _GRIDS[network] = EdgeGrid.build(network)
        return grid


def nearest_edges(network: WalkNetwork, x: np.ndarray, y: np.ndarray, max_dist: float) -> np.ndarray:
    """Index of the nearest edge of every point, ``-1`` beyond ``max_dist``.

    The same answer as ``network.edge_tree.query_nearest(points,
    max_distance=max_dist, all_matches=True)`` keeping the lowest edge index
    per point, in a fraction of the time for many points.

    Parameters
    ----------
    network : WalkNetwork
    x, y : numpy.ndarray of float64
        Point coordinates in the network's CRS.
    max_dist : float
        Largest distance in metres (inclusive, as ``query_nearest``).

    Returns
    -------
    numpy.ndarray of int64
        ``-1`` also for points with a non-finite coordinate.
    """
    x, y = point_arrays(x, y)
    edge = np.full(x.size, -1, dtype=np.int64)
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.all():
        edge, _, sure = edge_grid(network).nearest(x, y, max_dist)
        todo = np.flatnonzero(~sure)
    else:
        at = np.flatnonzero(finite)
        edge[at], _, sure = edge_grid(network).nearest(x[at], y[at], max_dist)
        todo = at[~sure]
    if todo.size:
        edge[todo] = tree_nearest_edges(network, x[todo], y[todo], max_dist)
    return edge


def tree_nearest_edges(network: WalkNetwork, x: np.ndarray, y: np.ndarray, max_dist: float) -> np.ndarray:
    """:func:`nearest_edges` by ``STRtree.query_nearest`` (cheap for a few points)."""
    edge = np.full(x.size, -1, dtype=np.int64)
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))  # a point at nan/inf is on no street
    pi, ei = network.edge_tree.query_nearest(
        shapely.points(x[finite], y[finite]), max_distance=max_dist, all_matches=True
    )
    pi = finite[pi]
    if pi.size:
        order = np.lexsort((ei, pi))  # by point, then lowest edge index
        pi, ei = pi[order], ei[order]
        first = np.ones(pi.size, dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        edge[pi[first]] = ei[first]
    return edge
