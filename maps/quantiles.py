"""Quantile class breaks, the same numbers as ``mapclassify.Quantiles(y, k).bins``, without mapclassify.

Importing mapclassify costs a process about 85 MB and 2.5 s: it imports
scikit-learn and scipy.stats, and compiles its Fisher-Jenks kernel with numba
at import time. Quantile breaks need none of that, so the default population
classification of every map computes them here with numpy, following
mapclassify 2.x (``classifiers.quantile``) and the ``"fraction"`` rule of
``scipy.stats.scoreatpercentile`` operation for operation, so the breaks are
bit-identical. Natural breaks still come from mapclassify.
"""

from __future__ import annotations

import numpy as np

__all__ = ["quantile_bins"]


def _score_at(sorted_: np.ndarray, per: float) -> float:
    """``scipy.stats.scoreatpercentile(y, per)`` of a sorted 1-d array (linear between ranks)."""
    idx = per / 100.0 * (sorted_.size - 1)
    i = int(idx)
    if i == idx:
        return float(np.add.reduce(sorted_[i : i + 1] * np.array(1)) / 1.0)
    weights = np.array([(i + 1 - idx), (idx - i)], float)
    return float(np.add.reduce(sorted_[i : i + 2] * weights) / weights.sum())


def quantile_bins(values: np.ndarray, k: int) -> np.ndarray:
    """Upper bounds of ``k`` quantile classes of ``values`` (fewer when values repeat).

    Parameters
    ----------
    values : numpy.ndarray
        Non-empty 1-d data.
    k : int
        Number of classes wanted (at least 1).

    Returns
    -------
    numpy.ndarray of float64
        Sorted distinct break values; the last is the largest value.
    """
    y = np.sort(np.asarray(values).ravel())
    w = 100.0 / k
    p = np.arange(w, 100 + w, w)
    if p[-1] > 100.0:
        p[-1] = 100.0
    return np.unique(np.array([_score_at(y, float(pct)) for pct in p]))
