"""Bounded shortest paths between snapped points, by Dijkstra in C.

Everything that needs walking distances (coverage, service areas, siting
matrices, floating catchments, incremental scenario edits) is built on the
functions here. Sources are added to the network as *virtual nodes* joined to
both ends of the edge they snapped to, with weights ``access + to_u`` and
``access + to_v``; one ``scipy.sparse.csgraph.dijkstra`` run then solves many
sources at once (the nearest-source search runs :mod:`geo.dijkstra`'s
GIL-free kernel instead, seeded with those arcs, to the same distances). A
target's distance is the better of its two edge ends plus its own access leg,
or the direct walk along the edge when source and target share one.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from geo.dijkstra import seeded_dijkstra
from geo.grouping import concat_ranges, counting_order
from geo.jit import kernel
from geo.legs import along_edge, arc_weights, end_legs
from geo.network import MIN_EDGE_M, WalkNetwork
from geo.snap import Snapped

__all__ = ["LocalDistances", "Nearest", "Pairs", "local_node_distances", "nearest_source", "node_distances", "pair_distances"]


@dataclass(frozen=True, eq=False)
class Nearest:
    """Distance from each target to its nearest source.

    Attributes
    ----------
    dist : numpy.ndarray of float64
        Walking distance in metres, access legs included; ``inf`` where no
        source is within the limit (or the target is not snapped).
    source : numpy.ndarray of int64
        Index of the nearest source, ``-1`` where ``dist`` is ``inf``.
    """

    dist: np.ndarray
    source: np.ndarray


@dataclass(frozen=True, eq=False)
class Pairs:
    """All (source, target) pairs within a distance limit, as parallel arrays."""

    source: np.ndarray
    target: np.ndarray
    dist: np.ndarray

    def __len__(self) -> int:
        return int(self.source.size)

    def to_csr(self, n_sources: int, n_targets: int) -> sparse.csr_matrix:
        """Sparse ``n_sources x n_targets`` matrix of distances.

        A zero distance is stored as :data:`geo.network.MIN_EDGE_M` so that it
        is not mistaken for "unreachable".
        """
        d = np.maximum(self.dist, MIN_EDGE_M)
        s, t = self.source, self.target
        if s.size and np.all((np.diff(s) > 0) | ((np.diff(s) == 0) & (np.diff(t) > 0))):
            # already sorted by (source, target) without repeats, as pair_distances
            # returns them: the arrays are the CSR structure, no COO sort needed
            indptr = np.zeros(n_sources + 1, dtype=np.int64)
            np.cumsum(np.bincount(s, minlength=n_sources), out=indptr[1:])
            return sparse.csr_matrix((d, t, indptr), shape=(n_sources, n_targets))
        return sparse.csr_matrix((d, (s, t)), shape=(n_sources, n_targets))


def augmented_graph(network: WalkNetwork, sources: Snapped) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Append one virtual node per snapped source to the network's CSR matrix.

    Parameters
    ----------
    network : WalkNetwork
    sources : Snapped

    Returns
    -------
    graph : scipy.sparse.csr_matrix
        ``(n + k) x (n + k)`` matrix; row ``n + i`` holds source ``i``'s two
        edges to the ends of its snapped edge. Unsnapped sources get no edges.
    virtual : numpy.ndarray of int64
        The virtual node index of each source.
    """
    base = network.csr
    n, k = network.n_nodes, len(sources)
    cols, w, _ = source_arcs(network, sources)
    counts = np.where(sources.ok, 2, 0)
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(counts)])
    graph = sparse.csr_matrix(
        (np.concatenate([base.data, w]), np.concatenate([base.indices, cols]), indptr),
        shape=(n + k, n + k),
    )
    return graph, np.arange(n, n + k, dtype=np.int64)


