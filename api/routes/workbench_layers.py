"""Workbench layers on a scenario's facilities now: ratio rules per unit, the largest gaps, deltas per unit.

- ``GET /workbench/scenarios/{name}/ratios``: every ratio rule the city has units for, per unit (pass / fail / no demand);
- ``GET /workbench/scenarios/{name}/gaps/{standard}``: the largest clusters of uncovered cells (GeoJSON, WGS84);
- ``GET /workbench/compare/units``: covered population per unit and standard in two plans, and the change.

The numbers are the library's (:func:`scenarios.ratio_standards.run_ratios`,
:func:`geo.clusters.uncovered_clusters`, the full runs that
``/scenarios/compare`` compares), so the page shows what the API answers.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.job_responses import JOB_ACCEPTED, PreferH, start_or_run
from api.jobs import Progress
from api.problems import ERROR_RESPONSES, ApiProblem
from api.scenario_checks import check_runnable, is_large, scenario_ref
from api.scenario_service import ScenarioService, scenario_service
from api.security import require_read
from api.state import wgs84_frame
from api.workbench_views import NameP, ViewCache, etag_headers, live_scenario, view_cache
from geo.clusters import uncovered_clusters
from geo.unit_ratios import CapacityError, assign_to_units
from layers.city import City
from scenarios.evaluate import CoverageResult
from scenarios.model import Scenario
from scenarios.ratio_standards import RatioReport, ratio_rules, run_ratios
from scenarios.run import base_of
from scenarios.standards import StandardError

__all__ = ["router", "unit_positions", "units_covered"]

router = APIRouter(prefix="/workbench", tags=["Workbench"], responses=ERROR_RESPONSES)

TOP_GAPS = 10


# ------------------------------------------------------------------ ratio rules per unit


def _ratios(views: ViewCache, scenario: Scenario, city: City) -> list[tuple[str, RatioReport | str]]:
    """Per ratio rule, its report, or why it cannot be checked (no units of its level, a capacity missing).

    Rule by rule: a facility added without the capacity one rule counts
    (a clinic without doctors) stops that rule only, with the library's message.
    """
    def make():
        out: list[tuple[str, RatioReport | str]] = []
        for rid, rule in ratio_rules().items():
            if rule.level not in (city.units or {}):
                # listed with why, not left out: a planner's city built without these boundaries wonders where it went
                have = ", ".join(city.units or {}) or "none"
                out.append((rid, f"needs {rule.level} boundaries, which city '{city.name}' was built without "
                                 f"(its unit levels: {have}); add them with 'lifecircle city build --units'"))
                continue
            try:  # ratio rules only: the E2SFCA standards are a tile mode of their own (seconds on a large city)
                out.append((rid, run_ratios(city, [rid], [])))
            except (CapacityError, StandardError) as exc:
                out.append((rid, str(exc)))
        return out

    return views.get(("ratios", scenario.name, scenario.version), make)


@router.get("/scenarios/{name}/ratios", name="scenario_ratios", summary="Ratio rules per unit, on a scenario's facilities",
            description="Every ratio rule, checked on the scenario's facilities at its latest "
            "version: per unit its status (pass / fail / no demand), shortfall and message, and the units' level. "
            "The same numbers as `POST /ratios` on a city with those facilities. A rule that cannot be checked (the "
            "city has no boundaries of its level, or a facility lacks the capacity it counts) has `error` and no units. "
            "`ETag` is the version.",
            dependencies=[Depends(require_read)])
def scenario_ratios(response: Response, name: str = NameP, service: ScenarioService = Depends(scenario_service),
                    views: ViewCache = Depends(view_cache)) -> dict[str, Any]:
    with service.name_lock(name):
        scenario, live = live_scenario(service, name)
        city = views.city(scenario, live)
    rules = []
    for rid, report in _ratios(views, scenario, city):
        rule = ratio_rules()[rid]
        doc: dict[str, Any] = {"id": rid, "en": rule.title_en, "zh": rule.title_zh, "level": rule.level}
        if isinstance(report, str):
            rules.append({**doc, "error": report, "units": {}})
            continue
        r = report.rules[rid]
        table = r.table
        rules.append({
            **doc, "error": None,
            "units_pass": int(r.totals.get("units_pass", 0)), "units_fail": int(r.totals.get("units_fail", 0)),
            "units": {str(u): {"status": st, "shortfall": int(sf), "message": msg}
                      for u, st, sf, msg in zip(table["unit_id"], table["status"], table["shortfall"], table["message"])},
        })
    response.headers.update(etag_headers(scenario.version))
    return {"name": name, "version": scenario.version, "rules": rules}


# ------------------------------------------------------------------ largest gaps


@router.get("/scenarios/{name}/gaps/{standard}", name="scenario_gaps", summary="A scenario's largest gaps",
            description=f"The largest clusters of adjacent uncovered cells with residents for one standard, on the "
            f"scenario's facilities at its latest version (at most `top`, default {TOP_GAPS}): `rank`, `population`, "
            "`n_cells` and the dissolved polygon, as GeoJSON in WGS84.",
            response_class=Response, responses={200: {"content": {"application/geo+json": {}}}},
            dependencies=[Depends(require_read)])
def scenario_gaps(name: str = NameP, standard: str = Path(max_length=64),
                  top: int = Query(TOP_GAPS, ge=1, le=100, description="Clusters to return at most."),
                  service: ScenarioService = Depends(scenario_service), views: ViewCache = Depends(view_cache)) -> Response:
    with service.name_lock(name):
        scenario, live = live_scenario(service, name)
        if standard not in {s.id for s in live.standards}:
            raise ApiProblem(404, f"scenario '{name}' does not check standard '{standard}'; it checks: "
                             f"{', '.join(s.id for s in live.standards)}", errors=[{"field": "path.standard", "message": "not in this scenario"}])
        result = live.standard_result(standard)
    city = service.state.city

    n = max(top, TOP_GAPS)  # one kept answer serves every smaller top

    def clusters():
        mask = ~result.covered & (result.weight > 0)
        return uncovered_clusters(city.cells.geometry, mask, result.weight, top=n, topology=city.cell_topology)

    found = views.get(("gaps", name, scenario.version, standard, n), clusters).head(top)
    frame = wgs84_frame(found[["rank", "population", "n_cells", "geometry"]])
    body = json.loads(frame.to_json(drop_id=True))
    body.update({"name": name, "version": scenario.version, "standard": standard})
    return Response(json.dumps(body), media_type="application/geo+json", headers=etag_headers(scenario.version))


# ------------------------------------------------------------------ deltas per unit


def unit_positions(city: City, level: str) -> np.ndarray:
    """Row of ``city.units[level]`` holding each cell (``-1`` outside every unit).

    The cells' own unit column when they have one (what the city was built
    with), else the unit holding the cell's representative point.
    """
    units = city.units[level]
    if level in city.cells.columns:
        return pd.Index(units["unit_id"].astype(str)).get_indexer(city.cells[level].astype(str)).astype(np.int64)
    return assign_to_units(city.cells.geometry.representative_point().values, units)


def units_covered(result: CoverageResult, positions: np.ndarray, n_units: int) -> dict[str, np.ndarray]:
    """Per standard, the covered weight (residents, elderly) of each unit."""
    inside = positions >= 0
    return {sid: np.bincount(positions[inside], weights=(r.weight * r.covered)[inside], minlength=n_units)
            for sid, r in result.results.items()}


@router.get("/compare/units", name="compare_units", summary="Deltas per unit of two plans",
            description="Covered population (the standard's weight) per unit of `level` and standard in `a` "
            "(\"before\") and `b` (\"after\"), and the change; without `b`, `a` against the city's current facilities "
            "(as `/scenarios/compare`, whose per-standard change is the sum of these over the units). Latest versions. "
            "The two plans' full runs are kept and shared with `/scenarios/compare`; when they are not yet kept and "
            "cells x standards pass `limits.sync_max_cell_standards` (or with `Prefer: respond-async`), they are made "
            "by a background job (202) whose result is this request pinned to the versions, answered at once.",
            responses=JOB_ACCEPTED, dependencies=[Depends(require_read)])
def compare_units(
    request: Request,
    a: str = Query(min_length=1, max_length=220, description="The first scenario, NAME[@VERSION] (\"before\"; \"after\" without b)."),
    b: str | None = Query(None, min_length=1, max_length=220, description="The second scenario (\"after\")."),
    level: str | None = Query(None, max_length=50, description="Unit level (default: the city's first)."),
    prefer: str | None = PreferH,
    service: ScenarioService = Depends(scenario_service),
) -> Any:
    city = service.state.city
    if not city.units:
        raise ApiProblem(422, f"city '{city.name}' has no unit boundaries to compare by", errors=[{"field": "query.level", "message": "no units"}])
    level = level or next(iter(city.units))
    if level not in city.units:
        raise ApiProblem(422, f"level '{level}' is not a unit level of '{city.name}'; it has: {', '.join(city.units)}",
                         errors=[{"field": "query.level", "message": "unknown level"}])
    sa = scenario_ref(service, a, "a")
    sb = scenario_ref(service, b, "b") if b is not None else None
    check_runnable(service.state, sa, *([sb] if sb else []))
    pinned = request.url.include_query_params(a=f"{sa.name}@{sa.version}", level=level,
                                              **({"b": f"{sb.name}@{sb.version}"} if sb else {}))

    def work(progress: Progress) -> str:
        service.comparison(sa, sb, progress)  # the runs are kept: the pinned URL then answers at once
        return str(pinned)

    # two full runs: 5 s and +0.5 GB at the Guangzhou size (bench/RESULTS.md), too much for a request
    needed = [sa, sb] if sb else [base_of(sa), sa]
    large = is_large(service.state, needed) and not all(service.has_run(s) for s in needed)
    queued = start_or_run(request, service.state, "scenario-compare", large, prefer, work)
    if queued is not None:
        return queued
    with service.state.compute_slots:  # the kept full runs /scenarios/compare compares
        comparison = service.comparison(sa, sb)
    units = city.units[level]
    pos = unit_positions(city, level)
    cov_a = units_covered(comparison.result_a, pos, len(units))
    cov_b = units_covered(comparison.result_b, pos, len(units))
    ids = units["unit_id"].astype(str).tolist()
    names = units["name"].astype(str).tolist() if "name" in units.columns else ids
    rows = [
        {"standard": sid, "unit_id": uid, "name": nm, "covered_before": round(float(va), 1),
         "covered_after": round(float(vb), 1), "covered_change": round(float(vb - va), 1)}
        for sid in cov_b if sid in cov_a
        for uid, nm, va, vb in zip(ids, names, cov_a[sid], cov_b[sid])
    ]
    return {"before": comparison.name_a, "after": comparison.name_b,
            "level": level, "units": rows}
