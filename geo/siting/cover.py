"""Location set covering (LSCP): the fewest new sites that meet the standard.

Full coverage goes through the exact set-cover reductions, greedy, Lagrangian
bound and weighted local search of :mod:`geo.siting.setcover` before HiGHS; a
partial target (or a spacing rule) through the greedy cover and the cover MILP.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse

from geo.siting.baseline import base_dist, binary, check_reach, make_result, nearest_new, unreachable_weight_of
from geo.siting.errors import SitingError
from geo.siting.greedy import greedy_cover, marginal_order, value_of
from geo.siting.milp import cover_model, run_highs
from geo.siting.problem import ModelOptions, Prepared, SitingInput, prepare
from geo.siting.result import SitingResult, relative_gap
from geo.siting.setcover import drop_redundant, lagrangian_cover, reduce_cover, weighted_local_search
from geo.siting.shrink import Reduced, reduce
from geo.siting.solve import force_milp, lp_and_milp

__all__ = ["lscp"]

TOL = 1e-9  # relative tolerance for "target reached" with float sums


def lscp(inp: SitingInput, coverage: float = 1.0, options: ModelOptions = ModelOptions()) -> SitingResult:
    """Location set covering: fewest new sites so the standard is met.

    Parameters
    ----------
    inp : SitingInput
    coverage : float, default 1.0
        Share of the *reachable* weight (weight that a kept facility or an
        allowed candidate can reach) that must be within reach afterwards.
    options : ModelOptions

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
    options = options.started()  # the time limit counts from here (or the caller's deadline)
    if not (0 < coverage <= 1):
        raise SitingError(f"coverage must be in (0, 1], got {coverage!r}")
    prep = prepare(inp, options, None)
    mat = check_reach(inp, prep)
    before, base = base_dist(inp, prep)
    w = inp.weights
    covered0 = base <= inp.reach_m
    unreachable = unreachable_weight_of(inp, prep, mat, base)
    reachable_total = float(w.sum()) - unreachable
    need = coverage * reachable_total - float(w[covered0].sum())
    s = sparse.csr_matrix(binary(mat).multiply((w * ~covered0)[None, :]))
    s.eliminate_zeros()
    red = reduce(s, prep.allowed, prep.required, prep.conflicts, shrink=options.shrink)
    notes = [f"lscp: solved on {red.s.shape[0]} candidates x {red.s.shape[1]} merged cells"]
    sites_r = red.required.copy()
    obj, bound, sg, status, solver = float(sites_r.size), float(sites_r.size), (None, None), "heuristic", "greedy"
    full = coverage >= 1.0
    if need > TOL * max(reachable_total, 1.0) and red.s.shape[1] and coverage >= 1.0 and not red.conflicts.size:
        sites_r, bound, sg, status, solver, extra = _full_cover(red, options, prep)
        notes.extend(extra)
    elif need > TOL * max(reachable_total, 1.0) and red.s.shape[1]:
        target = float(red.s.max(axis=0).sum()) if full else need
        sites_r = greedy_cover(red.s, target * (1 - TOL), red.required, red.conflicts, progress=options.progress)
        reached = value_of(red.s, sites_r) >= target * (1 - TOL)
        cover = red.s.copy()
        cover.data[:] = 1.0
        weight = np.asarray(red.s.max(axis=0).todense()).ravel()
        model = cover_model(cover, weight, None if full else need * (1 - TOL), red.required, red.conflicts)
        warm = np.zeros(red.s.shape[0])
        warm[sites_r] = 1.0
        heur = float(sites_r.size) if reached else np.inf
        if not reached and options.method == "greedy":
            raise SitingError("the greedy could not reach the coverage target under the spacing rule; try method='milp'")
        x, obj, bound, sb, sgap, status = lp_and_milp(
            model, warm, heur, options if reached else force_milp(options), prep, maximize=False, round_bound=True
        )
        sg = (sb, sgap)
        if x is not None:
            sites_r = np.flatnonzero(x > 0.5)
            solver = "highs-milp"
        elif not reached:
            raise SitingError(f"no solution reaches the coverage target (HiGHS: {status})")
    sites = red.cand[sites_r]
    order, gains = marginal_order(s, sites, prep.required)
    after = np.minimum(base, nearest_new(inp, order))
    obj = float(order.size)
    return make_result(
        "lscp", inp, prep, before, after, t0, sites=order, gains=gains, objective=obj, bound=bound,
        gap=relative_gap(obj, bound), solver_bound=sg[0], solver_gap=sg[1], status=status, solver=solver, objective_before=0.0,
        unreachable_weight=unreachable, notes=tuple(notes),
    )


def _full_cover(red: Reduced, options: ModelOptions, prep: Prepared):
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
    greedy = greedy_cover(core.b, core.b.shape[1] * (1 - TOL), none, np.empty((0, 2), dtype=np.int64))
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
