"""2SFCA / E2SFCA: hand-computed cases, invariants, and agreement with PySAL access."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from geo.fca import (
    GaussianDecay,
    StepDecay,
    UniformDecay,
    classify_service,
    two_step_fca,
)
from geo.network import WalkNetwork
from geo.paths import Pairs, pair_distances
from geo.snap import snap
from geo.unit_ratios import CapacityError, DemandError

# --------------------------------------------------------------------- a tiny line city
# Street along y = 0: nodes at x = 0, 300, 600, 900, 1200, 1800, 2400, plus an
# island street (5000..5300) that nobody lives on.
#
#   F0(x=0)   C0(300,40)  C1(600,30)  C2(900,20)  F1(1200) C3(1200,10) ...  C4(2400,30)    F2 on island
#
# Walking distance = along the street + the access leg (the y offset):
#   C0: F0 300+40 = 340, F1 900+40 = 940
#   C1: F0 600+30 = 630, F1 600+30 = 630
#   C2: F0 900+20 = 920, F1 300+20 = 320
#   C3: F0 1210,         F1 0+10 = 10
#   C4: F1 1200+30 = 1230 (beyond any 700 m catchment)
#   F2 is on a separate piece of network: no cell reaches it.
LIMIT = 700.0
SUPPLY = np.array([10.0, 20.0, 5.0])
POP = np.array([100.0, 200.0, 300.0, 400.0, 50.0])


@pytest.fixture(scope="module")
def line_matrix():
    x = np.array([0, 300, 600, 900, 1200, 1800, 2400, 5000, 5300.0])
    y = np.zeros_like(x)
    u = np.array([0, 1, 2, 3, 4, 5, 7])
    v = np.array([1, 2, 3, 4, 5, 6, 8])
    net = WalkNetwork.from_edges(x, y, u, v)
    fac = snap(net, np.array([0.0, 1200.0, 5100.0]), np.zeros(3))
    cells = snap(net, np.array([300.0, 600, 900, 1200, 2400]), np.array([40.0, 30, 20, 10, 30]))
    pairs = pair_distances(net, fac, cells, LIMIT)
    return pairs.to_csr(3, 5)


def test_line_distances_are_the_hand_ones(line_matrix):
    expected = np.zeros((3, 5))
    expected[0, [0, 1]] = [340, 630]
    expected[1, [1, 2, 3]] = [630, 320, 10]
    np.testing.assert_allclose(line_matrix.toarray(), expected, atol=1e-9)


def test_2sfca_by_hand(line_matrix):
    res = two_step_fca(line_matrix, SUPPLY, POP, LIMIT)
    # F0 reaches C0, C1: demand 100 + 200 = 300, R0 = 10/300
    # F1 reaches C1, C2, C3: demand 200 + 300 + 400 = 900, R1 = 20/900
    # F2 reaches nobody: undefined -> 0 and reported
    r0, r1 = 10 / 300, 20 / 900
    np.testing.assert_allclose(res.catchment_demand, [300, 900, 0])
    np.testing.assert_allclose(res.ratio, [r0, r1, 0])
    np.testing.assert_allclose(res.accessibility, [r0, r0 + r1, r1, r1, 0.0])
    assert res.no_demand.tolist() == [2]
    assert res.reach.tolist() == [1, 2, 1, 1, 0]


def test_entries_beyond_the_limit_are_ignored(line_matrix):
    # with a 400 m catchment: F0 reaches C0 (340) only, F1 reaches C2 (320) and C3 (10)
    res = two_step_fca(line_matrix, SUPPLY, POP, 400.0)
    r0, r1 = 10 / 100, 20 / (300 + 400)
    np.testing.assert_allclose(res.accessibility, [r0, 0.0, r1, r1, 0.0])
    assert res.reach.tolist() == [1, 0, 1, 1, 0]


def test_pairs_to_csr_same_in_any_order():
    # Pairs.to_csr builds sorted pairs directly; shuffled pairs go through COO
    rng = np.random.default_rng(3)
    src = np.repeat(np.arange(5), 4)
    tgt = np.concatenate([np.sort(rng.choice(9, 4, replace=False)) for _ in range(5)])
    dist = rng.uniform(0, 100, src.size)
    dist[0] = 0.0
    fast = Pairs(src, tgt, dist).to_csr(6, 9)
    perm = rng.permutation(src.size)
    slow = Pairs(src[perm], tgt[perm], dist[perm]).to_csr(6, 9)
    np.testing.assert_array_equal(fast.toarray(), slow.toarray())
    assert fast.nnz == src.size and fast.has_canonical_format


def test_2sfca_scale_gives_supply_per_thousand(line_matrix):
    res = two_step_fca(line_matrix, SUPPLY, POP, UniformDecay(LIMIT), scale=1000)
    np.testing.assert_allclose(res.accessibility[0], 1000 * 10 / 300)
    np.testing.assert_allclose(res.ratio[1], 1000 * 20 / 900)


def test_e2sfca_zones_by_hand(line_matrix):
    zones = StepDecay((300.0, 600.0, 700.0), (1.0, 0.68, 0.22))
    res = two_step_fca(line_matrix, SUPPLY, POP, zones)
    # weights: C0-F0 340 m -> 0.68; C1-F0 630 -> 0.22; C1-F1 630 -> 0.22;
    #          C2-F1 320 -> 0.68; C3-F1 10 -> 1.0
    d0 = 100 * 0.68 + 200 * 0.22  # 112
    d1 = 200 * 0.22 + 300 * 0.68 + 400 * 1.0  # 648
    r0, r1 = 10 / d0, 20 / d1
    np.testing.assert_allclose(res.catchment_demand, [112.0, 648.0, 0.0])
    np.testing.assert_allclose(
        res.accessibility, [0.68 * r0, 0.22 * r0 + 0.22 * r1, 0.68 * r1, 1.0 * r1, 0.0]
    )


def test_e2sfca_zones_in_minutes_and_luo_qi():
    z = StepDecay.from_minutes((5, 10, 15), (1.0, 0.68, 0.22), speed_mps=1.2)
    assert z.upper_m == (360.0, 720.0, 1080.0)
    np.testing.assert_allclose(z(np.array([0.0, 360.0, 360.1, 720.0, 1080.0, 1080.1])), [1, 1, 0.68, 0.68, 0.22, 0])
    assert StepDecay.luo_qi(1080.0).upper_m == (360.0, 720.0, 1080.0)


def test_gaussian_decay_by_hand(line_matrix):
    g = GaussianDecay(sigma_m=400.0, limit_m=LIMIT)
    w = lambda d: np.exp(-d * d / (2 * 400.0**2))
    d0 = 100 * w(340) + 200 * w(630)
    d1 = 200 * w(630) + 300 * w(320) + 400 * w(10)
    res = two_step_fca(line_matrix, SUPPLY, POP, g)
    np.testing.assert_allclose(res.catchment_demand[:2], [d0, d1])
    np.testing.assert_allclose(res.accessibility[2], w(320) * 20 / d1)


def test_zero_distance_pairs_count():
    # a cell on top of a facility: distance 0 stored as epsilon by Pairs.to_csr
    dist = sparse.csr_array(([1e-6, 500.0], ([0, 0], [0, 1])), shape=(1, 2))
    res = two_step_fca(dist, [6.0], [2.0, 1.0], 600.0)
    np.testing.assert_allclose(res.accessibility, [2.0, 2.0])


def test_classify_service(line_matrix):
    res = two_step_fca(line_matrix, SUPPLY, POP, LIMIT, scale=1000)
    # accessibility per 1000: C0 33.3, C1 55.6, C2 22.2, C3 22.2, C4 uncovered
    cls = classify_service(res, min_accessibility=30.0, population=POP)
    assert cls.label.tolist() == ["served", "served", "under-served", "under-served", "uncovered"]
    s = cls.summary.set_index("class")
    assert s.loc["served", "population"] == 300
    assert s.loc["under-served", "population"] == 700
    assert s.loc["uncovered", "population"] == 50
    assert s.loc["uncovered", "cells"] == 1
    np.testing.assert_allclose(s["share"].sum(), 1.0)


def test_bad_supply_names_facility(line_matrix):
    with pytest.raises(CapacityError, match=r"facility 'h2'.*'beds'.*negative"):
        two_step_fca(line_matrix, [10, 20, -1], POP, LIMIT, supply_ids=["h0", "h1", "h2"], supply_field="beds")
    with pytest.raises(CapacityError, match=r"facility 'h1'.*missing"):
        two_step_fca(line_matrix, [10, np.nan, 1], POP, LIMIT, supply_ids=["h0", "h1", "h2"], supply_field="beds")
    with pytest.raises(CapacityError, match=r"facility at row 0.*'many'"):
        two_step_fca(line_matrix, ["many", 2, 1], POP, LIMIT)
    with pytest.raises(DemandError, match="cell at row 4"):
        two_step_fca(line_matrix, SUPPLY, [1, 1, 1, 1, -5], LIMIT)
    with pytest.raises(ValueError, match="supply has 2 values"):
        two_step_fca(line_matrix, [1, 2], POP, LIMIT)
    bad = line_matrix.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="negative or NaN"):
        two_step_fca(bad, SUPPLY, POP, LIMIT)


# --------------------------------------------------------------------- a generated town
def _town(seed: int = 7, side: int = 28, spacing: float = 90.0, n_cells: int = 400, n_fac: int = 60):
    """A jittered street grid with some streets removed, random cells and facilities."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(side), np.arange(side))
    x = (gx.ravel() * spacing + rng.normal(0, spacing * 0.15, side * side))
    y = (gy.ravel() * spacing + rng.normal(0, spacing * 0.15, side * side))
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    keep = rng.random(u.size) > 0.12
    net = WalkNetwork.from_edges(x, y, u[keep], v[keep])
    span = (side - 1) * spacing
    cx, cy = rng.uniform(0, span, n_cells), rng.uniform(0, span, n_cells)
    fx, fy = rng.uniform(0, span, n_fac), rng.uniform(0, span, n_fac)
    pop = rng.integers(20, 900, n_cells).astype(float)
    beds = rng.integers(5, 120, n_fac).astype(float)
    cells, fac = snap(net, cx, cy), snap(net, fx, fy)
    return net, cells, fac, pop, beds


