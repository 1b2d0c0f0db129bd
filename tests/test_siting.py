"""Siting models against brute-force enumeration on small seeded instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from geo.siting import (
    ModelOptions,
    SitingError,
    SitingInput,
    capacitated_coverage,
    decay_value,
    lscp,
    max_attendance,
    mclp,
    p_median,
)

REACH = 400.0


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense 'walking' distances: 1.2 x straight line (a detour factor)."""
    return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1]) * 1.2


def _sparse(d: np.ndarray) -> sparse.csr_matrix:
    kept = np.where(d <= REACH, np.maximum(d, 1e-6), 0.0)
    return sparse.csr_matrix(kept)


def instance(seed: int, k: int = 8, m: int = 24, e: int = 2):
    rng = np.random.default_rng(seed)
    cxy, dxy, exy = rng.random((k, 2)) * 1000, rng.random((m, 2)) * 1000, rng.random((e, 2)) * 1000
    dc, de = _dist(cxy, dxy), _dist(exy, dxy)
    w = rng.integers(1, 100, m).astype(float)
    inp = SitingInput(_sparse(dc), w, REACH, existing=_sparse(de), candidate_xy=cxy)
    return inp, np.where(dc <= REACH, dc, np.inf), np.where(de <= REACH, de, np.inf), w, cxy


SEEDS = [0, 1, 2, 3]
METHODS = ["milp", "greedy"]


# ---------------------------------------------------------------- brute force
def _nearest(dc, de, sites, removed=()):
    keep = [i for i in range(de.shape[0]) if i not in removed]
    d = np.full(dc.shape[1], np.inf)
    if keep:
        d = de[keep].min(axis=0)
    if len(sites):
        d = np.minimum(d, dc[list(sites)].min(axis=0))
    return d


def _feasible(sites, cxy, spacing):
    return all(np.hypot(*(cxy[a] - cxy[b])) >= spacing for a, b in itertools.combinations(sites, 2))


def brute(k, p, value, maximize=True, cxy=None, spacing=0.0, required=(), excluded=()):
    best = None
    for sites in itertools.combinations(range(k), p):
        if not set(required) <= set(sites) or set(excluded) & set(sites):
            continue
        if spacing and not _feasible(sites, cxy, spacing):
            continue
        v = value(sites)
        if best is None or (v > best if maximize else v < best):
            best = v
    return best


def mclp_value(dc, de, w, removed=()):
    base = _nearest(dc, de, (), removed) <= REACH
    return lambda s: float(w[(_nearest(dc, de, s, removed) <= REACH) & ~base].sum())


# ----------------------------------------------------------------------- MCLP
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", METHODS)
def test_mclp_matches_enumeration(seed, method):
    inp, dc, de, w, _ = instance(seed)
    for p in (1, 3):
        r = mclp(inp, p, ModelOptions(method=method))
        opt = brute(8, p, mclp_value(dc, de, w))
        got = mclp_value(dc, de, w)(r.sites)
        assert got == pytest.approx(r.objective)
        assert r.sites.size == p
        if method == "milp":
            assert r.objective == pytest.approx(opt) and r.status == "Optimal"
        else:
            assert r.objective <= opt + 1e-9
        assert r.bound >= opt - 1e-6
        assert r.gains.sum() == pytest.approx(r.objective)
        assert r.covered_after == pytest.approx(r.covered_before + r.objective)


def test_gap_is_bound_minus_objective_over_bound():
    inp, *_ = instance(5, k=10, m=30)
    r = mclp(inp, 2, ModelOptions(method="greedy", swap=False))
    assert r.gap == pytest.approx((r.bound - r.objective) / r.bound)
    r = p_median(inp, 2, ModelOptions(method="greedy", swap=False))
    assert r.gap == pytest.approx((r.objective - r.bound) / r.bound)


