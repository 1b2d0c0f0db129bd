"""Nearest network edge for many points at once, on a uniform grid of segments.

``shapely.STRtree.query_nearest`` walks its tree once per point in C, about
20 microseconds each: 15 s of CPU for the 750,000 cells of a Guangzhou-sized
city. Here every straight segment of every edge is registered in the cells of
a uniform grid that its bounding box covers, and each point only measures the
segments registered in the block of grid cells around it, all in vectorised
numpy.

The answer is exact, not approximate: a segment within distance ``D`` of a
point meets the disc of radius ``D`` around it, so when the nearest distance
found in a block is smaller than the distance from the point to the block's
border, no segment outside the block can be nearer. Points that fail this
test are tried again on a larger block, and the few left after that (far from
every street) are settled by a block wider than the snapping limit; only
non-finite coordinates or very large limits go to the STRtree. Distances use GEOS's own
point-to-segment formula operation by operation, so they are bit-for-bit
those of ``shapely.distance`` and ties (a point equidistant from several
edges, e.g. at an intersection) resolve exactly as before: lowest edge index.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
import shapely

from geo.grouping import concat_ranges, counting_order
from geo.network import WalkNetwork

__all__ = [
    "EdgeGrid",
    "cached_edge_grid",
    "concat_ranges",
    "edge_grid",
    "locate_on_straight_edges",
    "nearest_edges",
    "segment_distance",
    "tree_nearest_edges",
]

# Blocks of grid cells tried in turn (cells per side). A 2 x 2 block around
# the quarter of the cell the point lies in guarantees half a cell of
# clearance, a 4 x 4 block one and a half cells, 8 x 8 three and a half
# (cells in parks or on water).
_BLOCKS = (2, 4, 8)
# Clearance kept between the nearest distance and the block border, far above
# the rounding of coordinates up to 1e7 m (1e-9 m) and far below any street gap.
_MARGIN_M = 1e-3
# Points measured per vectorised step: bounds the temporary arrays to ~50 MB.
_CHUNK = 32_768
# Widest block (cells per side) tried before falling back to the STRtree.
_MAX_BLOCK = 32
# At most this many grid cells, whatever the extent of the network.
_MAX_CELLS = 8_000_000

_BIG = np.iinfo(np.int64).max


def segment_distance(
    px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
) -> np.ndarray:
    """Point-to-segment distances, computed exactly as GEOS computes them.

    This is ``geos::algorithm::Distance::pointToSegment`` expression by
    expression (same operations in the same order), so that results equal
    ``shapely.distance`` to the last bit and equal distances stay equal.
    """
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        r = ((px - ax) * dx + (py - ay) * dy) / len2
        side = np.abs(((ay - py) * dx - (ax - px) * dy) / len2) * np.sqrt(len2)
    # r <= 0: nearest to A; r >= 1: nearest to B; a zero-length segment
    # (r = 0/0 = nan) measures to A == B.
    to_a = r <= 0
    ex = np.where(to_a, ax, bx) - px
    ey = np.where(to_a, ay, by) - py
    # GEOS's Coordinate::distance is sqrt(dx*dx + dy*dy) (not hypot); the sign
    # of the difference does not change the squares.
    return np.where(~(r > 0) | (r >= 1), np.sqrt(ex * ex + ey * ey), side)


@dataclass(frozen=True, eq=False)
class EdgeGrid:
    """The network's straight segments registered in a uniform grid.

    Attributes
    ----------
    ax, ay, bx, by : numpy.ndarray
        Segment ends, in the order they appear in the edge geometries.
    cell_size : float
        Side of a grid cell in metres.
    x0, y0 : float
        Lower-left corner of cell ``(0, 0)``.
    nx, ny : int
        Grid cells across and up.
    indptr : numpy.ndarray
        ``nx * ny + 1`` offsets into :attr:`entries`, cell by cell (row-major).
    entries : numpy.ndarray of int32/int64
        Segment indices registered in each cell.
    entry_edge : numpy.ndarray of int64
        Edge index of every entry (the edge its segment belongs to).
    edge_first : numpy.ndarray of int64
        Index of each edge's first segment (its segments are consecutive).
    edge_segments : numpy.ndarray of int64
        Number of segments of each edge (1 for a straight edge).
    """

    ax: np.ndarray
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    cell_size: float
    x0: float
    y0: float
    nx: int
    ny: int
    indptr: np.ndarray
    entries: np.ndarray
    entry_edge: np.ndarray
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
            puts about ten segments in the block a point looks at.
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

        # 32-bit indices where they fit (always, below 2**31 segments): half the memory traffic
        it = np.int32 if ax.size < 2**31 else np.int64
        ix0 = cls._index(np.minimum(ax, bx), x0, cell_size).astype(it)
        ix1 = cls._index(np.maximum(ax, bx), x0, cell_size).astype(it)
        iy0 = cls._index(np.minimum(ay, by), y0, cell_size).astype(it)
        iy1 = cls._index(np.maximum(ay, by), y0, cell_size).astype(it)
        wide = ix1 - ix0 + 1
        count = wide * (iy1 - iy0 + 1)
        seg = np.repeat(np.arange(ax.size, dtype=it), count)
        k = np.arange(seg.size, dtype=it) - np.repeat((np.cumsum(count) - count).astype(it), count)
        row, col = np.divmod(k, wide[seg])
        cell = (iy0[seg] + row) * it(nx) + ix0[seg] + col
        order, indptr = counting_order(cell, nx * ny)  # linear time; 3.5x faster than argsort here
        entries = seg[order]
        indptr = indptr.astype(np.int64, copy=False)
        edge_segments = np.bincount(seg_edge, minlength=network.n_edges)
        edge_first = np.cumsum(edge_segments) - edge_segments
        return cls(
            ax, ay, bx, by, cell_size, x0, y0, nx, ny, indptr, entries, seg_edge[entries.astype(np.int64)], edge_first, edge_segments
        )

    @staticmethod
    def _index(v: np.ndarray, origin: float, size: float) -> np.ndarray:
        return np.floor((v - origin) / size).astype(np.int64)

    def nearest(self, x: np.ndarray, y: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest edge of each point among the segments of a block of cells.

        Parameters
        ----------
        x, y : numpy.ndarray
            Finite point coordinates.
        block : int
            Cells per side of the block searched around each point.

        Returns
        -------
        edge : numpy.ndarray of int64
            Nearest edge (lowest index among equally near ones), ``-1`` if
            the block holds no segment.
        dist : numpy.ndarray of float64
            Its distance (``inf`` for ``-1``).
        clearance : numpy.ndarray of float64
            Distance from each point to the border of its block: no segment
            outside the block is nearer than this.
        """
        g = self.cell_size
        fx = (x - self.x0) / g
        fy = (y - self.y0) / g
        # lower-left cell of the block: centred on the point's quarter of its cell
        lx = np.floor(fx - block / 2 + 0.5).astype(np.int64)
        ly = np.floor(fy - block / 2 + 0.5).astype(np.int64)
        clearance = np.minimum(
            np.minimum(x - (self.x0 + lx * g), self.x0 + (lx + block) * g - x),
            np.minimum(y - (self.y0 + ly * g), self.y0 + (ly + block) * g - y),
        )
        cx = lx[:, None] + np.tile(np.arange(block), block)
        cy = ly[:, None] + np.repeat(np.arange(block), block)
        # cells off the grid hold no segment (the grid spans every segment)
        on = (cx >= 0) & (cx < self.nx) & (cy >= 0) & (cy < self.ny)
        cell = np.where(on, cy * self.nx + cx, 0)
        start = self.indptr[cell]
        count = np.where(on, self.indptr[cell + 1] - start, 0)
        per_point = count.sum(axis=1)
        pos = concat_ranges(start.ravel(), count.ravel())
        row = np.repeat(np.arange(x.size), per_point)
        seg = self.entries[pos]
        d = segment_distance(x[row], y[row], self.ax[seg], self.ay[seg], self.bx[seg], self.by[seg])

        dist = np.full(x.size, np.inf)
        edge = np.full(x.size, -1, dtype=np.int64)
        has = per_point > 0
        if has.any():
            offsets = (np.cumsum(per_point) - per_point)[has]
            dist[has] = np.minimum.reduceat(d, offsets)
            tied = np.where(d == dist[row], self.entry_edge[pos], _BIG)
            edge[has] = np.minimum.reduceat(tied, offsets)
        return edge, dist, clearance


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
    grid = edge_grid(network)
    edge = np.full(x.size, -1, dtype=np.int64)
    finite = np.isfinite(x) & np.isfinite(y)
    todo = np.flatnonzero(finite)
    blocks = list(_BLOCKS)
    if np.isfinite(max_dist):
        # a block wide enough to prove "nothing within max_dist" for points far from the streets
        wide = int(np.ceil(2 * (max_dist + _MARGIN_M) / grid.cell_size)) + 2
        if blocks[-1] < wide <= _MAX_BLOCK:
            blocks.append(wide)
    for block in blocks:
        unsure = []
        step = max(1, _CHUNK * 4 // (block * block))
        for at in range(0, todo.size, step):
            idx = todo[at : at + step]
            e, d, clearance = grid.nearest(x[idx], y[idx], block)
            # Certain when the answer (or "beyond max_dist") lies well inside the block.
            sure = np.minimum(d, max_dist) < clearance - _MARGIN_M
            edge[idx[sure]] = np.where(d[sure] <= max_dist, e[sure], -1)
            unsure.append(idx[~sure])
        todo = np.concatenate(unsure) if unsure else todo[:0]
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