@pytest.fixture(scope="module")
def town():
    net, cells, fac, pop, beds = _town()
    limit = 900.0
    pairs = pair_distances(net, fac, cells, limit)
    return pairs, len(fac), len(cells), pop, beds, limit


def _access_scores(pairs, pop, beds, limit, weight_fn=None, enhanced=False):
    access = pytest.importorskip("access")
    logging.getLogger("access").setLevel(logging.WARNING)
    demand = pd.DataFrame({"cell": np.arange(pop.size), "pop": pop})
    supply = pd.DataFrame({"fac": np.arange(beds.size), "beds": beds})
    cost = pd.DataFrame({"origin": pairs.target, "dest": pairs.source, "cost": pairs.dist})
    with warnings.catch_warnings():  # access uses pandas' deprecated inplace=True
        warnings.simplefilter("ignore")
        a = access.Access(
            demand_df=demand, demand_index="cell", demand_value="pop",
            supply_df=supply, supply_index="fac", supply_value=["beds"],
            cost_df=cost, cost_origin="origin", cost_dest="dest", cost_name="cost",
        )
        if enhanced:
            out = a.enhanced_two_stage_fca(name="e", max_cost=limit, weight_fn=weight_fn)
        else:
            out = a.two_stage_fca(name="e", max_cost=limit, weight_fn=weight_fn)
    return out["e_beds"].reindex(np.arange(pop.size)).fillna(0.0).to_numpy()


