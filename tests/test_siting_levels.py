"""Level expansion (p-median as coverage) and the set-cover pipeline, against enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse

from geo.network import WalkNetwork
from geo.siting import (
    ModelOptions,
    SitingInput,
    candidates_on_network,
    lscp,
    p_median,
    savings,
)
from geo.siting.levels import expand_levels, level_entries
from geo.siting.setcover import (
    drop_redundant,
    greedy_repair,
    lagrangian_cover,
    reduce_cover,
)
from geo.snap import snap


def _random_savings(seed: int, k: int = 7, m: int = 15) -> sparse.csr_matrix:
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 5, (k, m)).astype(float)  # small integers: many ties within a cell
    s[rng.random((k, m)) < 0.4] = 0.0
    return sparse.csr_matrix(s)


def _value(s, sites) -> float:
    d = s.toarray()
    return float(d[list(sites)].max(axis=0).sum()) if len(sites) else 0.0


@pytest.mark.parametrize("seed", range(5))
def test_levels_keep_every_objective(seed):
    s = _random_savings(seed)
    e = expand_levels(s)
    assert e.nnz <= level_entries(s)
    for r in (1, 2, 3):
        for sites in itertools.combinations(range(s.shape[0]), r):
            assert _value(e, sites) == pytest.approx(_value(s, sites))
    # every level column is a coverage column: one weight per column
    csc = e.tocsc()
    for j in range(csc.shape[1]):
        col = csc.data[csc.indptr[j] : csc.indptr[j + 1]]
        assert col.size and np.all(col == col[0]) and col[0] > 0


def test_levels_hand_checked():
    # one cell, savings 5 (cand 0), 3 (cand 1), 3 (cand 2): levels 5-3=2 {0} and 3 {0,1,2}
    s = sparse.csr_matrix(np.array([[5.0], [3.0], [3.0]]))
    e = expand_levels(s).toarray()
    assert sorted(map(tuple, e.T.tolist())) == [(2.0, 0.0, 0.0), (3.0, 3.0, 3.0)]


def _pm_instance(seed: int, k: int = 9, m: int = 30, reach: float = 500.0):
    rng = np.random.default_rng(seed)
    cxy, dxy = rng.random((k, 2)) * 1200, rng.random((m, 2)) * 1200
    d = np.hypot(cxy[:, None, 0] - dxy[None, :, 0], cxy[:, None, 1] - dxy[None, :, 1]) * 1.3
    w = rng.integers(1, 50, m).astype(float)
    mat = sparse.csr_matrix(np.where(d <= reach, np.maximum(d, 1e-6), 0.0))
    return SitingInput(mat, w, reach), np.where(d <= reach, d, np.inf), w


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("levels", [True, False])
def test_p_median_both_formulations_match_enumeration(seed, levels, monkeypatch):
    monkeypatch.setattr(savings, "MAX_LEVEL_ENTRIES", 10_000_000 if levels else 0)
    inp, d, w = _pm_instance(seed)
    penalty = 700.0

    def cost(sites):
        return float((w * np.minimum(d[list(sites)].min(axis=0), penalty)).sum())

    for p in (2, 4):
        opt = min(cost(c) for c in itertools.combinations(range(9), p))
        r = p_median(inp, p, ModelOptions(method="milp"), penalty_m=penalty)
        assert r.objective == pytest.approx(opt) and cost(r.sites) == pytest.approx(opt)
        assert r.bound <= opt + 1e-6
        assert any("cell levels" in n for n in r.notes) == levels


# ------------------------------------------------------------- set covering
def _cover_instance(seed: int, k: int = 12, m: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    b = (rng.random((k, m)) < 0.22).astype(float)
    b[rng.integers(0, k, m), np.arange(m)] = 1.0  # every cell coverable
    return b


def _fewest(b: np.ndarray, required=()) -> int:
    k = b.shape[0]
    if b.shape[1] == 0:
        return len(required)
    for r in range(1, k + 1):
        for c in itertools.combinations(range(k), r):
            if set(required) <= set(c) and b[list(c)].max(axis=0).min() > 0:
                return r
    raise AssertionError


@pytest.mark.parametrize("seed", range(6))
def test_cover_reductions_keep_the_optimum(seed):
    b = _cover_instance(seed)
    core = reduce_cover(sparse.csr_matrix(b), np.array([3]))
    assert 3 in core.fixed.tolist()
    # the fixed sites plus an optimal cover of the core cover everything, optimally
    sub = b[core.cand] if core.cand.size else np.zeros((0, 0))
    core_opt = 0 if core.b.shape[1] == 0 else _fewest(core.b.toarray())
    assert core.fixed.size + core_opt == _fewest(b, required=(3,))
    assert sub.shape[0] == core.b.shape[0]


@pytest.mark.parametrize("seed", range(6))
def test_lagrangian_cover_bound_and_heuristic(seed):
    b = sparse.csr_matrix(_cover_instance(seed))
    opt = _fewest(b.toarray())
    g = greedy_repair(b, np.empty(0, dtype=np.int64), np.ones(b.shape[0]))
    assert b[g].max(axis=0).toarray().min() > 0
    # irredundant: no site can go
    for i in g:
        rest = g[g != i]
        assert rest.size == 0 or b[rest].max(axis=0).toarray().min() == 0
    assert drop_redundant(b, np.arange(b.shape[0])).size >= opt
    lb, best = lagrangian_cover(b, g)
    assert lb <= opt + 1e-9 and best.size >= opt and best.size <= g.size
    assert b[best].max(axis=0).toarray().min() > 0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", ["milp", "greedy"])
def test_lscp_full_cover_matches_enumeration(seed, method):
    b = _cover_instance(seed, k=11, m=35)
    w = np.random.default_rng(seed).integers(1, 9, 35).astype(float)
    inp = SitingInput(sparse.csr_matrix(b * 100.0), w, 400.0)
    r = lscp(inp, 1.0, ModelOptions(method=method, required=[2]))
    opt = _fewest(b, required=(2,))
    assert b[r.sites].max(axis=0).min() > 0 and 2 in r.sites.tolist()
    assert r.bound <= opt <= r.objective
    if method == "milp":
        assert r.objective == opt and r.optimal


def test_candidates_on_network_are_snapped_exactly():
    n, step = 6, 100.0
    ij = np.arange(n * n)
    x, y = (ij % n) * step, (ij // n) * step
    right, up = ij[(ij % n) < n - 1], ij[ij < n * (n - 1)]
    net = WalkNetwork.from_edges(x, y, np.concatenate([right, up]), np.concatenate([right + 1, up + n]))
    c = candidates_on_network(net, 30.0)
    s = snap(net, c.x, c.y)
    assert np.array_equal(s.edge, c.snapped.edge)
    assert np.allclose(s.to_u, c.snapped.to_u) and np.allclose(s.to_v, c.snapped.to_v)
    assert np.allclose(c.snapped.access, 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_coverage_lagrangian_proposes_feasible_sites(seed):
    from geo.siting.bound import coverage_lagrangian

    b = _cover_instance(seed, k=10, m=30)
    w = np.random.default_rng(seed).integers(1, 20, 30).astype(float)
    s = sparse.csr_matrix(b * w[None, :])
    for p in (2, 3):
        opt = max(_value(s, c) for c in itertools.combinations(range(10), p) if 4 in c)
        bound, sites = coverage_lagrangian(s, p, np.array([4]), lower=0.0, tol=0.0, max_iter=50)
        assert bound >= opt - 1e-6
        assert sites.size == p and 4 in sites.tolist() and _value(s, sites) <= opt + 1e-9
