"""Siting for planners: where new facilities should go in a city, under one standard.

:func:`site` is the city-level wrapper around :mod:`geo.siting`. It builds the
candidate sites (points along the walking network, or a planner's layer of
plots), measures every candidate-to-cell distance within the standard's reach
(walking distance for walking standards, straight line for radius standards;
both in :mod:`scenarios.siting_candidates`), counts demand already served by
the existing facilities of the standard's kinds (after any closures) as
covered, runs the chosen model, and then checks the answer independently: the
city is re-evaluated with :func:`scenarios.evaluate.evaluate_standard` after
the proposed facilities are added, and the coverage that evaluation finds is
reported next to what the model claims (:mod:`scenarios.siting_result`).

:func:`scenarios.outputs.write_siting` (importable from here too) writes the
outputs a planner opens: ``sites.gpkg`` (proposed sites, newly covered cells,
service areas of the new sites), ``sites.csv`` and ``siting.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.siting import (
    ModelOptions,
    SitingCancelled,
    SitingError,
    SitingInput,
    SitingTimeLimit,
    capacitated_coverage,
    lscp,
    max_attendance,
    mclp,
    p_median,
)
from geo.siting.budget import check_cancel, deadline_after, time_left
from layers.city import City
from layers.kinds import KINDS
from scenarios.evaluate import Progress, evaluate_standard
from scenarios.siting_candidates import build_candidates, candidate_distances
from scenarios.siting_estimate import SitingEstimate, estimate_siting  # sizing a run before it starts
from scenarios.siting_memory import release_freed_memory
from scenarios.siting_result import OBJECTIVE_UNITS, CitySiting, checked_siting
from scenarios.standards import Standard, get_standard

__all__ = [
    "OBJECTIVE_UNITS",
    "PROBLEMS",
    "SOLVERS",
    "CitySiting",
    "PlannerChoices",
    "SitingCancelled",
    "SitingError",
    "SitingEstimate",
    "SitingTimeLimit",
    "estimate_siting",
    "site",
    "write_siting",  # noqa: F822 (provided by the module __getattr__ below, imported on first use)
]


def __getattr__(name: str) -> Any:
    """``write_siting``, re-exported from :mod:`scenarios.outputs` on first use.

    Importing scenarios.outputs loads pyogrio and GDAL (~28 MB); a run holds
    them only once it writes, not through the distances and the solve, where
    its memory peaks.
    """
    if name == "write_siting":
        from scenarios.outputs import write_siting

        return write_siting
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PROBLEMS = ("mclp", "lscp", "p-median", "capacitated", "attendance")
"""Siting models by the names planners use (see :mod:`geo.siting.models`)."""

SOLVERS = ("auto", "milp", "greedy")
"""``greedy``: heuristic with a bound; ``milp``: HiGHS; ``auto``: MILP only when the heuristic's gap is too wide."""

Cancel = Callable[[], bool]

# Share of the progress bar each stage takes: candidates, distances, the city as
# it is (evaluated first: its time sizes the reserve for the check), solve, check.
_STAGES = {"candidates": (0.0, 0.03), "distances": (0.03, 0.35), "current": (0.35, 0.4), "solve": (0.4, 0.9),
           "check": (0.9, 1.0)}
# The check re-evaluates the city twice more (after the closures, with the new
# sites); the solver's deadline leaves this many times the first evaluation's
# time for it, plus a fixed margin for assembling the answer.
_CHECK_RESERVE = 2.5
_CHECK_MARGIN_S = 0.25


@dataclass(frozen=True)
class PlannerChoices:
    """Planner's choices for :func:`site`, by id.

    The model-level counterpart, :class:`geo.siting.ModelOptions`, takes the
    same choices by candidate and facility index, plus the solver's settings.

    Parameters
    ----------
    required : sequence of str
        Candidate ids that must be opened (they count towards ``p``).
    excluded : sequence of str
        Candidate ids that must not be opened.
    remove : sequence of str
        Ids of existing facilities (of the standard's kinds) that close.
    relocate : sequence of str
        Ids of existing facilities that move: each closes and one more new
        site is allowed, placed where the model finds best.
    min_spacing_m : float
        Smallest straight-line distance between two new sites, metres (0: off).
    kind : str, optional
        Kind of the new facilities; default the standard's first kind.
    """

    required: Sequence[str] = ()
    excluded: Sequence[str] = ()
    remove: Sequence[str] = ()
    relocate: Sequence[str] = ()
    min_spacing_m: float = 0.0
    kind: str | None = None


# ------------------------------------------------------------------ helpers
def _report(progress: Progress | None, stage: str) -> Progress | None:
    """A progress callback mapping a stage's 0..1 onto its share of the bar."""
    if progress is None:
        return None
    lo, hi = _STAGES[stage]

    def update(message: str, fraction: float) -> None:
        progress(message, lo + (hi - lo) * min(max(float(fraction), 0.0), 1.0))

    return update