def test_mclp_spacing_required_excluded_and_removal():
    inp, dc, de, w, cxy = instance(7, k=9, m=25)
    spacing = 350.0
    r = mclp(inp, 3, ModelOptions(method="milp", min_spacing_m=spacing, required=[4], excluded=[0, 1]))
    assert _feasible(r.sites, cxy, spacing) and r.sites[0] == 4 and not {0, 1} & set(r.sites)
    opt = brute(9, 3, mclp_value(dc, de, w), cxy=cxy, spacing=spacing, required=[4], excluded=[0, 1])
    assert r.objective == pytest.approx(opt)
    g = mclp(inp, 3, ModelOptions(method="greedy", min_spacing_m=spacing, required=[4], excluded=[0, 1]))
    assert _feasible(g.sites, cxy, spacing) and g.objective <= opt + 1e-9
    # removing existing facility 0: it no longer covers anyone
    r = mclp(inp, 2, ModelOptions(method="milp", remove_existing=[0]))
    assert r.objective == pytest.approx(brute(9, 2, mclp_value(dc, de, w, removed=(0,))))
    assert r.removed_existing.tolist() == [0]
    # relocation with a chosen target: removed, target required, one more site
    r = mclp(inp, 1, ModelOptions(method="milp", relocate={1: 6}))
    assert r.sites.size == 2 and 6 in r.sites
    assert r.objective == pytest.approx(brute(9, 2, mclp_value(dc, de, w, removed=(1,)), required=[6]))


def test_greedy_hand_checked():
    # cells 0..5 weight 10, 20, 30, 40, 5, 1; candidate 0 covers {0,1,2}, 1 covers {2,3},
    # 2 covers {3,4}, 3 covers {5}. Greedy: c1 (70), then c0 (30: cells 0,1),
    # then c2 (5: cell 4). The optimum for p=2 is {0, 2} = 105 > greedy's 100,
    # which the swap step must find.
    cover = np.zeros((4, 6))
    cover[0, [0, 1, 2]] = 1
    cover[1, [2, 3]] = 1
    cover[2, [3, 4]] = 1
    cover[3, 5] = 1
    inp = SitingInput(sparse.csr_matrix(cover * 100.0), [10, 20, 30, 40, 5, 1], REACH)
    g = mclp(inp, 3, ModelOptions(method="greedy", swap=False))
    assert g.sites.tolist() == [1, 0, 2] and g.gains.tolist() == [70, 30, 5]
    g2 = mclp(inp, 2, ModelOptions(method="greedy", swap=False))
    assert g2.objective == 100
    s2 = mclp(inp, 2, ModelOptions(method="greedy"))
    assert sorted(s2.sites.tolist()) == [0, 2] and s2.objective == 105


# ---------------------------------------------------------------- p-median
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", METHODS)
def test_p_median_matches_enumeration(seed, method):
    inp, dc, de, w, _ = instance(seed)
    penalty = 600.0

    def cost(s):
        return float((w * np.minimum(_nearest(dc, de, s), penalty)).sum())

    r = p_median(inp, 3, ModelOptions(method=method), penalty_m=penalty)
    opt = brute(8, 3, cost, maximize=False)
    assert cost(r.sites) == pytest.approx(r.objective)
    if method == "milp":
        assert r.objective == pytest.approx(opt)
    assert r.objective >= opt - 1e-6 and r.bound <= opt + 1e-6
    assert r.objective_before == pytest.approx(cost(()))


# -------------------------------------------------------------- attendance
@pytest.mark.parametrize("decay", ["exponential", "linear"])
@pytest.mark.parametrize("method", METHODS)
def test_attendance_matches_enumeration(decay, method):
    inp, dc, de, w, _ = instance(11)

    def f(d):
        if decay == "linear":
            return np.where(d <= REACH, 1 - d / REACH, 0.0)
        return np.where(d <= REACH, 0.5 ** (d / 150.0), 0.0)

    def use(s):
        return float((w * f(_nearest(dc, de, s))).sum())

    r = max_attendance(inp, 2, ModelOptions(method=method), decay=decay, half_distance_m=150.0)
    opt = brute(8, 2, use)
    assert use(r.sites) == pytest.approx(r.objective)
    if method == "milp":
        assert r.objective == pytest.approx(opt)
    assert r.objective <= opt + 1e-9 and r.bound >= opt - 1e-6


def test_decay_values():
    d = np.array([0.0, 200.0, 400.0, 401.0, np.inf])
    assert decay_value(d, 400, "linear", None).tolist() == [1.0, 0.5, 0.0, 0.0, 0.0]
    assert decay_value(d, 400, "exponential", 200.0).tolist() == [1.0, 0.5, 0.25, 0.0, 0.0]


