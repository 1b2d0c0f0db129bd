"""Exact models for HiGHS (via ``highspy``): the MILPs and their LP relaxations.

Formulations
------------
*Savings models* (MCLP, p-median, maximal attendance) all maximise
``sum_j max_{i open} S_ij`` over at most ``p`` open candidates, where ``S`` is a
non-negative candidate-by-cell "saving" matrix (see :mod:`geo.siting.models`).
A cell whose savings are the same for every candidate that reaches it (every
MCLP cell) gets the compact coverage row ``y_j <= sum_{i in N_j} x_i``; any
other cell gets the classic strong assignment rows ``z_ij <= x_i``,
``sum_i z_ij <= 1``. Spacing conflicts are rows ``x_a + x_b <= 1``; required
sites have ``x_i >= 1``.

*Cover model* (LSCP): minimise ``sum x`` subject to every cell being covered
(``sum_{i in N_j} x_i >= 1``) or, for a partial target, ``y_j <= sum x`` and
``sum_j w_j y_j >= target``.

*Capacitated coverage*: maximise served weight ``sum w_j z_ij`` with
``sum_i z_ij <= 1``, ``sum_j w_j z_ij <= cap_i x_i``, ``z_ij <= x_i``.

Solver settings (measured, see bench/RESULTS.md)
-----------------------------------------------
HiGHS is given the heuristic's solution as a warm start (``setSolution``), so
a time-limited run never reports worse than the heuristic. On a 20,000 x
750,000 MCLP (p = 50) HiGHS's LP relaxation did not finish in 60 s and the MILP
then sat at a 98 % gap, so coverage models get the Lagrangian bound of
:mod:`geo.siting.bound` first (0.22 % gap in 14 s) and reach HiGHS only when
that gap is too wide. ``mip_heuristic_effort`` 0 / 0.05 / 0.3 made no real
difference on a 200 x 1,000 LSCP (7.3 / 7.5 / 6.6 s); what did was handing
HiGHS a smaller problem and a better start: the set-cover reductions of
:mod:`geo.siting.setcover` (187 x 771 -> 142 x 229) halved its time, and the
Lagrangian heuristic's 22-site warm start (greedy: 28) brought the whole LSCP
to about 0.3 s. For LP relaxations the dual simplex (default) beat the
interior point method on the p-median assignment form (7.8 vs 18.2 s on the
demo city, 21.8 vs 54.9 s at 2,000 x 10,000); only the much larger level form
at 2,000 x 10,000 preferred IPM (22.5 vs 109.7 s), and the MILP uses the
assignment form there anyway. So the defaults stay, with presolve on and a
fixed random seed for repeatable runs. The exception is the LP of the
coverage form, which the caller solves by primal simplex (``settings``):
0.35 s against 13 s for the dual simplex at 2,000 x 10,000, p = 50; inside
the MILP the same root LP took 14 of HiGHS's 15 s, which is why coverage
MILPs now start from columns fixed by that LP's duals. The status, objective,
``mip_dual_bound`` and ``mip_gap`` are passed on verbatim.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse

from geo.siting.budget import check_cancel
from geo.siting.problem import ModelOptions, Progress

__all__ = ["HighsOutcome", "Model", "capacitated_model", "cover_model", "run_highs", "savings_model"]

INF = highspy.kHighsInf


@dataclass(frozen=True, eq=False)
class Model:
    """A linear model in arrays, ready for HiGHS.

    The first ``n_x`` columns are the site variables ``x``.
    """

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    a: sparse.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    n_x: int
    maximize: bool
    warm_columns: np.ndarray | None = None

    def start(self, x: np.ndarray) -> np.ndarray:
        """Full column vector for a warm start from site values ``x``.

        ``warm_columns`` when set (a full feasible vector found elsewhere);
        otherwise only models with no columns besides ``x`` can do this.
        """
        if self.warm_columns is not None:
            return self.warm_columns
        if self.cost.size != self.n_x:
            raise NotImplementedError("this model needs its own warm-start builder")
        return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class HighsOutcome:
    """What HiGHS reported, verbatim.

    Attributes
    ----------
    x : numpy.ndarray
        Values of the site variables (the first ``n_x`` columns).
    values : numpy.ndarray
        Values of all columns.
    objective : float
        ``info.objective_function_value`` (nan if HiGHS found no solution).
    bound : float
        ``info.mip_dual_bound`` for a MILP, the LP optimum for a relaxation.
    solver_gap : float
        ``info.mip_gap`` (0 for an LP solved to optimality).
    status : str
        ``modelStatusToString`` of the model status, e.g. ``"Optimal"`` or
        ``"Time limit reached"``.
    seconds : float
        Wall-clock time of the run.
    row_dual : numpy.ndarray or None
        Row duals of an LP relaxation (``None`` for a MILP or without a
        solution).
    """

    x: np.ndarray
    values: np.ndarray
    objective: float
    bound: float
    solver_gap: float
    status: str
    seconds: float
    row_dual: np.ndarray | None = None


_BANNER_LOCK = threading.Lock()
_banner_done = False


def _new_highs() -> highspy.Highs:
    """A silent HiGHS instance, without the banner on the terminal.

    HiGHS prints its name and licence to C-level standard output from the
    first constructor of a process, before any option (``output_flag``) can
    be set; in the ``lifecircle site`` output it read as an error. The first
    instance is therefore made with file descriptor 1 pointed at /dev/null for
    the duration of the constructor.
    """
    global _banner_done
    with _BANNER_LOCK:
        if _banner_done:
            h = highspy.Highs()
        else:
            sys.stdout.flush()
            saved = os.dup(1)
            try:
                with open(os.devnull, "w") as null:
                    os.dup2(null.fileno(), 1)
                    h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            _banner_done = True
    h.silent()
    return h


def _interrupt_on(h: highspy.Highs, cancel) -> None:
    """Stop HiGHS (simplex, IPM and branch-and-bound alike) once ``cancel()`` is True."""

    def check(e) -> None:
        if cancel():
            e.data_in.user_interrupt = True

    for cb in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
        cb.subscribe(check)


def run_highs(
    model: Model,
    options: ModelOptions,
    integer: bool,
    warm: np.ndarray | None = None,
    progress: Progress | None = None,
    label: str = "MILP",
    settings: Mapping[str, object] | None = None,
) -> HighsOutcome:
    """Solve a :class:`Model` with HiGHS.

    Parameters
    ----------
    model : Model
    options : ModelOptions
        ``mip_rel_gap``, ``threads``, ``cancel`` and the time left before
        ``deadline`` (``time_limit_s`` without one) are used.
    integer : bool
        True: the ``x`` columns are integer (MILP); False: LP relaxation.
    warm : numpy.ndarray, optional
        A full feasible column vector passed with ``setSolution``.
    progress : callable, optional
        Called on every improved MILP incumbent.
    label : str
        Prefix of the progress messages.
    settings : mapping, optional
        Further HiGHS options (name to value), set after the defaults.

    Returns
    -------
    HighsOutcome
    """
    h = _new_highs()
    lp = highspy.HighsLp()
    n, m = model.cost.size, model.a.shape[0]
    lp.num_col_ = n
    lp.num_row_ = m
    lp.col_cost_ = model.cost
    lp.col_lower_ = model.lower
    lp.col_upper_ = model.upper
    lp.row_lower_ = model.row_lower
    lp.row_upper_ = model.row_upper
    a = model.a
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = m
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize if model.maximize else highspy.ObjSense.kMinimize
    if integer:
        kinds = np.full(n, highspy.HighsVarType.kContinuous)
        kinds[: model.n_x] = highspy.HighsVarType.kInteger
        lp.integrality_ = kinds.tolist()
    h.passModel(lp)
    # the whole run's deadline, not a fresh time_limit_s per call (a stage
    # after the MILP would otherwise push the run past its limit)
    h.setOptionValue("time_limit", max(options.time_left(), 1e-3))
    h.setOptionValue("mip_rel_gap", float(options.mip_rel_gap))
    h.setOptionValue("presolve", "on")
    h.setOptionValue("random_seed", 0)  # deterministic runs
    if options.threads > 0:
        h.setOptionValue("threads", int(options.threads))
    for name, value in (settings or {}).items():
        h.setOptionValue(name, value)
    if integer and warm is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(warm, dtype=np.float64).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    t0 = time.perf_counter()
    if options.cancel is not None:
        _interrupt_on(h, options.cancel)
    if integer and progress is not None:
        limit = max(options.time_left(), 1e-3)

        def on_improve(e) -> None:
            out = e.data_out
            progress(
                f"{label}: incumbent {out.objective_function_value:.6g}, bound {out.mip_dual_bound:.6g}",
                min(out.running_time / limit, 1.0),
            )

        h.cbMipImprovingSolution.subscribe(on_improve)
    h.run()
    check_cancel(options.cancel, label)
    seconds = time.perf_counter() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    sol = h.getSolution()
    has = info.primal_solution_status == highspy.kSolutionStatusFeasible
    values = np.asarray(sol.col_value, dtype=np.float64) if has else np.full(n, np.nan)
    x = values[: model.n_x]
    obj = float(info.objective_function_value) if has else float("nan")
    duals = None
    if integer:
        bound, gap = float(info.mip_dual_bound), float(info.mip_gap)
    else:
        bound, gap = obj, 0.0
        if info.dual_solution_status == highspy.kSolutionStatusFeasible:
            duals = np.asarray(sol.row_dual, dtype=np.float64)
    return HighsOutcome(
        x=x, values=values, objective=obj, bound=bound, solver_gap=gap, status=h.modelStatusToString(status),
        seconds=seconds, row_dual=duals,
    )


def _stack(blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_rows: int, n_cols: int) -> sparse.csr_matrix:
    r = np.concatenate([b[0] for b in blocks]) if blocks else np.empty(0, np.int64)
    c = np.concatenate([b[1] for b in blocks]) if blocks else np.empty(0, np.int64)
    v = np.concatenate([b[2] for b in blocks]) if blocks else np.empty(0)
    a = sparse.csr_matrix((v, (r, c)), shape=(n_rows, n_cols))
    a.sum_duplicates()
    return a


def _x_bounds(k: int, required: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.zeros(k)
    lo[required] = 1.0
    return lo, np.ones(k)


def _conflict_block(conflicts: np.ndarray, row0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = conflicts.shape[0]
    rows = np.repeat(np.arange(row0, row0 + c), 2)
    return rows, conflicts.ravel(), np.ones(2 * c)


class SavingsModel(Model):
    """The savings MILP; :meth:`start` turns a site vector into a full warm start."""

    def __init__(self, s: sparse.csc_matrix, single: np.ndarray, **kw) -> None:
        super().__init__(**kw)
        object.__setattr__(self, "_s", s)
        object.__setattr__(self, "_single", single)

    def cell_duals(self, row_dual: np.ndarray) -> np.ndarray:
        """Per cell of ``s``: the dual of its coverage row (0 for assignment cells).

        Sign-free (absolute values): the caller clips them to ``[0, w_j]`` as
        Lagrangian multipliers, which are valid whatever their accuracy.
        """
        lam = np.zeros(self._single.size)
        ys = np.flatnonzero(self._single)
        lam[ys] = np.abs(np.asarray(row_dual)[: ys.size])
        return lam

    def fixed(self, zero: np.ndarray, one: np.ndarray) -> SavingsModel:
        """The same model with site columns fixed: ``zero`` to 0, ``one`` to 1."""
        lower, upper = self.lower.copy(), self.upper.copy()
        upper[: self.n_x][zero] = 0.0
        lower[: self.n_x][one] = 1.0
        return SavingsModel(
            self._s, self._single, cost=self.cost, lower=lower, upper=upper, a=self.a,
            row_lower=self.row_lower, row_upper=self.row_upper, n_x=self.n_x, maximize=self.maximize,
        )

    def start(self, x: np.ndarray) -> np.ndarray:
        s, single = self._s, self._single
        k = self.n_x
        col = np.repeat(np.arange(s.shape[1]), np.diff(s.indptr))
        is_open = x[s.indices] > 0.5
        y = np.zeros(int(single.sum()))
        reached = np.bincount(col[is_open], minlength=s.shape[1]) > 0
        y[:] = reached[single]
        multi_entry = ~single[col]
        z = np.zeros(int(multi_entry.sum()))
        # each multi-level cell is assigned to its best open candidate
        e_idx = np.flatnonzero(multi_entry & is_open)
        if e_idx.size:
            order = np.lexsort((-s.data[e_idx], col[e_idx]))
            e_sorted = e_idx[order]
            first = np.ones(e_sorted.size, dtype=bool)
            first[1:] = col[e_sorted][1:] != col[e_sorted][:-1]
            pos = np.cumsum(multi_entry) - 1  # entry -> z index
            z[pos[e_sorted[first]]] = 1.0
        return np.concatenate([x[:k], y, z])


def savings_model(s: sparse.csr_matrix, p: int, required: np.ndarray, conflicts: np.ndarray) -> SavingsModel:
    """Build the savings MILP (see module notes) for ``k x m`` savings ``s``."""
    k, m = s.shape
    csc = s.tocsc()
    csc.sort_indices()
    col = np.repeat(np.arange(m), np.diff(csc.indptr))
    cmax = np.zeros(m)
    cmin = np.full(m, np.inf)
    np.maximum.at(cmax, col, csc.data)
    np.minimum.at(cmin, col, csc.data)
    single = cmax == cmin
    n_y = int(single.sum())
    multi_entry = ~single[col]
    n_z = int(multi_entry.sum())
    multi_cells = np.flatnonzero(~single & (np.diff(csc.indptr) > 0))
    blocks = []
    # coverage rows: y_j - sum_{i in N_j} x_i <= 0
    ys = np.flatnonzero(single)
    row_of_cell = np.full(m, -1)
    row_of_cell[ys] = np.arange(n_y)
    se = ~multi_entry
    blocks.append((np.arange(n_y), k + np.arange(n_y), np.ones(n_y)))
    blocks.append((row_of_cell[col[se]], csc.indices[se], -np.ones(int(se.sum()))))
    r0 = n_y
    # strong assignment rows: z_ij - x_i <= 0
    zi = np.arange(n_z)
    blocks.append((r0 + zi, k + n_y + zi, np.ones(n_z)))
    blocks.append((r0 + zi, csc.indices[multi_entry], -np.ones(n_z)))
    r0 += n_z
    # one assignment per multi-level cell: sum_i z_ij <= 1
    cell_row = np.full(m, -1)
    cell_row[multi_cells] = r0 + np.arange(multi_cells.size)
    blocks.append((cell_row[col[multi_entry]], k + n_y + zi, np.ones(n_z)))
    r0 += multi_cells.size
    # cardinality
    blocks.append((np.full(k, r0), np.arange(k), np.ones(k)))
    r0 += 1
    blocks.append(_conflict_block(conflicts, r0))
    n_rows = r0 + conflicts.shape[0]
    n_cols = k + n_y + n_z
    a = _stack(blocks, n_rows, n_cols)
    row_lower = np.full(n_rows, -INF)
    row_upper = np.zeros(n_rows)
    row_upper[n_y + n_z : n_y + n_z + multi_cells.size] = 1.0
    row_upper[r0 - 1] = float(p)
    row_upper[r0:] = 1.0
    x_lo, x_up = _x_bounds(k, required)
    cost = np.concatenate([np.zeros(k), cmax[single], csc.data[multi_entry]])
    return SavingsModel(
        csc,
        single,
        cost=cost,
        lower=np.concatenate([x_lo, np.zeros(n_y + n_z)]),
        upper=np.concatenate([x_up, np.ones(n_y + n_z)]),
        a=a,
        row_lower=row_lower,
        row_upper=row_upper,
        n_x=k,
        maximize=True,
    )


class CoverModel(Model):
    """The LSCP model; :meth:`start` adds the ``y`` values of a partial cover."""

    def __init__(self, cover: sparse.csc_matrix | None, **kw) -> None:
        super().__init__(**kw)
        object.__setattr__(self, "_cover", cover)

    def start(self, x: np.ndarray) -> np.ndarray:
        if self._cover is None:
            return x.astype(np.float64)
        reached = (self._cover.T @ (x > 0.5).astype(np.float64)) > 0
        return np.concatenate([x, reached.astype(np.float64)])


def cover_model(
    cover: sparse.csr_matrix,
    weight: np.ndarray,
    target: float | None,
    required: np.ndarray,
    conflicts: np.ndarray,
) -> CoverModel:
    """Build the LSCP model.

    Parameters
    ----------
    cover : scipy.sparse.csr_matrix
        ``k x m`` 0/1 matrix: candidate ``i`` covers cell ``j``.
    weight : numpy.ndarray
        Weight of each cell.
    target : float or None
        Weight to cover; ``None`` covers every cell (each must have a
        candidate).
    required, conflicts : numpy.ndarray
    """
    k, m = cover.shape
    b = cover.tocsc()
    b.sort_indices()
    col = np.repeat(np.arange(m), np.diff(b.indptr))
    x_lo, x_up = _x_bounds(k, required)
    if target is None:
        blocks = [(col, b.indices, np.ones(b.nnz)), _conflict_block(conflicts, m)]
        n_rows = m + conflicts.shape[0]
        a = _stack(blocks, n_rows, k)
        lo = np.concatenate([np.ones(m), np.full(conflicts.shape[0], -INF)])
        up = np.concatenate([np.full(m, INF), np.ones(conflicts.shape[0])])
        return CoverModel(None, cost=np.ones(k), lower=x_lo, upper=x_up, a=a, row_lower=lo, row_upper=up, n_x=k, maximize=False)
    blocks = [
        (np.arange(m), k + np.arange(m), np.ones(m)),
        (col, b.indices, -np.ones(b.nnz)),
        (np.full(m, m), k + np.arange(m), weight.astype(np.float64)),
        _conflict_block(conflicts, m + 1),
    ]
    n_rows = m + 1 + conflicts.shape[0]
    a = _stack(blocks, n_rows, k + m)
    lo = np.concatenate([np.full(m, -INF), [target], np.full(conflicts.shape[0], -INF)])
    up = np.concatenate([np.zeros(m), [INF], np.ones(conflicts.shape[0])])
    return CoverModel(
        b,
        cost=np.concatenate([np.ones(k), np.zeros(m)]),
        lower=np.concatenate([x_lo, np.zeros(m)]),
        upper=np.concatenate([x_up, np.ones(m)]),
        a=a,
        row_lower=lo,
        row_upper=up,
        n_x=k,
        maximize=False,
    )


def capacitated_model(
    reach: sparse.csr_matrix,
    weight: np.ndarray,
    capacity: np.ndarray,
    n_candidates: int,
    p: int,
    required: np.ndarray,
    conflicts: np.ndarray,
    fixed_open: np.ndarray | None = None,
) -> Model:
    """Build the capacitated coverage model.

    Parameters
    ----------
    reach : scipy.sparse.csr_matrix
        ``(k + e) x m`` 0/1 matrix: facility ``i`` (first the ``k`` candidates,
        then the ``e`` existing facilities kept) reaches cell ``j``.
    weight : numpy.ndarray
        Demand weight of each cell.
    capacity : numpy.ndarray
        Capacity of each of the ``k + e`` facilities.
    n_candidates : int
        ``k``; the existing facilities are always open.
    p : int
        Number of candidates to open.
    required, conflicts : numpy.ndarray
    fixed_open : numpy.ndarray, optional
        0/1 vector of the ``k`` candidates: when given, the candidates are
        fixed to it (the assignment LP of a chosen set).
    """
    f, m = reach.shape
    k = n_candidates
    r = reach.tocoo()
    fac, cell = r.row.astype(np.int64), r.col.astype(np.int64)
    nz = fac.size
    zi = np.arange(nz)
    zc = k + zi  # z columns follow the k site columns
    blocks = [
        (cell, zc, np.ones(nz)),  # rows 0..m-1: sum_i z_ij <= 1
        (m + fac, zc, weight[cell]),  # rows m..m+f-1: sum_j w_j z_ij - cap_i x_i <= 0 (candidates)
        (m + np.arange(k), np.arange(k), -capacity[:k]),
    ]
    r0 = m + f
    cand_entry = np.flatnonzero(fac < k)
    blocks.append((r0 + np.arange(cand_entry.size), zc[cand_entry], np.ones(cand_entry.size)))  # z_ij - x_i <= 0
    blocks.append((r0 + np.arange(cand_entry.size), fac[cand_entry], -np.ones(cand_entry.size)))
    r0 += cand_entry.size
    blocks.append((np.full(k, r0), np.arange(k), np.ones(k)))
    r0 += 1
    blocks.append(_conflict_block(conflicts, r0))
    n_rows = r0 + conflicts.shape[0]
    a = _stack(blocks, n_rows, k + nz)
    up = np.zeros(n_rows)
    up[:m] = 1.0
    up[m + k : m + f] = capacity[k:]  # existing facilities: plain capacity rows
    up[r0 - 1] = float(p)
    up[r0:] = 1.0
    x_lo, x_up = _x_bounds(k, required)
    if fixed_open is not None:
        x_lo = x_up = np.asarray(fixed_open, dtype=np.float64)
    return Model(
        cost=np.concatenate([np.zeros(k), weight[cell]]),
        lower=np.concatenate([x_lo, np.zeros(nz)]),
        upper=np.concatenate([x_up, np.ones(nz)]),
        a=a,
        row_lower=np.full(n_rows, -INF),
        row_upper=up,
        n_x=k,
        maximize=True,
    )
