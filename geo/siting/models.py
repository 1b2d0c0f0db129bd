"""The siting models planners ask for, on top of the savings core.

MCLP, p-median and maximal attendance are one problem in disguise: pick ``p``
sites maximising ``sum_j max_{i open} S_ij``, where ``S_ij >= 0`` is what
opening candidate ``i`` adds for cell ``j`` on top of what the facilities that
stay already give it:

* MCLP: ``S_ij = w_j`` if ``d_ij <= reach`` and no kept facility reaches ``j``.
* p-median: ``S_ij = w_j * max(0, c_j - d_ij)`` with ``c_j`` the distance to the
  nearest kept facility, capped at the penalty distance (default: the reach;
  the matrix knows nothing beyond it, so an unreached cell counts as if it
  were exactly at the reach: the smallest distance consistent with being out
  of reach, which makes the objective a lower bound on the true total).
* Maximal attendance: each cell attends its nearest open facility (existing or
  new) with probability ``f(d)``, ``f`` decaying with walking distance
  (``"exponential"``: ``0.5 ** (d / half_distance_m)``; ``"linear"``:
  ``1 - d / reach``), and ``f = 0`` beyond the reach. Expected use is
  ``sum_j w_j f(d_j)``; because ``f`` falls with distance, the nearest open
  facility is also the decay-weighted best, so
  ``S_ij = max(0, w_j f(d_ij) - w_j f(c_j))``.

Each is solved by the pipeline in :func:`_solve_savings`: shrink, lazy greedy
+ swap, the Lagrangian bound (for p-median and attendance over the cell levels
of :mod:`geo.siting.levels`) whose own site choice is a second swap start;
if that leaves the gap open, the LP relaxation of the coverage form (primal
simplex), whose duals give the LP bound and fix the candidates that cannot
beat the heuristic (:func:`geo.siting.bound.lagrangian_fixing`); the LP bound
alone when there is no Lagrangian one; then (if asked or if the gap is too
wide) HiGHS MILP warm-started with the heuristic. Full-coverage LSCP goes
through :mod:`geo.siting.setcover` first.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
from scipy import sparse

from geo.grouping import concat_ranges
from geo.siting.bound import coverage_lagrangian, lagrangian_fixing, savings_fixing, savings_lagrangian
from geo.siting.errors import SitingError
from geo.siting.greedy import (
    greedy_cover,
    lazy_greedy,
    marginal_order,
    swap_search,
    value_of,
)
from geo.siting.levels import expand_levels, level_entries
from geo.siting.milp import (
    SavingsModel,
    capacitated_model,
    cover_model,
    run_highs,
    savings_model,
)
from geo.siting.problem import Prepared, SiteOptions, SitingInput, prepare
from geo.siting.result import SitingResult, relative_gap
from geo.siting.setcover import (
    drop_redundant,
    lagrangian_cover,
    reduce_cover,
    weighted_local_search,
)
from geo.siting.shrink import Reduced, merge_cells, reduce

__all__ = ["DECAYS", "capacitated_coverage", "lscp", "max_attendance", "mclp", "p_median"]

DECAYS = ("exponential", "linear")
_TOL = 1e-9  # relative tolerance for "target reached" with float sums
MAX_LEVEL_ENTRIES = 10_000_000  # larger level expansions keep the assignment formulation (memory)


# ----------------------------------------------------------------- helpers
def _min_dist(existing: sparse.csr_matrix | None, rows: np.ndarray, extra: np.ndarray | None, m: int) -> np.ndarray:
    """Per-cell distance to the nearest of ``rows`` of ``existing`` and ``extra``."""
    d = np.full(m, np.inf) if extra is None else extra.copy()
    if existing is not None and rows.size:
        sub = existing[rows].tocoo()
        np.minimum.at(d, sub.col, sub.data)
    return d


def _kept(inp: SitingInput, removed: np.ndarray) -> np.ndarray:
    keep = np.ones(inp.n_existing, dtype=bool)
    keep[removed] = False
    return np.flatnonzero(keep)


def _base_dist(inp: SitingInput, prep: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Nearest distance to facilities before any change and after the removals."""
    m = inp.n_cells
    before = _min_dist(inp.existing, np.arange(inp.n_existing), inp.existing_dist, m)
    after = _min_dist(inp.existing, _kept(inp, prep.removed), inp.existing_dist, m)
    return before, after


