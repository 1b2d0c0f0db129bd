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

This module holds the grid object and the queries on it; the compiled build
and ring search are in :mod:`geo.segment_search`, the GEOS-exact distance and
foot formulas in :mod:`geo.segment_math`.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
import shapely

from geo import segment_math, segment_search
from geo.network import WalkNetwork
from geo.segment_math import segment_distance

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
        xy, owner = network.edge_coordinates()  # no line objects for a network without geometry
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
        x0, y0, x1, y1 = segment_search.bounds(xy) if len(xy) else (0.0, 0.0, 0.0, 0.0)
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
        indptr, entries, seg_xy, seg_edge, straight, edge_seg = segment_search.register(
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
        segment_search.nearest_all(x, y, *self._search_args(max_dist), edge, dist, sure)
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
        segment_search.snap_all(x, y, *self._search_args(max_dist), self.seg_straight_length, edge, *out, state)
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
    segment_math.feet(x, y, edge, grid.seg_xy, grid.edge_seg, frac, sx, sy)
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