def source_arcs(network: WalkNetwork, sources: Snapped) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arcs from each snapped source to the two ends of its edge.

    Parameters
    ----------
    network : WalkNetwork
    sources : Snapped

    Returns
    -------
    node, weight, source : numpy.ndarray
        Per arc (two per snapped source, ``u`` end first, in source order):
        the end node, the weight (:func:`geo.legs.arc_weights`) and the
        source's index in ``sources``. The rows of :func:`augmented_graph`'s
        virtual nodes, and the seeds of :func:`geo.dijkstra.seeded_dijkstra`.
    """
    ok = sources.ok
    e = sources.edge[ok]
    node = np.column_stack([network.u[e], network.v[e]]).ravel()
    return node, arc_weights(sources)[ok].ravel(), np.repeat(np.flatnonzero(ok), 2)


_COSTS: "weakref.WeakKeyDictionary[Snapped, tuple[weakref.ref, tuple[np.ndarray, ...]]]" = weakref.WeakKeyDictionary()


def _target_costs(network: WalkNetwork, targets: Snapped) -> tuple[np.ndarray, ...]:
    """End nodes of each target's edge and the cost from each end to the target.

    Kept while ``targets`` lives: a city's cells are the targets of every
    standard, and at 750,000 cells these gathers are a good part of a short
    search.
    """
    got = _COSTS.get(targets)
    if got is not None and got[0]() is network:
        return got[1]
    e = np.where(targets.ok, targets.edge, 0)
    costs = (network.u[e], network.v[e], *end_legs(targets))
    _COSTS[targets] = (weakref.ref(network), costs)
    return costs


@dataclass(frozen=True, eq=False)
class _NodeIndex:
    """Snapped targets listed under one end node of their edge (CSR-style)."""

    indptr: np.ndarray
    targets: np.ndarray

    def gather(self, row: np.ndarray, node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every target listed under ``node[i]``, with ``row[i]`` repeated beside it."""
        start = self.indptr[node]
        count = self.indptr[node + 1] - start
        return np.repeat(row, count), self.targets[concat_ranges(start, count)]


_BY_END: "weakref.WeakKeyDictionary[Snapped, tuple[weakref.ref, tuple[_NodeIndex, _NodeIndex]]]" = (
    weakref.WeakKeyDictionary()
)


def _targets_by_end(network: WalkNetwork, targets: Snapped) -> tuple[_NodeIndex, _NodeIndex]:
    """Snapped targets grouped by the ``u`` end and by the ``v`` end of their edge.

    Built in linear time (:func:`geo.grouping.counting_order`) and kept while
    ``targets`` lives, like :func:`_target_costs`.
    """
    got = _BY_END.get(targets)
    if got is not None and got[0]() is network:
        return got[1]
    ok = np.flatnonzero(targets.ok)
    out = []
    for end in (network.u, network.v):
        order, indptr = counting_order(end[targets.edge[ok]], network.n_nodes)
        out.append(_NodeIndex(indptr.astype(np.int64, copy=False), ok[order]))
    _BY_END[targets] = (weakref.ref(network), (out[0], out[1]))
    return out[0], out[1]