def _nearest_new(inp: SitingInput, sites: np.ndarray) -> np.ndarray:
    return _min_dist(inp.matrix, np.asarray(sites, dtype=np.int64), None, inp.n_cells)


def _in_reach(inp: SitingInput) -> sparse.csr_matrix:
    """The candidate matrix with entries beyond the reach dropped."""
    mat = inp.matrix.copy()
    mat.data[mat.data > inp.reach_m] = 0.0
    mat.eliminate_zeros()
    return mat


def _binary(mat: sparse.csr_matrix) -> sparse.csr_matrix:
    b = mat.copy()
    b.data[:] = 1.0
    return b


def _check_reach(inp: SitingInput, prep: Prepared) -> sparse.csr_matrix:
    mat = _in_reach(inp)
    if mat[np.flatnonzero(prep.allowed)].nnz == 0:
        raise SitingError(f"no allowed candidate is within {inp.reach_m:g} m of any demand cell")
    return mat


def _fill(sites: np.ndarray, total: int, prep: Prepared) -> tuple[np.ndarray, bool]:
    """Pad a site list to ``total`` with the lowest-index allowed, non-conflicting candidates."""
    sites = [int(i) for i in sites]
    if len(sites) >= total:
        return np.asarray(sites, dtype=np.int64), False
    blocked = ~prep.allowed.copy()
    blocked[sites] = True
    for a, b in prep.conflicts:
        if a in sites or b in sites:
            blocked[a] = blocked[b] = True
    for i in np.flatnonzero(~blocked):
        if len(sites) >= total:
            break
        if blocked[i]:
            continue
        sites.append(int(i))
        blocked[i] = True
        for a, b in prep.conflicts[(prep.conflicts[:, 0] == i) | (prep.conflicts[:, 1] == i)]:
            blocked[a] = blocked[b] = True
    if len(sites) < total:
        raise SitingError(
            f"the spacing rule leaves room for only {len(sites)} of the {total} sites asked for"
        )
    return np.asarray(sites, dtype=np.int64), True


def _lp_and_milp(
    model,
    warm_x: np.ndarray,
    heur_obj: float,
    options: SiteOptions,
    prep: Prepared,
    maximize: bool,
    round_bound: bool = False,
    pre_bound: float | None = None,
    lp_done: bool = False,
):
    """Bound the heuristic, then run the MILP when asked or when its gap is too wide.

    The bound is ``pre_bound`` (e.g. Lagrangian) when that already closes the
    gap, else the better of it and the LP relaxation (not solved again when
    ``lp_done``: ``pre_bound`` already holds it).

    Returns ``(x or None, objective, bound, solver_bound, solver_gap, status)``;
    ``x`` is set when the MILP's sites should replace the heuristic's.
    """
    worst = np.inf if maximize else 0.0
    bound = worst if pre_bound is None else pre_bound
    better_bound = min if maximize else max
    closed = relative_gap(heur_obj, bound) <= options.mip_rel_gap
    # with a Lagrangian bound at hand, a MILP run solves the LP at its root
    # anyway: a separate LP first only cost time (60 s on a 2,000 x 10,000 MCLP)
    want_lp = not lp_done and (options.lp_bound if options.method == "greedy" else pre_bound is None)
    if not closed and want_lp:
        prep.report("LP relaxation", 0.0, options)
        lp = run_highs(model, options, integer=False)
        if lp.status == "Optimal":
            lp_bound = float(np.ceil(lp.objective - 1e-6)) if round_bound else lp.objective
            bound = better_bound(bound, lp_bound)
    gap = relative_gap(heur_obj, bound)
    if options.method == "greedy" or (options.method == "auto" and gap <= options.mip_rel_gap):
        return None, heur_obj, bound, None, None, "heuristic"
    prep.report("MILP", 0.0, options)
    out = run_highs(model, options, integer=True, warm=model.start(warm_x), progress=options.progress)
    if not np.isfinite(out.objective):
        if out.status == "Infeasible":
            raise SitingError("the problem is infeasible with these options (required sites, spacing, target)")
        return None, heur_obj, bound, out.bound, out.solver_gap, out.status
    improved = out.objective > heur_obj if maximize else out.objective < heur_obj
    x = out.x if improved or out.status == "Optimal" else None
    obj = out.objective if x is not None else heur_obj
    return x, obj, better_bound(bound, out.bound), out.bound, out.solver_gap, out.status


