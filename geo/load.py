"""How much population each facility is the nearest one for."""

from __future__ import annotations

import numpy as np

__all__ = ["facility_load"]


def facility_load(which: np.ndarray, weights: np.ndarray, n_facilities: int) -> np.ndarray:
    """Sum the weight of the targets whose nearest facility each one is.

    Parameters
    ----------
    which : array_like of int
        Per target, the index of its nearest facility (``0..n_facilities-1``),
        ``-1`` where no facility is within reach (those are not counted).
    weights : array_like of float
        Per target weight, e.g. population; same length as ``which``.
    n_facilities : int
        Number of facilities; the result has this length.

    Returns
    -------
    numpy.ndarray of float64
        Per facility, the total weight of the targets it is nearest to
        (0 for a facility that is nobody's nearest).

    Raises
    ------
    ValueError
        If the arrays disagree in length or an index is out of range.
    """
    which = np.asarray(which, dtype=np.int64).ravel()
    weights = np.asarray(weights, dtype=np.float64).ravel()
    if which.shape != weights.shape:
        raise ValueError(f"which ({which.size}) and weights ({weights.size}) must have the same length")
    ok = which >= 0
    if ok.any() and which[ok].max() >= n_facilities:
        raise ValueError(
            f"facility index {int(which[ok].max())} is out of range for {n_facilities} facilities"
        )
    return np.bincount(which[ok], weights=weights[ok], minlength=n_facilities).astype(np.float64)
