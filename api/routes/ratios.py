"""Capacity and ratio standards: the catalogue, reports per unit and per cell, GeoJSON and a map.

A *ratio rule* is checked per administrative unit (30 elderly-care beds per
1,000 elderly in every subdistrict, one service station per community); an
*accessibility standard* per cell (beds per 1,000 elderly within a 15-minute
walk, E2SFCA). ``POST /ratios`` evaluates chosen rules with overrides and
keeps the report; ``GET /ratios/units/{level}``, ``/ratios/cells`` and
``/ratios/map.html`` read a kept report (``?report=<id>``) or, without it, the
whole catalogue at its own thresholds.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc

from api.geojson_pages import (
    GEOJSON,
    BboxQ,
    GeoJSONResponse,
    LimitQ,
    OffsetQ,
    feature_collection,
    items_page,
)
from api.job_responses import JOB_ACCEPTED, PreferH, file_or_job
from api.jobs import Progress
from api.problems import ERROR_RESPONSES, ApiProblem
from api.registry import LruRegistry
from api.schemas.common import Link
from api.security import app_singleton, get_state, require_read, require_write
from api.state import AppState, Run, wgs84_frame
from scenarios.evaluate import evaluate
from scenarios.ratio_standards import (
    RatioReport,
    access_standards,
    get_access_standard,
    get_ratio_rule,
    ratio_rules,
    run_ratios,
)
from scenarios.standards import StandardError, resolve_standards

__all__ = ["RatioService", "ratio_service", "report_document", "router"]

router = APIRouter(tags=["Ratio standards"], responses=ERROR_RESPONSES)

RULE_PARAMETERS = ["min_value", "max_value", "per", "level"]
ACCESS_PARAMETERS = ["min_value", "catchment_min", "speed_mps"]
OBJECT_ID = r"^[0-9a-f]{32}$"


# ------------------------------------------------------------------ models


class RatioRuleInfo(BaseModel):
    """A ratio rule checked per administrative unit."""

    id: str
    kind: Literal["per_demand", "count_per_demand_range", "count_per_unit"]
    supply: str = Field(description="What is counted among the unit's facilities: count, beds or doctors.")
    kinds: list[str]
    demand: Literal["population", "elderly"]
    per: float
    min_value: float
    max_value: float | None
    level: str = Field(description="Unit level the rule is checked in.")
    title_en: str
    title_zh: str
    source: str = Field(description="The planning clause the rule comes from.")
    note: str
    parameters: list[str] = Field(description="Parameters a request may override.")


class AccessStandardInfo(BaseModel):
    """A supply-aware accessibility standard checked per cell (E2SFCA)."""

    id: str
    title_en: str
    title_zh: str
    supply: str
    kinds: list[str]
    demand: Literal["population", "elderly"]
    per: float
    min_value: float = Field(description="Cells below it are under-served.")
    catchment_min: float
    speed_mps: float
    unit: str
    source: str
    parameters: list[str] = Field(description="Parameters a request may override.")


class RatioCatalogue(BaseModel):
    """Every ratio rule and accessibility standard with thresholds and source clauses."""

    rules: list[RatioRuleInfo]
    accessibility: list[AccessStandardInfo]


class RatioOverrides(BaseModel):
    """Changed thresholds of one rule or accessibility standard."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"min_value": 40}]})

    min_value: float | None = Field(None, gt=0, le=1e9)
    max_value: float | None = Field(None, gt=0, le=1e9, description="Ratio rules only.")
    per: float | None = Field(None, gt=0, le=1e9, description="Ratio rules only.")
    level: str | None = Field(None, min_length=1, max_length=50, description="Ratio rules only: a unit level of the city.")
    catchment_min: float | None = Field(None, gt=0, le=60, description="Accessibility standards only: walking catchment in minutes.")
    speed_mps: float | None = Field(None, gt=0.1, le=3, description="Accessibility standards only: walking speed.")