def _solve_savings(s: sparse.csr_matrix, p_total: int, prep: Prepared, options: SiteOptions, label: str):
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
        x, obj, bound, solver_bound, solver_gap, status = _lp_and_milp(
            model, warm, heur, options, prep, maximize=True, pre_bound=pre, lp_done=lp_done
        )
        if x is not None:
            sites_r = np.flatnonzero(x > 0.5)
            solver = "highs-milp"
    sites = red.cand[sites_r]
    sites, filled = _fill(sites, p_total, prep)
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


def _covered(dist: np.ndarray, w: np.ndarray, reach: float) -> float:
    return float(w[dist <= reach].sum())


def _result(problem, inp, prep, before, after, t0, **kw) -> SitingResult:
    return SitingResult(
        problem=problem,
        covered_before=_covered(before, inp.weights, inp.reach_m),
        covered_after=_covered(after, inp.weights, inp.reach_m),
        removed_existing=prep.removed,
        seconds=time.perf_counter() - t0,
        **kw,
    )


def _unreachable(inp: SitingInput, prep: Prepared, mat: sparse.csr_matrix, base_after: np.ndarray) -> float:
    reach = np.zeros(inp.n_cells, dtype=bool)
    reach[mat[np.flatnonzero(prep.allowed)].indices] = True
    reach |= base_after <= inp.reach_m
    return float(inp.weights[~reach].sum())


# ------------------------------------------------------------------ models
def mclp(inp: SitingInput, p: int, options: SiteOptions = SiteOptions()) -> SitingResult:
    """Maximal covering: ``p`` new sites covering the most not-yet-covered weight.

    Parameters
    ----------
    inp : SitingInput
    p : int
        New sites to open (required ones included; relocations add one each).
    options : SiteOptions

    Returns
    -------
    SitingResult
        ``objective`` is the weight newly covered.

    Raises
    ------
    SitingError
        See :func:`geo.siting.problem.prepare`; also when no candidate reaches
        any cell.
    """
    t0 = time.perf_counter()
    prep = prepare(inp, options, p)
    mat = _check_reach(inp, prep)
    before, base = _base_dist(inp, prep)
    open_cell = (base > inp.reach_m).astype(np.float64)
    s = sparse.csr_matrix(_binary(mat).multiply((inp.weights * open_cell)[None, :]))
    s.eliminate_zeros()
    sites, gains, obj, bound, sg, status, solver, notes = _solve_savings(s, p + prep.extra_sites, prep, options, "mclp")
    after = np.minimum(base, _nearest_new(inp, sites))
    return _result(
        "mclp", inp, prep, before, after, t0, sites=sites, gains=gains, objective=obj, bound=bound,
        gap=relative_gap(obj, bound), solver_bound=sg[0], solver_gap=sg[1], status=status, solver=solver, objective_before=0.0,
        unreachable_weight=_unreachable(inp, prep, mat, base), notes=notes,
    )


