"""Straight-line proximity and facility load against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from geo.euclid import nearest_euclidean, within_radius
from geo.load import facility_load


def _brute(sx, sy, tx, ty):
    d = np.hypot(tx[:, None] - sx[None, :], ty[:, None] - sy[None, :])
    return d


def test_nearest_by_hand():
    # sources at (0,0) and (10,0); target (3,4) is 5 from the first and
    # sqrt(7^2+4^2) = 8.06 from the second; target (10,1) is 1 from the second.
    d, w = nearest_euclidean([0, 10], [0, 0], [3, 10, 100], [4, 1, 0], limit=50)
    np.testing.assert_allclose(d[:2], [5.0, 1.0])
    assert list(w) == [0, 1, -1]  # (100,0) is 90 from the nearest: beyond 50
    assert np.isinf(d[2])


def test_ties_go_to_the_lowest_index():
    # (5, 0) is exactly 5 m from both sources, whichever order they come in
    for sx in ([0.0, 10.0], [10.0, 0.0]):
        d, w = nearest_euclidean(sx, [0.0, 0.0], [5.0], [0.0], limit=100.0)
        assert d[0] == 5.0 and w[0] == 0


@pytest.mark.parametrize("n_random", [150, 10])  # the grid path, and every pair for few sources
@pytest.mark.parametrize("limit", [50.0, 400.0, np.inf])
def test_distances_are_exact_and_agree_with_the_kd_tree(limit, n_random):
    # many targets (the threaded grid path), sources in clumps and on one line
    rng = np.random.default_rng(9)
    sx = np.concatenate([rng.uniform(0, 3000, n_random), np.full(20, 1500.0), rng.normal(800, 5, 30)])
    sy = np.concatenate([rng.uniform(0, 3000, n_random), np.linspace(0, 3000, 20), rng.normal(800, 5, 30)])
    tx, ty = rng.uniform(-1000, 4000, (2, 30_000))
    d, w = nearest_euclidean(sx, sy, tx, ty, limit=limit)
    dx, dy = tx[:, None] - sx[None, :], ty[:, None] - sy[None, :]
    full = np.sqrt(dx * dx + dy * dy)  # the k-d tree's and GEOS's formula (np.hypot may differ by an ulp)
    best = full.min(axis=1)
    inside = best <= limit
    np.testing.assert_array_equal(d[inside], best[inside])
    np.testing.assert_array_equal(w[inside], full[inside].argmin(axis=1))
    assert np.all(np.isinf(d[~inside])) and np.all(w[~inside] == -1)


def test_limit_is_inclusive():
    d, w = nearest_euclidean([0], [0], [3], [4], limit=5.0)
    assert d[0] == 5.0 and w[0] == 0


@pytest.mark.parametrize("seed", range(4))
def test_nearest_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    sx, sy = rng.uniform(0, 5000, (2, 60))
    tx, ty = rng.uniform(-500, 5500, (2, 2000))
    limit = rng.uniform(200, 1500)
    d, w = nearest_euclidean(sx, sy, tx, ty, limit=limit)
    full = _brute(sx, sy, tx, ty)
    best = full.min(axis=1)
    inside = best <= limit
    np.testing.assert_allclose(d[inside], best[inside], rtol=0, atol=1e-9)
    assert np.all(np.isinf(d[~inside])) and np.all(w[~inside] == -1)
    np.testing.assert_allclose(full[np.flatnonzero(inside), w[inside]], best[inside], atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_within_radius_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    sx, sy = rng.uniform(0, 3000, (2, 200))
    tx, ty = rng.uniform(0, 3000, (2, 1500))
    r = 400.0
    counts = within_radius(sx, sy, tx, ty, r)
    np.testing.assert_array_equal(counts, (_brute(sx, sy, tx, ty) <= r).sum(axis=1))


def test_no_sources():
    d, w = nearest_euclidean([], [], [1.0, 2.0], [0.0, 0.0])
    assert np.all(np.isinf(d)) and np.all(w == -1)
    assert list(within_radius([], [], [1.0], [1.0], 10)) == [0]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="targets: x and y"):
        nearest_euclidean([0], [0], [1, 2], [1])
    with pytest.raises(ValueError, match="sources: coordinate 1 is not a finite"):
        nearest_euclidean([0, np.nan], [0, 0], [1], [1])
    with pytest.raises(ValueError, match="radius"):
        within_radius([0], [0], [1], [1], -5)


def test_facility_load_by_hand():
    # targets nearest to facility 0: weights 10 + 5; to 2: 7; -1 is not counted
    load = facility_load([0, 2, 0, -1], [10.0, 7.0, 5.0, 100.0], 4)
    np.testing.assert_array_equal(load, [15.0, 0.0, 7.0, 0.0])


def test_facility_load_matches_loop():
    rng = np.random.default_rng(7)
    which = rng.integers(-1, 30, 5000)
    w = rng.uniform(0, 50, 5000)
    expected = np.zeros(30)
    for i, x in zip(which, w):
        if i >= 0:
            expected[i] += x
    np.testing.assert_allclose(facility_load(which, w, 30), expected)


def test_facility_load_bad_index():
    with pytest.raises(ValueError, match="facility index 3 is out of range for 3"):
        facility_load([3], [1.0], 3)
