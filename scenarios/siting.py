"""Siting for planners: where new facilities should go in a city, under one standard.

:func:`site` is the city-level wrapper around :mod:`geo.siting`. It builds the
candidate sites (points along the walking network, or a planner's layer of
plots), measures every candidate-to-cell distance within the standard's reach
(walking distance for walking standards, straight line for radius standards),
counts demand already served by the existing facilities of the standard's
kinds (after any closures) as covered, runs the chosen model, and then checks
the answer independently: the city is re-evaluated with
:func:`scenarios.evaluate.evaluate_standard` after the proposed facilities are
added, and the coverage that evaluation finds is reported next to what the
model claims.

:func:`scenarios.outputs.write_siting` (importable from here too) writes the
outputs a planner opens: ``sites.gpkg`` (proposed sites, newly covered cells,
service areas of the new sites), ``sites.csv`` and ``siting.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from geo.crs import to_wgs84
from geo.siting import (
    ModelOptions,
    SitingCancelled,
    SitingError,
    SitingInput,
    SitingResult,
    SitingTimeLimit,
    candidate_matrix,
    candidates_from_points,
    candidates_on_network,
    capacitated_coverage,
    lscp,
    max_attendance,
    mclp,
    p_median,
)
from geo.siting.budget import check_cancel, deadline_after, time_left
from layers.city import City
from layers.kinds import KINDS
from scenarios.evaluate import StandardResult, evaluate_standard
from scenarios.model import AddFacility, RemoveFacility, apply_edits
from scenarios.outputs import jsonable, write_siting  # write_siting: re-exported for its importers
from scenarios.run import city_with_facilities
from scenarios.service_area_layer import standard_service_areas
from scenarios.siting_estimate import SitingEstimate, estimate_siting  # sizing a run before it starts
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
    "write_siting",
]

PROBLEMS = ("mclp", "lscp", "p-median", "capacitated", "attendance")
"""Siting models by the names planners use (see :mod:`geo.siting.models`)."""

SOLVERS = ("auto", "milp", "greedy")
"""``greedy``: heuristic with a bound; ``milp``: HiGHS; ``auto``: MILP only when the heuristic's gap is too wide."""

OBJECTIVE_UNITS = {
    "mclp": "weight newly covered",
    "lscp": "new sites",
    "p-median": "weight x metres walked",
    "capacitated": "weight served within capacity",
    "attendance": "expected attendance",
}
"""What each model's objective and per-site gains count."""

_ZERO = 1e-9  # a zero distance is stored as this, so that it is not read as "out of reach"

Progress = Callable[[str, float], None]
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


@dataclass(frozen=True, eq=False)
class CandidateSites:
    """Candidate sites of one run.

    Attributes
    ----------
    ids : numpy.ndarray of str
        ``c<n>`` for generated candidates; the layer's ``id`` column (or row
        number) for a planner's layer.
    x, y : numpy.ndarray
        Where a new facility would stand, in the city's CRS (for a planner's
        plot, the plot itself; it reaches the street by its access leg).
    rejected : list of str
        Ids of plots left out because no walkable street is within the
        city's snapping limit.
    """

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    snapped: Any  # geo.snap.Snapped, or None for radius standards
    rejected: list[str]

    def __len__(self) -> int:
        return int(self.ids.size)