def p_median(
    inp: SitingInput,
    p: int,
    options: SiteOptions = SiteOptions(),
    penalty_m: float | None = None,
) -> SitingResult:
    """p-median: ``p`` new sites minimising total weight x walking distance.

    Every cell walks to its nearest open facility (kept existing or new).
    Walking time is distance over a constant speed, so minimising weighted
    distance minimises weighted time.

    Parameters
    ----------
    inp : SitingInput
    p : int
    options : SiteOptions
    penalty_m : float, optional
        Distance charged to a cell no open facility reaches within the matrix;
        must be ``>= reach_m``. Default ``reach_m`` (see the module notes).

    Returns
    -------
    SitingResult
        ``objective`` and ``objective_before`` in weight x metres.
    """
    t0 = time.perf_counter()
    penalty = inp.reach_m if penalty_m is None else float(penalty_m)
    if not (np.isfinite(penalty) and penalty >= inp.reach_m):
        raise SitingError(f"penalty_m must be a finite distance >= reach_m ({inp.reach_m:g}), got {penalty_m!r}")
    prep = prepare(inp, options, p)
    mat = _check_reach(inp, prep)
    before, base = _base_dist(inp, prep)
    cap = np.minimum(base, penalty)
    coo = mat.tocoo()
    sav = inp.weights[coo.col] * np.maximum(cap[coo.col] - coo.data, 0.0)
    s = sparse.csr_matrix((sav, (coo.row, coo.col)), shape=mat.shape)
    s.eliminate_zeros()
    total = float((inp.weights * cap).sum())
    sites, gains, saved, saved_bound, sg, status, solver, notes = _solve_savings(s, p + prep.extra_sites, prep, options, "p_median")
    obj = total - saved
    bound = total - saved_bound if np.isfinite(saved_bound) else 0.0
    after = np.minimum(base, _nearest_new(inp, sites))
    return _result(
        "p_median", inp, prep, before, after, t0, sites=sites, gains=gains, objective=obj, bound=bound,
        gap=relative_gap(obj, bound), solver_bound=sg[0], solver_gap=sg[1], status=status, solver=solver,
        objective_before=float((inp.weights * np.minimum(before, penalty)).sum()),
        unreachable_weight=_unreachable(inp, prep, mat, base), notes=notes + (f"penalty distance {penalty:g} m",),
    )


def decay_value(d: np.ndarray, reach_m: float, decay: str, half_distance_m: float | None) -> np.ndarray:
    """Share of demand attending a facility at walking distance ``d`` (0 beyond reach).

    Parameters
    ----------
    d : numpy.ndarray
        Distances in metres (``inf`` allowed).
    reach_m : float
    decay : {"exponential", "linear"}
    half_distance_m : float, optional
        Exponential only: distance at which attendance halves (default
        ``reach_m / 2``).
    """
    d = np.asarray(d, dtype=np.float64)
    if decay == "linear":
        f = 1.0 - d / reach_m
    elif decay == "exponential":
        half = reach_m / 2 if half_distance_m is None else half_distance_m
        if not (np.isfinite(half) and half > 0):
            raise SitingError(f"half_distance_m must be positive, got {half_distance_m!r}")
        f = np.power(0.5, d / half)
    else:
        raise SitingError(f"decay must be one of {DECAYS}, got {decay!r}")
    return np.where(d <= reach_m, np.maximum(f, 0.0), 0.0)


