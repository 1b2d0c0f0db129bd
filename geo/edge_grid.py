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
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numba
import numpy as np
import shapely

from geo.network import WalkNetwork

__all__ = [
    "EdgeGrid",
    "cached_edge_grid",
    "edge_grid",
    "locate_on_straight_edges",
    "nearest_edges",
    "segment_distance",
    "tree_nearest_edges",
]

# Clearance kept between the nearest distance and the block border, far above
# the rounding of coordinates up to 1e7 m (1e-9 m) and far below any street gap.
_MARGIN_M = 1e-3
# Rings of cells searched around a point beyond the first ring that touches
# the grid before it is handed to the STRtree (only points far outside the
# network with a limit wider than this many cells get there).
_MAX_RINGS = 64
# At most this many grid cells, whatever the extent of the network.
_MAX_CELLS = 8_000_000

# The kernels below are compiled once and cached on disk (``cache=True``), and
# release the GIL (``nogil=True``) so that :func:`geo.snap.snap_in_threads`
# runs them on every core. ``fastmath`` stays off: distances must round as
# GEOS's do, operation by operation.
_jit = numba.njit(cache=True, nogil=True)


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


@_jit
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


@_jit
def _segment_distances(px, py, ax, ay, bx, by, out):
    for i in range(px.size):
        out[i] = _point_segment(px[i], py[i], ax[i], ay[i], bx[i], by[i])


@_jit
def _register(ax, ay, bx, by, x0, y0, size, nx, ny, entry_dtype_probe):
    """CSR of grid cell -> segments whose bounding box covers the cell.

    Segments are renumbered in grid order (by the cell of their bounding box's
    lower-left corner), so that the segments a point measures sit close
    together in memory: random reads of the coordinates otherwise cost more
    than the arithmetic.

    Returns
    -------
    indptr : int64 array, ``nx * ny + 1`` offsets into ``entries``
    entries : new segment numbers registered in each cell
    order : old segment number of each new one
    """
    n = ax.size
    n_cells = nx * ny
    lo_x = np.empty(n, dtype=np.int64)
    hi_x = np.empty(n, dtype=np.int64)
    lo_y = np.empty(n, dtype=np.int64)
    hi_y = np.empty(n, dtype=np.int64)
    indptr = np.zeros(n_cells + 1, dtype=np.int64)
    first = np.zeros(n_cells + 1, dtype=np.int64)
    for s in range(n):
        lo_x[s] = int(np.floor((min(ax[s], bx[s]) - x0) / size))
        hi_x[s] = int(np.floor((max(ax[s], bx[s]) - x0) / size))
        lo_y[s] = int(np.floor((min(ay[s], by[s]) - y0) / size))
        hi_y[s] = int(np.floor((max(ay[s], by[s]) - y0) / size))
        first[lo_y[s] * nx + lo_x[s] + 1] += 1
        for iy in range(lo_y[s], hi_y[s] + 1):
            for ix in range(lo_x[s], hi_x[s] + 1):
                indptr[iy * nx + ix + 1] += 1
    for c in range(n_cells):
        indptr[c + 1] += indptr[c]
        first[c + 1] += first[c]
    # stable counting sort of the segments by their first cell
    order = np.empty(n, dtype=np.int64)
    new = np.empty(n, dtype=np.int64)
    for s in range(n):
        c = lo_y[s] * nx + lo_x[s]
        new[s] = first[c]
        order[first[c]] = s
        first[c] += 1
    fill = indptr[:-1].copy()
    entries = np.empty(indptr[-1], dtype=entry_dtype_probe.dtype)
    for t in range(n):
        s = order[t]
        for iy in range(lo_y[s], hi_y[s] + 1):
            for ix in range(lo_x[s], hi_x[s] + 1):
                c = iy * nx + ix
                entries[fill[c]] = t
                fill[c] += 1
    return indptr, entries, order


@_jit
def _scan_cell(c, px, py, indptr, entries, seg_xy, seg_edge, best_d, best_e):
    """Nearest of the segments registered in cell ``c``, folded into (best_d, best_e)."""
    for k in range(indptr[c], indptr[c + 1]):
        s = entries[k]
        d = _point_segment(px, py, seg_xy[s, 0], seg_xy[s, 1], seg_xy[s, 2], seg_xy[s, 3])
        if d <= best_d:  # read the edge only when it may win
            e = seg_edge[s]
            if d < best_d or e < best_e:
                best_d, best_e = d, e
    return best_d, best_e