class RatioRequest(BaseModel):
    """Which rules and accessibility standards to evaluate, and threshold overrides."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"rules": ["elderly-beds-zhuhai"], "accessibility": ["beds-access"], "overrides": {"elderly-beds-zhuhai": {"min_value": 40}}}]},
    )

    rules: list[str] | None = Field(None, max_length=50, description="Ratio rule ids (all the city has units for by default).")
    accessibility: list[str] | None = Field(None, max_length=20, description="Accessibility standard ids (all by default).")
    overrides: dict[str, RatioOverrides] = Field(default_factory=dict, description="Per rule or standard id.")


class UnitResult(BaseModel):
    """One unit under one rule."""

    unit_id: str
    name: str | None
    demand: float
    facilities: int
    supply: float
    required: float = Field(description="Least supply the rule asks of this unit.")
    required_max: float | None = Field(description="Most supply before the unit is reported as over (null: no upper end).")
    ratio: float | None
    status: Literal["pass", "fail", "no demand"]
    shortfall: int = Field(description="Supply units missing (beds, doctors, facilities); 0 when passing.")
    over: bool
    message: str


class RuleResult(BaseModel):
    """A ratio rule over the city: totals and every unit."""

    rule: str
    title: str
    level: str
    min_value: float
    max_value: float | None
    units_count: int
    units_pass: int
    units_fail: int
    units_no_demand: int
    units_without_facility: list[str] = Field(description="Units with demand and no facility of the rule's kinds.")
    supply: float
    demand: float
    ratio: float | None
    shortfall: int = Field(description="Sum of the units' shortfalls.")
    source: str
    units: list[UnitResult]


class RatioReportDoc(BaseModel):
    """A kept ratio report."""

    id: str
    city: str
    generated: bool
    created: float
    request: dict[str, Any]
    rules: list[RuleResult]
    accessibility: list[dict[str, Any]] = Field(description="Per standard: population uncovered / under-served / served, mean accessibility.")
    links: list[Link]


# ------------------------------------------------------------------ kept reports


def _cells_wgs84(run: Run[RatioReport]) -> gpd.GeoDataFrame:
    """Cells with population and the accessibility columns, in WGS84 (made once per report)."""

    def make(report: RatioReport) -> gpd.GeoDataFrame:
        cells = report.city.cells[["cell_id", "population", "elderly", "geometry"]]
        return wgs84_frame(pd.concat([cells, report.cell_columns()], axis=1))

    return run.derived("cells_wgs84", make)


def _units_wgs84(run: Run[RatioReport], level: str) -> gpd.GeoDataFrame:
    """Units of ``level`` with a status, shortfall and message column per rule of that level, in WGS84."""
    return run.derived(f"units_wgs84:{level}", lambda report: wgs84_frame(report.units_layer(level)))


class RatioService:
    """Kept ratio reports of one API instance (bounded, dropped after the result TTL).

    A report's id is a hash of its request, and the request is kept in the
    shared store: a worker asked for a report another worker made computes
    the same report again (it is deterministic) under the same id.
    """

    def __init__(self, state: AppState):
        self.state = state
        self.runs: LruRegistry[str, Run[RatioReport]] = LruRegistry(state.config.limits.max_runs, state.config.result_ttl_s)
        self._lock = threading.Lock()

    def report(self, req: RatioRequest) -> tuple[Run[RatioReport], bool]:
        """The kept report for ``req``, computed when none is kept; ``(run, was_kept)``."""
        request = req.model_dump(mode="json", exclude_none=True)
        request["overrides"] = {k: v.model_dump(exclude_none=True) for k, v in req.overrides.items()}
        key = json.dumps(request, sort_keys=True)
        with self._lock:  # one computation per request, even when asked for twice at once
            kept = self.runs.find(lambda r: r.key == key)
            if kept is not None:
                return kept, True
            _check_request(self.state, req)
            report = run_ratios(self.state.city, req.rules, req.accessibility, request["overrides"])
            run_id = hashlib.sha256(key.encode()).hexdigest()[:32]
            self._share(run_id, request)
            run = Run(id=run_id, key=key, result=report, request=request, folder=self.state.data_dir / "ratios" / run_id)
            self.runs.put(run.id, run)
            return run, False

    def _share(self, run_id: str, request: dict) -> None:
        """Keep the request under the report's id in the shared store (once; another worker may have)."""
        if self.state.shared.get_result(run_id, "ratio-request") is not None:
            return
        try:
            self.state.shared.put_result(run_id, "ratio-reports", "ratio-request", "application/json",
                                         json.dumps(request).encode(), self.state.config.limits.max_runs)
        except sa_exc.IntegrityError:  # two workers kept the same request at once: one row is enough
            pass

    def get(self, report_id: str | None) -> Run[RatioReport]:
        """A kept report by id; without an id, the whole catalogue at its own thresholds."""
        if report_id is None:
            return self.report(RatioRequest())[0]
        run = self.runs.get(report_id)
        if run is None:
            shared = self.state.shared.get_result(report_id, "ratio-request")
            if shared is not None:  # made by another worker: make it here too
                run = self.report(RatioRequest(**json.loads(shared[1])))[0]
        if run is None:
            raise ApiProblem(404, f"no ratio report with id '{report_id}' (it may have expired; POST /ratios again)",
                             errors=[{"field": "query.report", "message": "unknown report"}])
        return run


