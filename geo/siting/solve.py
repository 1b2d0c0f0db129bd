"""From a heuristic answer to a proven one: the bound, the MILP run, and padding to ``p``.

:func:`lp_and_milp` bounds a heuristic's objective (a given bound, or the LP
relaxation) and runs the HiGHS MILP when asked or when the gap is too wide;
:func:`fill_sites` pads a short site list with zero-gain candidates.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from geo.siting.budget import TIME_LIMIT_STATUS
from geo.siting.errors import SitingError
from geo.siting.milp import run_highs
from geo.siting.problem import ModelOptions, Prepared
from geo.siting.result import relative_gap

__all__ = ["fill_sites", "force_milp", "lp_and_milp"]


def fill_sites(sites: np.ndarray, total: int, prep: Prepared) -> tuple[np.ndarray, bool]:
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


def lp_and_milp(
    model,
    warm_x: np.ndarray,
    heur_obj: float,
    options: ModelOptions,
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
    if not closed and want_lp and options.time_left() > 0:
        prep.report("LP relaxation", 0.0, options)
        lp = run_highs(model, options, integer=False)
        if lp.status == "Optimal":
            lp_bound = float(np.ceil(lp.objective - 1e-6)) if round_bound else lp.objective
            bound = better_bound(bound, lp_bound)
    gap = relative_gap(heur_obj, bound)
    if options.method == "greedy" or (options.method == "auto" and gap <= options.mip_rel_gap):
        return None, heur_obj, bound, None, None, "heuristic"
    if options.time_left() <= 0 and np.isfinite(heur_obj):
        return None, heur_obj, bound, None, None, TIME_LIMIT_STATUS
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


def force_milp(options: ModelOptions) -> ModelOptions:
    return replace(options, method="milp")
