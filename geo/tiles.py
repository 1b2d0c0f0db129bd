"""Cutting one big walking network into tiles with a halo, so that each tile is solved alone, exactly.

A *tile* owns the cells whose representative point falls in its rectangle.
It is solved on the *sub-network* of edges that come near the rectangle:
every edge whose bounding box meets the rectangle grown by ``reach_m +
snap_m`` on each side. The answer for the tile's own cells is then the same,
bit for bit, as on the whole network, because:

- a distance search is bounded: a cell's nearest facility counts only
  within ``reach_m`` (the largest search limit of the standards asked), and a
  walk never is shorter than the straight line (an edge is never shorter than
  its chord), so every point of a walk that counts, the facility included,
  lies within ``reach_m`` of the cell, inside the rectangle grown by
  ``reach_m``; every edge of such a walk is in the sub-network;
- a point within ``reach_m`` of the rectangle snaps to an edge within
  ``snap_m`` of it, which the further ``snap_m`` of halo keeps; the snapping
  sees the same candidate edges in the same relative order (ties go to the
  lowest edge index), so it picks the same edge and position;
- nodes and edges keep their relative order in the sub-network, and
  Dijkstra's distances are sums of the same edge lengths along the same
  shortest paths, so each distance is the same float.

The tile's cells, network and the facilities near it are all a worker needs:
its memory grows with the tile and the halo, not with the city.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from geo.errors import LifecircleError
from geo.network import WalkNetwork

__all__ = [
    "Tile", "TileError", "chords_hold", "cut_tiles", "edges_near", "grow", "in_box", "sub_network", "tile_grid_shape",
]


class TileError(LifecircleError):
    """A tiling that cannot be made (no cells, a tile count below one, a network not metric)."""


Box = tuple[float, float, float, float]
"""``(xmin, ymin, xmax, ymax)`` in metres."""


@dataclass(frozen=True)
class Tile:
    """One tile of a city: its rectangle and the cells it owns.

    Attributes
    ----------
    index : int
        Position of the tile in the tiling: column by column from the west,
        each column from the south.
    box : tuple of float
        ``(xmin, ymin, xmax, ymax)``; a cell belongs to the tile whose box
        holds its point, the upper edges belonging to the next tile (except
        at the tiling's outer border).
    cells : numpy.ndarray of int64
        Positions of the tile's cells in the city, ascending.
    """

    index: int
    box: Box
    cells: np.ndarray


def tile_grid_shape(n_tiles: int) -> tuple[int, int]:
    """``(columns, rows)`` of a near-square tiling with exactly ``n_tiles`` tiles.

    The pair of factors closest to each other, with columns >= rows
    (16 -> 4 x 4, 8 -> 4 x 2, 6 -> 3 x 2, a prime p -> p x 1).
    """
    if n_tiles < 1:
        raise TileError(f"tiles: the number of tiles must be at least 1, got {n_tiles}")
    rows = int(np.sqrt(n_tiles))
    while n_tiles % rows:
        rows -= 1
    return n_tiles // rows, rows


def _cuts(values: np.ndarray, parts: int) -> np.ndarray:
    """``parts - 1`` interior cut positions giving parts of near-equal counts."""
    if parts == 1 or values.size == 0:
        return np.empty(0)
    return np.quantile(values, np.arange(1, parts) / parts)


def cut_tiles(x: np.ndarray, y: np.ndarray, n_tiles: int) -> list[Tile]:
    """Cut points (cells' representative points) into ``n_tiles`` rectangles of near-equal counts.

    Columns are cut at quantiles of ``x``; each column is cut at quantiles of
    the ``y`` of its own points, so every tile holds about the same number of
    cells (balanced work), whatever the shape of the city.

    Parameters
    ----------
    x, y : numpy.ndarray
        Point coordinates in metres (finite).
    n_tiles : int
        Number of tiles (see :func:`tile_grid_shape` for their layout).

    Returns
    -------
    list of Tile
        Every point in exactly one tile. A tile may own no point when there
        are fewer points than tiles.

    Raises
    ------
    TileError
        No points, a non-finite coordinate, or ``n_tiles < 1``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    cols, rows = tile_grid_shape(n_tiles)
    if x.size == 0:
        raise TileError("tiles: the city has no cells to cut into tiles")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise TileError("tiles: a cell's representative point is not finite")
    x0, y0, x1, y1 = float(x.min()), float(y.min()), float(x.max()), float(y.max())
    xcuts = _cuts(x, cols)
    # side="right": a point on a cut belongs to the tile above/right of it
    col_of = np.searchsorted(xcuts, x, side="right")
    xs = np.concatenate([[x0], xcuts, [x1]])
    tiles: list[Tile] = []
    for c in range(cols):
        in_col = np.flatnonzero(col_of == c)
        ycuts = _cuts(y[in_col], rows)
        row_of = np.searchsorted(ycuts, y[in_col], side="right")
        ys = np.concatenate([[y0], ycuts, [y1]])
        for r in range(rows):
            box = (float(xs[c]), float(ys[r]), float(xs[c + 1]), float(ys[r + 1]))
            tiles.append(Tile(index=len(tiles), box=box, cells=in_col[row_of == r]))
    return tiles


def grow(box: Box, margin: float) -> Box:
    """The rectangle grown by ``margin`` metres on every side."""
    return (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)


def in_box(x: np.ndarray, y: np.ndarray, box: Box) -> np.ndarray:
    """Boolean mask of the points inside the closed rectangle."""
    return (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])


def _edge_bounds(network: WalkNetwork) -> np.ndarray:
    """``(n_edges, 4)`` bounding boxes of the edges (geometry, else the end nodes)."""
    u, v = network.u, network.v
    b = np.column_stack([
        np.minimum(network.x[u], network.x[v]), np.minimum(network.y[u], network.y[v]),
        np.maximum(network.x[u], network.x[v]), np.maximum(network.y[u], network.y[v]),
    ])
    if network.geometry is not None:
        has = ~shapely.is_missing(network.geometry)
        if has.any():
            b[has] = shapely.bounds(network.geometry[has])
    return b


def edges_near(network: WalkNetwork, box: Box, bounds: np.ndarray | None = None) -> np.ndarray:
    """Indices (ascending) of the edges whose bounding box meets the closed rectangle.

    Parameters
    ----------
    network : WalkNetwork
    box : tuple of float
    bounds : numpy.ndarray, optional
        The edges' bounding boxes when the caller cuts many tiles of one
        network (computed once instead of once per tile).
    """
    b = _edge_bounds(network) if bounds is None else bounds
    hit = (b[:, 0] <= box[2]) & (b[:, 2] >= box[0]) & (b[:, 1] <= box[3]) & (b[:, 3] >= box[1])
    return np.flatnonzero(hit)


def sub_network(network: WalkNetwork, edges: np.ndarray) -> tuple[WalkNetwork, np.ndarray]:
    """The network made of some of its edges, nodes and edges in their original order.

    Parameters
    ----------
    network : WalkNetwork
    edges : numpy.ndarray of int
        Ascending edge indices to keep.

    Returns
    -------
    sub : WalkNetwork
        Only the kept edges and their end nodes; edge ``i`` of ``sub`` is
        edge ``edges[i]`` of ``network``.
    nodes : numpy.ndarray of int64
        Node ``j`` of ``sub`` is node ``nodes[j]`` of ``network``.

    Notes
    -----
    Order matters for exactness: snapping breaks ties by the lowest edge
    index, and a monotone renumbering keeps every such choice.
    """
    edges = np.asarray(edges, dtype=np.int64)
    if edges.size > 1 and np.any(np.diff(edges) <= 0):
        raise TileError("sub_network: edge indices must be ascending and distinct")
    u, v = network.u[edges], network.v[edges]
    nodes = np.unique(np.concatenate([u, v]))
    sub = WalkNetwork(
        x=network.x[nodes],
        y=network.y[nodes],
        u=np.searchsorted(nodes, u),
        v=np.searchsorted(nodes, v),
        length=network.length[edges],
        geometry=None if network.geometry is None else network.geometry[edges],
        crs=network.crs,
        node_id=None if network.node_id is None else network.node_id[nodes],
    )
    return sub, nodes


def chords_hold(network: WalkNetwork, tolerance_m: float = 1e-6) -> bool:
    """Whether no edge is shorter than the straight line between its ends.

    Tiling is exact only then (a walk is never shorter than the straight
    line). Networks built from geometry or coordinates always pass; a file
    with hand-set lengths might not.
    """
    chord = np.hypot(network.x[network.u] - network.x[network.v], network.y[network.u] - network.y[network.v])
    return bool(np.all(network.length >= chord - tolerance_m))
