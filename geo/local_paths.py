"""Bounded Dijkstra on local pieces of a big network, a batch of nearby sources at a time.

The dense ``batch x n_nodes`` distance rows of a whole-network search cost
memory and time on a city of a million nodes; a batch of sources that lie
close together only ever reaches the nodes within the limit of them. Those
nodes are found on a grid of the network's nodes (:class:`_NodeGrid`), the
sub-network on them gets the batch's virtual source nodes
(:mod:`geo.virtual_sources`), and one ``scipy.sparse.csgraph.dijkstra`` call
solves the batch. Small networks are searched whole.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from geo.grouping import concat_ranges, counting_order
from geo.jit import kernel
from geo.legs import arc_weights
from geo.network import WalkNetwork
from geo.snap import Snapped
from geo.virtual_sources import augmented_graph

__all__ = ["LocalDistances", "local_node_distances"]


@dataclass(frozen=True, eq=False)
class LocalDistances:
    """Distances from a batch of sources to the nodes of a local piece of network.

    Attributes
    ----------
    sources : numpy.ndarray of int64
        Indices of the batch's sources.
    nodes : numpy.ndarray of int64
        Network nodes of the piece, sorted; every node within the limit of a
        source of the batch is among them.
    dist : numpy.ndarray of float64
        ``(len(sources), len(nodes))`` walking distances, ``inf`` beyond the
        limit.
    position : numpy.ndarray of int64
        Network-wide node -> column of ``dist`` (``-1`` outside the piece);
        shared between batches, so valid only until the next batch.
    """

    sources: np.ndarray
    nodes: np.ndarray
    dist: np.ndarray
    position: np.ndarray

    def at(self, rows: np.ndarray, node: np.ndarray) -> np.ndarray:
        """``dist`` of ``rows`` at network ``node`` ids, ``inf`` for nodes outside the piece."""
        col = self.position[node]
        if self.nodes.size == 0:
            return np.full(col.shape, np.inf)
        return np.where(col >= 0, self.dist[rows, np.maximum(col, 0)], np.inf)


# Up to this many nodes, local_node_distances runs on the whole network,
# _DENSE_CELLS distances (64 MB) per Dijkstra call.
_SMALL_NETWORK = 20_000
_DENSE_CELLS = 8_000_000

@dataclass(frozen=True, eq=False)
class _NodeGrid:
    """The network's nodes binned on a square grid, to find the nodes near a point.

    Building it is a linear counting sort (a k-d tree of a million nodes took
    0.25 s to build); a query gathers one contiguous run of nodes per grid row
    of the block around each point, then keeps those within the radius.
    """

    x0: float
    y0: float
    size: float
    nx: int
    ny: int
    indptr: np.ndarray
    nodes: np.ndarray

    @classmethod
    def build(cls, x: np.ndarray, y: np.ndarray, per_cell: float = 32.0) -> "_NodeGrid":
        """Bin the nodes ``(x, y)`` on square cells holding ``per_cell`` nodes on average.

        At most 4,096 cells along either side, so a long thin network does
        not make a huge, mostly empty grid.
        """
        x0, y0 = float(x.min()), float(y.min())
        w, h = float(x.max()) - x0, float(y.max()) - y0
        size = max(np.sqrt(max(w * h, 1.0) * per_cell / max(x.size, 1)), w / 4096, h / 4096, 1.0)
        nx, ny = int(w // size) + 1, int(h // size) + 1
        cell = ((y - y0) // size).astype(np.int64) * nx + ((x - x0) // size).astype(np.int64)
        order, indptr = counting_order(cell, nx * ny)
        return cls(x0, y0, float(size), nx, ny, indptr.astype(np.int64, copy=False), order.astype(np.int64))

    def near(self, network: WalkNetwork, px: np.ndarray, py: np.ndarray, radius: float) -> np.ndarray:
        """Sorted unique nodes within ``radius`` of any of the points ``(px, py)``."""
        mark = np.zeros(network.n_nodes, dtype=np.bool_)
        _mark_near(np.asarray(px, dtype=np.float64), np.asarray(py, dtype=np.float64), float(radius), self.x0,
                   self.y0, self.size, self.nx, self.ny, self.indptr, self.nodes, network.x, network.y, mark)
        # sorted unique by marking: linear, where np.unique sorts or hashes the duplicates
        return np.flatnonzero(mark)


@kernel
def _mark_near(px, py, radius, x0, y0, size, nx, ny, indptr, nodes, x, y, mark):
    """Mark the nodes within ``radius`` of any point: per point, one run of grid nodes per row of its block.

    Compiled: the vectorised form built a point x node array of the whole
    block (9 s of the 35 s for 35,495 siting candidates at a 30-minute walk).
    The block and the test are those of the vectorised form, so the same
    nodes are marked.
    """
    for i in range(px.size):
        cx0 = min(max(int((px[i] - radius - x0) // size), 0), nx - 1)
        cx1 = min(max(int((px[i] + radius - x0) // size), 0), nx - 1)
        cy0 = min(max(int((py[i] - radius - y0) // size), 0), ny - 1)
        cy1 = min(max(int((py[i] + radius - y0) // size), 0), ny - 1)
        for cy in range(cy0, cy1 + 1):
            for t in range(indptr[cy * nx + cx0], indptr[cy * nx + cx1 + 1]):
                n = nodes[t]
                if not mark[n] and np.hypot(x[n] - px[i], y[n] - py[i]) <= radius:
                    mark[n] = True


_STRETCH: "weakref.WeakKeyDictionary[WalkNetwork, tuple[float, _NodeGrid]]" = weakref.WeakKeyDictionary()
_STRETCH_LOCK = threading.Lock()


def _node_index(network: WalkNetwork) -> tuple[float, _NodeGrid]:
    """Largest drawn-length / walking-length ratio of an edge, and a grid of the nodes.

    A walk of length ``L`` ends within a straight line of ``stretch * L`` of
    where it started: each edge's drawing (never shorter than its chord) is
    at most ``stretch`` times its length.
    """
    with _STRETCH_LOCK:
        got = _STRETCH.get(network)
        if got is None:
            drawn = network.drawn_length()  # no lines built for a network drawn straight
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(drawn > 0, drawn / network.length, 1.0)
            stretch = float(ratio.max()) if ratio.size else 1.0
            got = _STRETCH[network] = (max(stretch, 1.0), _NodeGrid.build(network.x, network.y))
        return got


def local_node_distances(
    network: WalkNetwork, sources: Snapped, limit: float, batch_size: int = 16
) -> Iterator[LocalDistances]:
    """Bounded Dijkstra from every snapped source, on small local graphs, batch by batch.

    The dense ``batch x n_nodes`` result of :func:`node_distances` costs
    O(n_nodes) per source however small the limit, which dominates on a
    city of a million nodes. Here sources are batched by place, and each
    batch runs on the sub-network of nodes within a straight line of
    ``limit`` (times the network's largest drawn/walking length ratio) of its
    sources: every walk up to ``limit`` stays inside it, so the distances are
    exactly those on the whole network (Dijkstra takes each node's distance
    as the minimum over its neighbours' distance plus edge, the same floating
    sums either way).

    Parameters
    ----------
    network : WalkNetwork
    sources : Snapped
        Unsnapped sources are skipped.
    limit : float
        Largest distance in metres (finite).
    batch_size : int, default 16
        Sources per Dijkstra call.

    Yields
    ------
    LocalDistances
        One batch of sources (consume it before asking for the next).
    """
    if not np.isfinite(limit):
        raise ValueError("local_node_distances needs a finite limit")
    live = np.flatnonzero(sources.ok)
    if live.size == 0 or network.n_edges == 0:
        return
    stretch, grid = _node_index(network)
    # On a small network (or one with zero-length edges drawn with a length,
    # which gives no straight-line bound), whole-network rows are cheap: use them.
    if network.n_nodes <= _SMALL_NETWORK or not np.isfinite(stretch):
        graph, virtual = augmented_graph(network, sources)
        position = np.arange(network.n_nodes)
        # the rows span the virtual source nodes too (9,884 candidates on the
        # demo's 5,546 nodes: counting nodes alone made 178 MB batches)
        rows = max(1, _DENSE_CELLS // max(graph.shape[1], 1))
        for at in range(0, live.size, rows):
            batch = live[at : at + rows]
            d = np.atleast_2d(csgraph.dijkstra(graph, directed=True, indices=virtual[batch], limit=limit))
            yield LocalDistances(batch, position, d[:, : network.n_nodes], position)
            del d  # the consumer has dropped its view; free it before the next batch
        return
    radius = limit * stretch * (1 + 1e-9) + 1e-6
    # batch sources that lie close together, so that their pieces overlap
    cell = max(2 * radius, 1.0)
    key = np.lexsort((np.floor(sources.x[live] / cell), np.floor(sources.y[live] / cell)))
    live = live[key]
    base = network.csr
    position = np.full(network.n_nodes, -1, dtype=np.int64)
    for at in range(0, live.size, batch_size):
        batch = live[at : at + batch_size]
        nodes = grid.near(network, sources.x[batch], sources.y[batch], radius)
        m, k = nodes.size, batch.size
        position[nodes] = np.arange(m)
        graph = _local_graph(network, base, nodes, position, sources.take(batch))
        d = np.atleast_2d(csgraph.dijkstra(graph, directed=True, indices=np.arange(m, m + k), limit=limit))
        yield LocalDistances(batch, nodes, d[:, :m], position)
        position[nodes] = -1


def _local_graph(
    network: WalkNetwork, base: sparse.csr_matrix, nodes: np.ndarray, position: np.ndarray, sources: Snapped
) -> sparse.csr_matrix:
    """The sub-network on ``nodes`` plus one virtual node per source, as a CSR matrix."""
    m, k = nodes.size, len(sources)
    deg = base.indptr[nodes + 1] - base.indptr[nodes]
    pos = concat_ranges(base.indptr[nodes], deg)
    col = position[base.indices[pos]]
    keep = col >= 0
    row_len = np.bincount(np.repeat(np.arange(m), deg)[keep], minlength=m)
    # virtual rows: arcs to the ends of each source's edge that lie in the piece
    e = sources.edge
    ends = np.column_stack([position[network.u[e]], position[network.v[e]]])
    w = arc_weights(sources)
    inside = ends >= 0
    indptr = np.zeros(m + k + 1, dtype=np.int64)
    np.cumsum(np.concatenate([row_len, inside.sum(axis=1)]), out=indptr[1:])
    indices = np.concatenate([col[keep], ends[inside]])
    data = np.concatenate([base.data[pos][keep], w[inside]])
    return sparse.csr_matrix((data, indices, indptr), shape=(m + k, m + k))
