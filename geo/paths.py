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

import weakref
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from geo.dijkstra import seeded_dijkstra
from geo.grouping import concat_ranges, counting_order
from geo.jit import kernel
from geo.legs import along_edge, end_legs
from geo.local_paths import local_node_distances
from geo.network import MIN_EDGE_M, WalkNetwork
from geo.snap import Snapped
from geo.virtual_sources import augmented_graph, source_arcs

__all__ = ["Nearest", "Pairs", "nearest_source", "node_distances", "pair_distances"]


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
    local pieces of the network (:func:`geo.local_paths.local_node_distances`). A target is
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
        Sources per Dijkstra call (see :func:`geo.local_paths.local_node_distances`: each
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