# ----------------------------------------------------------------------- LSCP
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("coverage", [1.0, 0.8])
@pytest.mark.parametrize("method", METHODS)
def test_lscp_matches_enumeration(seed, coverage, method):
    inp, dc, de, w, _ = instance(seed)
    reachable = (np.isfinite(dc).any(axis=0)) | (np.isfinite(de).any(axis=0))
    assert inp.weights[~reachable].sum() == pytest.approx(lscp(inp, coverage).unreachable_weight)
    target = coverage * w[reachable].sum()
    best = None
    for p in range(0, 9):
        if any(w[_nearest(dc, de, s) <= REACH].sum() >= target - 1e-9 for s in itertools.combinations(range(8), p)):
            best = p
            break
    r = lscp(inp, coverage, ModelOptions(method=method))
    assert w[_nearest(dc, de, r.sites) <= REACH].sum() >= target - 1e-6
    assert r.covered_after >= target - 1e-6
    if method == "milp":
        assert r.objective == best
    assert r.objective >= best and r.bound <= best


# -------------------------------------------------------------- capacitated
def _served(dc, de, w, sites, cap_c, cap_e):
    """Max served weight for a fixed site set: transport LP with scipy.linprog."""
    fac = [("c", i) for i in sites] + [("e", i) for i in range(de.shape[0])]
    pairs = [(f, j) for f, (t, i) in enumerate(fac) for j in range(dc.shape[1]) if np.isfinite((dc if t == "c" else de)[i, j])]
    if not pairs:
        return 0.0
    n = len(pairs)
    c = -np.array([w[j] for _, j in pairs])
    rows, b = [], []
    for j in range(dc.shape[1]):
        rows.append([1.0 if pj == j else 0.0 for _, pj in pairs])
        b.append(1.0)
    for f, (t, i) in enumerate(fac):
        rows.append([w[j] if pf == f else 0.0 for pf, j in pairs])
        b.append(cap_c[i] if t == "c" else cap_e[i])
    res = linprog(c, A_ub=np.array(rows), b_ub=np.array(b), bounds=[(0, 1)] * n, method="highs")
    return -res.fun


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("method", METHODS)
def test_capacitated_matches_enumeration(seed, method):
    inp, dc, de, w, cxy = instance(seed, k=7, m=18)
    rng = np.random.default_rng(seed)
    cap_c = rng.integers(50, 250, 7).astype(float)
    cap_e = np.array([80.0, 120.0])
    inp = SitingInput(inp.matrix, w, REACH, existing=inp.existing, candidate_capacity=cap_c, existing_capacity=cap_e)
    r = capacitated_coverage(inp, 2, ModelOptions(method=method))
    opt = brute(7, 2, lambda s: _served(dc, de, w, s, cap_c, cap_e))
    assert _served(dc, de, w, r.sites, cap_c, cap_e) == pytest.approx(r.objective)
    if method == "milp":
        assert r.objective == pytest.approx(opt)
    assert r.objective <= opt + 1e-6 and r.bound >= opt - 1e-6
    assert r.covered_before == pytest.approx(_served(dc, de, w, (), cap_c, cap_e))
    assert r.gains.sum() == pytest.approx(r.covered_after - r.covered_before)


@pytest.mark.parametrize("seed", [0, 3])
def test_capacitated_bound_never_exceeds_the_reachable_demand(seed):
    """With capacity to spare everyone in reach is served: the gap closes without a MILP."""
    inp, dc, de, w, cxy = instance(seed, k=7, m=18)
    cap_c = np.full(7, 1e6)
    cap_e = np.array([1e6, 1e6])
    inp = SitingInput(inp.matrix, w, REACH, existing=inp.existing, candidate_capacity=cap_c, existing_capacity=cap_e)
    reachable = w[np.isfinite(np.vstack([dc, de])).any(axis=0)].sum()
    r = capacitated_coverage(inp, 2, ModelOptions(method="auto"))
    assert r.objective == pytest.approx(brute(7, 2, lambda s: _served(dc, de, w, s, cap_c, cap_e)))
    assert r.objective < reachable and r.bound <= reachable + 1e-6
    # stopped before its root LP, HiGHS's own bound is the sum over all facility-cell pairs
    rushed = capacitated_coverage(inp, 2, ModelOptions(method="milp", time_limit_s=1e-9))
    assert rushed.bound <= reachable + 1e-6
    every = capacitated_coverage(inp, 7, ModelOptions(method="auto"))  # all open: all reachable served
    assert every.objective == pytest.approx(reachable)
    assert every.gap == pytest.approx(0.0) and every.status == "heuristic"