def _bounded(progress: Progress | None, deadline: float, cancel: Cancel | None, time_limit_s: float) -> Progress:
    """A progress callback for the distance stage that also enforces the deadline and cancellation.

    Without the candidate distances there is nothing to solve, so running out
    of time here ends the run with :class:`SitingTimeLimit`.
    """

    def update(message: str, fraction: float) -> None:
        check_cancel(cancel, message)
        if time_left(deadline) <= 0:
            raise SitingTimeLimit(
                f"time_limit_s={time_limit_s:g} ran out while measuring {message} ({fraction:.0%} done); "
                "raise time_limit_s, or use fewer candidates (a larger spacing or a candidate layer)"
            )
        if progress is not None:
            progress(message, fraction)

    return update


def _positions(ids: Sequence[str], index: Mapping[str, int], what: str, field_name: str, hint: str) -> list[int]:
    out = []
    for i in ids:
        if str(i) not in index:
            raise SitingError(f"{field_name}: unknown {what} id '{i}'; {hint}")
        out.append(index[str(i)])
    return out


def _existing_positions(city: City, standard: Standard, ids: Sequence[str], field_name: str) -> list[int]:
    """Positions among the standard's facilities of the given facility ids."""
    fac = city.facilities
    all_ids = fac["id"].astype(str).tolist()
    kind_of = dict(zip(all_ids, fac["kind"], strict=True))
    in_kind = {all_ids[p]: j for j, p in enumerate(city.facilities_of(standard.kinds))}
    for i in ids:
        if str(i) not in kind_of:
            raise SitingError(f"{field_name}: unknown facility id '{i}'; the city has {len(all_ids)} facilities "
                              f"(e.g. {', '.join(all_ids[:3])})")
        if str(i) not in in_kind:
            raise SitingError(f"{field_name}: facility '{i}' is a {kind_of[str(i)]}, which does not serve standard "
                              f"'{standard.id}' (kinds {', '.join(standard.kinds)})")
    return [in_kind[str(i)] for i in ids]


def _capacities(city: City, existing: np.ndarray, capacity, existing_capacity):
    if capacity is None:
        raise SitingError("problem 'capacitated' needs capacity: how much weight (people) one new site can serve")
    if existing_capacity is None:
        return capacity, np.full(existing.size, float(capacity))
    if isinstance(existing_capacity, str):
        col = existing_capacity
        if col not in city.facilities.columns:
            raise SitingError(f"existing_capacity: the facilities have no column '{col}'")
        values = pd.to_numeric(city.facilities[col], errors="coerce").to_numpy(dtype=float)[existing]
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            fid = city.facilities["id"].iloc[existing[bad[0]]]
            raise SitingError(f"existing_capacity: facility '{fid}' has no number in column '{col}'")
        return capacity, values
    return capacity, np.full(existing.size, float(existing_capacity))


def _solve(problem, inp, opts, p, target_share, decay):
    if problem == "lscp":
        return lscp(inp, 1.0 if target_share is None else float(target_share), opts)
    if p is None:
        raise SitingError(f"problem '{problem}' needs p, the number of new sites")
    if problem == "mclp":
        return mclp(inp, int(p), opts)
    if problem == "p-median":
        return p_median(inp, int(p), opts)
    if problem == "attendance":
        return max_attendance(inp, int(p), opts, decay=decay)
    return capacitated_coverage(inp, int(p), opts)