ratio_service = app_singleton("lifecircle_ratios", RatioService)
"""Dependency: the :class:`RatioService` of the app serving the request."""


def _problem(field_name: str, message: str) -> ApiProblem:
    return ApiProblem(422, f"{field_name}: {message}", errors=[{"field": field_name, "message": message}])


def _check_request(state: AppState, req: RatioRequest) -> None:
    """Refuse unknown ids and overrides that do not fit their rule (422 naming the field)."""
    rules, stds = ratio_rules(), access_standards()
    for i, rid in enumerate(req.rules or []):
        if rid not in rules:
            raise _problem(f"body.rules.{i}", f"unknown ratio rule '{rid}'; valid rules are: {', '.join(rules)}")
    for i, sid in enumerate(req.accessibility or []):
        if sid not in stds:
            raise _problem(f"body.accessibility.{i}", f"unknown accessibility standard '{sid}'; valid are: {', '.join(stds)}")
    for key, ov in req.overrides.items():
        where = f"body.overrides.{key}"
        params = ov.model_dump(exclude_none=True)
        try:
            if key in rules:
                if "level" in params and params["level"] not in state.city.units:
                    raise _problem(f"{where}.level", f"the city has no unit level '{params['level']}'; it has: {', '.join(state.city.units) or 'none'}")
                get_ratio_rule(key, **params)
            elif key in stds:
                get_access_standard(key, **params)
            else:
                raise _problem(where, f"no ratio rule or accessibility standard '{key}'; valid are: {', '.join([*rules, *stds])}")
        except StandardError as exc:
            raise _problem(where, str(exc)) from None
    for i, rid in enumerate(req.rules or []):
        level = (req.overrides.get(rid).level if rid in req.overrides else None) or rules[rid].level
        if level not in state.city.units:
            raise _problem(f"body.rules.{i}", f"rule '{rid}' is checked per {level}, and the city has no {level} units")


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _units(report: RatioReport, rid: str) -> list[UnitResult]:
    table = report.rules[rid].table
    rows = json.loads(table.drop(columns=[c for c in table.columns if c not in UnitResult.model_fields]).to_json(orient="records", double_precision=15))
    for row in rows:
        row["demand"] = row["demand"] or 0.0
    return [UnitResult(**row) for row in rows]