@_jit
def _nearest_on_grid(x, y, seg_xy, seg_edge, indptr, entries, x0, y0, size, nx, ny,
                     max_dist, margin, max_rings, edge, unsure):
    """Nearest edge of every point by rings of grid cells (see the module notes).

    Writes ``edge`` (``-1``: nothing within ``max_dist``) and sets ``unsure``
    where the ring budget ran out before the answer was proven.
    """
    big = np.iinfo(np.int64).max
    x1, y1 = x0 + nx * size, y0 + ny * size  # the grid's far corner
    for i in range(x.size):
        px, py = x[i], y[i]
        edge[i] = -1
        unsure[i] = False
        # every segment lies inside the grid: a point farther than max_dist from it has no edge
        gx = max(x0 - px, 0.0, px - x1)
        gy = max(y0 - py, 0.0, py - y1)
        if np.sqrt(gx * gx + gy * gy) > max_dist + margin:
            continue
        fx = np.floor((px - x0) / size)
        fy = np.floor((py - y0) / size)
        cx = int(min(max(fx, -1.0), float(nx)))  # clamped one cell off the grid at most:
        cy = int(min(max(fy, -1.0), float(ny)))  # rings then start next to the grid
        best_d, best_e = np.inf, big
        r = 0
        while True:
            # the cells at Chebyshev distance r from (cx, cy), those on the grid
            for iy in range(max(cy - r, 0), min(cy + r, ny - 1) + 1):
                edge_row = iy == cy - r or iy == cy + r
                step = 1 if edge_row else 2 * r
                ix = cx - r
                while ix <= cx + r:
                    # skip cells off the grid, and cells farther than the best so far
                    # (a segment's nearest point lies in a cell it is registered in)
                    dx = max(x0 + ix * size - px, 0.0, px - (x0 + (ix + 1) * size))
                    dy = max(y0 + iy * size - py, 0.0, py - (y0 + (iy + 1) * size))
                    reach = min(best_d, max_dist) + margin
                    if 0 <= ix < nx and dx * dx + dy * dy <= reach * reach:
                        best_d, best_e = _scan_cell(
                            iy * nx + ix, px, py, indptr, entries, seg_xy, seg_edge, best_d, best_e
                        )
                    if step == 0:
                        break
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
                break  # the block holds the whole grid, or nothing outside it can be nearer
            r += 1
            if r > max_rings:
                unsure[i] = True
                break
        if not unsure[i] and best_d <= max_dist:
            edge[i] = best_e