def max_attendance(
    inp: SitingInput,
    p: int,
    options: SiteOptions = SiteOptions(),
    decay: str = "exponential",
    half_distance_m: float | None = None,
) -> SitingResult:
    """Maximal attendance: ``p`` new sites maximising expected use.

    See the module notes for the model: each cell attends its nearest open
    facility with a probability decaying with walking distance.

    Parameters
    ----------
    inp : SitingInput
    p : int
    options : SiteOptions
    decay : {"exponential", "linear"}
    half_distance_m : float, optional
        For ``"exponential"``; default ``reach_m / 2``.

    Returns
    -------
    SitingResult
        ``objective`` is the total expected attendance after the change.
    """
    t0 = time.perf_counter()
    decay_value(np.zeros(1), inp.reach_m, decay, half_distance_m)  # validate early
    prep = prepare(inp, options, p)
    mat = _check_reach(inp, prep)
    before, base = _base_dist(inp, prep)
    w = inp.weights
    base_val = w * decay_value(base, inp.reach_m, decay, half_distance_m)
    coo = mat.tocoo()
    val = w[coo.col] * decay_value(coo.data, inp.reach_m, decay, half_distance_m)
    s = sparse.csr_matrix((np.maximum(val - base_val[coo.col], 0.0), (coo.row, coo.col)), shape=mat.shape)
    s.eliminate_zeros()
    sites, gains, gained, gain_bound, sg, status, solver, notes = _solve_savings(s, p + prep.extra_sites, prep, options, "attendance")
    start = float(base_val.sum())
    after = np.minimum(base, _nearest_new(inp, sites))
    return _result(
        "attendance", inp, prep, before, after, t0, sites=sites, gains=gains, objective=start + gained,
        bound=start + gain_bound, gap=relative_gap(start + gained, start + gain_bound), solver_bound=sg[0], solver_gap=sg[1],
        status=status, solver=solver,
        objective_before=float((w * decay_value(before, inp.reach_m, decay, half_distance_m)).sum()),
        unreachable_weight=_unreachable(inp, prep, mat, base), notes=notes + (f"decay {decay}",),
    )


def lscp(inp: SitingInput, coverage: float = 1.0, options: SiteOptions = SiteOptions()) -> SitingResult:
    """Location set covering: fewest new sites so the standard is met.

    Parameters
    ----------
    inp : SitingInput
    coverage : float, default 1.0
        Share of the *reachable* weight (weight that a kept facility or an
        allowed candidate can reach) that must be within reach afterwards.
    options : SiteOptions

    Returns
    -------
    SitingResult
        ``objective`` is the number of new sites (required ones included);
        ``unreachable_weight`` the weight no candidate or kept facility reaches.

    Raises
    ------
    SitingError
        For ``coverage`` outside ``(0, 1]`` or a target the options make
        unreachable.
    """
    t0 = time.perf_counter()
    if not (0 < coverage <= 1):
        raise SitingError(f"coverage must be in (0, 1], got {coverage!r}")
    prep = prepare(inp, options, None)
    mat = _check_reach(inp, prep)
    before, base = _base_dist(inp, prep)
    w = inp.weights
    covered0 = base <= inp.reach_m
    unreachable = _unreachable(inp, prep, mat, base)
    reachable_total = float(w.sum()) - unreachable
    need = coverage * reachable_total - float(w[covered0].sum())
    s = sparse.csr_matrix(_binary(mat).multiply((w * ~covered0)[None, :]))
    s.eliminate_zeros()
    red = reduce(s, prep.allowed, prep.required, prep.conflicts, shrink=options.shrink)
    notes = [f"lscp: solved on {red.s.shape[0]} candidates x {red.s.shape[1]} merged cells"]
    sites_r = red.required.copy()
    obj, bound, sg, status, solver = float(sites_r.size), float(sites_r.size), (None, None), "heuristic", "greedy"
    full = coverage >= 1.0
    if need > _TOL * max(reachable_total, 1.0) and red.s.shape[1] and coverage >= 1.0 and not red.conflicts.size:
        sites_r, bound, sg, status, solver, extra = _full_cover(red, options, prep)
        notes.extend(extra)
    elif need > _TOL * max(reachable_total, 1.0) and red.s.shape[1]:
        target = float(red.s.max(axis=0).sum()) if full else need
        sites_r = greedy_cover(red.s, target * (1 - _TOL), red.required, red.conflicts, progress=options.progress)
        reached = value_of(red.s, sites_r) >= target * (1 - _TOL)
        cover = red.s.copy()
        cover.data[:] = 1.0
        weight = np.asarray(red.s.max(axis=0).todense()).ravel()
        model = cover_model(cover, weight, None if full else need * (1 - _TOL), red.required, red.conflicts)
        warm = np.zeros(red.s.shape[0])
        warm[sites_r] = 1.0
        heur = float(sites_r.size) if reached else np.inf
        if not reached and options.method == "greedy":
            raise SitingError("the greedy could not reach the coverage target under the spacing rule; try method='milp'")
        x, obj, bound, sb, sgap, status = _lp_and_milp(
            model, warm, heur, options if reached else _force_milp(options), prep, maximize=False, round_bound=True
        )
        sg = (sb, sgap)
        if x is not None:
            sites_r = np.flatnonzero(x > 0.5)
            solver = "highs-milp"
        elif not reached:
            raise SitingError(f"no solution reaches the coverage target (HiGHS: {status})")
    sites = red.cand[sites_r]
    order, gains = marginal_order(s, sites, prep.required)
    after = np.minimum(base, _nearest_new(inp, order))
    obj = float(order.size)
    return _result(
        "lscp", inp, prep, before, after, t0, sites=order, gains=gains, objective=obj, bound=bound,
        gap=relative_gap(obj, bound), solver_bound=sg[0], solver_gap=sg[1], status=status, solver=solver, objective_before=0.0,
        unreachable_weight=unreachable, notes=tuple(notes),
    )