def report_document(request: Request, run: Run[RatioReport]) -> RatioReportDoc:
    """The API form of a kept ratio report, with links to its GeoJSON and map."""
    report = run.result
    rules = []
    for rid, r in report.rules.items():
        t = r.totals
        rules.append(
            RuleResult(
                rule=rid, title=r.rule.title_en, level=r.rule.level, min_value=r.rule.min_value, max_value=r.rule.max_value,
                units_count=int(t.get("units", 0)), units_pass=int(t.get("units_pass", 0)), units_fail=int(t.get("units_fail", 0)),
                units_no_demand=int(t.get("units_no_demand", 0)), units_without_facility=[str(u) for u in t.get("units_without_facility", [])],
                supply=float(t.get("supply", 0.0)), demand=float(t.get("demand", 0.0)), ratio=_finite(t.get("ratio", np.nan)),
                shortfall=int(t.get("shortfall", 0)), source=r.rule.source, units=_units(report, rid),
            )
        )
    access = json.loads(report.access_frame().to_json(orient="records", double_precision=15)) if report.access else []
    q = {"report": run.id}
    links = [Link(href=str(request.url_for("get_ratio_report", report_id=run.id)), rel="self", type="application/json")]
    for level in sorted({r.rule.level for r in report.rules.values()}):
        links.append(Link(href=str(request.url_for("ratio_units", level=level).include_query_params(**q)), rel="items", type=GEOJSON,
                          title=f"{level} units with each rule's status"))
    if report.access:
        links.append(Link(href=str(request.url_for("ratio_cells").include_query_params(**q)), rel="items", type=GEOJSON, title="Per-cell accessibility (paged)"))
    links.append(Link(href=str(request.url_for("ratio_map_html").include_query_params(**q)), rel="alternate", type="text/html", title="Map"))
    return RatioReportDoc(id=run.id, city=report.city.name, generated=bool(report.city.generated), created=run.created,
                          request=run.request, rules=rules, accessibility=access, links=links)


# ------------------------------------------------------------------ routes


def _rule_info(rule) -> RatioRuleInfo:
    return RatioRuleInfo(**rule.to_dict(), parameters=RULE_PARAMETERS)


@router.get("/ratio-rules", summary="Ratio standards catalogue",
            description="Every ratio rule (per unit: thresholds, level, what is counted) and accessibility standard "
            "(per cell: catchment, threshold), each with the planning clause it comes from.",
            response_model=RatioCatalogue, dependencies=[Depends(require_read)])
def ratio_catalogue() -> RatioCatalogue:
    return RatioCatalogue(
        rules=[_rule_info(r) for r in ratio_rules().values()],
        accessibility=[AccessStandardInfo(**s.to_dict(), parameters=ACCESS_PARAMETERS) for s in access_standards().values()],
    )


@router.get("/ratio-rules/{rule_id}", summary="One ratio rule", description="A single ratio rule of the catalogue.",
            response_model=RatioRuleInfo, dependencies=[Depends(require_read)])
def ratio_rule(rule_id: str = Path(max_length=100, examples=["elderly-beds-zhuhai"])) -> RatioRuleInfo:
    rules = ratio_rules()
    if rule_id not in rules:
        raise ApiProblem(404, f"unknown ratio rule '{rule_id}'; valid rules are: {', '.join(rules)}")
    return _rule_info(rules[rule_id])


@router.post(
    "/ratios",
    status_code=201,
    summary="Evaluate ratio standards",
    description="Check ratio rules per unit (status, shortfall and a message per unit, city totals) and accessibility "
    "standards per cell, with optional threshold overrides such as `{\"elderly-beds-zhuhai\": {\"min_value\": 40}}`. "
    "The report is kept (201, `Location`); an identical request answers 200 with the kept one.",
    response_model=RatioReportDoc,
    responses={200: {"model": RatioReportDoc, "description": "An identical report was already kept"}},
    dependencies=[Depends(require_write)],
)
def create_ratio_report(req: RatioRequest, request: Request, response: Response, service: RatioService = Depends(ratio_service)) -> RatioReportDoc:
    run, kept = service.report(req)
    response.status_code = 200 if kept else 201
    response.headers["Location"] = str(request.url_for("get_ratio_report", report_id=run.id))
    return report_document(request, run)


