"""maps.quantiles.quantile_bins gives mapclassify's Quantiles breaks bit for bit (it replaces that import)."""

from __future__ import annotations

import warnings

import mapclassify
import numpy as np
import pytest

from maps.content import population_classes
from maps.quantiles import quantile_bins


def _mapclassify_bins(values: np.ndarray, k: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mapclassify warns when ties leave fewer than k classes
        return mapclassify.Quantiles(values, k=k).bins


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
def test_same_breaks_as_mapclassify_on_random_data(seed, k):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    samples = [
        rng.random(n) * 1000,  # continuous
        rng.integers(1, 40, n).astype(float),  # many ties
        np.round(rng.lognormal(3, 1.5, n), 1),  # skewed like population counts
    ]
    for values in samples:
        got = quantile_bins(values, k)
        want = _mapclassify_bins(values, k)
        assert got.dtype == np.float64
        assert got.tobytes() == np.asarray(want, dtype=np.float64).tobytes()


def test_known_breaks():
    # mapclassify's own docstring examples
    x = np.arange(1000)
    assert quantile_bins(x, 4).tolist() == [249.75, 499.5, 749.25, 999.0]
    assert quantile_bins(x, 3) == pytest.approx([333.0, 666.0, 999.0], abs=1e-9)  # 33.33...% steps
    assert quantile_bins(np.array([7.0]), 5).tolist() == [7.0]


def test_population_classes_match_mapclassify():
    rng = np.random.default_rng(3)
    pop = np.round(rng.lognormal(3, 1.2, 5000)) * (rng.random(5000) > 0.2)
    c = population_classes(pop, k=5)
    values = pop[pop > 0]
    bins = np.unique(_mapclassify_bins(values, 5).astype(np.float64))
    bins[-1] = max(bins[-1], values.max())
    assert np.array_equal(c.cell_class[pop > 0], np.searchsorted(bins, values, side="left"))
    assert (c.cell_class[pop <= 0] == -1).all()