def _full_cover(red: Reduced, options: SiteOptions, prep: Prepared):
    """Fewest sites covering every cell of ``red``: see :mod:`geo.siting.setcover`.

    Returns ``(sites, bound, (solver_bound, solver_gap), status, solver, notes)``
    with sites in ``red``'s row positions.
    """
    core = reduce_cover(red.s, red.required)
    notes = [
        f"lscp core after set-cover reductions: {core.b.shape[0]} candidates x {core.b.shape[1]} cells, "
        f"{core.fixed.size} sites forced"
    ]
    if core.b.shape[1] == 0:
        return core.fixed, float(core.fixed.size), (None, None), "heuristic", "greedy", notes
    prep.report("greedy", 0.0, options)
    none = np.empty(0, dtype=np.int64)
    greedy = greedy_cover(core.b, core.b.shape[1] * (1 - _TOL), none, np.empty((0, 2), dtype=np.int64))
    greedy = drop_redundant(core.b, greedy)
    prep.report("Lagrangian bound", 0.0, options)
    lag, best = lagrangian_cover(core.b, greedy)
    lower = float(np.ceil(lag - 1e-6))
    status, solver, sg = "heuristic", "greedy+lagrangian", (None, None)
    if lower < best.size:
        prep.report("local search", 0.0, options)
        found = weighted_local_search(core.b, best, lower=int(lower))
        if found.size < best.size:
            notes.append(f"weighted local search: {best.size} -> {found.size} sites on the core")
            best, solver = found, "greedy+lagrangian+local search"
    if lower < best.size and options.method != "greedy":
        model = cover_model(core.b, np.ones(core.b.shape[1]), None, none, np.empty((0, 2), dtype=np.int64))
        warm = np.zeros(core.b.shape[0])
        warm[best] = 1.0
        prep.report("MILP", 0.0, options)
        out = run_highs(model, options, integer=True, warm=model.start(warm), progress=options.progress)
        sg = (None if not np.isfinite(out.bound) else out.bound + core.fixed.size, out.solver_gap)
        status = out.status
        if np.isfinite(out.objective) and out.objective < best.size - 0.5:
            best, solver = np.flatnonzero(out.x > 0.5), "highs-milp"
        if np.isfinite(out.bound):
            lower = max(lower, float(np.ceil(out.bound - 1e-6)))
    sites = np.concatenate([core.fixed, core.cand[best]])
    return sites, lower + core.fixed.size, sg, status, solver, notes


def _force_milp(options: SiteOptions) -> SiteOptions:
    return replace(options, method="milp")


