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

import numpy as np
from scipy import sparse

from geo.siting.bound import coverage_lagrangian, lagrangian_fixing, savings_fixing, savings_lagrangian
from geo.siting.greedy import lazy_greedy, marginal_order, swap_search, value_of
from geo.siting.levels import expand_levels, level_entries
from geo.siting.milp import SavingsModel, run_highs, savings_model
from geo.siting.problem import Prepared, SiteOptions
from geo.siting.result import relative_gap
from geo.siting.shrink import Reduced, merge_cells, reduce
from geo.siting.solve import fill_sites, lp_and_milp

__all__ = ["MAX_LEVEL_ENTRIES", "PRIMAL_SIMPLEX", "solve_savings"]

MAX_LEVEL_ENTRIES = 10_000_000  # larger level expansions keep the assignment formulation (memory)


def solve_savings(s: sparse.csr_matrix, p_total: int, prep: Prepared, options: SiteOptions, label: str):
    """Pick ``p_total`` sites maximising ``sum_j max_i S_ij``; see the module notes.

    Returns ``(sites, gains, objective, bound, solver_gap, status, solver, notes)``
    in original candidate indices and savings units.
    """
    red: Reduced = reduce(s, prep.allowed, prep.required, prep.conflicts, shrink=options.shrink)
    notes = [f"{label}: solved on {red.s.shape[0]} candidates x {red.s.shape[1]} merged cells "
             f"(from {s.shape[0]} x {s.shape[1]})"]
    k_r = red.s.shape[0]
    p_r = min(p_total, k_r)
    prep.report("greedy", 0.0, options)
    sites_r, _ = lazy_greedy(red.s, p_r, red.required, red.conflicts, progress=options.progress)
    solver = "greedy"
    if options.swap and sites_r.size:
        fixed = np.zeros(k_r, dtype=bool)
        fixed[red.required] = True
        sites_r = swap_search(red.s, sites_r, fixed, red.conflicts, progress=options.progress)
        solver = "greedy+swap"
    heur = value_of(red.s, sites_r)
    status, solver_gap, solver_bound = "heuristic", None, None
    if red.s.shape[1] == 0:  # nothing to gain anywhere: every choice is optimal
        obj, bound = 0.0, 0.0
    else:
        exact = _coverage_form(red.s, options, notes)
        # Every cell at best gains its largest saving: a weak bound, but a finite
        # one. Without it a MILP stopped before its root LP reported HiGHS's
        # bound from the variable bounds alone (on the demo city's p-median, 326
        # times the objective: a lower bound of -76 billion metres walked).
        pre = float(red.s.max(axis=0).sum())
        coverage = _is_coverage(exact)
        if not coverage:
            prep.report("Lagrangian bound", 0.0, options)
            lag, lam = savings_lagrangian(red.s, p_r, red.required, heur, tol=options.mip_rel_gap / 2)
            pre = min(pre, lag)
        if coverage:
            prep.report("Lagrangian bound", 0.0, options)
            lag, lag_sites = coverage_lagrangian(exact, p_r, red.required, heur, tol=options.mip_rel_gap / 2)
            pre = min(pre, lag)
            if options.swap and lag_sites.size and not red.conflicts.size and relative_gap(heur, pre) > options.mip_rel_gap:
                # a second start for the swap search: the relaxation's own choice
                fixed = np.zeros(k_r, dtype=bool)
                fixed[red.required] = True
                alt = swap_search(red.s, lag_sites, fixed, red.conflicts)
                if value_of(red.s, alt) > heur:
                    sites_r, heur = alt, value_of(red.s, alt)
                    notes.append("best heuristic start: the Lagrangian relaxation's sites")
        # the MILP takes whichever formulation is smaller: coverage rows over the
        # levels (one entry per level member) or assignment rows (about three
        # entries per candidate-cell pair); on the demo city's p-median (about 18
        # candidates per cell) the assignment rows solved 2-4x faster
        small = exact.nnz + exact.shape[1] <= 3 * red.s.nnz
        model = savings_model(exact if small else red.s, p_r, red.required, red.conflicts)
        warm = np.zeros(k_r)
        warm[sites_r] = 1.0
        lp_done = False
        if not coverage and relative_gap(heur, pre) > options.mip_rel_gap and options.method != "greedy":
            model = _savings_fixing(model, red, p_r, lam, sites_r, heur, notes)
        if (
            small and coverage and relative_gap(heur, pre) > options.mip_rel_gap
            and (options.method != "greedy" or options.lp_bound)
        ):
            lp_bound, model = _lp_fixing(model, exact, p_r, red.required, sites_r, heur, options, prep, notes)
            if lp_bound is not None:
                pre, lp_done = min(pre, lp_bound), True
        x, obj, bound, solver_bound, solver_gap, status = lp_and_milp(
            model, warm, heur, options, prep, maximize=True, pre_bound=pre, lp_done=lp_done
        )
        if x is not None:
            sites_r = np.flatnonzero(x > 0.5)
            solver = "highs-milp"
    sites = red.cand[sites_r]
    sites, filled = fill_sites(sites, p_total, prep)
    if filled:
        notes.append("padded with zero-gain candidates (lowest index first) to reach p")
    order, gains = marginal_order(s, sites, prep.required)
    return order, gains, obj, bound, (solver_bound, solver_gap), status, solver, tuple(notes)


