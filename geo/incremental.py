"""Nearest-facility coverage kept up to date under facility edits, without recomputing the city.

For one distance rule (a walk on the network, or a straight line) and one
search limit, :class:`IncrementalNearest` keeps for every target (population
cell) its nearest and second-nearest facility and their distances. Edits then
cost only local work:

* **add** a facility: one bounded search from the new site (a single-source
  Dijkstra on the piece of network within the limit, or a k-d tree query for
  straight lines), merged into what is stored;
* **remove** a facility: the cells it was nearest to fall back to their
  stored second-nearest; only cells that lose both (their second-nearest was
  no longer known) get a bounded multi-source search, restricted to them;
* **move** = remove, then add at the new site.

Exactness. Every distance is computed by the same floating-point operations
as :func:`geo.paths.nearest_source` / :func:`geo.euclid.nearest_euclidean`
(virtual source nodes with weight ``max(access + to_u, MIN_EDGE_M)``, target
cost ``to_u + access``, the better edge end, the direct walk when source and
target share an edge: all three from :mod:`geo.legs`), and Dijkstra on the
local piece of network finds the same values as on the whole network because every walk of at most ``limit``
metres stays within a straight-line ``limit`` of its start. So results equal
a full recomputation exactly, not approximately.

Ties. Building and adding give equal distances to the lowest *slot*
(facilities are numbered in the order they were added, which is the row
order of the edited facility layer). Full recomputations, and the removal
search, go through ``scipy.sparse.csgraph``, which breaks exact ties
arbitrarily; so facility identity agrees wherever the nearest distance is
unique, and the distances always agree.

Second-nearest bookkeeping. After a removal the cells that relied on the
removed facility as their second-nearest (or promoted it) no longer know their
second-nearest; they are flagged, and only a later removal of *their* nearest
needs a search. The nearest facility and its distance are always exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from geo.legs import along_edge, arc_weights, end_legs
from geo.network import WalkNetwork
from geo.snap import DEFAULT_MAX_SNAP_M, Snapped, snap

__all__ = ["EuclidReach", "IncrementalNearest", "NetworkReach", "Reach", "reach_radius"]


def reach_radius(limit: float) -> float:
    """Straight-line radius that holds every walk of at most ``limit`` metres.

    A walk is never shorter than the straight line; the slack absorbs edge
    lengths measured geodesically rather than in the projected CRS (the same
    slack as :func:`geo.paths.pair_distances`).
    """
    return limit * 1.001 + 1.0


@dataclass(frozen=True, eq=False)
class Reach:
    """Targets within the limit of one site, with their distances (sorted by target)."""

    cells: np.ndarray
    dist: np.ndarray


class Finder(Protocol):
    """What :class:`IncrementalNearest` needs from a distance rule."""

    n_targets: int

    def locate(self, x: float, y: float) -> object:
        """Where a facility at ``(x, y)`` sits for this rule (e.g. its snapped position)."""
        ...

    def reach(self, site: object, limit: float) -> Reach:
        """The cells within ``limit`` metres of a located site, with their distances."""
        ...

    def nearest(self, sites: list, cells: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Distance to and index of the nearest of ``sites`` for each of ``cells`` (inf / -1 beyond ``limit``)."""
        ...