def _same_edge_pairs(sources: Snapped, targets: Snapped) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of (source, target) on the same edge with their direct along-edge distance.

    Sources are few and targets many: the sources are sorted by edge once and
    every target finds the run of sources on its edge by binary search.
    """
    s_idx = np.flatnonzero(sources.ok)
    t_idx = np.flatnonzero(targets.ok)
    if s_idx.size == 0 or t_idx.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    s_idx = s_idx[np.argsort(sources.edge[s_idx], kind="stable")]
    s_edge = sources.edge[s_idx]
    # only targets on an edge that has a source need the binary search
    has_source = np.zeros(int(max(s_edge[-1], targets.edge.max())) + 1, dtype=bool)
    has_source[s_edge] = True
    t_idx = t_idx[has_source[targets.edge[t_idx]]]
    t_edge = targets.edge[t_idx]
    lo = np.searchsorted(s_edge, t_edge, side="left")
    count = np.searchsorted(s_edge, t_edge, side="right") - lo
    ti = np.repeat(t_idx, count)
    si = s_idx[concat_ranges(lo, count)]
    return si, ti, along_edge(sources, si, targets, ti)


def nearest_source(
    network: WalkNetwork,
    sources: Snapped,
    targets: Snapped,
    limit: float = np.inf,
) -> Nearest:
    """Walking distance from every target to its nearest source.

    One multi-source, distance-bounded Dijkstra run
    (:func:`geo.dijkstra.seeded_dijkstra`: the distances of
    ``scipy.sparse.csgraph.dijkstra`` with ``min_only=True`` and ``limit``,
    without holding the GIL, so standards searched in threads overlap).

    Parameters
    ----------
    network : WalkNetwork
    sources : Snapped
        E.g. facilities of one kind.
    targets : Snapped
        E.g. representative points of population cells.
    limit : float, default inf
        Largest distance of interest in metres; farther targets get ``inf``.

    Returns
    -------
    Nearest
        Distances (access legs included) and the index of the nearest source.
        Targets in a network piece with no source get ``inf`` and ``-1``.
        Between sources at exactly the same distance from a network node, the
        lower source index reaches it; a target as far through either end of
        its edge takes the ``u`` end's; and along a shared edge the lower
        source index wins too.
    """
    m = len(targets)
    dist = np.full(m, np.inf)
    which = np.full(m, -1, dtype=np.int64)
    if m == 0 or not sources.ok.any():
        return Nearest(dist, which)

    d_node, src_node = seeded_dijkstra(network.csr, *source_arcs(network, sources), limit=limit)
    tu, tv, cu, cv = _target_costs(network, targets)
    _through_nearer_end(d_node, src_node, tu, tv, cu, cv, targets.ok, dist, which)

    si, ti, direct = _same_edge_pairs(sources, targets)
    if si.size:
        # keep the smallest direct distance per target, lowest source index on ties
        order = np.lexsort((si, direct, ti))
        si, ti, direct = si[order], ti[order], direct[order]
        first = np.ones(ti.size, dtype=bool)
        first[1:] = ti[1:] != ti[:-1]
        si, ti, direct = si[first], ti[first], direct[first]
        better = direct < dist[ti]
        dist[ti[better]] = direct[better]
        which[ti[better]] = si[better]

    over = dist > limit
    dist[over] = np.inf
    which[over] = -1
    return Nearest(dist, which)


@kernel
def _through_nearer_end(d_node, src_node, tu, tv, cu, cv, ok, dist, which):
    """Each target's distance through the nearer end of its edge, and that end's source.

    One pass over the targets instead of ten numpy passes (at 750,000 cells
    those were ~15 ms of a 30 ms search). Ties go to the ``u`` end.
    """
    for i in range(tu.size):
        if not ok[i]:
            continue
        via_u = d_node[tu[i]] + cu[i]
        via_v = d_node[tv[i]] + cv[i]
        if via_v < via_u:
            if via_v < np.inf:
                dist[i], which[i] = via_v, src_node[tv[i]]
        elif via_u < np.inf:
            dist[i], which[i] = via_u, src_node[tu[i]]


def node_distances(
    network: WalkNetwork, sources: Snapped, limit: float = np.inf
) -> np.ndarray:
    """Distance from each source (separately) to every network node.

    Parameters
    ----------
    network : WalkNetwork
    sources : Snapped
        Keep this small: the result is dense, ``len(sources) x n_nodes``.
    limit : float, default inf

    Returns
    -------
    numpy.ndarray
        ``(len(sources), n_nodes)`` distances in metres (source access leg
        included), ``inf`` beyond ``limit`` or for unsnapped sources.
    """
    graph, virtual = augmented_graph(network, sources)
    d = csgraph.dijkstra(graph, directed=True, indices=virtual, limit=limit)
    return np.atleast_2d(d)[:, : network.n_nodes]


def pair_distances(
    network: WalkNetwork,
    sources: Snapped,
    targets: Snapped,
    limit: float,
    batch_size: int = 32,
    progress=None,
) -> Pairs:
    """All source-target walking distances up to ``limit``, as sparse pairs.

    Bounded Dijkstra runs from the sources in batches of nearby sources on
    local pieces of the network (:func:`local_node_distances`). A target is
    examined for a source only when an end of its edge was reached within
    ``limit`` (a walk to it passes through one of them, or runs along the
    shared edge, which is handled apart): targets are looked up by node in
    an index built once per set of targets, so no straight-line search is
    needed and no pair is lost.

    Parameters
    ----------
    network : WalkNetwork
    sources, targets : Snapped
    limit : float
        Largest distance in metres (must be finite).
    batch_size : int, default 32
        Sources per Dijkstra call (see :func:`local_node_distances`: each
        call runs on the piece of network within reach of its sources).
        16-32 is fastest on a Guangzhou-sized city (0.24 s for 2,001
        facilities at 1,080 m; 64: 0.28 s, 128: 0.42 s).
    progress : callable, optional
        Called as ``progress(done, total)`` after each batch.

    Returns
    -------
    Pairs
        Sorted by source, then target.
    """
    if not np.isfinite(limit):
        raise ValueError("pair_distances needs a finite limit")
    s_ok = np.flatnonzero(sources.ok)
    out_s, out_t, out_d = [], [], []
    if not targets.ok.any() or s_ok.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return Pairs(empty, empty, np.empty(0))

    tu, tv, cu, cv = _target_costs(network, targets)
    at_u, at_v = _targets_by_end(network, targets)
    done = 0
    for local in local_node_distances(network, sources, limit, batch_size=batch_size):
        batch = local.sources
        done += batch.size
        row, col = np.nonzero(local.dist <= limit)
        node = local.nodes[col]
        # targets whose u end was reached, then those reached only through v:
        # each (source, target) pair comes up once
        row_u, tgt_u = at_u.gather(row, node)
        row_v, tgt_v = at_v.gather(row, node)
        only_v = local.at(row_v, tu[tgt_v]) > limit
        rows = np.concatenate([row_u, row_v[only_v]])
        tgt = np.concatenate([tgt_u, tgt_v[only_v]])
        if tgt.size:
            d = np.minimum(local.at(rows, tu[tgt]) + cu[tgt], local.at(rows, tv[tgt]) + cv[tgt])
            keep = d <= limit
            out_s.append(batch[rows[keep]])
            out_t.append(tgt[keep])
            out_d.append(d[keep])
        if progress is not None:
            progress(done, s_ok.size)
        del local  # before the generator computes the next batch: one batch alive at a time

    src = np.concatenate(out_s) if out_s else np.empty(0, dtype=np.int64)
    tgt = np.concatenate(out_t) if out_t else np.empty(0, dtype=np.int64)
    dist = np.concatenate(out_d) if out_d else np.empty(0)

    si, ti, direct = _same_edge_pairs(sources, targets)
    if si.size:
        inside = direct <= limit
        src = np.concatenate([src, si[inside]])
        tgt = np.concatenate([tgt, ti[inside]])
        dist = np.concatenate([dist, direct[inside]])
    # sorted by two linear counting sorts, where a comparison sort of the three
    # keys took 5-9 s of 35 s for the 12.9 M pairs of 35,495 siting candidates
    # at a 30-minute walk (rebinding here frees each unsorted array in turn)
    order = _pair_order(src, tgt, len(sources), len(targets))
    src, tgt, dist = src[order], tgt[order], dist[order]
    del order
    # a pair may appear twice (network path and direct path): keep the shorter
    first = np.ones(src.size, dtype=bool)
    first[1:] = (src[1:] != src[:-1]) | (tgt[1:] != tgt[:-1])
    if not first.all():
        start = np.flatnonzero(first)
        src, tgt, dist = src[start], tgt[start], np.minimum.reduceat(dist, start)
    return Pairs(src.astype(np.int64), tgt.astype(np.int64), dist)


@kernel
def _stable_by(keys, perm, n_keys):
    """``perm`` reordered by ``keys[perm]`` (values in ``[0, n_keys)``), ties in ``perm``'s order: a counting sort."""
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for i in perm:
        start[keys[i] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    out = np.empty(perm.size, dtype=np.int64)
    for i in perm:
        out[start[keys[i]]] = i
        start[keys[i]] += 1
    return out


def _pair_order(src: np.ndarray, tgt: np.ndarray, n_sources: int, n_targets: int) -> np.ndarray:
    """Order of the pairs by source, then target, ties in input order: counting sorts by target, then source.

    Compiled, so that it makes only the permutations (a counting sort through
    scipy's COO -> CSR conversion held 450 MB more at its peak on 12.9 M pairs).
    """
    return _stable_by(src, _stable_by(tgt, np.arange(src.size, dtype=np.int64), n_targets), n_sources)


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
            drawn = shapely.length(network.edge_lines)
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
