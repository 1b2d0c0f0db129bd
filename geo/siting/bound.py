"""A fast Lagrangian upper bound for coverage (MCLP) problems.

For large instances the LP relaxation alone can take minutes in HiGHS, while
the Lagrangian dual of the coverage rows gives the same bound (the LP bound,
in the limit) from sparse matrix-vector products (Galvao & ReVelle 1996).
Relaxing ``y_j <= sum_{i in N_j} x_i`` with multipliers ``0 <= l_j <= w_j``:

``L(l) = sum_j (w_j - l_j) + max_{|X| = p} sum_{i in X} sum_{j in N_i} l_j``

which is an upper bound on the optimum for every ``l`` (the inner maximum
picks the required sites plus the ``p - r`` best others; dropping the spacing
rows only loosens it). Subgradient steps (Held-Wolfe-Crowder, Polyak step
towards the heuristic's value) minimise it.

The same function fixes variables (Lagrangian reduced-cost fixing): for any
``l``, forcing candidate ``i`` in (or out) changes only the inner choice, so
``L(l)`` with ``i`` swapped for the ``p``-th (or ``p + 1``-th) best candidate
bounds every site set containing (or missing) ``i``. A candidate whose bound
is below a known objective value cannot be in (or missing from) any better
site set. With ``l`` the LP duals of the coverage rows, ``L(l)`` is the LP
bound itself: on a 2,000 x 10,000 MCLP with p = 50 that fixed 1,738 of 1,961
candidates to 0 and HiGHS then proved the optimum in 0.5 s instead of 14 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from geo.siting.budget import time_left

__all__ = [
    "Fixing",
    "coverage_lagrangian",
    "coverage_lagrangian_bound",
    "lagrangian_fixing",
    "savings_fixing",
    "savings_lagrangian",
]


def _inner(c: np.ndarray, p: int, required: np.ndarray) -> np.ndarray:
    """Required sites plus the ``p - r`` largest of ``c`` among the others."""
    chosen = np.zeros(c.size, dtype=bool)
    chosen[required] = True
    rest = p - int(chosen.sum())
    if rest > 0:
        cc = np.where(chosen, -np.inf, c)
        top = np.argpartition(-cc, rest - 1)[:rest] if rest < c.size else np.arange(c.size)
        chosen[top] = True
    return chosen


def coverage_lagrangian_bound(
    s: sparse.csr_matrix,
    p: int,
    required: np.ndarray,
    lower: float,
    tol: float = 1e-4,
    max_iter: int = 400,
) -> float:
    """Upper bound on ``max_{|X| <= p} sum_j max_{i in X} S_ij`` for coverage savings.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` savings where every cell's entries are equal (its weight).
    p : int
        Sites to open.
    required : numpy.ndarray of int64
        Sites that must open.
    lower : float
        A known objective value (the heuristic's), for the step size and the
        stopping test.
    tol : float
        Stop once ``(bound - lower) / bound <= tol``.
    max_iter : int
        Largest number of subgradient steps.

    Returns
    -------
    float
        The best (smallest) Lagrangian value found: a valid upper bound.
    """
    return coverage_lagrangian(s, p, required, lower, tol, max_iter)[0]


def savings_lagrangian(
    s: sparse.csr_matrix,
    p: int,
    required: np.ndarray,
    lower: float,
    tol: float = 1e-4,
    max_iter: int = 300,
    deadline: float | None = None,
) -> tuple[float, np.ndarray]:
    """Upper bound on ``max_{|X| = p} sum_j max_{i in X} S_ij`` for any savings (p-median, attendance).

    The assignment form ``max sum_ij S_ij z_ij`` with ``sum_i z_ij <= 1``,
    ``z_ij <= x_i`` and ``sum_i x_i = p`` has those "each cell once" rows
    relaxed with multipliers ``l_j >= 0`` (Cornuejols, Fisher & Nemhauser
    1977):

    ``L(l) = sum_j l_j + max_{|X| = p} sum_{i in X} sum_j max(0, S_ij - l_j)``

    an upper bound for every ``l >= 0``; at ``l_j = max_i S_ij`` it is the
    trivial bound (every cell gets its best saving). Subgradient steps
    (Polyak step towards ``lower``, halved after 20 steps without progress)
    minimise it. Spacing rules are dropped, which only loosens it.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` non-negative savings.
    p, required, lower, tol, max_iter
        As in :func:`coverage_lagrangian_bound`.
    deadline : float, optional
        ``time.perf_counter()`` value after which no further step starts
        (the best value so far is still a valid bound).

    Returns
    -------
    bound : float
        The smallest Lagrangian value found: a valid upper bound.
    lam : numpy.ndarray
        The multipliers that gave it (for :func:`savings_fixing`).
    """
    s = sparse.csr_matrix(s)
    k, m = s.shape
    rows = np.repeat(np.arange(k), np.diff(s.indptr))
    cols, data = s.indices, s.data
    lam = np.zeros(m)
    np.maximum.at(lam, cols, data)
    best, best_lam = float(lam.sum()), lam.copy()
    theta, stall = 2.0, 0
    for it in range(max_iter):
        if best <= 0 or (best - lower) / best <= tol or theta < 1e-4 or (it and time_left(deadline) <= 0):
            break
        gain = np.maximum(data - lam[cols], 0.0)
        chosen = _inner(np.bincount(rows, weights=gain, minlength=k), p, required)
        value = float(lam.sum() + gain[chosen[rows]].sum())
        if value < best * (1 - 1e-9):
            best, best_lam, stall = value, lam.copy(), 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        # subgradient: 1 minus the number of chosen sites that take cell j
        g = 1.0 - np.bincount(cols[chosen[rows] & (gain > 0)], minlength=m)
        norm = float(g @ g)
        if norm == 0:
            break
        lam = np.maximum(lam - theta * max(value - lower, 0.0) / norm * g, 0.0)
    return best, best_lam


def savings_fixing(
    s: sparse.csr_matrix,
    p: int,
    required: np.ndarray,
    lam: np.ndarray,
    value: float,
) -> "Fixing":
    """The savings Lagrangian at ``lam`` and the candidates it fixes against ``value``.

    As :func:`lagrangian_fixing`, for the relaxation of
    :func:`savings_lagrangian`: a candidate's part of ``L`` is
    ``c_i = sum_j max(0, S_ij - l_j)`` whatever else is open, so forcing it in
    (or out) only swaps it with the inner choice's weakest free pick (or best
    left-out candidate).

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` non-negative savings.
    p : int
        Sites to open.
    required : numpy.ndarray of int64
        Sites that must open.
    lam : numpy.ndarray
        ``m`` non-negative multipliers (e.g. from :func:`savings_lagrangian`).
    value : float
        The objective of a known site set (the incumbent).

    Returns
    -------
    Fixing
    """
    s = sparse.csr_matrix(s)
    k = s.shape[0]
    lam = np.maximum(np.asarray(lam, dtype=np.float64), 0.0)
    rows = np.repeat(np.arange(k), np.diff(s.indptr))
    c = np.bincount(rows, weights=np.maximum(s.data - lam[s.indices], 0.0), minlength=k)
    return _fixing(c, float(lam.sum()), p, required, value)


def coverage_lagrangian(
    s: sparse.csr_matrix,
    p: int,
    required: np.ndarray,
    lower: float,
    tol: float = 1e-4,
    max_iter: int = 400,
    primal_every: int = 5,
    deadline: float | None = None,
) -> tuple[float, np.ndarray]:
    """:func:`coverage_lagrangian_bound`, plus the best site set the relaxation proposed.

    Every ``primal_every`` steps the inner problem's choice (required sites
    plus the ``p - r`` candidates with the largest multiplier sums) is a
    feasible site set when there is no spacing rule; its true coverage is
    measured and the best one kept. On a 2,000 x 10,000 MCLP with p = 50 that
    set, after a swap search, was 0.014 % from the optimum where the greedy +
    swap stopped 0.87 % short. No step starts after ``deadline`` (a
    ``time.perf_counter()`` value).

    Returns
    -------
    bound : float
    sites : numpy.ndarray of int64
        The best proposed set (empty when none was measured).
    """
    m = s.shape[1]
    if s.nnz == 0:
        return 0.0, np.empty(0, dtype=np.int64)
    a = s.copy()
    a.data[:] = 1.0
    w = np.asarray(s.max(axis=0).todense()).ravel()
    at = a.T.tocsr()
    lam = w.copy()
    best = np.inf
    best_sites, best_value = np.empty(0, dtype=np.int64), -np.inf
    mu, stall = 2.0, 0
    for it in range(max_iter):
        c = a @ lam
        chosen = _inner(c, p, required)
        value = float(np.maximum(w - lam, 0.0).sum() + c[chosen].sum())
        if it % primal_every == 0:
            sites = np.flatnonzero(chosen)
            covered = np.zeros(m, dtype=bool)
            covered[a[sites].indices] = True
            v = float(w[covered].sum())
            if v > best_value:
                best_sites, best_value = sites, v
        if value < best - 1e-12 * abs(value):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 10:
                mu, stall = mu / 2, 0
        if best <= 0 or (best - lower) / best <= tol or mu < 1e-6 or time_left(deadline) <= 0:
            break
        g = at @ chosen.astype(np.float64) - (w > lam)
        norm = float(g @ g)
        if norm == 0:
            break
        lam = np.clip(lam - mu * (value - lower) / norm * g, 0.0, w)
    return best, best_sites


@dataclass(frozen=True, eq=False)
class Fixing:
    """What one multiplier vector proves about a coverage problem.

    Attributes
    ----------
    bound : float
        ``L(l)``: an upper bound on the optimum.
    zero : numpy.ndarray of bool
        Candidates in no site set worth more than the known value.
    one : numpy.ndarray of bool
        Candidates in every site set worth more than the known value.
    """

    bound: float
    zero: np.ndarray
    one: np.ndarray


def lagrangian_fixing(
    s: sparse.csr_matrix,
    p: int,
    required: np.ndarray,
    lam: np.ndarray,
    value: float,
) -> Fixing:
    """The Lagrangian bound at ``lam`` and the candidates it fixes against ``value``.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` coverage savings (every cell's entries equal its weight).
    p : int
        Sites to open, at most.
    required : numpy.ndarray of int64
        Sites that must open (never reported in ``zero``).
    lam : numpy.ndarray
        ``m`` multipliers, clipped to ``[0, w_j]`` here; any values give a valid
        bound, good ones (the LP duals) a tight one.
    value : float
        The objective of a known site set (the incumbent). A candidate goes
        into ``zero`` when every site set containing it is bounded strictly
        below ``value`` (by a relative margin of 1e-9 for rounding), into
        ``one`` when every set without it is; so no site set worth more than
        ``value`` is cut off, and the known set is never contradicted.

    Returns
    -------
    Fixing
    """
    k, m = s.shape
    a = s.copy()
    a.data[:] = 1.0
    w = np.asarray(s.max(axis=0).todense()).ravel() if m else np.zeros(0)
    lam = np.clip(np.asarray(lam, dtype=np.float64), 0.0, w)
    return _fixing(a @ lam, float(np.maximum(w - lam, 0.0).sum()), p, required, value)


def _fixing(c: np.ndarray, constant: float, p: int, required: np.ndarray, value: float) -> Fixing:
    """Bound ``constant + (p best of c)`` and the candidates it fixes against ``value``.

    Shared by both relaxations: each candidate adds its own ``c_i`` to the
    Lagrangian whatever else is chosen.
    """
    k = c.size
    chosen = _inner(c, p, required)
    bound = constant + float(c[chosen].sum())
    is_req = np.zeros(k, dtype=bool)
    is_req[required] = True
    free_in = chosen & ~is_req
    free_out = ~chosen
    # the inner choice's weakest free pick, and the best candidate it left out
    last = float(c[free_in].min()) if free_in.any() else np.inf
    nxt = float(c[free_out].max()) if free_out.any() else 0.0
    below = value - 1e-9 * max(abs(value), 1.0)
    with np.errstate(invalid="ignore"):
        zero = free_out & (bound - last + c < below)  # no free pick to swap: cannot open at all
    one = free_in & (bound - c + nxt < below)
    if not free_in.any():
        zero = free_out.copy()
    return Fixing(bound=bound, zero=zero, one=one)