@dataclass(frozen=True, eq=False)
class EdgeGrid:
    """The network's straight segments registered in a uniform grid.

    Attributes
    ----------
    ax, ay, bx, by : numpy.ndarray
        Segment ends, in the order they appear in the edge geometries.
    seg_xy : numpy.ndarray, shape (n_segments, 4)
        The same segments as rows ``(ax, ay, bx, by)``, renumbered in grid
        order (the numbering :attr:`entries` uses).
    seg_edge : numpy.ndarray of int64
        Edge index of every segment in grid order.
    cell_size : float
        Side of a grid cell in metres.
    x0, y0 : float
        Lower-left corner of cell ``(0, 0)``.
    nx, ny : int
        Grid cells across and up.
    indptr : numpy.ndarray of int64
        ``nx * ny + 1`` offsets into :attr:`entries`, cell by cell (row-major).
    entries : numpy.ndarray of int32/int64
        Segments (numbered in grid order) registered in each cell.
    edge_first : numpy.ndarray of int64
        Index of each edge's first segment (its segments are consecutive).
    edge_segments : numpy.ndarray of int64
        Number of segments of each edge (1 for a straight edge).
    """

    ax: np.ndarray
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    seg_xy: np.ndarray
    seg_edge: np.ndarray
    cell_size: float
    x0: float
    y0: float
    nx: int
    ny: int
    indptr: np.ndarray
    entries: np.ndarray
    edge_first: np.ndarray
    edge_segments: np.ndarray

    @classmethod
    def build(cls, network: WalkNetwork, cell_size: float | None = None) -> "EdgeGrid":
        """Register every segment of ``network`` in the grid cells its bounding box covers.

        Parameters
        ----------
        network : WalkNetwork
        cell_size : float, optional
            Grid cell side in metres. By default the side of a square holding
            one segment on average over the network's bounding box, which
            puts a few segments in each cell a point looks at.
        """
        xy, owner = shapely.get_coordinates(network.edge_lines, return_index=True)
        same = owner[1:] == owner[:-1]  # consecutive vertices of one line
        ax, ay = xy[:-1, 0][same], xy[:-1, 1][same]
        bx, by = xy[1:, 0][same], xy[1:, 1][same]
        seg_edge = owner[:-1][same].astype(np.int64)
        x0, y0 = float(xy[:, 0].min()), float(xy[:, 1].min())
        width = float(xy[:, 0].max()) - x0
        height = float(xy[:, 1].max()) - y0
        if cell_size is None:
            cell_size = np.sqrt(max(width * height, 1.0) / max(ax.size, 1))
        # never more than about _MAX_CELLS cells (a long thin network too), never degenerate
        floor = max(np.sqrt(width * height / _MAX_CELLS), max(width, height) / _MAX_CELLS, 1.0)
        cell_size = float(max(cell_size, floor))
        nx = int(width // cell_size) + 1
        ny = int(height // cell_size) + 1
        # 32-bit entries where they fit (always, below 2**31 segments): half the memory traffic
        probe = np.zeros(0, dtype=np.int32 if ax.size < 2**31 else np.int64)
        indptr, entries, order = _register(ax, ay, bx, by, x0, y0, cell_size, nx, ny, probe)
        seg_xy = np.column_stack([ax[order], ay[order], bx[order], by[order]])
        edge_segments = np.bincount(seg_edge, minlength=network.n_edges)
        edge_first = np.cumsum(edge_segments) - edge_segments
        return cls(
            ax, ay, bx, by, seg_xy, seg_edge[order], cell_size, x0, y0, nx, ny, indptr, entries, edge_first, edge_segments
        )

    def nearest(self, x: np.ndarray, y: np.ndarray, max_dist: float) -> tuple[np.ndarray, np.ndarray]:
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
        unsure : numpy.ndarray of bool
            Points left unanswered (far outside the grid with a limit wider
            than the ring budget): ``edge`` is meaningless there.
        """
        edge = np.empty(x.size, dtype=np.int64)
        unsure = np.empty(x.size, dtype=np.bool_)
        _nearest_on_grid(
            np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64),
            self.seg_xy, self.seg_edge, self.indptr, self.entries,
            self.x0, self.y0, self.cell_size, self.nx, self.ny,
            float(max_dist), _MARGIN_M, _MAX_RINGS, edge, unsure,
        )  # fmt: skip
        return edge, unsure


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
    i = grid.edge_first[edge]
    ax, ay, bx, by = grid.ax[i], grid.ay[i], grid.bx[i], grid.by[i]
    dx = bx - ax
    dy = by - ay
    seg_len = np.sqrt(dx * dx + dy * dy)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)  # LineSegment::projectionFactor
        r = np.where((x == ax) & (y == ay), 0.0, np.where((x == bx) & (y == by), 1.0, r))
        measure = np.where(r <= 0, 0.0, np.where(r <= 1, r * seg_len, seg_len))
        frac = measure / seg_len  # GEOSProjectNormalized: a zero-length edge gives nan
    frac = np.nan_to_num(np.clip(frac, 0.0, 1.0))
    index = frac * seg_len  # GEOSInterpolateNormalized, then LengthLocationMap
    with np.errstate(invalid="ignore", divide="ignore"):
        along = np.where(index <= 0, 0.0, index / seg_len)
    start = along <= 0
    end = ~start & (along >= 1)
    sx = np.where(start, ax, np.where(end, bx, (bx - ax) * along + ax))
    sy = np.where(start, ay, np.where(end, by, (by - ay) * along + ay))
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


def cached_edge_grid(network: WalkNetwork) -> EdgeGrid | None:
    """The network's :class:`EdgeGrid` if it has been built, else ``None``."""
    with _LOCK:
        return _GRIDS.get(network)


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
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    edge = np.full(x.size, -1, dtype=np.int64)
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.all():
        edge, unsure = edge_grid(network).nearest(x, y, max_dist)
        todo = np.flatnonzero(unsure)
    else:
        at = np.flatnonzero(finite)
        edge[at], unsure = edge_grid(network).nearest(x[at], y[at], max_dist)
        todo = at[unsure]
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
