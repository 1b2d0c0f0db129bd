"""Supply-aware accessibility: two-step floating catchment area (2SFCA / E2SFCA).

A facility's supply (beds, doctors) is shared among everyone within its
catchment; a cell's accessibility is the sum of the shares of the facilities
it reaches (Luo & Wang 2003; enhanced with distance-decay weights by Luo &
Qi 2009):

* step 1, per facility ``j``: ``R_j = S_j / sum_i P_i w(d_ij)``;
* step 2, per cell ``i``: ``A_i = sum_j R_j w(d_ij)``.

Both steps are one sparse matrix-vector product on the facility x cell
distance matrix from :meth:`geo.paths.Pairs.to_csr`, so millions of pairs take
milliseconds. With any weights, ``sum_i P_i A_i`` equals the total supply of
facilities that have demand in reach (supply is neither created nor lost),
which the tests use as a check.

Distances are metres; decay functions are given in metres too (use
:meth:`StepDecay.from_minutes` to state zones in minutes at a walking speed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
from scipy import sparse

from geo.unit_ratios import capacity_values, demand_values

__all__ = [
    "LUO_QI_WEIGHTS",
    "Decay",
    "FCAResult",
    "GaussianDecay",
    "ServiceClasses",
    "StepDecay",
    "UniformDecay",
    "classify_service",
    "two_step_fca",
]

LUO_QI_WEIGHTS: tuple[float, float, float] = (1.0, 0.68, 0.22)
"""Zone weights of Luo & Qi (2009) for three equal travel-time zones."""


@runtime_checkable
class Decay(Protocol):
    """A distance-decay weight: ``w(d)`` for distances in metres, 0 beyond ``limit_m``."""

    limit_m: float

    def __call__(self, dist_m: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class UniformDecay:
    """Classic 2SFCA: weight 1 within the catchment, 0 beyond."""

    limit_m: float

    def __call__(self, dist_m: np.ndarray) -> np.ndarray:
        d = np.asarray(dist_m, dtype=np.float64)
        return (d <= self.limit_m).astype(np.float64)


@dataclass(frozen=True)
class StepDecay:
    """E2SFCA zones: weight ``weights[k]`` for ``upper_m[k-1] < d <= upper_m[k]``.

    Attributes
    ----------
    upper_m : tuple of float
        Increasing upper edges of the zones in metres; the last is the
        catchment limit. A distance equal to an edge belongs to the nearer
        zone (as in ``access.weights.step_fn``).
    weights : tuple of float
        One non-negative weight per zone.
    """

    upper_m: tuple[float, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        up = np.asarray(self.upper_m, dtype=np.float64)
        w = np.asarray(self.weights, dtype=np.float64)
        if up.size == 0 or up.size != w.size:
            raise ValueError("StepDecay needs one weight per zone and at least one zone")
        if np.any(np.diff(up) <= 0) or up[0] <= 0:
            raise ValueError(f"StepDecay zone edges must be positive and increasing, got {self.upper_m}")
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError(f"StepDecay weights must be finite and non-negative, got {self.weights}")
        object.__setattr__(self, "upper_m", tuple(float(x) for x in up))
        object.__setattr__(self, "weights", tuple(float(x) for x in w))

    @property
    def limit_m(self) -> float:
        """The catchment limit (the last zone edge)."""
        return self.upper_m[-1]

    def __call__(self, dist_m: np.ndarray) -> np.ndarray:
        d = np.asarray(dist_m, dtype=np.float64)
        zone = np.searchsorted(np.asarray(self.upper_m), d, side="left")
        w = np.append(np.asarray(self.weights), 0.0)  # zone past the last edge weighs 0
        return w[zone]

    @classmethod
    def from_minutes(
        cls, upper_min: Sequence[float], weights: Sequence[float], speed_mps: float
    ) -> StepDecay:
        """Zones given in walking minutes at ``speed_mps`` (e.g. 5/10/15 min at 1.2 m/s)."""
        return cls(tuple(float(m) * 60.0 * speed_mps for m in upper_min), tuple(weights))

    @classmethod
    def luo_qi(cls, limit_m: float) -> StepDecay:
        """Three equal zones up to ``limit_m`` weighted 1.0 / 0.68 / 0.22 (Luo & Qi 2009)."""
        return cls(tuple(limit_m * k / 3.0 for k in (1, 2, 3)), LUO_QI_WEIGHTS)


@dataclass(frozen=True)
class GaussianDecay:
    """Continuous decay ``exp(-d^2 / (2 sigma^2))`` within ``limit_m`` (0 beyond).

    ``w(0) = 1``; the same form as ``access.weights.gaussian``.
    """

    sigma_m: float
    limit_m: float

    def __post_init__(self) -> None:
        if not (self.sigma_m > 0 and self.limit_m > 0):
            raise ValueError(f"GaussianDecay needs positive sigma_m and limit_m, got {self.sigma_m}, {self.limit_m}")

    def __call__(self, dist_m: np.ndarray) -> np.ndarray:
        d = np.asarray(dist_m, dtype=np.float64)
        return np.where(d <= self.limit_m, np.exp(-d * d / (2.0 * self.sigma_m**2)), 0.0)


@dataclass(eq=False)
class FCAResult:
    """Outcome of :func:`two_step_fca`.

    Attributes
    ----------
    accessibility : numpy.ndarray
        Per cell, ``A_i * scale`` (e.g. beds per 1,000 elderly when supply is
        beds, demand is elderly and ``scale=1000``); 0 where nothing is in
        reach.
    ratio : numpy.ndarray
        Per facility, ``R_j * scale``: supply per ``scale`` weighted demand in
        its catchment; 0 where undefined (no demand in reach).
    catchment_demand : numpy.ndarray
        Per facility, the weighted demand ``sum_i P_i w(d_ij)`` in reach.
    reach : numpy.ndarray of int64
        Per cell, how many facilities are within the catchment limit.
    no_demand : numpy.ndarray of int64
        Facilities whose catchment holds no (weighted) demand: their ratio is
        undefined and they contribute nothing. Includes facilities that are
        not on the network (no distances at all).
    scale : float
    """

    accessibility: np.ndarray
    ratio: np.ndarray
    catchment_demand: np.ndarray
    reach: np.ndarray
    no_demand: np.ndarray
    scale: float

    @property
    def covered(self) -> np.ndarray:
        """Cells with at least one facility within the catchment limit."""
        return self.reach > 0


def _as_decay(decay: Decay | float) -> Decay:
    if isinstance(decay, Decay):
        return decay
    limit = float(decay)
    if not limit > 0:
        raise ValueError(f"catchment limit must be positive metres, got {decay!r}")
    return UniformDecay(limit)


def two_step_fca(
    dist: sparse.sparray | sparse.spmatrix,
    supply: np.ndarray,
    demand: np.ndarray,
    decay: Decay | float,
    scale: float = 1.0,
    supply_ids: Sequence[str] | None = None,
    supply_field: str = "supply",
    demand_field: str = "demand",
) -> FCAResult:
    """Two-step floating catchment accessibility (2SFCA, or E2SFCA with decay).

    Parameters
    ----------
    dist : scipy sparse matrix, shape (k facilities, m cells)
        Walking distances in metres; every stored entry is a reachable pair
        (store a zero distance as a tiny epsilon, as
        :meth:`geo.paths.Pairs.to_csr` does). Entries beyond the decay's
        limit are ignored.
    supply : array_like, shape (k,)
        Capacity of each facility (beds, doctors; 1 to count facilities).
    demand : array_like, shape (m,)
        Demand of each cell (population, elderly).
    decay : Decay or float
        A weight function (:class:`StepDecay`, :class:`GaussianDecay`, ...)
        or a plain catchment limit in metres for classic 2SFCA.
    scale : float, default 1.0
        Multiplier for the reported accessibility and ratios, e.g. 1000 for
        "beds per 1,000 elderly", 10000 for "doctors per 10,000 residents".
    supply_ids : sequence of str, optional
        Facility ids, used in error messages.
    supply_field, demand_field : str
        Field names used in error messages.

    Returns
    -------
    FCAResult

    Raises
    ------
    geo.unit_ratios.CapacityError
        When a supply value is missing, negative or not a number.
    geo.unit_ratios.DemandError
        When a demand value is missing, negative or not a number.
    ValueError
        When the shapes of ``dist``, ``supply`` and ``demand`` disagree, or a
        distance is negative or NaN.
    """
    decay = _as_decay(decay)
    dist = sparse.csr_array(dist)
    k, m = dist.shape
    s = capacity_values(supply, supply_ids, supply_field)
    p = demand_values(demand, None, demand_field)
    if s.shape != (k,):
        raise ValueError(f"supply has {s.size} values but the distance matrix has {k} facility rows")
    if p.shape != (m,):
        raise ValueError(f"demand has {p.size} values but the distance matrix has {m} cell columns")

    if not (dist.data >= 0).all():  # also catches NaN
        raise ValueError("distance matrix holds negative or NaN distances")
    in_reach = dist.data <= decay.limit_m
    # usually the matrix was computed up to the same limit: skip the masking then
    everything = bool(in_reach.all())
    w = decay(dist.data) if everything else np.where(in_reach, decay(dist.data), 0.0)
    # same sparsity pattern as dist, weights instead of distances
    weights = sparse.csr_array((w, dist.indices, dist.indptr), shape=(k, m))

    catchment = weights @ p  # step 1 denominators
    has = catchment > 0
    r = np.zeros(k)
    r[has] = s[has] / catchment[has]
    access = weights.T @ r  # step 2

    reach = np.bincount(dist.indices if everything else dist.indices[in_reach], minlength=m).astype(np.int64)
    return FCAResult(
        accessibility=access * scale,
        ratio=r * scale,
        catchment_demand=catchment,
        reach=reach,
        no_demand=np.flatnonzero(~has).astype(np.int64),
        scale=float(scale),
    )


CLASS_LABELS: tuple[str, str, str] = ("uncovered", "under-served", "served")


@dataclass(eq=False)
class ServiceClasses:
    """Cells classed by reach and accessibility.

    Attributes
    ----------
    code : numpy.ndarray of int8
        Per cell: 0 uncovered (no facility within reach), 1 covered but
        under-served (accessibility below the standard), 2 served.
    labels : tuple of str
        Label of each code.
    summary : pandas.DataFrame
        One row per class: ``class``, ``cells``, ``population`` (the
        population given), ``share`` (of the total population).
    """

    code: np.ndarray
    labels: tuple[str, ...]
    summary: pd.DataFrame

    @property
    def label(self) -> np.ndarray:
        """The class label of every cell."""
        return np.asarray(self.labels, dtype=object)[self.code]


def classify_service(result: FCAResult, min_accessibility: float, population: np.ndarray) -> ServiceClasses:
    """Class each cell as uncovered, covered but under-served, or served.

    Parameters
    ----------
    result : FCAResult
    min_accessibility : float
        The ratio standard in the result's scaled units (e.g. 30 for "30
        beds per 1,000 elderly" when ``scale=1000``).
    population : array_like, shape (m,)
        Weights to count per class (residents or elderly).

    Returns
    -------
    ServiceClasses
    """
    pop = demand_values(population, None, "population")
    if pop.shape != result.accessibility.shape:
        raise ValueError(f"population has {pop.size} values, the result has {result.accessibility.size} cells")
    # a relative tolerance: accessibility that equals the standard up to
    # rounding (e.g. 30.000000000004 vs 30) is served
    served = result.accessibility >= min_accessibility * (1 - 1e-12)
    code = np.where(result.covered, np.where(served, 2, 1), 0).astype(np.int8)
    cells = np.bincount(code, minlength=3)
    people = np.bincount(code, weights=pop, minlength=3)
    total = people.sum()
    summary = pd.DataFrame(
        {
            "class": list(CLASS_LABELS),
            "cells": cells.astype(np.int64),
            "population": people,
            "share": people / total if total > 0 else np.zeros(3),
        }
    )
    return ServiceClasses(code=code, labels=CLASS_LABELS, summary=summary)
