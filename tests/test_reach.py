"""geo.reach.ReachIndex: by hand on the hand network, and equal to nearest_source bit for bit.

The hand answers are those of tests/test_paths.py (source S1 alone, see its
docstring): the index must give the same walk from every target point.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pytest
import shapely

from geo.errors import LifecircleError
from geo.network import WalkNetwork
from geo.paths import nearest_source
from geo.reach import OutsideCityError, ReachIndex
from geo.snap import DEFAULT_MAX_SNAP_M, Snapped, snap

from .conftest import random_network
from .test_paths import S1, S1_DIST, TARGETS


@dataclass(eq=False)
class _City:
    """The few attributes ReachIndex reads of a city (geo.reach.ReachCity)."""

    network: WalkNetwork
    fx: np.ndarray
    fy: np.ndarray
    kind: np.ndarray
    name: str = "test"
    boundary: shapely.Geometry | None = None
    max_snap_m: float = DEFAULT_MAX_SNAP_M

    @property
    def facility_xy(self) -> tuple[np.ndarray, np.ndarray]:
        return self.fx, self.fy

    @cached_property
    def snapped_facilities(self) -> Snapped:
        return snap(self.network, self.fx, self.fy, max_dist=self.max_snap_m)

    def facilities_of(self, kinds) -> np.ndarray:
        return np.flatnonzero(np.isin(self.kind, list(kinds)))


def test_hand_network_walks(hand_network):
    """S1 as the only school: the walk from every target is test_paths' hand-computed distance."""
    city = _City(hand_network, np.array([S1[0]]), np.array([S1[1]]), np.array(["school"]))
    index = ReachIndex(city, ["school", "clinic"], margin_m=5000.0)
    assert list(index.kinds) == ["school", "clinic"]
    for (x, y), want in zip(TARGETS, S1_DIST):
        s = snap(hand_network, np.array([x]), np.array([y]))
        if not s.ok[0]:  # T5, 632 m from every street
            with pytest.raises(OutsideCityError, match="from every walkable street"):
                index.locate(x, y)
            continue
        q = index.locate(x, y)
        walk, row = index.nearest_walk("school", q)
        assert walk == pytest.approx(want, abs=1e-5), (x, y)
        assert row == (0 if np.isfinite(want) else -1)
        # no clinic at all: nothing by walk or by straight line
        assert index.nearest_walk("clinic", q) == (float("inf"), -1)
        assert index.nearest_straight("clinic", x, y) == (float("inf"), -1)
        d, r = index.nearest_straight("school", x, y)
        assert r == 0 and d == pytest.approx(np.hypot(x - S1[0], y - S1[1]))


def test_outside_city_is_a_user_error(hand_network):
    city = _City(hand_network, np.array([S1[0]]), np.array([S1[1]]), np.array(["school"]))
    index = ReachIndex(city, ["school"], margin_m=100.0)
    with pytest.raises(OutsideCityError, match="outside the loaded city 'test'") as err:
        index.locate(5000.0, 0.0)
    assert isinstance(err.value, LifecircleError)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equals_nearest_source_exactly(seed):
    """At random points, the index's walk and facility equal nearest_source's, to the last bit."""
    net = random_network(seed)
    rng = np.random.default_rng(seed)
    k = 40
    x0, y0, x1, y1 = net.bounds()
    fx, fy = rng.uniform(x0, x1, k), rng.uniform(y0, y1, k)
    kinds = rng.choice(["a", "b"], k)
    # a few facilities share an edge with query points: put queries right beside them
    px = np.concatenate([rng.uniform(x0, x1, 300), fx[:10] + 3.0])
    py = np.concatenate([rng.uniform(y0, y1, 300), fy[:10] - 2.0])
    city = _City(net, fx, fy, kinds)
    index = ReachIndex(city, ["a", "b"], margin_m=1000.0)
    targets = snap(net, px, py)
    for kind in ("a", "b"):
        rows = city.facilities_of([kind])
        want = nearest_source(net, city.snapped_facilities.take(rows), targets)
        for i in np.flatnonzero(targets.ok):
            walk, row = index.nearest_walk(kind, targets.take(np.array([i])))
            if np.isfinite(want.dist[i]):
                assert walk == want.dist[i] and row == rows[want.source[i]], (kind, i)
            else:
                assert (walk, row) == (float("inf"), -1)
        assert np.isfinite(want.dist).sum() > 250  # the check above compared real walks