def test_town_is_a_real_test(town):
    pairs, k, m, pop, beds, limit = town
    res = two_step_fca(pairs.to_csr(k, m), beds, pop, limit)
    # enough structure that a wrong formula would show: many pairs, varied scores,
    # some uncovered cells and several facilities per covered cell
    assert len(pairs) > 1000
    assert np.unique(np.round(res.accessibility, 12)).size > 100
    assert (res.reach == 0).any() and (res.reach > 1).mean() > 0.5
    # conservation: every bed of a facility with demand in reach is shared out
    with_demand = np.setdiff1d(np.arange(k), res.no_demand)
    np.testing.assert_allclose((pop * res.accessibility).sum(), beds[with_demand].sum(), rtol=1e-12)


def test_agrees_with_pysal_access_2sfca(town):
    pairs, k, m, pop, beds, limit = town
    ours = two_step_fca(pairs.to_csr(k, m), beds, pop, limit).accessibility
    theirs = _access_scores(pairs, pop, beds, limit)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    # and the comparison has teeth: a smaller catchment changes the answer
    other = two_step_fca(pairs.to_csr(k, m), beds, pop, limit * 0.8).accessibility
    assert np.abs(other - theirs).max() > 1e-3 * np.abs(theirs).max()


def test_agrees_with_pysal_access_e2sfca(town):
    access = pytest.importorskip("access")
    pairs, k, m, pop, beds, limit = town
    zones = StepDecay.luo_qi(limit)
    ours = two_step_fca(pairs.to_csr(k, m), beds, pop, zones).accessibility
    fn = access.weights.step_fn(dict(zip(zones.upper_m, zones.weights)))
    theirs = _access_scores(pairs, pop, beds, limit, weight_fn=fn, enhanced=True)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    plain = two_step_fca(pairs.to_csr(k, m), beds, pop, limit).accessibility
    assert np.abs(plain - theirs).max() > 1e-3 * np.abs(theirs).max()


