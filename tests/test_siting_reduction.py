"""Shrinking, Lagrangian fixing, the time limit's contract and memory that follows the reach.

The reduced models must keep the optimum (compared with the unreduced model
and with enumeration of every site set), a run must stop when its deadline
or its caller says so and say that it stopped, and the exact model must hold
a few entries per candidate-cell pair in reach, never one per candidate and
cell.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from scipy import sparse

import geo.siting.milp as milp
from geo.siting import (
    ModelOptions,
    SitingCancelled,
    SitingInput,
    SitingTimeLimit,
    max_attendance,
    mclp,
    p_median,
    savings,
)
from geo.siting.budget import TIME_LIMIT_STATUS
from geo.siting.problem import conflict_pairs
from geo.siting.shrink import dominated, reduce

REACH = 450.0


def _instance(seed: int, k: int = 9, m: int = 28, e: int = 2):
    rng = np.random.default_rng(seed)
    cxy, dxy, exy = rng.random((k, 2)) * 1200, rng.random((m, 2)) * 1200, rng.random((e, 2)) * 1200
    d = np.hypot(cxy[:, None, 0] - dxy[None, :, 0], cxy[:, None, 1] - dxy[None, :, 1]) * 1.25
    de = np.hypot(exy[:, None, 0] - dxy[None, :, 0], exy[:, None, 1] - dxy[None, :, 1]) * 1.25
    # a few duplicated candidates (same row): the reductions must see through them
    d[k - 1] = d[0]
    cxy[k - 1] = cxy[0] + 1.0
    w = rng.integers(1, 60, m).astype(float)
    keep = lambda a: sparse.csr_matrix(np.where(a <= REACH, np.maximum(a, 1e-6), 0.0))  # noqa: E731
    inp = SitingInput(keep(d), w, REACH, existing=keep(de), candidate_xy=cxy)
    return inp, np.where(d <= REACH, d, np.inf), np.where(de <= REACH, de, np.inf), w, cxy


def _spaced(cxy: np.ndarray, combo, spacing: float) -> bool:
    return all(np.hypot(*(cxy[a] - cxy[b])) >= spacing for a, b in itertools.combinations(combo, 2))


# ------------------------------------------------------------------ dominance
def _dominated_by_definition(s: sparse.csr_matrix, keep: np.ndarray, conflicts: np.ndarray) -> np.ndarray:
    a_ = s.toarray()
    k = a_.shape[0]
    nb = [set() for _ in range(k)]
    for a, b in conflicts:
        nb[a].add(b)
        nb[b].add(a)
    out = np.zeros(k, dtype=bool)
    for a in range(k):
        if keep[a]:
            continue
        if not a_[a].any():
            out[a] = True
            continue
        out[a] = any(
            np.all(a_[a] <= a_[b]) and (not np.array_equal(a_[a], a_[b]) or b < a) and (nb[b] - {a}) <= nb[a]
            for b in range(k) if b != a
        )
    return out


@pytest.mark.parametrize("seed", range(40))
def test_dominance_matches_its_definition(seed):
    rng = np.random.default_rng(seed)
    k, m = int(rng.integers(2, 12)), int(rng.integers(1, 14))
    a = rng.integers(0, 4, (k, m)).astype(float) * (rng.random((k, m)) < 0.6)
    a[rng.integers(0, k)] = a[rng.integers(0, k)]  # an identical pair now and then
    keep = rng.random(k) < 0.2
    conflicts = conflict_pairs(rng.random((k, 2)) * 1000, float(rng.choice([0.0, 300.0, 600.0])))
    got = dominated(sparse.csr_matrix(a), keep, conflicts, chunk_entries=int(rng.integers(1, 40)))
    assert np.array_equal(got, _dominated_by_definition(sparse.csr_matrix(a), keep, conflicts))


def test_conflict_pairs_are_the_pairs_closer_than_the_spacing():
    rng = np.random.default_rng(7)
    xy = rng.random((60, 2)) * 1000
    xy[5] = xy[4] + [300.0, 0.0]  # exactly at the spacing: not a conflict
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    want = np.argwhere(np.triu(d < 300.0, 1))
    assert np.array_equal(conflict_pairs(xy, 300.0), want)


# ------------------------------------------------------------------ exactness
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [True, False])
def test_reduced_and_unreduced_models_have_the_same_optimum(seed, levels, monkeypatch):
    if not levels:  # p-median and attendance through the Lagrangian fixing, not the level form
        monkeypatch.setattr(savings, "MAX_LEVEL_ENTRIES", 0)
    inp, *_ = _instance(seed, k=11, m=34)
    for opts in (
        ModelOptions(method="milp", mip_rel_gap=0.0),
        ModelOptions(method="milp", mip_rel_gap=0.0, min_spacing_m=350.0, remove_existing=[1]),
        ModelOptions(method="milp", mip_rel_gap=0.0, required=[2], min_spacing_m=250.0),
    ):
        for p in (2, 3):
            for model in (p_median, max_attendance, mclp):
                reduced = model(inp, p, opts)
                full = model(inp, p, ModelOptions(**{**opts.__dict__, "shrink": False}))
                assert reduced.objective == pytest.approx(full.objective, rel=1e-9), (model.__name__, p, opts)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [True, False])
def test_p_median_with_spacing_and_closures_matches_enumeration(seed, levels, monkeypatch):
    if not levels:
        monkeypatch.setattr(savings, "MAX_LEVEL_ENTRIES", 0)
    inp, d, de, w, cxy = _instance(seed)
    k, spacing, penalty = d.shape[0], 300.0, REACH
    base = np.minimum(de[0], np.inf)  # existing facility 1 closes, 0 stays

    def cost(combo):
        near = np.minimum(base, d[list(combo)].min(axis=0))
        return float((w * np.minimum(near, penalty)).sum())

    for p in (2, 3):
        ok = [c for c in itertools.combinations(range(k), p) if _spaced(cxy, c, spacing)]
        opt = min(cost(c) for c in ok)
        for method in ("auto", "milp"):
            r = p_median(inp, p, ModelOptions(method=method, mip_rel_gap=0.0, min_spacing_m=spacing,
                                              remove_existing=[1]))
            assert r.objective == pytest.approx(opt) and cost(r.sites) == pytest.approx(opt)
            assert _spaced(cxy, r.sites, spacing)
            assert r.bound <= opt + 1e-6 * opt


def test_fixing_keeps_the_incumbent_and_reports_what_it_ruled_out(monkeypatch):
    monkeypatch.setattr(savings, "MAX_LEVEL_ENTRIES", 0)
    inp, *_ = _instance(3, k=14, m=40)
    r = p_median(inp, 3, ModelOptions(method="milp", mip_rel_gap=0.0))
    assert any("ruled out" in n for n in r.notes)
    assert r.status == "Optimal" and r.gap <= 1e-9


# ------------------------------------------------------------------ time limit and cancellation
def _large(seed: int = 0, k: int = 600, m: int = 4000) -> SitingInput:
    rng = np.random.default_rng(seed)
    cxy, dxy = rng.random((k, 2)) * 5000, rng.random((m, 2)) * 5000
    from scipy.spatial import cKDTree

    pairs = cKDTree(cxy).sparse_distance_matrix(cKDTree(dxy), 500.0, output_type="ndarray")
    mat = sparse.csr_matrix((np.maximum(pairs["v"] * 1.2, 1e-6), (pairs["i"], pairs["j"])), shape=(k, m))
    mat.data[mat.data > 500.0] = 0.0
    mat.eliminate_zeros()
    return SitingInput(mat, rng.integers(1, 50, m).astype(float), 500.0, candidate_xy=cxy)


@pytest.mark.parametrize("model", [p_median, mclp, max_attendance])
def test_a_passed_deadline_stops_after_the_heuristic_and_says_so(model):
    inp = _large()
    r = model(inp, 8, ModelOptions(method="milp", deadline=time.perf_counter() - 1.0))
    assert r.status == TIME_LIMIT_STATUS
    assert r.sites.size == 8 and np.isfinite(r.bound) and r.gap > 0
    # the bound still holds: the full solve never beats it
    best = model(inp, 8, ModelOptions(method="milp", mip_rel_gap=0.0, time_limit_s=120))
    if model is p_median:
        assert r.bound <= best.objective + 1e-6 * best.objective <= r.objective + 1e-6 * r.objective
    else:
        assert r.bound >= best.objective - 1e-6 * best.objective >= r.objective - 1e-6 * r.objective


def test_cancel_stops_the_solve():
    inp = _large(1)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(SitingCancelled, match="cancelled"):
        p_median(inp, 8, ModelOptions(method="milp", cancel=cancel))


def test_cancel_interrupts_highs(monkeypatch):
    inp = _large(2)
    seen = {}
    real = milp.run_highs

    def spy(model, options, *a, **kw):
        seen["called"] = True
        return real(model, options.__class__(**{**options.__dict__, "cancel": lambda: True}), *a, **kw)

    monkeypatch.setattr("geo.siting.solve.run_highs", spy)
    with pytest.raises(SitingCancelled):
        p_median(inp, 8, ModelOptions(method="milp"))
    assert seen["called"]


# ------------------------------------------------------------------ memory follows the reach
@pytest.mark.parametrize("model", [p_median, max_attendance, mclp])
@pytest.mark.parametrize("levels", [True, False])
def test_exact_model_entries_follow_the_reach_pairs(model, levels, monkeypatch):
    if not levels:
        monkeypatch.setattr(savings, "MAX_LEVEL_ENTRIES", 0)
    inp = _large(3, k=400, m=3000)
    spacing = 300.0
    n_conf = conflict_pairs(inp.candidate_xy, spacing).shape[0]
    built = []
    real = milp.run_highs

    def spy(m, *a, **kw):
        built.append(m)
        return real(m, *a, **kw)

    monkeypatch.setattr("geo.siting.solve.run_highs", spy)
    monkeypatch.setattr("geo.siting.savings.run_highs", spy)
    model(inp, 6, ModelOptions(method="milp", min_spacing_m=spacing))
    assert built
    k, m, pairs = inp.n_candidates, inp.n_cells, inp.matrix.nnz
    for mod in built:
        # coverage or assignment rows: at most 3 entries per pair in reach, one
        # per cell and candidate, two per spacing pair; never k x m
        assert mod.a.nnz <= 3 * pairs + k + m + 2 * n_conf
        assert mod.a.nnz < k * m / 10


def test_reduce_never_builds_candidate_by_cell_arrays():
    """Dominance on 3,000 x 200,000 with 60,000 pairs: a dense k x m array would be 4.8 GB."""
    rng = np.random.default_rng(5)
    k, m, nnz = 3000, 200_000, 60_000
    s = sparse.csr_matrix((rng.random(nnz) + 0.1, (rng.integers(0, k, nnz), rng.integers(0, m, nnz))), shape=(k, m))
    red = reduce(s, np.ones(k, dtype=bool), np.empty(0, dtype=np.int64), np.empty((0, 2), dtype=np.int64))
    assert red.s.nnz <= s.nnz and red.s.shape[0] <= k


def test_site_time_limit_contract(monkeypatch):
    """site(): no time for the solve gives a checked answer marked as stopped; none for the distances, an error."""
    import scenarios.siting as ss
    from layers.cities import load_city

    city = load_city("demo")
    monkeypatch.setattr(ss, "_CHECK_RESERVE", 1e6)  # the check's reserve eats the solver's whole budget
    r = ss.site(city, "clinic-walk", "p-median", p=2, spacing_m=400, time_limit_s=600)
    assert r.result.status == TIME_LIMIT_STATUS and len(r.sites) == 2
    assert r.summary()["gap"] > 0 and r.cells_disagreeing == 0
    with pytest.raises(SitingTimeLimit, match="time_limit_s"):
        ss.site(city, "clinic-walk", "p-median", p=2, spacing_m=400, time_limit_s=1e-9)
    with pytest.raises(SitingCancelled):
        ss.site(city, "clinic-walk", "mclp", p=2, spacing_m=400, cancel=lambda: True)


def test_estimate_is_close_to_the_run():
    from layers.cities import load_city
    from scenarios.siting import site
    from scenarios.siting_estimate import estimate_siting

    city = load_city("demo")
    est = estimate_siting(city, "clinic-walk", "mclp", p=2, spacing_m=400, min_spacing_m=300)
    r = site(city, "clinic-walk", "mclp", p=2, spacing_m=400)
    assert est.candidates == len(r.candidates) or est.candidates >= len(r.candidates)
    pairs = r_pairs = None
    from geo.siting import candidate_matrix

    r_pairs = candidate_matrix(city.network, r.candidates.snapped, city.snapped_cells, r.standard.threshold_m).nnz
    pairs = est.pairs * len(r.candidates) / est.candidates
    assert 0.5 * r_pairs <= pairs <= 2.0 * r_pairs
    assert est.bytes > 0 and est.to_dict()["cells"] == len(city.cells)