def _csr_index(keys: np.ndarray, values: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Group ``values`` by integer ``keys`` into a CSR-style (indptr, values) index."""
    order = np.argsort(keys, kind="stable")
    indptr = np.zeros(n_keys + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n_keys), out=indptr[1:])
    return indptr, values[order]


def _gather(indptr: np.ndarray, values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """All values filed under any of ``keys`` in a :func:`_csr_index` index."""
    starts, ends = indptr[keys], indptr[keys + 1]
    counts = ends - starts
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=values.dtype)
    # positions start..end-1 of every key, without a Python loop
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return values[offsets + np.arange(total)]


class NetworkReach:
    """Bounded walking distances from sites to snapped targets, on local pieces of the network.

    Parameters
    ----------
    network : WalkNetwork
    targets : Snapped
        The population cells' points snapped onto ``network``.
    max_snap_m : float
        Snapping limit for new facility sites (as the city's).

    Notes
    -----
    A search around a site runs ``scipy.sparse.csgraph.dijkstra`` on the
    sub-network of nodes within :func:`reach_radius` of it, cut out of the
    city's CSR matrix with a reusable global-to-local index, plus one virtual
    node per site. This costs about a millisecond where building the
    augmented CSR of a million-node city costs ~50 ms. Not thread-safe (the
    index array is reused); callers serialise edits.
    """

    def __init__(self, network: WalkNetwork, targets: Snapped, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> None:
        self.network = network
        self.targets = targets
        self.max_snap_m = max_snap_m
        self.n_targets = len(targets)
        ok = np.flatnonzero(targets.ok)
        e = targets.edge[ok]
        # per target: its edge's end nodes and the cost from each end (as geo.paths._target_costs)
        self._tu = np.full(self.n_targets, -1, dtype=np.int64)
        self._tv = np.full(self.n_targets, -1, dtype=np.int64)
        self._tu[ok], self._tv[ok] = network.u[e], network.v[e]
        self._cu, self._cv = end_legs(targets)
        self._by_node = _csr_index(
            np.concatenate([self._tu[ok], self._tv[ok]]), np.concatenate([ok, ok]), network.n_nodes
        )
        self._by_edge = _csr_index(e, ok, network.n_edges)
        self._local = np.full(network.n_nodes, -1, dtype=np.int64)

    @cached_property
    def _node_tree(self) -> cKDTree:
        return cKDTree(np.column_stack([self.network.x, self.network.y]))

    # -- sites ---------------------------------------------------------------

    def locate(self, x: float, y: float) -> Snapped:
        """Snap a facility site onto the network (``edge == -1`` beyond the snapping limit)."""
        return snap(self.network, np.array([x], dtype=float), np.array([y], dtype=float), max_dist=self.max_snap_m)

    # -- local graph ---------------------------------------------------------

    def _local_graph(self, cx: float, cy: float, radius: float, sites: Snapped) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Sub-network within ``radius`` of ``(cx, cy)`` plus one virtual node per site.

        Fills ``self._local`` (global -> local node index); the caller resets it.
        Returns the graph and the global index of every local node.
        """
        net, base = self.network, self.network.csr
        nodes = np.asarray(self._node_tree.query_ball_point([cx, cy], r=radius), dtype=np.int64)
        nodes.sort()
        m, k = nodes.size, len(sites)
        self._local[nodes] = np.arange(m)
        starts, counts = base.indptr[nodes], np.diff(base.indptr)[nodes]
        total = int(counts.sum())
        pos = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(total)
        cols = self._local[base.indices[pos]]
        keep = cols >= 0
        rows = np.repeat(np.arange(m), counts)[keep]
        cols, data = cols[keep], base.data[pos][keep]
        # virtual site nodes m..m+k-1, weights exactly as geo.virtual_sources.augmented_graph
        ok = sites.ok
        e = np.where(ok, sites.edge, 0)
        vcols = np.column_stack([self._local[net.u[e]], self._local[net.v[e]]])
        vw = arc_weights(sites)
        vrows = np.repeat(np.arange(m, m + k)[:, None], 2, axis=1)
        vkeep = ok[:, None] & (vcols >= 0)
        rows = np.concatenate([rows, vrows[vkeep]])
        cols = np.concatenate([cols, vcols[vkeep]])
        data = np.concatenate([data, vw[vkeep]])
        indptr = np.zeros(m + k + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=m + k), out=indptr[1:])  # rows are already in order
        return sparse.csr_matrix((data, cols, indptr), shape=(m + k, m + k)), nodes

    def _via_ends(self, d_node: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Distance to ``cells`` through the better end of their edge, given local node distances."""
        lu, lv = self._local[self._tu[cells]], self._local[self._tv[cells]]
        du = np.where(lu >= 0, d_node[np.maximum(lu, 0)], np.inf)
        dv = np.where(lv >= 0, d_node[np.maximum(lv, 0)], np.inf)
        return np.minimum(du + self._cu[cells], dv + self._cv[cells])

    def _direct(self, sites: Snapped, cells: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(site, cell, distance) for cells on a site's own edge, walked directly along it.

        Same expression as ``geo.paths._same_edge_pairs``. ``cells`` restricts
        the cells considered (``None``: all).
        """
        si = np.flatnonzero(sites.ok)
        if si.size == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        indptr, values = self._by_edge
        counts = indptr[sites.edge[si] + 1] - indptr[sites.edge[si]]
        ti = _gather(indptr, values, sites.edge[si])
        si = np.repeat(si, counts)
        if cells is not None:
            inside = np.isin(ti, cells)
            si, ti = si[inside], ti[inside]
        return si, ti, along_edge(sites, si, self.targets, ti)

    # -- searches ------------------------------------------------------------

    def reach(self, site: Snapped, limit: float) -> Reach:
        """Every target within ``limit`` walking metres of one snapped site."""
        if not site.ok[0]:
            return Reach(np.empty(0, dtype=np.int64), np.empty(0))
        graph, nodes = self._local_graph(site.x[0], site.y[0], reach_radius(limit), site)
        try:
            m = nodes.size
            d = csgraph.dijkstra(graph, directed=True, indices=m, limit=limit)[:m]
            reached = nodes[np.isfinite(d)]
            cells = np.unique(_gather(*self._by_node, reached))
            dist = self._via_ends(d, cells)
        finally:
            self._local[nodes] = -1
        _, ti, direct = self._direct(site, None)
        if ti.size:
            cells = np.concatenate([cells, ti])
            dist = np.concatenate([dist, direct])
            order = np.lexsort((dist, cells))
            cells, dist = cells[order], dist[order]
            first = np.ones(cells.size, dtype=bool)
            first[1:] = cells[1:] != cells[:-1]
            cells, dist = cells[first], dist[first]
        keep = dist <= limit
        return Reach(cells[keep], dist[keep])

    def nearest(self, sites: list[Snapped], cells: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Nearest of ``sites`` for each of ``cells`` within ``limit`` (one multi-source search).

        Returns the distances (``inf`` beyond ``limit``) and the position in
        ``sites`` of the nearest (``-1``). Only the network around the cells is searched.
        """
        dist = np.full(cells.size, np.inf)
        which = np.full(cells.size, -1, dtype=np.int64)
        live = self.targets.ok[cells]
        if not sites or not live.any():
            return dist, which
        t = self.targets
        tx, ty = t.x[cells[live]], t.y[cells[live]]
        cx, cy = (tx.min() + tx.max()) / 2, (ty.min() + ty.max()) / 2
        radius = np.hypot(tx.max() - cx, ty.max() - cy) + reach_radius(limit)
        all_sites = Snapped.concat(sites)
        # only sites that could be within the limit of some cell take part
        near = all_sites.ok & (np.hypot(all_sites.x - cx, all_sites.y - cy) <= radius)
        pick = np.flatnonzero(near)
        if pick.size == 0:
            return dist, which
        chosen = all_sites.take(pick)
        graph, nodes = self._local_graph(cx, cy, radius, chosen)
        try:
            m = nodes.size
            d, _, src = csgraph.dijkstra(
                graph, directed=True, indices=np.arange(m, m + pick.size), limit=limit,
                min_only=True, return_predecessors=True,
            )
            lu, lv = self._local[self._tu[cells]], self._local[self._tv[cells]]
            via_u = np.where(lu >= 0, d[np.maximum(lu, 0)], np.inf) + self._cu[cells]
            via_v = np.where(lv >= 0, d[np.maximum(lv, 0)], np.inf) + self._cv[cells]
            use_v = via_v < via_u
            best = np.where(use_v, via_v, via_u)
            s = np.where(use_v, src[np.maximum(lv, 0)], src[np.maximum(lu, 0)]) - m
        finally:
            self._local[nodes] = -1
        ok = live & np.isfinite(best)
        dist[ok], which[ok] = best[ok], pick[s[ok]]
        si, ti, direct = self._direct(chosen, cells)
        if ti.size:
            for a, b, dd in zip(_positions(cells, ti), si, direct):  # few cells share an edge with a site
                if dd < dist[a] or (dd == dist[a] and pick[b] < which[a]):
                    dist[a], which[a] = dd, pick[b]
        over = dist > limit
        dist[over], which[over] = np.inf, -1
        return dist, which


def _positions(cells: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position in ``cells`` (unique, any order) of each of ``values``."""
    order = np.argsort(cells)
    return order[np.searchsorted(cells, values, sorter=order)]


class EuclidReach:
    """Straight-line distances from sites to target points, by k-d tree.

    Distances are computed by ``scipy.spatial.cKDTree`` as in
    :func:`geo.euclid.nearest_euclidean`, so they match it bit for bit.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
        self.n_targets = len(self.xy)
        self._tree = cKDTree(self.xy)

    def locate(self, x: float, y: float) -> np.ndarray:
        """A site is just its coordinates."""
        return np.array([[float(x), float(y)]])

    def reach(self, site: np.ndarray, limit: float) -> Reach:
        """Every target within ``limit`` metres of ``site`` (inclusive)."""
        cells = np.asarray(self._tree.query_ball_point(site[0], r=reach_radius(limit)), dtype=np.int64)
        cells.sort()
        if cells.size == 0:
            return Reach(cells, np.empty(0))
        dist, _ = cKDTree(site).query(self.xy[cells], k=1)
        keep = dist <= limit
        return Reach(cells[keep], dist[keep])

    def nearest(self, sites: list[np.ndarray], cells: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Nearest of ``sites`` for each of ``cells`` within ``limit``."""
        dist = np.full(cells.size, np.inf)
        which = np.full(cells.size, -1, dtype=np.int64)
        if not sites or cells.size == 0:
            return dist, which
        bound = np.nextafter(float(limit), np.inf)
        d, i = cKDTree(np.vstack(sites)).query(self.xy[cells], k=1, distance_upper_bound=bound)
        ok = d <= limit
        dist[ok], which[ok] = d[ok], i[ok]
        return dist, which


class IncrementalNearest:
    """Every target's nearest and second-nearest facility under one rule, kept current under edits.

    Parameters
    ----------
    finder : NetworkReach or EuclidReach
        The distance rule.
    limit : float
        Search limit in metres; farther facilities count as absent.

    Attributes
    ----------
    dist : numpy.ndarray
        Distance to the nearest facility per target (``inf`` beyond the limit).
    slot : numpy.ndarray of int64
        Slot of the nearest facility, ``-1`` where ``dist`` is ``inf``.
    searches : int
        How many removal searches were needed so far (for diagnostics).

    Notes
    -----
    Facilities are identified by *slots*: non-negative integers chosen by the
    caller, ordered as the facility layer's rows (ties go to the lowest slot).
    """

    def __init__(self, finder: Finder, limit: float) -> None:
        if not limit > 0:
            raise ValueError(f"limit must be a positive number of metres, got {limit!r}")
        self.finder = finder
        self.limit = float(limit)
        n = finder.n_targets
        self.dist = np.full(n, np.inf)
        self.slot = np.full(n, -1, dtype=np.int64)
        self._d2 = np.full(n, np.inf)
        self._s2 = np.full(n, -1, dtype=np.int64)
        self._known2 = np.ones(n, dtype=bool)  # an empty city: "no second facility" is known
        self._sites: dict[int, object] = {}
        self.searches = 0

    # -- building --------------------------------------------------------------

    @classmethod
    def build(cls, finder: Finder, limit: float, slots: Iterable[int], x: np.ndarray, y: np.ndarray) -> "IncrementalNearest":
        """The state for facilities ``slots`` at ``(x, y)``, computed from scratch.

        One bounded search per facility, reduced to the two nearest per target.
        """
        state = cls(finder, limit)
        slots = np.asarray(list(slots), dtype=np.int64)
        parts_c, parts_d, parts_s = [], [], []
        for s, fx, fy in zip(slots, np.asarray(x, float), np.asarray(y, float)):
            site = finder.locate(fx, fy)
            state._sites[int(s)] = site
            r = finder.reach(site, state.limit)
            parts_c.append(r.cells)
            parts_d.append(r.dist)
            parts_s.append(np.full(r.cells.size, s, dtype=np.int64))
        if parts_c:
            cells, dist, slot = np.concatenate(parts_c), np.concatenate(parts_d), np.concatenate(parts_s)
            order = np.lexsort((slot, dist, cells))  # per cell: nearest first, lowest slot on ties
            cells, dist, slot = cells[order], dist[order], slot[order]
            rank = np.arange(cells.size) - np.searchsorted(cells, cells, side="left")
            first, second = rank == 0, rank == 1
            state.dist[cells[first]], state.slot[cells[first]] = dist[first], slot[first]
            state._d2[cells[second]], state._s2[cells[second]] = dist[second], slot[second]
        return state

    # -- queries -----------------------------------------------------------------

    @property
    def slots(self) -> list[int]:
        """The facilities currently in the state."""
        return sorted(self._sites)

    def second(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Second-nearest distance, slot and whether it is known, per target (for checks)."""
        return self._d2.copy(), self._s2.copy(), self._known2.copy()

    # -- edits -------------------------------------------------------------------

    def add(self, slot: int, x: float, y: float) -> np.ndarray:
        """Add facility ``slot`` at ``(x, y)``; returns the targets whose nearest changed."""
        slot = int(slot)
        if slot in self._sites:
            raise ValueError(f"slot {slot} is already a facility; move it instead")
        site = self.finder.locate(x, y)
        self._sites[slot] = site
        r = self.finder.reach(site, self.limit)
        return self._merge(slot, r.cells, r.dist)

    def remove(self, slot: int) -> np.ndarray:
        """Remove facility ``slot``; returns the targets whose nearest changed."""
        slot = int(slot)
        if slot not in self._sites:
            raise KeyError(f"slot {slot} is not a facility here")
        del self._sites[slot]
        lost2 = np.flatnonzero(self._s2 == slot)
        self._s2[lost2], self._d2[lost2], self._known2[lost2] = -1, np.inf, False
        lost1 = np.flatnonzero(self.slot == slot)
        if lost1.size == 0:
            return lost1
        promote = lost1[self._known2[lost1]]
        search = lost1[~self._known2[lost1]]
        self.dist[promote], self.slot[promote] = self._d2[promote], self._s2[promote]
        # a promoted "none" means nothing is left in reach: then the second is known to be none too
        self._known2[promote] = self.slot[promote] < 0
        self._s2[promote], self._d2[promote] = -1, np.inf
        if search.size:
            slots = np.array(self.slots, dtype=np.int64)
            if slots.size:
                self.searches += 1
                d, w = self.finder.nearest([self._sites[int(s)] for s in slots], search, self.limit)
                w = np.where(w >= 0, slots[np.maximum(w, 0)], -1)  # position in `slots` -> slot
            else:  # the last facility closed: nothing to search
                d, w = np.full(search.size, np.inf), np.full(search.size, -1, dtype=np.int64)
            self.dist[search], self.slot[search] = d, w
            self._known2[search] = w < 0
            self._s2[search], self._d2[search] = -1, np.inf
        return lost1

    def move(self, slot: int, x: float, y: float) -> np.ndarray:
        """Move facility ``slot`` to ``(x, y)``; returns the targets whose nearest changed."""
        out = self.remove(slot)
        return np.union1d(out, self.add(slot, x, y))

    def _merge(self, slot: int, cells: np.ndarray, dist: np.ndarray) -> np.ndarray:
        """Merge a new facility's reach into the stored two nearest."""
        d1, s1 = self.dist[cells], self.slot[cells]
        better1 = (dist < d1) | ((dist == d1) & ((s1 < 0) | (slot < s1)))
        c1 = cells[better1]
        # the old nearest becomes the exact second-nearest
        self._d2[c1], self._s2[c1], self._known2[c1] = d1[better1], s1[better1], True
        self.dist[c1], self.slot[c1] = dist[better1], slot
        rest, rd = cells[~better1], dist[~better1]
        d2, s2 = self._d2[rest], self._s2[rest]
        better2 = self._known2[rest] & ((rd < d2) | ((rd == d2) & ((s2 < 0) | (slot < s2))))
        self._d2[rest[better2]], self._s2[rest[better2]] = rd[better2], slot
        return c1
