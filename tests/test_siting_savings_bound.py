"""geo.siting.bound.savings_lagrangian and savings_fixing against enumeration and the LP relaxation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from geo.siting.bound import savings_lagrangian


def _value(s: np.ndarray, sites) -> float:
    return float(s[list(sites)].max(axis=0).sum()) if len(sites) else 0.0


def _lp_bound(s: np.ndarray, p: int) -> float:
    """LP relaxation of the assignment form: max sum S z, sum_i z_ij <= 1, z_ij <= x_i, sum x = p."""
    k, m = s.shape
    nz = k * m
    c = -np.concatenate([np.zeros(k), s.ravel()])
    rows = []
    for j in range(m):  # each cell once
        r = np.zeros(k + nz)
        r[k + np.arange(k) * m + j] = 1.0
        rows.append(r)
    for i in range(k):  # z_ij <= x_i
        for j in range(m):
            r = np.zeros(k + nz)
            r[k + i * m + j] = 1.0
            r[i] = -1.0
            rows.append(r)
    b = np.concatenate([np.ones(m), np.zeros(nz)])
    eq = np.concatenate([np.ones(k), np.zeros(nz)])[None, :]
    res = linprog(c, A_ub=np.array(rows), b_ub=b, A_eq=eq, b_eq=[p], bounds=[(0, 1)] * (k + nz), method="highs")
    return -res.fun


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_savings_bound_is_valid_and_at_least_the_lp_bound(seed, p):
    rng = np.random.default_rng(seed)
    k, m = 7, 12
    s = np.where(rng.random((k, m)) < 0.5, rng.uniform(1, 100, (k, m)), 0.0)
    opt = max(_value(s, c) for c in itertools.combinations(range(k), p))
    bound = savings_lagrangian(sparse.csr_matrix(s), p, np.empty(0, dtype=np.int64), lower=opt)[0]
    lp = _lp_bound(s, p)
    assert bound >= opt - 1e-9
    assert bound >= lp - 1e-6  # every multiplier vector bounds the LP too
    assert bound <= lp * 1.01  # and the subgradient steps get close to it (the Lagrangian dual)
    assert bound <= s.max(axis=0).sum() + 1e-9  # never worse than "every cell gets its best saving"


def test_savings_bound_with_required_site():
    s = np.array([[10.0, 0, 0], [0, 9, 8], [0, 9, 8.5]])
    required = np.array([0], dtype=np.int64)
    # p = 2 with site 0 forced: best is {0, 1} or {0, 2} = 10 + 9 + 8.5 = 27.5 with {0, 2}
    opt = max(_value(s, (0, j)) for j in (1, 2))
    bound = savings_lagrangian(sparse.csr_matrix(s), 2, required, lower=opt)[0]
    assert opt == pytest.approx(27.5)
    assert opt - 1e-9 <= bound <= s.max(axis=0).sum() + 1e-9


def test_savings_fixing_never_cuts_a_better_site_set():
    """Closed candidates are in no site set worth more than the incumbent; opened ones are in every such set."""
    from geo.siting.bound import savings_fixing

    closed = 0
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        k, m, p = 8, 14, 3
        s = np.where(rng.random((k, m)) < 0.45, rng.uniform(1, 100, (k, m)), 0.0)
        sets = list(itertools.combinations(range(k), p))
        values = np.array([_value(s, c) for c in sets])
        incumbent = float(np.sort(values)[-2])  # the second best: the optimum must survive the fixing
        none = np.empty(0, dtype=np.int64)
        _, lam = savings_lagrangian(sparse.csr_matrix(s), p, none, lower=incumbent)
        fix = savings_fixing(sparse.csr_matrix(s), p, none, lam, incumbent)
        assert fix.bound >= values.max() - 1e-9
        better = [set(c) for c, v in zip(sets, values) if v > incumbent + 1e-9]
        for i in np.flatnonzero(fix.zero):
            assert all(i not in c for c in better)
        for i in np.flatnonzero(fix.one):
            assert all(i in c for c in better)
        closed += int(fix.zero.sum())
    assert closed > 0  # the test means something: the bound does close candidates