@dataclass(eq=False)
class CitySiting:
    """Proposed sites for one standard, checked against a re-evaluation of the city.

    Attributes
    ----------
    city : City
        The city as it is.
    standard : Standard
        The standard sited for (overrides applied).
    problem : str
        One of :data:`PROBLEMS`.
    result : geo.siting.SitingResult
        The solver's answer, in candidate indices.
    sites : geopandas.GeoDataFrame
        Proposed sites in the order chosen (city CRS): ``rank``, ``site_id``
        (the new facility's id), ``candidate_id``, ``kind``, ``newly_covered``
        (weight that site brings within reach, on top of the existing
        facilities and the sites ranked before it), ``cumulative_covered``,
        ``gain`` (marginal gain in the model's units, see
        :data:`OBJECTIVE_UNITS`), ``required``, ``x``, ``y``, ``lon``,
        ``lat``, geometry.
    newly_covered_cells : geopandas.GeoDataFrame
        Cells that the new sites bring within reach: ``cell_id``,
        ``population``, ``elderly``, ``weight``, ``site_rank``, ``site_id``,
        ``dist_m`` (to that site), geometry.
    current, before, after : StandardResult
        The standard evaluated on the city as it is, after the closures
        (``remove`` / ``relocate``), and with the new sites open.
    before_city, after_city : City
        The city with the closures applied, without and with the new sites.
    edits : list
        The same change as scenario edits (:mod:`scenarios.model`).
    claimed_covered_after : float
        Weight within reach afterwards according to the siting matrices.
    cells_disagreeing : int
        Cells whose coverage after the change differs between the matrices
        and the re-evaluation (0 when the model's claim holds).
    candidates : CandidateSites
    seconds : float
        Wall time of the whole call.
    """

    city: City
    standard: Standard
    problem: str
    result: SitingResult
    sites: gpd.GeoDataFrame
    newly_covered_cells: gpd.GeoDataFrame
    current: StandardResult
    before: StandardResult
    after: StandardResult
    before_city: City
    after_city: City
    edits: list
    claimed_covered_after: float
    cells_disagreeing: int
    candidates: CandidateSites
    removed_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_weight(self) -> float:
        """Total weight (population or elderly) of the city."""
        return float(self.current.weight.sum())

    @staticmethod
    def _covered(r: StandardResult) -> float:
        return float(r.weight[r.covered].sum())

    def _share(self, value: float) -> float | None:
        return value / self.total_weight if self.total_weight > 0 else None

    @cached_property
    def service_areas(self) -> gpd.GeoDataFrame:
        """Service areas of the new sites under the standard (city CRS)."""
        new_ids = set(self.sites["site_id"])
        fac = self.after_city.facilities
        only_new = fac[fac["id"].isin(new_ids)].reset_index(drop=True)
        areas = standard_service_areas(city_with_facilities(self.after_city, only_new), [self.standard])
        rank = dict(zip(self.sites["site_id"], self.sites["rank"], strict=True))
        areas.insert(0, "site_rank", areas["facility_id"].map(rank).astype("int64"))
        return areas.rename(columns={"facility_id": "site_id"})

    def summary(self) -> dict[str, Any]:
        """What was asked, what the solver did, and coverage before and after.

        ``covered_current`` is the city as it is, ``covered_before`` after the
        closures, ``covered_after`` with the new sites (all three from
        :func:`evaluate_standard`); ``claimed_covered_after`` is the model's
        own count, and ``cells_disagreeing`` the cells where they differ.
        """
        r, s = self.result, self.standard
        cur, bef, aft = (self._covered(x) for x in (self.current, self.before, self.after))
        reachable = self.total_weight - r.unreachable_weight
        return {
            "city": self.city.name,
            "generated": bool(self.city.generated),
            "standard": s.id,
            "title": s.title_en,
            "mode": s.mode,
            "threshold_m": round(s.threshold_m, 1),
            "threshold_min": s.threshold_min,
            "weight": s.weight,
            "problem": self.problem,
            "objective_unit": OBJECTIVE_UNITS[self.problem],
            "sites": len(self.sites),
            "candidates": len(self.candidates),
            "candidates_rejected": len(self.candidates.rejected),
            "removed": list(self.removed_ids),
            "total": self.total_weight,
            "covered_current": cur,
            "covered_before": bef,
            "covered_after": aft,
            "share_current": self._share(cur),
            "share_before": self._share(bef),
            "share_after": self._share(aft),
            "newly_covered": float(self.sites["newly_covered"].sum()),
            "reachable": reachable,
            "share_of_reachable_after": aft / reachable if reachable > 0 else None,
            "unreachable": r.unreachable_weight,
            "claimed_covered_after": self.claimed_covered_after,
            "cells_disagreeing": self.cells_disagreeing,
            "objective": r.objective,
            "objective_before": r.objective_before,
            "bound": r.bound,
            "gap": r.gap,
            "solver_bound": r.solver_bound,
            "solver_gap": r.solver_gap,
            "status": r.status,
            "optimal": r.optimal,
            "solver": r.solver,
            "solve_seconds": r.seconds,
            "seconds": self.seconds,
            "notes": list(r.notes),
        }

    def summary_row(self) -> dict[str, Any]:
        """One row for a table of siting runs (e.g. several standards or p)."""
        d = self.summary()
        keys = ("standard", "problem", "sites", "covered_before", "covered_after", "share_before", "share_after",
                "newly_covered", "objective", "bound", "gap", "status", "solver", "seconds")
        return {k: d[k] for k in keys}

    def to_dict(self) -> dict[str, Any]:
        """Summary, proposed sites (WGS84 lon/lat) and edits as JSON-ready data."""
        sites = self.sites.drop(columns="geometry").to_dict("records")
        return jsonable(
            {
                "summary": self.summary(),
                "standard": self.standard.to_dict(),
                "sites": sites,
                "edits": [e.model_dump() for e in self.edits],
            }
        )


