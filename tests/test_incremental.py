"""Incremental coverage equals a full recomputation, exactly, after any sequence of edits.

The hand case (network of conftest): S1 (100,-30) snaps onto A-B 100 m from A
with a 30 m access leg; S2 (306,8) lies on the bent B-D edge 10 m from B.
Targets and their distances worked out by hand:

    target             from S1 alone                    from S2 (wins where smaller)
    T1 (450,250) bent  via B: 230 + 250 + 50 = 530      same edge: |10 - 250| + 50 = 290
    T2 (250,10)  A-B   same edge: 30 + 150 + 10 = 190   via B: 10 + 50 + 10 = 70
    T3 (750,40)  E-F   via E: 530 + 150 + 40 = 720      via E: 310 + 150 + 40 = 500
    T4 (2000,150) G-H  unreachable                      unreachable
    T6 (594,8)   bent  via D: 530 + 10 = 540            via D: 310 + 10 = 320

(E is D plus the 1e-6 m zero-length edge, hence the 1e-5 tolerance there.)
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.euclid import nearest_euclidean
from geo.incremental import EuclidReach, IncrementalNearest, NetworkReach
from geo.paths import nearest_source, pair_distances
from geo.snap import snap

from .conftest import random_network

S1, S2 = (100.0, -30.0), (306.0, 8.0)
TARGETS = np.array([(450.0, 250.0), (250.0, 10.0), (750.0, 40.0), (2000.0, 150.0), (594.0, 8.0)])


@pytest.fixture()
def hand_state(hand_network):
    cells = snap(hand_network, TARGETS[:, 0], TARGETS[:, 1])
    return IncrementalNearest(NetworkReach(hand_network, cells), limit=1000.0)


def test_hand_add_remove(hand_state):
    s = hand_state
    changed = s.add(0, *S1)
    np.testing.assert_allclose(s.dist, [530, 190, 720, np.inf, 540], atol=1e-5)
    assert s.slot.tolist() == [0, 0, 0, -1, 0]
    assert sorted(changed.tolist()) == [0, 1, 2, 4]

    changed = s.add(1, *S2)
    np.testing.assert_allclose(s.dist, [290, 70, 500, np.inf, 320], atol=1e-5)
    assert s.slot.tolist() == [1, 1, 1, -1, 1]
    d2, s2, known = s.second()
    np.testing.assert_allclose(d2[[0, 1, 2, 4]], [530, 190, 720, 540], atol=1e-5)
    assert known.all() and s2[[0, 1, 2, 4]].tolist() == [0, 0, 0, 0]

    # S2 closes: every cell falls back to its stored second, S1, without a search
    s.remove(1)
    np.testing.assert_allclose(s.dist, [530, 190, 720, np.inf, 540], atol=1e-5)
    assert s.searches == 0
    _, _, known = s.second()
    assert not known[[0, 1, 2, 4]].any()  # S1's own second (beyond S2) was never stored
    s.remove(0)
    assert np.isinf(s.dist).all() and (s.slot == -1).all()
    assert s.searches == 0  # no facility left: nothing to search


def test_limit_cuts_off(hand_network):
    cells = snap(hand_network, TARGETS[:, 0], TARGETS[:, 1])
    s = IncrementalNearest(NetworkReach(hand_network, cells), limit=600.0)
    s.add(0, *S1)
    np.testing.assert_allclose(s.dist, [530, 190, np.inf, np.inf, 540], atol=1e-5)


def test_removal_search_when_second_unknown(hand_network):
    cells = snap(hand_network, TARGETS[:, 0], TARGETS[:, 1])
    s = IncrementalNearest(NetworkReach(hand_network, cells), limit=1000.0)
    s.add(0, *S1)
    s.add(1, *S2)
    s.add(2, 900.0, 5.0)  # 5 m off F on E-F: T3 is 5 + 150 + 40 = 195 from it
    assert s.slot[2] == 2 and s.dist[2] == pytest.approx(195.0)
    s.remove(0)  # the second-nearest of T2 and T6 (S1) is gone: now unknown there
    _, _, known = s.second()
    assert not known[1]
    s.remove(1)  # T2 lost its nearest and its second is unknown: a bounded search
    assert s.searches == 1
    # T2 from F: via B? F->E->D->B = 300 + 1e-6 + 300 -> B then 50 + 10 = 5 + 600 + 60 = 665
    np.testing.assert_allclose(s.dist, [5 + 300 + 250 + 50, 665, 195, np.inf, 5 + 300 + 10], atol=1e-5)
    assert s.slot.tolist() == [2, 2, 2, -1, 2]


def test_bad_use_is_refused(hand_state):
    with pytest.raises(ValueError, match="limit"):
        IncrementalNearest(hand_state.finder, 0.0)
    hand_state.add(0, *S1)
    with pytest.raises(ValueError, match="already"):
        hand_state.add(0, *S2)
    with pytest.raises(KeyError, match="slot 5"):
        hand_state.remove(5)


def test_unsnapped_site_reaches_nothing(hand_network):
    cells = snap(hand_network, TARGETS[:, 0], TARGETS[:, 1])
    s = IncrementalNearest(NetworkReach(hand_network, cells, max_snap_m=50.0), limit=1000.0)
    assert s.add(0, 100.0, 900.0).size == 0  # 500 m from the nearest street
    assert np.isinf(s.dist).all()


# ------------------------------------------------------------------ against full recomputation

OPS = st.lists(
    st.tuples(st.sampled_from(["add", "add", "move", "remove"]), st.floats(-100, 1000), st.floats(-100, 1000),
              st.integers(0, 10_000)),
    min_size=1,
    max_size=14,
)


def _full(mode, net, cells, cxy, sites, limit):
    """Nearest distance and facility (position in ``sites``) recomputed from scratch."""
    xs = np.array([p[0] for p in sites])
    ys = np.array([p[1] for p in sites])
    if mode == "euclidean":
        return nearest_euclidean(xs, ys, cxy[0], cxy[1], limit=limit)
    near = nearest_source(net, snap(net, xs, ys), cells, limit=limit)
    return near.dist, near.source


def _all_pairs(mode, net, cells, cxy, sites, limit):
    """Per cell, every facility's distance within the limit (brute force, dense)."""
    k, n = len(sites), len(cells) if mode == "network" else cxy.shape[1]
    d = np.full((k, n), np.inf)
    if k == 0:
        return d
    xs = np.array([p[0] for p in sites])
    ys = np.array([p[1] for p in sites])
    if mode == "euclidean":
        d = np.hypot(xs[:, None] - cxy[0][None, :], ys[:, None] - cxy[1][None, :])
        return np.where(d <= limit, d, np.inf)
    pairs = pair_distances(net, snap(net, xs, ys), cells, limit)
    d[pairs.source, pairs.target] = pairs.dist
    return d


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 50),
    mode=st.sampled_from(["network", "euclidean"]),
    limit=st.sampled_from([150.0, 300.0, 600.0]),
    n_start=st.integers(0, 6),
    ops=OPS,
)
def test_edits_equal_full_recomputation(seed, mode, limit, n_start, ops):
    net = random_network(seed, side=8)
    rng = np.random.default_rng(seed)
    cxy = rng.uniform(-80, 900, (2, 120))
    cells = snap(net, cxy[0], cxy[1])
    finder = NetworkReach(net, cells) if mode == "network" else EuclidReach(cxy[0], cxy[1])
    start = [tuple(p) for p in rng.uniform(0, 800, (n_start, 2))]
    state = IncrementalNearest.build(finder, limit, range(n_start), [p[0] for p in start], [p[1] for p in start])
    sites = dict(enumerate(start))  # slot -> location, in slot order = row order
    nxt = n_start

    for op, x, y, pick in [("none", 0.0, 0.0, 0), *ops]:
        if op == "add" or (op != "none" and not sites):
            state.add(nxt, x, y)
            sites[nxt] = (x, y)
            nxt += 1
        elif op == "move":
            slot = sorted(sites)[pick % len(sites)]
            state.move(slot, x, y)
            sites[slot] = (x, y)
        elif op == "remove":
            slot = sorted(sites)[pick % len(sites)]
            state.remove(slot)
            del sites[slot]

        slots = np.array(sorted(sites), dtype=np.int64)
        locs = [sites[s] for s in slots]
        dist, which = _full(mode, net, cells, cxy, locs, limit)
        # distances: identical, not merely close
        np.testing.assert_array_equal(state.dist, dist)
        assert np.array_equal(state.slot >= 0, which >= 0)
        # facility: the same wherever the nearest is unique; on a tie, one of the tied
        d = _all_pairs(mode, net, cells, cxy, locs, limit)
        if len(slots):
            ranked = np.sort(d, axis=0)
            reached = np.isfinite(ranked[0])
            unique = reached & ((ranked[1] if len(slots) > 1 else np.inf) > ranked[0] + 1e-9)
            full_slot = np.where(which >= 0, slots[np.maximum(which, 0)], -1)
            assert np.array_equal(state.slot[unique], full_slot[unique])
            pos = np.searchsorted(slots, state.slot[reached])
            np.testing.assert_allclose(d[pos, np.flatnonzero(reached)], state.dist[reached], rtol=0, atol=1e-9)
            # a known second-nearest is the true second distance
            d2, _, known = state.second()
            second = ranked[1] if len(slots) > 1 else np.full(d.shape[1], np.inf)
            np.testing.assert_allclose(d2[known], second[known], rtol=0, atol=1e-9)
