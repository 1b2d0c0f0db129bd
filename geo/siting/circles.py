"""Complete the most life circles with ``p`` new facilities of any required kinds.

A cell's circle is complete when it reaches every required facility type. A
cell already missing some types is completed only if, for each of them, one
of the new facilities of that type covers it. With options ``(j, t)``
(candidate site ``j`` opened as type ``t``), the exact model is

    maximise   sum_i w_i z_i
    subject to z_i <= sum_{j : a_ijt} x_jt     for every cell i and type t it misses
               sum_{j,t} x_jt <= p
               x binary, 0 <= z <= 1

``z`` may stay continuous: with binary ``x`` each right-hand side is an
integer, so an optimal ``z_i`` is 1 exactly when every missing type is
covered. Cells missing more than ``p`` types cannot be completed and are
left out. Solved exactly with HiGHS; :func:`enumerate_circles` checks it by
brute force on small cases.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from geo.siting.errors import SitingError
from geo.siting.milp import _new_highs

__all__ = ["CircleSiting", "complete_circles", "completed_weight", "enumerate_circles"]


@dataclass(frozen=True)
class CircleSiting:
    """The chosen options and what they complete.

    Attributes
    ----------
    chosen : list of (int, int)
        ``(candidate, type)`` pairs opened.
    objective : float
        Weight of cells newly completed.
    completed : numpy.ndarray of bool
        Cells whose circle the new facilities complete (not already complete).
    status : str
        HiGHS's model status (``"Optimal"``), or ``"enumerated"``.
    """

    chosen: list[tuple[int, int]]
    objective: float
    completed: np.ndarray
    status: str


def _check(cover: Sequence[sp.spmatrix], met: np.ndarray, weight: np.ndarray, p: int) -> list[sp.csc_matrix]:
    met = np.asarray(met, dtype=bool)
    if met.ndim != 2 or met.shape[1] != len(cover):
        raise SitingError(f"met: expected shape (cells, {len(cover)}) for {len(cover)} types, got {met.shape}")
    if weight.shape != (met.shape[0],):
        raise SitingError(f"weight: expected {met.shape[0]} values, got {weight.shape}")
    if p < 0:
        raise SitingError(f"p: must be 0 or more, got {p}")
    out = []
    for t, a in enumerate(cover):
        if a.shape[1] != met.shape[0]:
            raise SitingError(f"cover[{t}]: expected {met.shape[0]} cell columns, got {a.shape[1]}")
        out.append(sp.csc_matrix(a, dtype=bool))
    return out


def completed_weight(chosen: Sequence[tuple[int, int]], cover, met, weight) -> tuple[float, np.ndarray]:
    """Weight of cells not complete before and complete after opening ``chosen`` (and which they are)."""
    reach = np.asarray(met, dtype=bool).copy()
    for j, t in chosen:
        row = sp.csr_matrix(cover[t])[j]
        reach[row.indices, t] = True
    done = reach.all(axis=1) & ~np.asarray(met, dtype=bool).all(axis=1)
    return float(np.asarray(weight, dtype=np.float64)[done].sum()), done


def complete_circles(cover: Sequence[sp.spmatrix], met: np.ndarray, weight: np.ndarray, p: int,
                     time_limit_s: float = 60.0) -> CircleSiting:
    """Open at most ``p`` options ``(candidate, type)`` completing the largest weight of circles (exact, HiGHS).

    Parameters
    ----------
    cover : sequence of scipy.sparse matrices
        Per required type ``t``, ``cover[t][j, i]`` is true when candidate
        ``j`` opened as type ``t`` would be within reach of cell ``i``.
    met : numpy.ndarray of bool, shape (cells, types)
        Types each cell reaches already.
    weight : numpy.ndarray
        Residents per cell.
    p : int
    time_limit_s : float

    Returns
    -------
    CircleSiting
    """
    weight = np.asarray(weight, dtype=np.float64)
    met = np.asarray(met, dtype=bool)
    cover_c = _check(cover, met, weight, p)
    n_missing = (~met).sum(axis=1)
    # only cells that p facilities can complete, and that count
    live = np.flatnonzero((n_missing > 0) & (n_missing <= p) & (weight > 0))
    offsets = np.cumsum([0] + [a.shape[0] for a in cover_c])
    n_x, n_z = int(offsets[-1]), live.size
    if n_x == 0 or n_z == 0 or p == 0:
        return CircleSiting([], 0.0, np.zeros(met.shape[0], bool), "Optimal")
    rows, cols, vals, upper = [], [], [], []
    r = 0
    for k, i in enumerate(live):
        for t in np.flatnonzero(~met[i]):
            a = cover_c[t]
            js = a.indices[a.indptr[i]:a.indptr[i + 1]]  # candidates of type t reaching cell i
            rows += [r] * (js.size + 1)
            cols += [n_x + k] + (offsets[t] + js).tolist()
            vals += [1.0] + [-1.0] * js.size
            upper.append(0.0)
            r += 1
    rows += [r] * n_x
    cols += list(range(n_x))
    vals += [1.0] * n_x
    upper.append(float(p))
    a = sp.csr_matrix((vals, (rows, cols)), shape=(r + 1, n_x + n_z))
    h = _new_highs()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_x + n_z, r + 1
    lp.col_cost_ = np.concatenate([np.zeros(n_x), weight[live]])
    lp.col_lower_ = np.zeros(n_x + n_z)
    lp.col_upper_ = np.ones(n_x + n_z)
    lp.row_lower_ = np.full(r + 1, -highspy.kHighsInf)
    lp.row_upper_ = np.array(upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_x + n_z, r + 1
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_x + [highspy.HighsVarType.kContinuous] * n_z
    h.passModel(lp)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("random_seed", 0)
    h.run()
    x = np.asarray(h.getSolution().col_value[:n_x])
    picked = np.flatnonzero(x > 0.5)
    t_of = np.searchsorted(offsets, picked, side="right") - 1
    chosen = [(int(j - offsets[t]), int(t)) for j, t in zip(picked, t_of)]
    objective, done = completed_weight(chosen, cover_c, met, weight)
    return CircleSiting(chosen, objective, done, h.modelStatusToString(h.getModelStatus()))


def enumerate_circles(cover: Sequence[sp.spmatrix], met: np.ndarray, weight: np.ndarray, p: int) -> CircleSiting:
    """The same optimum by trying every set of at most ``p`` options (small cases only, for checking)."""
    weight = np.asarray(weight, dtype=np.float64)
    cover_c = _check(cover, np.asarray(met, bool), weight, p)
    options = [(j, t) for t, a in enumerate(cover_c) for j in range(a.shape[0])]
    best: tuple[float, list[tuple[int, int]]] = (0.0, [])
    for k in range(1, min(p, len(options)) + 1):
        for combo in itertools.combinations(options, k):
            value, _ = completed_weight(combo, cover_c, met, weight)
            if value > best[0] + 1e-9:
                best = (value, list(combo))
    value, done = completed_weight(best[1], cover_c, met, weight)
    return CircleSiting(best[1], value, done, "enumerated")