def _capacity_greedy(
    reach: sparse.csr_matrix, residual: np.ndarray, capacity: np.ndarray, p: int, prep: Prepared
) -> np.ndarray:
    """Greedy for the capacitated model on residual demand.

    Each pick is the allowed candidate able to serve the most unserved demand
    within reach (``min(capacity, reachable residual)``, ties to the lowest
    index); it then takes its nearest residual demand up to its capacity.
    """
    residual = residual.copy()
    blocked = ~prep.allowed.copy()
    sites: list[int] = []

    def take(i: int) -> None:
        lo, hi = reach.indptr[i], reach.indptr[i + 1]
        cells, d = reach.indices[lo:hi], reach.data[lo:hi]
        left = capacity[i]
        for j in cells[np.argsort(d, kind="stable")]:
            use = min(left, residual[j])
            residual[j] -= use
            left -= use
            if left <= 0:
                break
        sites.append(i)
        blocked[i] = True
        for a, b in prep.conflicts[(prep.conflicts[:, 0] == i) | (prep.conflicts[:, 1] == i)]:
            blocked[a] = blocked[b] = True

    for i in prep.required:
        take(int(i))
    binary = reach.copy()
    binary.data[:] = 1.0
    while len(sites) < p:
        gain = np.minimum(capacity, binary @ residual)
        gain[blocked] = -1.0
        i = int(np.argmax(gain))
        if gain[i] < 0:
            break
        take(i)
    return np.asarray(sites, dtype=np.int64)