# ------------------------------------------------------------------ helpers
def _report(progress: Progress | None, stage: str) -> Progress | None:
    """A progress callback mapping a stage's 0..1 onto its share of the bar."""
    if progress is None:
        return None
    lo, hi = _STAGES[stage]

    def update(message: str, fraction: float) -> None:
        progress(message, lo + (hi - lo) * min(max(float(fraction), 0.0), 1.0))

    return update


def _radius_matrix(src: np.ndarray, cells: np.ndarray, reach_m: float) -> sparse.csr_matrix:
    """Straight-line distances within ``reach_m`` (inclusive), zero stored as a tiny epsilon."""
    if len(src) == 0:
        return sparse.csr_matrix((0, len(cells)))
    pairs = cKDTree(src).sparse_distance_matrix(cKDTree(cells), reach_m, output_type="ndarray")
    d = np.maximum(pairs["v"], _ZERO)
    return sparse.csr_matrix((d, (pairs["i"], pairs["j"])), shape=(len(src), len(cells)))


def _candidate_ids(layer: gpd.GeoDataFrame) -> np.ndarray:
    if "id" not in layer.columns:
        return np.array([str(i) for i in range(len(layer))], dtype=object)
    ids = layer["id"].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    empty = np.flatnonzero(ids.to_numpy() == "")
    if empty.size:
        raise SitingError(f"candidate layer: rows {empty[:10].tolist()} have an empty 'id'")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise SitingError(f"candidate layer: id '{dup.iloc[0]}' appears more than once; candidate ids must be unique")
    return ids.to_numpy(dtype=object)