ReportQ = Query(None, pattern=OBJECT_ID, description="Id of a report made by POST /ratios (default: the catalogue at its own thresholds).")


@router.get(
    "/ratios/units/{level}",
    name="ratio_units",
    summary="Units with rule status (GeoJSON)",
    description="The units of a level in WGS84, with `<rule>_status` (pass, fail, no demand), `<rule>_shortfall` and "
    "`<rule>_message` for every rule of the report checked at that level.",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}}, "description": "FeatureCollection of units"}},
    dependencies=[Depends(require_read)],
)
def ratio_units(level: str = Path(max_length=50, examples=["subdistrict"]), report: str | None = ReportQ,
                service: RatioService = Depends(ratio_service)) -> GeoJSONResponse:
    run = service.get(report)
    if level not in run.result.city.units:
        raise ApiProblem(404, f"the city has no unit level '{level}'; it has: {', '.join(run.result.city.units) or 'none'}",
                         errors=[{"field": "path.level", "message": "unknown unit level"}])
    frame = _units_wgs84(run, level)
    return GeoJSONResponse(feature_collection(frame, np.arange(len(frame)), "unit_id"))


@router.get(
    "/ratios/cells",
    name="ratio_cells",
    summary="Per-cell accessibility (GeoJSON)",
    description="Cells in WGS84 with population, elderly and, per accessibility standard, `<id>_value` (supply per "
    "demand within the catchment) and `<id>_class` (uncovered, under-served, served); paged with next/prev links.",
    response_class=GeoJSONResponse,
    dependencies=[Depends(require_read)],
)
def ratio_cells(request: Request, report: str | None = ReportQ, bbox: str | None = BboxQ, limit: int = LimitQ, offset: int = OffsetQ,
                state: AppState = Depends(get_state), service: RatioService = Depends(ratio_service)) -> GeoJSONResponse:
    run = service.get(report)
    return items_page(request, _cells_wgs84(run), "cell_id", bbox, limit, offset, state.config.limits.max_page_size)


@router.get(
    "/ratios/map.html",
    name="ratio_map_html",
    summary="Ratio map",
    description="Self-contained HTML map: the city's coverage with one layer per ratio rule (units passing or failing, "
    "the shortfall in the tooltip) and the accessibility classes per cell; English or Chinese labels.",
    response_class=FileResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The map"}, **JOB_ACCEPTED},
    dependencies=[Depends(require_read)],
)
def ratio_map_html(
    request: Request,
    report: str | None = ReportQ,
    lang: str = Query("en", pattern="^(en|zh)$", description="Label language."),
    basemap: Literal["osm", "light", "none"] | None = Query(None, description="Background tiles (default: none for generated cities)."),
    prefer: str | None = PreferH,
    service: RatioService = Depends(ratio_service),
):
    run = service.get(report)
    state = service.state
    path = run.folder / f"map-{lang}-{basemap or 'default'}.html"

    standards = resolve_standards()  # the map shows the ratio layers over every standard's coverage

    def make(progress: Progress) -> None:
        from maps.ratio_layers import ratio_map

        run.folder.mkdir(parents=True, exist_ok=True)
        # without walking service areas: they are the coverage map's slowest layer and say nothing about ratios
        ratio_map(evaluate(state.city, standards, progress=progress), run.result, path, lang=lang, basemap=basemap, service_areas=False)

    large = len(state.city.cells) * len(standards) > state.config.limits.sync_max_cell_standards
    return file_or_job(request, state, path, make, "text/html", large, prefer)


@router.get("/ratios/{report_id}", name="get_ratio_report", summary="A kept ratio report", description="A report made by POST /ratios.",
            response_model=RatioReportDoc, dependencies=[Depends(require_read)])
def get_ratio_report(request: Request, report_id: str = Path(max_length=64), service: RatioService = Depends(ratio_service)) -> RatioReportDoc:
    return report_document(request, service.get(report_id))
