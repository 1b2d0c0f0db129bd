"""Fast single-address reach queries on a loaded city.

At startup, for each facility kind, one multi-source Dijkstra (the same
augmented graph and ``min_only`` search as :func:`geo.paths.nearest_source`)
gives every network node its walking distance to, and the identity of, the
nearest facility of that kind. A query then only snaps the address onto its
edge and looks at the edge's two end nodes (plus facilities on the very same
edge), which is what ``nearest_source`` does for every cell, with the same
legs (:mod:`geo.legs`): the answers are identical, in microseconds instead of
a Dijkstra per request.

The index lives in ``geo`` and knows the city and the standards only by the
few attributes it reads (:class:`ReachCity`, :class:`ReachRule`), so that
``layers.city.City`` and ``scenarios.standards.Standard`` fit without ``geo``
importing them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import shapely
from scipy.sparse import csgraph
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from geo.errors import LifecircleError
from geo.legs import along_edge, end_legs
from geo.network import WalkNetwork
from geo.snap import Snapped, snap
from geo.virtual_sources import augmented_graph

__all__ = [
    "KindAnswer",
    "KindIndex",
    "OutsideCityError",
    "ReachCity",
    "ReachIndex",
    "ReachRule",
    "StandardAnswer",
]


class OutsideCityError(LifecircleError):
    """A query point outside the loaded city or too far from its walking network."""


class ReachCity(Protocol):
    """What :class:`ReachIndex` reads of a city (``layers.city.City`` has it all)."""

    name: str
    network: WalkNetwork
    boundary: BaseGeometry | None
    max_snap_m: float

    @property
    def facility_xy(self) -> tuple[np.ndarray, np.ndarray]: ...

    @property
    def snapped_facilities(self) -> Snapped: ...

    def facilities_of(self, kinds: tuple[str, ...] | list[str]) -> np.ndarray: ...


class ReachRule(Protocol):
    """What :meth:`ReachIndex.standard_answer` reads of a standard (``scenarios.standards.Standard``)."""

    kinds: tuple[str, ...]
    mode: str
    threshold_m: float


@dataclass(frozen=True, eq=False)
class KindIndex:
    """Nearest facility of one kind from every network node.

    Attributes
    ----------
    positions : numpy.ndarray of int64
        Row positions in ``city.facilities`` of the facilities of this kind.
    node_dist : numpy.ndarray
        Walking metres from each node to its nearest facility (``inf`` if none).
    node_source : numpy.ndarray of int64
        Index into :attr:`positions` of that facility, ``-1`` if none.
    sources : Snapped
        The facilities of this kind, snapped.
    tree : scipy.spatial.cKDTree or None
        Facility coordinates, for straight-line standards.
    """

    positions: np.ndarray
    node_dist: np.ndarray
    node_source: np.ndarray
    sources: Snapped
    tree: cKDTree | None


@dataclass(frozen=True)
class KindAnswer:
    """Nearest facility of one kind by walking."""

    kind: str
    facility: int  # row in city.facilities, -1 when none reachable
    walk_m: float  # inf when none reachable
    straight_facility: int
    straight_m: float


@dataclass(frozen=True)
class StandardAnswer:
    """One standard checked at one address."""

    standard: ReachRule
    facility: int
    dist_m: float
    met: bool


def _kind_index(city: ReachCity, kind: str) -> KindIndex:
    positions = city.facilities_of([kind])
    sources = city.snapped_facilities.take(positions)
    n = city.network.n_nodes
    node_dist = np.full(n, np.inf)
    node_source = np.full(n, -1, dtype=np.int64)
    if sources.ok.any():
        graph, virtual = augmented_graph(city.network, sources)
        d, _, src = csgraph.dijkstra(graph, directed=True, indices=virtual[sources.ok], min_only=True, return_predecessors=True)
        node_dist = d[:n]
        node_source = np.where(np.isfinite(node_dist), src[:n] - n, -1).astype(np.int64)
    fx, fy = city.facility_xy
    tree = cKDTree(np.column_stack([fx[positions], fy[positions]])) if positions.size else None
    return KindIndex(positions, node_dist, node_source, sources, tree)


class ReachIndex:
    """Precomputed nearest-facility answers for every kind of one city.

    Parameters
    ----------
    city : ReachCity
        Read only; its cached network structures are built here so that
        concurrent queries never race to build them.
    kinds : iterable of str
        The facility kinds to index, in the order :meth:`kind_answers` lists
        them (every kind a standard may ask about, facilities or not).
    margin_m : float
        How far outside ``city.boundary`` a query may lie.
    """

    def __init__(self, city: ReachCity, kinds: Iterable[str], margin_m: float = 300.0):
        self.city = city
        self.margin_m = float(margin_m)
        self.kinds = {k: _kind_index(city, k) for k in kinds}
        area = city.boundary if city.boundary is not None else shapely.box(*city.network.bounds())
        self.area = shapely.buffer(area, self.margin_m)
        shapely.prepare(self.area)
        # warm the lazily built STRtree before threads share it
        snap(city.network, np.array([city.network.x[0]]), np.array([city.network.y[0]]), max_dist=city.max_snap_m)

    def locate(self, x: float, y: float) -> Snapped:
        """Snap one point (city CRS metres), refusing points outside the city.

        Raises
        ------
        OutsideCityError
            Outside the boundary plus margin, or farther than the city's
            snapping limit from every walkable street.
        """
        if not shapely.contains_xy(self.area, x, y):
            raise OutsideCityError(
                f"the point lies outside the loaded city '{self.city.name}' "
                f"(more than {self.margin_m:g} m beyond its boundary)"
            )
        s = snap(self.city.network, np.array([x]), np.array([y]), max_dist=self.city.max_snap_m)
        if not s.ok[0]:
            raise OutsideCityError(
                f"the point is more than {self.city.max_snap_m:g} m from every walkable street of '{self.city.name}'"
            )
        return s

    def nearest_walk(self, kind: str, q: Snapped) -> tuple[float, int]:
        """Walking metres and facility row of the nearest ``kind`` from snapped point ``q``."""
        cu, cv = end_legs(q)
        return self._walk(self.kinds[kind], q, float(cu[0]), float(cv[0]))

    def _walk(self, k: KindIndex, q: Snapped, cu: float, cv: float) -> tuple[float, int]:
        """:meth:`nearest_walk` given ``q``'s legs to its edge ends (computed once per query)."""
        net = self.city.network
        e = int(q.edge[0])
        via_u = k.node_dist[net.u[e]] + cu
        via_v = k.node_dist[net.v[e]] + cv
        # ties go to the u end, as in geo.paths.nearest_source
        dist, src = (via_v, k.node_source[net.v[e]]) if via_v < via_u else (via_u, k.node_source[net.u[e]])
        same = np.flatnonzero(k.sources.edge == e)
        if same.size:
            direct = along_edge(k.sources, same, q, np.zeros(same.size, dtype=np.int64))
            best = int(np.argmin(direct))  # first minimum = lowest source index
            if direct[best] < dist:
                dist, src = direct[best], same[best]
        if not np.isfinite(dist) or src < 0:
            return float("inf"), -1
        return float(dist), int(k.positions[src])

    def nearest_straight(self, kind: str, x: float, y: float) -> tuple[float, int]:
        """Straight-line metres and facility row of the nearest ``kind``."""
        k = self.kinds[kind]
        if k.tree is None:
            return float("inf"), -1
        d, i = k.tree.query([x, y])
        return float(d), int(k.positions[i])

    def kind_answers(self, x: float, y: float, q: Snapped) -> list[KindAnswer]:
        """Nearest facility of every kind."""
        out = []
        cu, cv = end_legs(q)
        for kind, k in self.kinds.items():
            walk, fac = self._walk(k, q, float(cu[0]), float(cv[0]))
            straight, sfac = self.nearest_straight(kind, x, y)
            out.append(KindAnswer(kind, fac, walk, sfac, straight))
        return out

    def standard_answer(self, standard: ReachRule, answers: dict[str, KindAnswer]) -> StandardAnswer:
        """Check one standard from the per-kind answers (minimum over its kinds)."""
        best_d, best_f = float("inf"), -1
        for kind in standard.kinds:
            a = answers[kind]
            d, f = (a.straight_m, a.straight_facility) if standard.mode == "euclidean" else (a.walk_m, a.facility)
            if d < best_d:
                best_d, best_f = d, f
        return StandardAnswer(standard, best_f, best_d, bool(best_d <= standard.threshold_m))
