"""Row-weighting local search for set covering, against enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse

from geo.siting import ModelOptions, SitingInput, lscp
from geo.siting.setcover import greedy_repair, weighted_local_search


def _cover_instance(seed: int, k: int, m: int, density: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    b = (rng.random((k, m)) < density).astype(float)
    b[rng.integers(0, k, m), np.arange(m)] = 1.0  # every cell coverable
    return b


def _fewest(b: np.ndarray) -> int:
    k = b.shape[0]
    for r in range(1, k + 1):
        for c in itertools.combinations(range(k), r):
            if b[list(c)].max(axis=0).min() > 0:
                return r
    raise AssertionError


def _covers(b: np.ndarray, sites: np.ndarray) -> bool:
    return bool(sites.size) and b[sites].max(axis=0).min() > 0


@pytest.mark.parametrize("seed", range(10))
def test_local_search_finds_the_fewest_sites(seed):
    b = _cover_instance(seed, k=14, m=45, density=0.15)
    opt = _fewest(b)
    start = np.arange(b.shape[0])  # every candidate: the worst cover
    found = weighted_local_search(sparse.csr_matrix(b), start, max_steps=3_000)
    assert _covers(b, found) and found.size == opt
    assert np.all(np.diff(found) > 0)
    # a lower bound equal to the optimum stops it there too
    assert weighted_local_search(sparse.csr_matrix(b), start, lower=opt).size == opt


@pytest.mark.parametrize("seed", range(4))
def test_local_search_never_worse_and_repeatable(seed):
    b = sparse.csr_matrix(_cover_instance(seed, k=60, m=300, density=0.04))
    start = greedy_repair(b, np.empty(0, dtype=np.int64), np.ones(b.shape[0]))
    a = weighted_local_search(b, start, max_steps=2_000)
    assert _covers(b.toarray(), a) and a.size <= start.size
    assert np.array_equal(a, weighted_local_search(b, start, max_steps=2_000))
    # no steps: the start comes back, sorted
    assert np.array_equal(weighted_local_search(b, start[::-1], max_steps=0), np.sort(start))


def test_local_search_edge_cases():
    b = sparse.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]]))
    # one site cannot cover all three cells; any two can
    assert weighted_local_search(b, np.array([0, 1, 2])).size == 2
    one = sparse.csr_matrix(np.ones((3, 4)))
    assert weighted_local_search(one, np.array([2])).tolist() == [2]
    assert weighted_local_search(sparse.csr_matrix((2, 0)), np.array([1])).tolist() == [1]


@pytest.mark.parametrize("seed", range(4))
def test_lscp_with_local_search_matches_enumeration(seed):
    b = _cover_instance(seed, k=13, m=40, density=0.15)
    w = np.random.default_rng(seed).integers(1, 9, 40).astype(float)
    inp = SitingInput(sparse.csr_matrix(b * 100.0), w, 400.0)
    opt = _fewest(b)
    for method in ("milp", "greedy"):
        r = lscp(inp, 1.0, ModelOptions(method=method))
        assert _covers(b, r.sites) and r.bound <= opt <= r.objective
        if method == "milp":
            assert r.objective == opt


@pytest.mark.parametrize(("n", "offsets"), [(15, (0, 1, 4)), (17, (0, 1, 5))])
def test_lscp_core_the_local_search_improves(n, offsets):
    # circulant covers: no reduction applies, and the Lagrangian heuristic
    # stops one site above the optimum, which the local search then finds
    b = np.zeros((n, n))
    for i in range(n):
        b[i, (i + np.asarray(offsets)) % n] = 1.0
    inp = SitingInput(sparse.csr_matrix(b * 100.0), np.ones(n), 400.0)
    opt = _fewest(b)
    for method in ("greedy", "milp"):
        r = lscp(inp, 1.0, ModelOptions(method=method))
        assert any("weighted local search" in note for note in r.notes)
        assert _covers(b, r.sites) and r.objective == opt and r.bound <= opt