# ------------------------------------------------------------------ errors
def test_bad_inputs_raise_siting_error():
    inp, *_ = instance(0)
    with pytest.raises(SitingError, match="larger than"):
        mclp(inp, 9)
    with pytest.raises(SitingError, match="both required and excluded"):
        mclp(inp, 2, ModelOptions(required=[1], excluded=[1]))
    with pytest.raises(SitingError, match="capacity"):
        SitingInput(inp.matrix, inp.weights, REACH, candidate_capacity=-5.0)
    with pytest.raises(SitingError, match="weight"):
        SitingInput(inp.matrix, -inp.weights, REACH)
    with pytest.raises(SitingError, match="no allowed candidate"):
        mclp(SitingInput(sparse.csr_matrix((3, 24)), inp.weights, REACH), 1)
    with pytest.raises(SitingError, match="candidate_xy"):
        mclp(SitingInput(inp.matrix, inp.weights, REACH), 2, ModelOptions(min_spacing_m=100))
    with pytest.raises(SitingError, match="out of range"):
        mclp(inp, 2, ModelOptions(required=[99]))
    with pytest.raises(SitingError, match="columns"):
        SitingInput(inp.matrix, inp.weights[:5], REACH)
    with pytest.raises(SitingError, match="candidate_capacity"):
        capacitated_coverage(inp, 2)
    with pytest.raises(SitingError, match="closer than"):
        mclp(inp, 2, ModelOptions(required=[0, 1], min_spacing_m=5000))
    with pytest.raises(SitingError, match="decay"):
        max_attendance(inp, 2, decay="cubic")


def test_deterministic_and_progress():
    inp, *_ = instance(3, k=10, m=30)
    seen = []
    a = mclp(inp, 3, ModelOptions(method="milp", progress=lambda msg, f: seen.append((msg, f))))
    b = mclp(inp, 3, ModelOptions(method="milp"))
    assert a.sites.tolist() == b.sites.tolist() and a.objective == b.objective
    assert seen and all(0.0 <= f <= 1.0 for _, f in seen)


@pytest.mark.parametrize("seed", SEEDS)
def test_lagrangian_bound_is_valid(seed):
    from geo.siting.bound import coverage_lagrangian_bound

    inp, dc, de, w, _ = instance(seed, k=9, m=30, e=0)
    a = (np.isfinite(dc)).astype(float) * w[None, :]
    s = sparse.csr_matrix(a)
    for p in (1, 2, 4):
        opt = brute(9, p, mclp_value(dc, de, w))
        b = coverage_lagrangian_bound(s, p, np.empty(0, dtype=np.int64), lower=0.0, tol=0.0)
        trivial = np.sort(a.sum(axis=1))[::-1][:p].sum()
        assert opt - 1e-6 <= b <= min(trivial, w[np.isfinite(dc).any(axis=0)].sum()) + 1e-6


def test_highs_banner_stays_off_the_terminal():
    """HiGHS prints its banner from the first constructor; the CLI output must not carry it."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import numpy as np; from scipy import sparse\n"
        "from geo.siting import ModelOptions, SitingInput, mclp\n"
        "m = sparse.csr_matrix(np.array([[100.0, 0, 300], [0, 200.0, 300], [100.0, 200, 0]]))\n"
        "r = mclp(SitingInput(m, np.array([5.0, 7.0, 9.0]), 400.0), 1, ModelOptions(method='milp'))\n"
        "print('objective', r.objective)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert "objective" in out.stdout
    assert "HiGHS" not in out.stdout


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_capacitated_warm_start_is_feasible_and_worth_the_heuristic(seed, monkeypatch):
    """The assignment solved on the open sites, scattered into the full model, is a feasible start."""
    import geo.siting.capacitated as capacitated

    seen = {}
    real = capacitated.lp_and_milp

    def spy(model, warm_x, heur, *args, **kw):
        seen["model"], seen["heur"] = model, heur
        return real(model, warm_x, heur, *args, **kw)

    monkeypatch.setattr(capacitated, "lp_and_milp", spy)
    inp, *_ = instance(seed, k=7, m=18)
    rng = np.random.default_rng(seed)
    inp = SitingInput(inp.matrix, inp.weights, REACH, existing=inp.existing,
                      candidate_capacity=rng.integers(50, 250, 7).astype(float), existing_capacity=np.array([80.0, 120.0]))
    capacitated_coverage(inp, 2, ModelOptions(method="milp"))
    model, v = seen["model"], seen["model"].warm_columns
    ax = model.a @ v
    assert np.all(ax <= model.row_upper + 1e-7) and np.all(ax >= model.row_lower - 1e-7)
    assert np.all(v >= model.lower - 1e-9) and np.all(v <= model.upper + 1e-9)
    assert model.cost @ v == pytest.approx(seen["heur"])