def _savings_fixing(
    model: SavingsModel, red: Reduced, p: int, lam: np.ndarray, sites: np.ndarray, value: float, notes: list[str]
) -> SavingsModel:
    """Close (or open) the candidates the savings Lagrangian at ``lam`` rules out against ``value``.

    The counterpart of :func:`_lp_fixing` for savings that are not coverage
    (p-median, attendance) when the level form is too large to build: on the
    demo city's p-median, 8,148 candidates, the MILP could not finish its root
    LP in 60 s. As there, the sites of the incumbent are never closed, so
    HiGHS's bound on the smaller model holds for the whole problem.
    """
    fix = savings_fixing(red.s, p, red.required, lam, value)
    known = np.zeros(model.n_x, dtype=bool)
    known[sites] = True
    zero, one = fix.zero & ~known, fix.one & known
    notes.append(f"Lagrangian bound on the savings {fix.bound:.10g}; it fixed {int(zero.sum())} candidates closed, "
                 f"{int(one.sum())} open (of {model.n_x})")
    return model.fixed(zero, one)


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
    options: SiteOptions,
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


def _coverage_form(s: sparse.csr_matrix, options: SiteOptions, notes: list[str]) -> sparse.csr_matrix:
    """The savings as a coverage matrix over cell levels, when that stays small enough.

    Same objective for every site set (see :mod:`geo.siting.levels`), so the
    Lagrangian bound and the compact coverage MILP apply to p-median and
    maximal attendance too. On the 100 x 1,000 bench p-median (p = 10) the
    assignment formulation hit a 120 s HiGHS limit; this one solved it in
    about 2 s (bench/RESULTS.md). Expansions above ``MAX_LEVEL_ENTRIES``
    are not built.
    """
    if _is_coverage(s) or level_entries(s) > MAX_LEVEL_ENTRIES:
        return s
    lv = expand_levels(s)
    if options.shrink and lv.shape[1]:
        lv, _ = merge_cells(lv)
    notes.append(f"as coverage over {lv.shape[1]} cell levels ({lv.nnz} entries)")
    return lv


def _is_coverage(s: sparse.csr_matrix) -> bool:
    """True when every cell's savings are equal across candidates (MCLP-like)."""
    csc = s.tocsc()
    col = np.repeat(np.arange(csc.shape[1]), np.diff(csc.indptr))
    top = np.zeros(csc.shape[1])
    np.maximum.at(top, col, csc.data)
    return bool(np.all(csc.data == top[col]))