def capacitated_coverage(inp: SitingInput, p: int, options: SiteOptions = SiteOptions()) -> SitingResult:
    """Capacitated coverage: ``p`` new sites maximising demand served within capacity.

    Demand within reach of a facility may be assigned to it (split between
    facilities if needed) as long as no facility serves more than its
    capacity; existing facilities keep theirs. Cells within reach of
    ``existing_dist`` facilities (outside the model, no capacity) count as
    served and need nothing more.

    Parameters
    ----------
    inp : SitingInput
        Needs ``candidate_capacity`` (and ``existing_capacity`` when there are
        existing facilities).
    p : int
    options : SiteOptions
        ``shrink`` and ``swap`` do not apply (capacities break both).

    Returns
    -------
    SitingResult
        ``objective`` is the total served weight; ``covered_before/after`` the
        served weight before and after; ``gains`` come from re-solving the
        assignment LP on growing prefixes of the site list.
    """
    t0 = time.perf_counter()
    if inp.candidate_capacity is None:
        raise SitingError("capacitated_coverage needs candidate_capacity")
    if inp.n_existing and inp.existing_capacity is None:
        raise SitingError("capacitated_coverage needs existing_capacity for the existing facilities")
    prep = prepare(inp, options, p)
    mat = _check_reach(inp, prep)
    p_total = p + prep.extra_sites
    k, m = inp.n_candidates, inp.n_cells
    w = inp.weights
    outside = inp.existing_dist <= inp.reach_m if inp.existing_dist is not None else np.zeros(m, dtype=bool)
    demand = np.where(outside, 0.0, w)
    free = float(w[outside].sum())
    ex_all = inp.existing if inp.existing is not None else sparse.csr_matrix((0, m))
    ex_in = ex_all.copy()
    ex_in.data[ex_in.data > inp.reach_m] = 0.0
    ex_in.eliminate_zeros()
    cand = sparse.csr_matrix(mat.multiply(prep.allowed[:, None].astype(np.float64)))
    ex_cap = inp.existing_capacity if inp.existing_capacity is not None else np.zeros(0)

    def served(rows: np.ndarray, sites) -> tuple[float, np.ndarray, np.ndarray]:
        """The assignment LP with exactly ``sites`` and the existing ``rows`` open.

        Built on the open facilities only (a model over every candidate, fixed
        to 0 or 1, took ~10 s per call on the demo city's 9,884 candidates).
        Returns the served weight, each cell's assigned share, and the
        assignment ``z`` of the open facilities' pairs, row by row.
        """
        sites = np.asarray(sites, dtype=np.int64)
        open_reach = sparse.vstack([cand[sites], ex_in[rows]]).tocsr()
        open_reach.data[:] = 1.0
        cap = np.concatenate([inp.candidate_capacity[sites], ex_cap[rows]])
        lp = capacitated_model(open_reach, demand, cap, sites.size, sites.size, np.empty(0, dtype=np.int64),
                               prep.conflicts[:0], fixed_open=np.ones(sites.size))
        out = run_highs(lp, options, integer=False)
        z = out.values[sites.size:]
        return out.objective, np.bincount(open_reach.tocoo().col, weights=z, minlength=m), z

    kept = _kept(inp, prep.removed)
    before, _, _ = served(np.arange(inp.n_existing), [])
    base, assigned, _ = served(kept, [])
    # unserved demand after the kept facilities, from the assignment LP
    residual = np.maximum(demand * (1.0 - assigned), 0.0)
    prep.report("greedy", 0.0, options)
    sites = _capacity_greedy(mat, residual, inp.candidate_capacity, p_total, prep)
    heur, _, z = served(kept, sites)
    # the full model: every candidate, then the kept existing facilities
    reach = sparse.vstack([cand, ex_in[kept]]).tocsr()
    in_reach = np.bincount(reach.indices[reach.data != 0], minlength=m) > 0  # stored zeros are not pairs
    reach.data[:] = 1.0
    cap = np.concatenate([inp.candidate_capacity, ex_cap[kept]])
    model = capacitated_model(reach, demand, cap, k, p_total, prep.required, prep.conflicts)
    # warm start: the heuristic's sites open and their assignment scattered into
    # the full model's columns (each row's pairs are consecutive there too)
    warm = np.zeros(k + reach.nnz)
    warm[sites] = 1.0
    open_rows = np.concatenate([np.asarray(sites, dtype=np.int64), k + np.arange(kept.size)])
    warm[k + concat_ranges(reach.indptr[open_rows], np.diff(reach.indptr)[open_rows])] = z
    model = replace(model, warm_columns=warm)
    # Served weight exceeds neither the demand nor the capacity that can be open
    # (the kept facilities and the p largest candidates). When the heuristic
    # already serves everyone this closes the gap at once; otherwise HiGHS's
    # own bound before its root LP is solved is the sum of every facility-cell
    # pair's weight, far above the demand.
    top = np.sort(inp.candidate_capacity[prep.allowed])[::-1][:p_total]
    trivial = min(float(demand[in_reach].sum()), float(ex_cap[kept].sum() + top.sum()))
    x, obj, bound, sb, sgap, status = _lp_and_milp(
        model, _onehot(sites, k), heur, options, prep, maximize=True, pre_bound=trivial
    )
    sg = (None if sb is None else free + sb, sgap)
    solver = "greedy"
    if x is not None:
        sites = np.flatnonzero(x > 0.5)
        solver = "highs-milp"
    sites, _ = _fill(sites, p_total, prep)
    order, gains, value = [], [], base
    for i in prep.required:  # required first, then the best remaining each time
        order.append(int(i))
        nv = served(kept, order)[0]
        gains.append(nv - value)
        value = nv
    rest = [int(i) for i in sites if int(i) not in set(order)]
    while rest:
        vals = [served(kept, order + [i])[0] for i in rest]
        j = int(np.argmax(vals))
        gains.append(vals[j] - value)
        value = vals[j]
        order.append(rest.pop(j))
    return SitingResult(
        problem="capacitated", sites=np.asarray(order, dtype=np.int64), gains=np.asarray(gains),
        objective=free + obj, bound=free + bound, gap=relative_gap(free + obj, free + bound), solver_bound=sg[0], solver_gap=sg[1],
        status=status, solver=solver, seconds=time.perf_counter() - t0, covered_before=free + before,
        covered_after=free + value, objective_before=free + before, removed_existing=prep.removed,
        unreachable_weight=_unreachable(inp, prep, mat, _base_dist(inp, prep)[1]),
        notes=(f"{free:g} weight served by facilities outside the model",),
    )


def _onehot(sites, k: int) -> np.ndarray:
    x = np.zeros(k)
    x[np.asarray(sites, dtype=np.int64)] = 1.0
    return x