def test_agrees_with_pysal_access_gaussian(town):
    access = pytest.importorskip("access")
    pairs, k, m, pop, beds, limit = town
    ours = two_step_fca(pairs.to_csr(k, m), beds, pop, GaussianDecay(450.0, limit)).accessibility
    theirs = _access_scores(pairs, pop, beds, limit, weight_fn=access.weights.gaussian(450.0))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.slow
def test_agrees_with_pysal_access_on_demo_city():
    """The built-in demo city: real beds, elderly and streets."""
    from layers.cities import load_city

    city = load_city("demo")
    fac_idx = city.facilities_of(["elderly_care"])
    beds = city.facilities["beds"].to_numpy(float)[fac_idx]
    has_beds = np.isfinite(beds)
    fac_idx, beds = fac_idx[has_beds], beds[has_beds]
    if fac_idx.size < 5:
        pytest.skip("demo city has too few elderly-care facilities with beds")
    limit = 15 * 60 * 0.9
    cells = city.snapped_cells
    pairs = pair_distances(city.network, city.snapped_facilities.take(fac_idx), cells, limit)
    elderly = city.cells["elderly"].to_numpy(float)
    k, m = fac_idx.size, elderly.size
    res = two_step_fca(pairs.to_csr(k, m), beds, elderly, limit, scale=1000)
    theirs = _access_scores(pairs, elderly, beds, limit) * 1000
    # access divides by zero for catchments holding no elderly: compare where it is defined
    ok = np.isfinite(theirs)
    assert ok.mean() > 0.9 and res.accessibility.max() > 0
    np.testing.assert_allclose(res.accessibility[ok], theirs[ok], rtol=1e-12, atol=1e-12)