def _layer_points(city: City, layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The planner's layer in the city's CRS."""
    if not isinstance(layer, gpd.GeoDataFrame):
        raise SitingError(f"candidates must be a GeoDataFrame of points or polygons, got {type(layer).__name__}")
    if len(layer) == 0:
        raise SitingError("candidate layer has no rows")
    if layer.crs is None:
        raise SitingError("candidate layer has no CRS; set one (e.g. EPSG:4326 for lon/lat)")
    return layer.to_crs(city.crs).reset_index(drop=True)


def build_candidates(
    city: City, standard: Standard, layer: gpd.GeoDataFrame | None, spacing_m: float
) -> CandidateSites:
    """Candidate sites along the network every ``spacing_m``, or from a planner's layer.

    Parameters
    ----------
    city : City
    standard : Standard
        Walking standards snap the candidates onto the network; radius
        standards take the points as they are.
    layer : geopandas.GeoDataFrame, optional
        Points or polygons (a polygon stands for a point on its surface).
    spacing_m : float
        Spacing of generated candidates along the streets.

    Returns
    -------
    CandidateSites
    """
    if layer is None:
        c = candidates_on_network(city.network, spacing_m, boundary=city.boundary, max_snap_m=city.max_snap_m)
        ids = np.array([f"c{i}" for i in range(len(c))], dtype=object)
        return CandidateSites(ids, c.x, c.y, c.snapped if standard.mode == "network" else None, [])
    pts = _layer_points(city, layer)
    all_ids = _candidate_ids(pts)
    if standard.mode == "euclidean":
        geom = np.asarray(pts.geometry.values, dtype=object)
        bad = np.flatnonzero(shapely.is_missing(geom) | shapely.is_empty(geom))
        if bad.size:
            raise SitingError(f"candidate layer: rows {bad[:10].tolist()} have no geometry")
        p = np.where(shapely.get_type_id(geom) == 0, geom, shapely.point_on_surface(geom))
        return CandidateSites(all_ids, shapely.get_x(p), shapely.get_y(p), None, [])
    c = candidates_from_points(city.network, pts, max_snap_m=city.max_snap_m)
    # the new facility stands on the plot; the snapped record carries its access leg
    p = shapely.point_on_surface(np.asarray(pts.geometry.values, dtype=object)[c.source_index])
    return CandidateSites(
        all_ids[c.source_index], shapely.get_x(p), shapely.get_y(p), c.snapped, [str(i) for i in all_ids[c.rejected]]
    )


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


def _matrices(city: City, standard: Standard, cands: CandidateSites, existing: np.ndarray, progress: Progress):
    """Candidate x cell and existing x cell distances within the standard's reach."""
    reach = standard.threshold_m
    if standard.mode == "euclidean":
        cells = np.column_stack(city.cell_xy)
        fx, fy = city.facility_xy
        cand = _radius_matrix(np.column_stack([cands.x, cands.y]), cells, reach)
        ex = _radius_matrix(np.column_stack([fx[existing], fy[existing]]), cells, reach)
        return cand, ex
    cells = city.snapped_cells
    cand = candidate_matrix(city.network, cands.snapped, cells, reach, progress=progress)
    if existing.size == 0:
        return cand, sparse.csr_matrix((0, len(city.cells)))
    fac = city.snapped_facilities.take(existing)
    ex = candidate_matrix(city.network, fac, cells, reach)
    progress("existing facilities' distances", 1.0)
    return cand, ex


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


def _new_ids(city: City, standard: Standard, n: int) -> list[str]:
    taken = set(city.facilities["id"].astype(str))
    out, k = [], 1
    while len(out) < n:
        fid = f"new-{standard.id}-{k}"
        if fid not in taken:
            out.append(fid)
        k += 1
    return out


def _first_cover(mat: sparse.csr_matrix, sites: np.ndarray, covered0: np.ndarray, reach: float):
    """Per cell, the rank of the first site (in order) that brings it within reach, and its distance."""
    m = covered0.size
    rank = np.full(m, -1, dtype=np.int64)
    dist = np.full(m, np.nan)
    covered = covered0.copy()
    for r, i in enumerate(sites):
        lo, hi = mat.indptr[i], mat.indptr[i + 1]
        cells, d = mat.indices[lo:hi], mat.data[lo:hi]
        new = cells[(d <= reach) & ~covered[cells]]
        rank[new] = r
        dist[new] = d[(d <= reach) & ~covered[cells]]
        covered[new] = True
    return rank, dist


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
    mat, ex = _matrices(city, standard, cands, existing,
                        _bounded(_report(progress, "distances"), deadline, cancel, time_limit_s))
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
    check_cancel(cancel, "solve")
    return _assemble(city, standard, problem, res, cands, inp, existing, kind, required, t0, current,
                     _report(progress, "check"))


def _assemble(city, standard, problem, res, cands, inp, existing, kind, required, t0, current,
              step: Progress | None) -> CitySiting:
    """Site table, newly covered cells, edits and the independent re-evaluation."""
    reach = standard.threshold_m
    order = np.asarray(res.sites, dtype=np.int64)
    fac_ids = city.facilities["id"].astype(str).to_numpy()
    removed_ids = [str(fac_ids[existing[j]]) for j in res.removed_existing]

    # coverage by the facilities that stay, straight from the matrices
    kept = np.setdiff1d(np.arange(existing.size), res.removed_existing)
    covered0 = np.zeros(inp.n_cells, dtype=bool)
    if inp.existing is not None and kept.size:
        sub = inp.existing[kept].tocoo()
        covered0[sub.col[sub.data <= reach]] = True
    rank, dist = _first_cover(inp.matrix, order, covered0, reach)
    w = inp.weights
    newly = np.bincount(rank[rank >= 0], weights=w[rank >= 0], minlength=order.size)[: order.size]
    claimed_after = float(w[covered0].sum() + newly.sum())

    new_ids = _new_ids(city, standard, order.size)
    x, y = cands.x[order], cands.y[order]
    lon, lat = to_wgs84(x, y, city.crs) if order.size else (np.empty(0), np.empty(0))
    req = {int(i) for i in required}
    sites = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, order.size + 1, dtype=np.int64),
            "site_id": new_ids,
            "candidate_id": [str(i) for i in cands.ids[order]],
            "kind": kind,
            "newly_covered": newly,
            "cumulative_covered": float(w[covered0].sum()) + np.cumsum(newly),
            "gain": np.asarray(res.gains, dtype=float),
            "required": [int(i) in req for i in order],
            "x": x,
            "y": y,
            "lon": lon,
            "lat": lat,
        },
        geometry=shapely.points(x, y) if order.size else [],
        crs=city.crs,
    )

    edits = [RemoveFacility(id=fid) for fid in removed_ids]
    edits += [AddFacility(id=fid, name=f"Proposed {standard.id} site {r + 1}", kind=kind, x=float(a), y=float(b))
              for r, (fid, a, b) in enumerate(zip(new_ids, x, y, strict=True))]
    closed = city_with_facilities(city, apply_edits(city.facilities, edits[: len(removed_ids)], city.crs)) if removed_ids else city
    after_city = city_with_facilities(city, apply_edits(city.facilities, edits, city.crs))
    if step:
        step("checking coverage: the city after the closures", 0.0)
    before = evaluate_standard(closed, standard) if removed_ids else current
    if step:
        step("checking coverage: the city with the new sites", 0.5)
    after = evaluate_standard(after_city, standard)
    if step:
        step("checking coverage: done", 1.0)

    claimed_mask = covered0 | (rank >= 0)
    cells = city.cells
    pos = np.flatnonzero(rank >= 0)
    newly_cells = gpd.GeoDataFrame(
        {
            "cell_id": cells["cell_id"].to_numpy()[pos],
            "population": cells["population"].to_numpy()[pos],
            "elderly": cells["elderly"].to_numpy()[pos],
            "weight": w[pos],
            "site_rank": rank[pos] + 1,
            "site_id": np.asarray(new_ids, dtype=object)[rank[pos]] if pos.size else np.empty(0, dtype=object),
            "dist_m": dist[pos],
        },
        geometry=cells.geometry.values[pos],
        crs=city.crs,
    )
    return CitySiting(
        city=city, standard=standard, problem=problem, result=res, sites=sites, newly_covered_cells=newly_cells,
        current=current, before=before, after=after, before_city=closed, after_city=after_city, edits=edits,
        claimed_covered_after=claimed_after, cells_disagreeing=int(np.count_nonzero(claimed_mask != after.covered)),
        candidates=cands, removed_ids=removed_ids, seconds=time.perf_counter() - t0,
    )
