"""Lagrangian reduced-cost fixing of coverage problems, against enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse

from geo.siting import ModelOptions, SitingInput, mclp, p_median
from geo.siting.bound import lagrangian_fixing
from geo.siting.milp import run_highs, savings_model
from geo.siting.savings import PRIMAL_SIMPLEX

NONE = np.empty(0, dtype=np.int64)
NO_CONFLICTS = np.empty((0, 2), dtype=np.int64)


def _coverage(seed: int, k: int = 10, m: int = 30) -> sparse.csr_matrix:
    """Random coverage savings: each cell's entries equal its weight."""
    rng = np.random.default_rng(seed)
    b = rng.random((k, m)) < 0.25
    b[rng.integers(0, k, m), np.arange(m)] = True  # every cell reachable
    w = rng.integers(1, 50, m).astype(float)
    return sparse.csr_matrix(b * w[None, :])


def _value(s: sparse.csr_matrix, sites) -> float:
    d = s.toarray()
    return float(d[list(sites)].max(axis=0).sum()) if len(sites) else 0.0


def _sets(k: int, p: int, required=()):
    return [c for c in itertools.combinations(range(k), p) if set(required) <= set(c)]


def _lp_duals(s: sparse.csr_matrix, p: int, required: np.ndarray) -> np.ndarray:
    model = savings_model(s, p, required, NO_CONFLICTS)
    lp = run_highs(model, ModelOptions(), integer=False, settings=PRIMAL_SIMPLEX)
    assert lp.status == "Optimal" and lp.row_dual is not None
    return model.cell_duals(lp.row_dual)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("multipliers", ["lp", "random", "weights", "zero"])
@pytest.mark.parametrize("required", [(), (4,)])
def test_fixing_claims_hold_for_every_site_set(seed, multipliers, required):
    s = _coverage(seed)
    k, m = s.shape
    w = s.max(axis=0).toarray().ravel()
    req = np.asarray(required, dtype=np.int64)
    rng = np.random.default_rng(100 + seed)
    for p in (2, 3):
        sets = _sets(k, p, required)
        values = {c: _value(s, c) for c in sets}
        opt = max(values.values())
        if multipliers == "lp":
            lam = _lp_duals(s, p, req)
        elif multipliers == "random":
            lam = rng.random(m) * w * 1.5 - 0.2 * w  # outside [0, w] too: clipped
        else:
            lam = w.copy() if multipliers == "weights" else np.zeros(m)
        # against the optimum and against a weaker known value
        for known in (opt, sorted(values.values())[len(values) // 2]):
            fix = lagrangian_fixing(s, p, req, lam, known)
            assert fix.bound >= opt - 1e-9
            assert not (fix.zero & fix.one).any()
            assert not fix.zero[req].any()
            for i in np.flatnonzero(fix.zero):
                assert max((v for c, v in values.items() if i in c), default=-np.inf) < known
            for i in np.flatnonzero(fix.one):
                assert max((v for c, v in values.items() if i not in c), default=-np.inf) < known
        if multipliers == "lp":
            lp_value = run_highs(savings_model(s, p, req, NO_CONFLICTS), ModelOptions(), integer=False).objective
            assert fix.bound == pytest.approx(lp_value, rel=1e-9)


def test_fixing_hand_checked():
    # cells weight 10, 20, 30, 1; candidate 0 covers {0, 1, 2}, 1 covers {2}, 2 covers {3}.
    # p = 1: the LP is integral (opening 0 gives 60); with the optimum known,
    # 1 and 2 are closed and 0 is open.
    cover = np.array([[1, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=float)
    s = sparse.csr_matrix(cover * np.array([10.0, 20.0, 30.0, 1.0]))
    fix = lagrangian_fixing(s, 1, NONE, _lp_duals(s, 1, NONE), 60.0)
    assert fix.bound == pytest.approx(60.0)
    assert fix.zero.tolist() == [False, True, True] and fix.one.tolist() == [True, False, False]
    # nothing is fixed against a value no site set beats by a margin: {0} is worth 60
    fix = lagrangian_fixing(s, 1, NONE, _lp_duals(s, 1, NONE), 0.0)
    assert not fix.zero.any() and not fix.one.any()


def _instance(seed: int, k: int = 12, m: int = 40):
    rng = np.random.default_rng(seed)
    cxy, dxy = rng.random((k, 2)) * 1000, rng.random((m, 2)) * 1000
    d = np.hypot(cxy[:, None, 0] - dxy[None, :, 0], cxy[:, None, 1] - dxy[None, :, 1]) * 1.2
    w = rng.integers(1, 100, m).astype(float)
    inp = SitingInput(sparse.csr_matrix(np.where(d <= 350.0, np.maximum(d, 1e-6), 0.0)), w, 350.0, candidate_xy=cxy)
    return inp, np.where(d <= 350.0, d, np.inf), w, cxy


@pytest.mark.parametrize("seed", range(8))
def test_mclp_with_lp_fixing_matches_enumeration(seed):
    inp, d, w, cxy = _instance(seed)
    k = d.shape[0]
    for p in (2, 3, 4):
        opt = max(float(w[np.isfinite(d[list(c)]).any(axis=0)].sum()) for c in itertools.combinations(range(k), p))
        r = mclp(inp, p, ModelOptions(method="milp", mip_rel_gap=0.0))
        assert r.objective == pytest.approx(opt)
        assert float(w[np.isfinite(d[r.sites]).any(axis=0)].sum()) == pytest.approx(opt)
        assert r.bound >= opt - 1e-6 and r.status == "Optimal"
        # the same with spacing and a required site (the relaxation drops the spacing rows)
        spacing = 300.0
        ok = [c for c in itertools.combinations(range(k), p) if 0 in c
              and all(np.hypot(*(cxy[a] - cxy[b])) >= spacing for a, b in itertools.combinations(c, 2))]
        if ok:
            opt_s = max(float(w[np.isfinite(d[list(c)]).any(axis=0)].sum()) for c in ok)
            r = mclp(inp, p, ModelOptions(method="milp", mip_rel_gap=0.0, min_spacing_m=spacing, required=[0]))
            assert r.objective == pytest.approx(opt_s) and r.bound >= opt_s - 1e-6


def test_lp_fixing_runs_on_these_instances():
    inp, *_ = _instance(4)
    for p in (2, 3, 4):
        r = mclp(inp, p, ModelOptions(method="milp", mip_rel_gap=0.0))
        assert any("reduced costs fixed" in n for n in r.notes)


@pytest.mark.parametrize("seed", range(4))
def test_p_median_with_lp_fixing_matches_enumeration(seed):
    inp, d, w, _ = _instance(seed, k=9, m=30)
    k = d.shape[0]
    for p in (2, 3):
        def cost(c):
            return float((w * np.minimum(d[list(c)].min(axis=0), 350.0)).sum())

        opt = min(cost(c) for c in itertools.combinations(range(k), p))
        r = p_median(inp, p, ModelOptions(method="milp", mip_rel_gap=0.0))
        assert r.objective == pytest.approx(opt) and r.bound <= opt + 1e-6
