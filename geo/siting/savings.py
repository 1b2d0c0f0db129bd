"""The pipeline shared by MCLP, p-median and maximal attendance: maximise ``sum_j max_i S_ij``.

:func:`solve_savings` shrinks the savings matrix, runs the lazy greedy and the
swap search, bounds the result (Lagrangian, for p-median and attendance over
the cell levels of :mod:`geo.siting.levels`, whose own site choice is a
second swap start; then, if the gap is still open, the LP relaxation of the
coverage form whose duals fix candidates, see
:func:`geo.siting.bound.lagrangian_fixing`) and, when asked or when the gap is
too wide, runs the HiGHS MILP warm-started with the heuristic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse

from geo.siting.bound import coverage_lagrangian, lagrangian_fixing, savings_fixing, savings_lagrangian
from geo.siting.budget import TIME_LIMIT_STATUS, check_cancel
from geo.siting.greedy import lazy_greedy, marginal_order, swap_search, value_of
from geo.siting.levels import expand_levels, level_entries
from geo.siting.milp import SavingsModel, run_highs, savings_model
from geo.siting.problem import ModelOptions, Prepared
from geo.siting.result import relative_gap
from geo.siting.shrink import Reduced, merge_cells, reduce
from geo.siting.solve import fill_sites, lp_and_milp

__all__ = ["MAX_LEVEL_ENTRIES", "PRIMAL_SIMPLEX", "solve_savings"]

MAX_LEVEL_ENTRIES = 10_000_000  # larger level expansions keep the assignment formulation (memory)


def solve_savings(s: sparse.csr_matrix, p_total: int, prep: Prepared, options: ModelOptions, label: str):
    """Pick ``p_total`` sites maximising ``sum_j max_i S_ij``; see the module notes.

    ``options`` must carry its deadline (:meth:`ModelOptions.started`). A run
    the deadline cuts short keeps the best sites and bound found so far and
    reports status ``"Time limit reached"``.

    Returns ``(sites, gains, objective, bound, solver_gap, status, solver, notes)``
    in original candidate indices and savings units.
    """
    prep.report("shrinking the candidates", 0.0, options)
    red: Reduced = reduce(s, prep.allowed, prep.required, prep.conflicts, shrink=options.shrink)
    notes = [f"{label}: solved on {red.s.shape[0]} candidates x {red.s.shape[1]} merged cells "
             f"(from {s.shape[0]} x {s.shape[1]})"]
    check_cancel(options.cancel, "shrinking")
    k_r = red.s.shape[0]
    p_r = min(p_total, k_r)
    prep.report("greedy", 0.0, options)
    sites_r, _ = lazy_greedy(red.s, p_r, red.required, red.conflicts, progress=options.progress)
    solver = "greedy"
    if options.swap and sites_r.size:
        check_cancel(options.cancel, "greedy")
        sites_r = swap_search(red.s, sites_r, _fixed(red), red.conflicts, progress=options.progress,
                              deadline=options.deadline)
        solver = "greedy+swap"
    heur = value_of(red.s, sites_r)
    levels = None if red.s.shape[1] == 0 or _is_coverage(red.s) else _small_levels(red.s, options, notes)
    if red.s.shape[1] == 0:  # nothing to gain anywhere: every choice is optimal
        out = _Outcome(sites_r, 0.0, 0.0, None, None, "heuristic", solver)
    elif levels is not None or _is_coverage(red.s):
        out = _solve_coverage(red, p_r, sites_r, heur, solver, options, prep, notes, exact=levels)
    else:
        out = _solve_general(red, p_r, sites_r, heur, solver, options, prep, notes)
    status = out.status
    if status == "heuristic" and options.time_left() <= 0 and out.gap > options.mip_rel_gap:
        status = TIME_LIMIT_STATUS
        notes.append("the time limit stopped the search before the gap closed")
    sites = red.cand[out.sites]
    sites, filled = fill_sites(sites, p_total, prep)
    if filled:
        notes.append("padded with zero-gain candidates (lowest index first) to reach p")
    order, gains = marginal_order(s, sites, prep.required)
    return order, gains, out.objective, out.bound, (out.solver_bound, out.solver_gap), status, out.solver, tuple(notes)


@dataclass(frozen=True, eq=False)
class _Outcome:
    """Sites (rows of the shrunk problem) and what is known about them."""

    sites: np.ndarray
    objective: float
    bound: float
    solver_bound: float | None
    solver_gap: float | None
    status: str
    solver: str

    @property
    def gap(self) -> float:
        return relative_gap(self.objective, self.bound)


def _fixed(red: Reduced) -> np.ndarray:
    fixed = np.zeros(red.s.shape[0], dtype=bool)
    fixed[red.required] = True
    return fixed


def _trivial_bound(s: sparse.csr_matrix) -> float:
    """Every cell gains at most its largest saving.

    A weak bound, but a finite one. Without it a MILP stopped before its root
    LP reported HiGHS's bound from the variable bounds alone (on the demo
    city's p-median, 326 times the objective: a lower bound of -76 billion
    metres walked).
    """
    return float(s.max(axis=0).sum())


def _small_levels(s: sparse.csr_matrix, options: ModelOptions, notes: list[str]) -> sparse.csr_matrix | None:
    """The level (coverage) form of the savings when it is about as small as the savings themselves.

    Then p-median and attendance go the coverage way (Lagrangian over the
    levels, LP fixing, MILP): on the Guangzhou-sized p-median (20,000 x
    750,880, 2.5 candidates per cell) the levels held 610,765 entries and
    the savings Lagrangian alone stalled at 3.7 times the heuristic's
    savings. Where cells have many candidates (the demo: 100 per cell, 10 M
    level entries) the levels are not built: memory stays within three
    entries per pair in reach.
    """
    if level_entries(s) > min(MAX_LEVEL_ENTRIES, 3 * s.nnz):
        return None
    lv = expand_levels(s)
    if options.shrink and lv.shape[1]:
        lv, _ = merge_cells(lv)
    if lv.nnz + lv.shape[1] > 3 * s.nnz:
        return None
    notes.append(f"as coverage over {lv.shape[1]} cell levels ({lv.nnz} entries)")
    return lv


def _solve_coverage(red, p, sites_r, heur, solver, options, prep, notes, exact=None) -> _Outcome:
    """Coverage savings (MCLP, or others over their levels): Lagrangian bound and second start, LP fixing, MILP."""
    exact = red.s if exact is None else exact
    pre = _trivial_bound(red.s)
    prep.report("Lagrangian bound", 0.0, options)
    lag, lag_sites = coverage_lagrangian(exact, p, red.required, heur, tol=options.mip_rel_gap / 2,
                                         deadline=options.deadline)
    pre = min(pre, lag)
    if options.swap and lag_sites.size and not red.conflicts.size and relative_gap(heur, pre) > options.mip_rel_gap:
        # a second start for the swap search: the relaxation's own choice
        alt = swap_search(red.s, lag_sites, _fixed(red), red.conflicts, deadline=options.deadline)
        if value_of(red.s, alt) > heur:
            sites_r, heur = alt, value_of(red.s, alt)
            notes.append("best heuristic start: the Lagrangian relaxation's sites")
    check_cancel(options.cancel, "Lagrangian bound")
    model = savings_model(exact, p, red.required, red.conflicts)
    warm = np.zeros(red.s.shape[0])
    warm[sites_r] = 1.0
    lp_done = False
    if (
        relative_gap(heur, pre) > options.mip_rel_gap and (options.method != "greedy" or options.lp_bound)
        and options.time_left() > 0
    ):
        lp_bound, model = _lp_fixing(model, exact, p, red.required, sites_r, heur, options, prep, notes)
        if lp_bound is not None:
            pre, lp_done = min(pre, lp_bound), True
    x, obj, bound, solver_bound, solver_gap, status = lp_and_milp(
        model, warm, heur, options, prep, maximize=True, pre_bound=pre, lp_done=lp_done
    )
    if x is not None:
        sites_r, solver = np.flatnonzero(x > 0.5), "highs-milp"
    return _Outcome(sites_r, obj, bound, solver_bound, solver_gap, status, solver)


def _solve_general(red, p, sites_r, heur, solver, options, prep, notes) -> _Outcome:
    """Savings that are not coverage (p-median, attendance): Lagrangian fixing, then a small exact model.

    The savings Lagrangian (:func:`geo.siting.bound.savings_lagrangian`)
    bounds the heuristic; its multipliers then rule out every candidate that
    cannot be in a site set better than the heuristic's
    (:func:`geo.siting.bound.savings_fixing`). The exact model (LP or MILP)
    is built on the candidates left, and only their pairs: on the demo city's
    p-median 129 of 9,884 candidates remained. Its optimum is the whole
    problem's (every site set it leaves out is worse than the heuristic's
    sites, which it keeps), so HiGHS's bound on it holds for the whole
    problem.
    """
    pre = _trivial_bound(red.s)
    prep.report("Lagrangian bound", 0.0, options)
    lag, lam = savings_lagrangian(red.s, p, red.required, heur, tol=options.mip_rel_gap / 2, deadline=options.deadline)
    pre = min(pre, lag)
    check_cancel(options.cancel, "Lagrangian bound")
    closed = relative_gap(heur, pre) <= options.mip_rel_gap
    wants_model = options.method == "milp" or (not closed and (options.method != "greedy" or options.lp_bound))
    if not wants_model or options.time_left() <= 0:
        return _Outcome(sites_r, heur, pre, None, None, "heuristic", solver)
    fix = savings_fixing(red.s, p, red.required, lam, heur)
    known = np.zeros(red.s.shape[0], dtype=bool)
    known[sites_r] = True
    keep = ~fix.zero | known
    sub = reduce(red.s, keep, red.required, red.conflicts, shrink=options.shrink, keep=known)
    notes.append(f"Lagrangian bound on the savings {fix.bound:.10g}; it ruled out {int((~keep).sum())} of "
                 f"{keep.size} candidates; exact model on {sub.s.shape[0]} x {sub.s.shape[1]}")
    if options.time_left() <= 0:
        return _Outcome(sites_r, heur, pre, None, None, "heuristic", solver)
    pos = np.full(red.s.shape[0], -1, dtype=np.int64)
    pos[sub.cand] = np.arange(sub.cand.size)
    form = _exact_form(sub.s, options, notes)
    model = savings_model(form, p, sub.required, sub.conflicts)
    one = np.zeros(sub.cand.size, dtype=bool)
    one[pos[np.flatnonzero(fix.one & known)]] = True
    model = model.fixed(np.zeros(sub.cand.size, dtype=bool), one)
    warm = np.zeros(sub.cand.size)
    warm[pos[sites_r]] = 1.0
    if sub.conflicts.size and options.method != "greedy":
        free = _without_spacing(form, p, sub, one, warm, heur, options, prep, notes)
        if free is not None and free.status == "Optimal":
            return replace(free, sites=sub.cand[free.sites])
        if free is not None:
            pre = min(pre, free.bound)
    x, obj, bound, solver_bound, solver_gap, status = lp_and_milp(
        model, warm, heur, options, prep, maximize=True, pre_bound=pre
    )
    if x is not None:
        sites_r, solver = sub.cand[np.flatnonzero(x > 0.5)], "highs-milp"
    return _Outcome(sites_r, obj, bound, solver_bound, solver_gap, status, solver)


def _without_spacing(form, p, sub, one, warm, heur, options, prep, notes) -> _Outcome | None:
    """The exact model without the spacing rows: often its optimum keeps the spacing anyway.

    Dropping rows only raises the optimum, so HiGHS's bound on this model
    bounds the spaced problem too; and an optimum that happens to keep every
    spacing pair apart is the spaced problem's optimum. On the demo city's
    p-median (500 m spacing, 4,778 conflicting pairs among the 163 candidates
    left) this took 0.4 s where the model with the pairs took 3.5-10 s.

    Returns
    -------
    _Outcome or None
        With status ``"Optimal"`` only when the optimum keeps the spacing
        (sites in rows of ``sub``); otherwise its bound is the useful part.
        ``None`` when HiGHS found nothing.
    """
    model = savings_model(form, p, sub.required, sub.conflicts[:0]).fixed(np.zeros(one.size, dtype=bool), one)
    prep.report("MILP without the spacing rule", 0.0, options)
    # half the time left at most: the spaced model may still be needed
    half = replace(options, deadline=time.perf_counter() + options.time_left() / 2)
    out = run_highs(model, half, integer=True, warm=model.start(warm), progress=options.progress)
    if not np.isfinite(out.bound):
        return None
    sites = np.flatnonzero(out.x > 0.5) if np.isfinite(out.objective) else np.empty(0, dtype=np.int64)
    chosen = np.zeros(one.size, dtype=bool)
    chosen[sites] = True
    spaced = sites.size > 0 and not (chosen[sub.conflicts[:, 0]] & chosen[sub.conflicts[:, 1]]).any()
    if out.status == "Optimal" and spaced and out.objective >= heur:
        notes.append("the optimum without the spacing rule keeps the spacing: it is the optimum")
        return _Outcome(sites, out.objective, max(out.bound, out.objective), out.bound, out.solver_gap, out.status,
                        "highs-milp")
    notes.append(f"without the spacing rule: bound {out.bound:.10g} ({out.status})")
    return _Outcome(sites, out.objective, out.bound, out.bound, out.solver_gap, "relaxed", "highs-milp")


def _exact_form(s: sparse.csr_matrix, options: ModelOptions, notes: list[str]) -> sparse.csr_matrix:
    """The smaller of the level (coverage) form and the savings themselves, for :func:`savings_model`.

    Coverage rows over the levels take one entry per level member, assignment
    rows about three per candidate-cell pair; on the demo city's p-median
    (about 18 candidates per cell) the assignment rows solved 2-4x faster, on
    the 100 x 1,000 bench p-median the level form 60x. Expansions above
    ``MAX_LEVEL_ENTRIES`` are not built (memory).
    """
    if level_entries(s) > MAX_LEVEL_ENTRIES:
        return s
    lv = expand_levels(s)
    if options.shrink and lv.shape[1]:
        lv, _ = merge_cells(lv)
    notes.append(f"as coverage over {lv.shape[1]} cell levels ({lv.nnz} entries)")
    return lv if lv.nnz + lv.shape[1] <= 3 * s.nnz else s


# Primal simplex for the coverage LP: at 2,000 x 10,000 (p = 50) 0.35 s against
# 13 s for HiGHS's default dual simplex and 1.1 s for IPM; 500 x 5,000: 0.21 vs 1.09 s
PRIMAL_SIMPLEX = {"solver": "simplex", "simplex_strategy": 4}


def _lp_fixing(
    model: SavingsModel,
    exact: sparse.csr_matrix,
    p: int,
    required: np.ndarray,
    sites: np.ndarray,
    value: float,
    options: ModelOptions,
    prep: Prepared,
    notes: list[str],
) -> tuple[float | None, SavingsModel]:
    """LP relaxation of a coverage model, its duals as Lagrangian multipliers.

    The multipliers give the LP bound (:func:`geo.siting.bound.lagrangian_fixing`
    recomputes it from them, so it is valid however accurate the duals are)
    and fix the candidates that cannot be in, or missing from, any site set
    better than ``sites`` (worth ``value``). The MILP then starts from a model
    with those columns fixed: HiGHS's bound on it holds for the whole problem,
    since every site set it excludes is worth less than ``sites``, which it
    keeps.

    Returns
    -------
    bound : float or None
        ``None`` when HiGHS gave no dual solution (the model is returned as is).
    model : SavingsModel
    """
    prep.report("LP relaxation", 0.0, options)
    lp = run_highs(model, options, integer=False, settings=PRIMAL_SIMPLEX)
    if lp.row_dual is None:
        return None, model
    fix = lagrangian_fixing(exact, p, required, model.cell_duals(lp.row_dual), value)
    known = np.zeros(model.n_x, dtype=bool)
    known[sites] = True
    zero, one = fix.zero & ~known, fix.one & known  # a no-op in exact arithmetic
    notes.append(f"LP bound on the savings {fix.bound:.10g}; its reduced costs fixed {int(zero.sum())} candidates closed, "
                 f"{int(one.sum())} open (of {model.n_x})")
    return fix.bound, model.fixed(zero, one)


def _is_coverage(s: sparse.csr_matrix) -> bool:
    """True when every cell's savings are equal across candidates (MCLP-like)."""
    csc = s.tocsc()
    col = np.repeat(np.arange(csc.shape[1]), np.diff(csc.indptr))
    top = np.zeros(csc.shape[1])
    np.maximum.at(top, col, csc.data)
    return bool(np.all(csc.data == top[col]))
