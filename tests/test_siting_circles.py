"""Multi-type siting ("complete the most circles with p new facilities") reaches the enumerated optimum."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from geo.siting.circles import complete_circles, completed_weight, enumerate_circles


def _case(seed: int):
    rng = np.random.default_rng(seed)
    n_cells, n_types = int(rng.integers(5, 11)), int(rng.integers(2, 4))
    cover = [sp.csr_matrix(rng.random((int(rng.integers(1, 4)), n_cells)) < 0.35) for _ in range(n_types)]
    met = rng.random((n_cells, n_types)) < 0.5
    weight = rng.integers(0, 100, n_cells).astype(float)
    return cover, met, weight


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_exact_model_reaches_the_enumerated_optimum(seed, p):
    cover, met, weight = _case(seed)
    exact = complete_circles(cover, met, weight, p)
    brute = enumerate_circles(cover, met, weight, p)
    assert exact.status == "Optimal"
    assert exact.objective == pytest.approx(brute.objective)
    assert len(exact.chosen) <= p
    # the reported objective is what the chosen sites really complete
    assert completed_weight(exact.chosen, cover, met, weight)[0] == pytest.approx(exact.objective)


def test_hand_case_needs_two_types_together():
    # cell 0 (weight 10) lacks both types; cell 1 (weight 7) lacks only type 0
    cover = [sp.csr_matrix(np.array([[1, 0], [0, 1]], bool)), sp.csr_matrix(np.array([[1, 0]], bool))]
    met = np.array([[False, False], [False, True]])
    w = np.array([10.0, 7.0])
    one = complete_circles(cover, met, w, 1)
    assert (one.objective, one.chosen) == (7.0, [(1, 0)])  # one facility cannot complete cell 0
    two = complete_circles(cover, met, w, 2)
    assert two.objective == 10.0 and sorted(two.chosen) == [(0, 0), (0, 1)]
    three = complete_circles(cover, met, w, 3)
    assert three.objective == 17.0