# -------------------------------------------------------------------- site
def site(
    city: City,
    standard_id: str,
    problem: str = "mclp",
    p: int | None = None,
    target_share: float | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    spacing_m: float = 200.0,
    weight: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    options: PlannerChoices | None = None,
    solver: str = "auto",
    time_limit_s: float = 60.0,
    capacity: float | None = None,
    existing_capacity: float | str | None = None,
    decay: str = "exponential",
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> CitySiting:
    """Propose where new facilities should go to serve one standard.

    Parameters
    ----------
    city : City
    standard_id : str
        A catalogue id, e.g. ``"clinic-walk"``.
    problem : {"mclp", "lscp", "p-median", "capacitated", "attendance"}
        ``mclp``: ``p`` sites covering the most uncovered weight. ``lscp``:
        fewest sites bringing ``target_share`` of the reachable weight within
        reach. ``p-median``: ``p`` sites minimising weight x walking
        distance. ``capacitated``: ``p`` sites maximising weight served
        within capacities. ``attendance``: ``p`` sites maximising expected
        use with distance decay.
    p : int, optional
        Number of new sites (all problems but ``lscp``).
    target_share : float, optional
        ``lscp`` only: share in ``(0, 1]`` of the weight that some kept
        facility or allowed candidate can reach that must be within reach
        afterwards (default 1).
    candidates : geopandas.GeoDataFrame, optional
        A planner's sites (points or plots, any CRS); an ``id`` column names
        them. Default: points along the walking network every ``spacing_m``.
    spacing_m : float, default 200
        Spacing of the generated candidates.
    weight : {"population", "elderly"}, optional
        Demand weight; default the standard's.
    overrides : mapping, optional
        Standard parameter overrides (``threshold_min``, ``speed_mps``, ...).
    options : PlannerChoices, optional
        Required / excluded candidates, closures, relocations, spacing.
    solver : {"auto", "milp", "greedy"}
        See :class:`geo.siting.ModelOptions`.
    time_limit_s : float, default 60
        Limit of the whole run: distances, solve and the check. The solver
        gets what the distances leave, less a reserve for the check (sized
        by timing the first of its three evaluations before the solve). A
        solve the limit cuts short keeps its best sites and reports status
        ``"Time limit reached"`` with its gap; when the limit runs out while
        the distances are measured, :class:`SitingTimeLimit` is raised.
    capacity, existing_capacity : optional
        ``capacitated`` only: weight one new site can serve; existing
        facilities' capacity as a number, a facility column name, or (default)
        the same as ``capacity``.
    decay : {"exponential", "linear"}
        ``attendance`` only.
    progress : callable, optional
        ``progress(step, fraction)``: each step by name (candidates, distances,
        the city as it is, shrinking, greedy, bounds, MILP, checking).
    cancel : callable, optional
        ``cancel() -> bool``, asked between and inside the steps (HiGHS
        included); True ends the run with :class:`SitingCancelled`.

    Returns
    -------
    CitySiting

    Raises
    ------
    StandardError
        Unknown standard or bad override.
    SitingError
        Unknown problem, candidate or facility id; ``p`` missing or larger
        than the candidates; no candidate within reach; negative capacity;
        a time limit that is not a positive number of seconds.
    SitingTimeLimit
        The time limit ran out before the candidate distances were measured.
    SitingCancelled
        ``cancel()`` returned True.
    """
    t0 = time.perf_counter()
    if not (isinstance(time_limit_s, (int, float)) and np.isfinite(time_limit_s) and time_limit_s > 0):
        raise SitingError(f"time_limit_s must be a positive number of seconds, got {time_limit_s!r}")
    deadline = deadline_after(time_limit_s, t0)
    standard = get_standard(standard_id, **dict(overrides or {}))
    if weight is not None:
        standard = standard.with_overrides(weight=weight)
    if problem not in PROBLEMS:
        raise SitingError(f"unknown problem '{problem}'; choose one of {', '.join(PROBLEMS)}")
    if solver not in SOLVERS:
        raise SitingError(f"unknown solver '{solver}'; choose one of {', '.join(SOLVERS)}")
    if target_share is not None and problem != "lscp":
        raise SitingError(f"target_share applies to problem 'lscp' only, not '{problem}'")
    options = options or PlannerChoices()
    kind = options.kind or standard.kinds[0]
    if kind not in KINDS:
        raise SitingError(f"kind: unknown facility kind '{kind}'; valid kinds are {', '.join(KINDS)}")

    existing = city.facilities_of(standard.kinds)
    removed = _existing_positions(city, standard, options.remove, "remove")
    relocated = _existing_positions(city, standard, options.relocate, "relocate")

    step = _report(progress, "candidates")
    if step:
        step("candidate sites", 0.0)
    cands = build_candidates(city, standard, candidates, spacing_m)
    index = {str(cid): i for i, cid in enumerate(cands.ids)}
    hint = f"there are {len(cands)} candidates (e.g. {', '.join(map(str, cands.ids[:3]))})"
    required = _positions(options.required, index, "candidate", "required", hint)
    excluded = _positions(options.excluded, index, "candidate", "excluded", hint)

    check_cancel(cancel, "candidate sites")
    distances_progress = _bounded(_report(progress, "distances"), deadline, cancel, time_limit_s)
    mat, ex = candidate_distances(city, standard, cands, existing, distances_progress)
    weights = city.cells[standard.weight].to_numpy(dtype=np.float64)
    cap = ex_cap = None
    if problem == "capacitated":
        cap, ex_cap = _capacities(city, existing, capacity, existing_capacity)
    inp = SitingInput(
        mat, weights, standard.threshold_m, existing=ex if existing.size else None,
        candidate_xy=np.column_stack([cands.x, cands.y]), candidate_capacity=cap,
        existing_capacity=ex_cap if existing.size else None,
    )
    step = _report(progress, "current")
    if step:
        step("evaluating the city as it is", 0.0)
    t_eval = time.perf_counter()
    current = evaluate_standard(city, standard)
    t_eval = time.perf_counter() - t_eval
    check_cancel(cancel, "evaluating the city as it is")
    opts = ModelOptions(
        required=required, excluded=excluded, remove_existing=removed, relocate={r: None for r in relocated},
        min_spacing_m=options.min_spacing_m, method=solver, time_limit_s=time_limit_s,
        progress=_report(progress, "solve"), cancel=cancel,
        deadline=deadline - _CHECK_RESERVE * t_eval - _CHECK_MARGIN_S,
    )
    res = _solve(problem, inp, opts, p, target_share, decay)
    # the solve's temporaries are freed but glibc keeps their pages (50-100 MB on
    # the demo's p-median); give them back before the check, the writers and the map
    release_freed_memory()
    check_cancel(cancel, "solve")
    return checked_siting(city, standard, problem, res, cands, inp, existing, kind, required, t0, current,
                          _report(progress, "check"))
