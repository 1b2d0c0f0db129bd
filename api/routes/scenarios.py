"""Scenarios: versioned what-if plans, edited live, run, compared and mapped.

A scenario is stored in a :class:`scenarios.store.ScenarioStore` (SQLite in the
data directory by default, or the database at ``scenario_db_url``); every save
is a new version. Changes use optimistic concurrency over HTTP: ``GET`` answers
with ``ETag: "<version>"``, and ``PUT``, ``DELETE`` and ``POST .../edits`` need
``If-Match`` with that version (``428`` without it, ``412`` when the scenario
moved on meanwhile, so a second writer never overwrites the first).

``POST /scenarios/{name}/edits`` appends one edit and answers with what each
standard now covers, computed incrementally by a :class:`scenarios.run.LiveScenario`
kept in memory per scenario (milliseconds per edit instead of a full run).
``POST /scenarios/{name}/run`` evaluates a version in full as a background job
whose result is a coverage run (summaries, per-cell GeoJSON, GeoPackage, maps).

The path ``/scenarios/compare`` is the comparison endpoint, so no scenario may
be created under the name ``compare``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.job_responses import JOB_ACCEPTED, PreferH, file_or_job, start_or_run
from api.jobs import Progress
from api.problems import ERROR_RESPONSES, ApiProblem, Problem
from api.scenario_checks import (
    check_runnable,
    checked_scenario,
    is_large,
    outside_city,
    parse_if_match,
    scenario_ref,
    stale_version,
)
from api.scenario_service import NAME_PATTERN, ScenarioService, content_key, scenario_service
from api.schemas.common import Link, Overrides
from api.security import owner_of, require_read, require_write
from api.state import AppState, Run
from scenarios.model import (
    Edit,
    EditError,
    Scenario,
)
from scenarios.run import base_of
from scenarios.store import (
    ScenarioNotFoundError,
    StaleWriteError,
    StoreError,
    VersionInfo,
)

__all__ = ["router"]

log = logging.getLogger("lifecircle.api")

RESERVED_NAMES = ("compare",)
"""Names that are paths of this API, not scenarios."""


async def _store_failures():
    """Turn store failures that no route handled (database gone, damaged rows) into problems."""
    try:
        yield
    except ScenarioNotFoundError as exc:
        raise ApiProblem(404, str(exc)) from None
    except StaleWriteError as exc:
        raise ApiProblem(412, str(exc)) from None
    except StoreError as exc:
        log.error("scenario store: %s", exc)  # the database's address is for operators only
        raise ApiProblem(503, "the scenario store failed; the incident was logged") from None


_PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
STALE = {412: {**_PROBLEM, "description": "The scenario changed since the version in If-Match (reload and reapply)"}}
NEED_IF_MATCH = {428: {**_PROBLEM, "description": "If-Match header missing"}}
CONFLICT = {409: {**_PROBLEM, "description": "A scenario of that name already exists"}}
UNAVAILABLE = {503: {**_PROBLEM, "description": "The scenario store cannot be reached"}}

router = APIRouter(prefix="/scenarios", tags=["Scenarios"], responses={**ERROR_RESPONSES, **UNAVAILABLE}, dependencies=[Depends(_store_failures)])

NameP = Path(min_length=1, max_length=200, pattern=NAME_PATTERN, description="Scenario name.", examples=["new-clinic-east"])
IfMatchH = Header(
    None,
    alias="If-Match",
    max_length=200,
    description='The version the change is based on, as the `ETag` of `GET /scenarios/{name}` gave it (`"3"`); `*` for whatever is current.',
)
Lang = Query("en", pattern="^(en|zh)$", description="Label language.")
Basemap = Query(None, description="Background tiles (default: none for generated cities).")


# ------------------------------------------------------------------ models


class ScenarioFields(BaseModel):
    """The content of a scenario: edits to the loaded city's facilities and the standards to check."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field("", max_length=10_000)
    city: str | None = Field(None, max_length=200, description="Base city; must be the loaded city (the default).")
    edits: list[Edit] = Field(default_factory=list, max_length=10_000, description="Facility edits, applied in order.")
    standards: list[str] | None = Field(None, min_length=1, max_length=50, description="Standard ids (all by default).")
    overrides: dict[str, Overrides] = Field(default_factory=dict, description="Per-standard parameter overrides.")


class ScenarioCreate(ScenarioFields):
    """A new scenario."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "new-clinic-east",
                    "description": "Open a clinic on the east side",
                    "standards": ["clinic-walk"],
                    "edits": [{"op": "add", "id": "HS-NEW-1", "kind": "health_station", "lon": 116.505, "lat": 18.99}],
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN, description="Key of the scenario (not `compare`).")


class ScenarioReplace(ScenarioFields):
    """A scenario's new content (a new version); ``name``, if given, must be the one in the path."""

    name: str | None = Field(None, max_length=200)


class ScenarioDoc(BaseModel):
    """One version of a scenario."""

    name: str
    version: int = Field(description="Store version; the `ETag` of this response.")
    description: str
    city: str
    edits: list[Edit]
    standards: list[str] | None
    overrides: dict[str, dict[str, Any]]
    results: dict[str, Any] | None = Field(description="Summary of the last full run of this version, if any.")
    links: list[Link]


class VersionDoc(BaseModel):
    """A version of a scenario, without its content."""

    name: str
    version: int
    saved_at: datetime
    author: str | None
    message: str | None
    deleted: bool = Field(description="True for the marker a DELETE leaves (earlier versions stay readable).")
    has_results: bool
    links: list[Link]


class EditResult(BaseModel):
    """A live edit: the new version and what every standard now covers."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "new-clinic-east",
                    "version": 3,
                    "edits": 2,
                    "edit": {"op": "add", "id": "HS-NEW-1", "kind": "health_station", "lon": 116.505, "lat": 18.99},
                    "changed_cells": {"clinic-walk": 41},
                    "standards": {"clinic-walk": {"covered": 296000.0, "share_covered": 0.925}},
                    "links": [],
                }
            ]
        }
    )

    name: str
    version: int = Field(description="The version saved with this edit; send it as If-Match with the next one.")
    edits: int = Field(description="Edits of the scenario now.")
    edit: dict[str, Any]
    changed_cells: dict[str, int] = Field(description="Per standard the edit touched, cells whose nearest facility changed.")
    standards: dict[str, dict[str, Any]] = Field(description="Per standard, the coverage summary after the edit.")
    links: list[Link]


class ComparisonDoc(BaseModel):
    """Two scenario versions (or one and the current facilities) compared per standard."""

    before: str
    after: str
    city: str
    generated_city: bool
    standards: list[dict[str, Any]] = Field(description="Per standard: coverage before/after, newly (un)covered cells, load changes.")
    table: list[dict[str, Any]] = Field(description="The comparison table, one row per standard.")
    links: list[Link]


# ------------------------------------------------------------------ helpers


def _url(request: Request, route: str, **params: Any) -> str:
    # url_for does not percent-encode path parameters; scenario names may hold spaces, '?', '#'.
    return str(request.url_for(route, **{k: quote(str(v), safe="") for k, v in params.items()}))


def _links(request: Request, name: str, version: int) -> list[Link]:
    return [
        Link(href=_url(request, "get_scenario", name=name), rel="self", type="application/json", title="Latest version"),
        Link(href=_url(request, "get_scenario_version", name=name, version=version), rel="version", type="application/json"),
        Link(href=_url(request, "scenario_versions", name=name), rel="version-history", type="application/json"),
        Link(href=_url(request, "scenario_edits", name=name), rel="edit", type="application/json", title="Append an edit (POST, If-Match)"),
        Link(href=_url(request, "run_scenario_job", name=name), rel="run", type="application/json", title="Run in full (POST, job)"),
        Link(href=str(request.url_for("compare_scenarios").include_query_params(a=f"{name}@{version}")), rel="compare",
             type="application/json", title="Compared with the current facilities"),
        Link(href=_url(request, "scenario_map", name=name), rel="alternate", type="text/html", title="Change map"),
    ]


def _doc(request: Request, scenario: Scenario) -> ScenarioDoc:
    data = scenario.model_dump(mode="json")
    return ScenarioDoc(**{k: data[k] for k in ScenarioDoc.model_fields if k != "links"}, links=_links(request, scenario.name, scenario.version))


def _etag(version: int) -> str:
    return f'"{version}"'


def _version_doc(request: Request, v: VersionInfo) -> VersionDoc:
    links = [] if v.deleted else [Link(href=_url(request, "get_scenario_version", name=v.name, version=v.version), rel="version", type="application/json")]
    return VersionDoc(name=v.name, version=v.version, saved_at=v.saved_at, author=v.author, message=v.message,
                      deleted=v.deleted, has_results=v.has_results, links=links)


def _not_found(exc: LookupError) -> ApiProblem:
    return ApiProblem(404, str(exc))


def _get(service: ScenarioService, name: str, version: int | None = None) -> Scenario:
    try:
        return service.store.get(name, version)
    except ScenarioNotFoundError as exc:
        raise _not_found(exc) from None


def _scenario(state: AppState, name: str, body: ScenarioFields) -> Scenario:
    """Validate a request body into a Scenario of the loaded city (422 problems naming the field)."""
    data = body.model_dump(mode="json", exclude={"overrides", "city", "name"})
    data["overrides"] = {k: v.model_dump(exclude_none=True) for k, v in body.overrides.items()}
    return checked_scenario(state, name, body.city, data)


# ------------------------------------------------------------------ comparison (before /{name})


@router.get(
    "/compare",
    name="compare_scenarios",
    summary="Compare scenarios",
    description="Coverage of `b` against `a` per standard (population and share covered before and after, cells newly "
    "covered or uncovered, facilities whose served population changes most). Without `b`, `a` is compared with the "
    "city's current facilities. Give scenarios as `NAME` (latest) or `NAME@VERSION`. `format=csv` gives the table. "
    "Large cities (or `Prefer: respond-async`) run as a job whose result is this comparison.",
    response_model=ComparisonDoc,
    responses={200: {"content": {"text/csv": {}}}, **JOB_ACCEPTED},
    dependencies=[Depends(require_read)],
)
def compare_scenarios(
    request: Request,
    a: str = Query(min_length=1, max_length=220, description="The first scenario, NAME[@VERSION] (\"before\")."),
    b: str | None = Query(None, min_length=1, max_length=220, description="The second scenario (\"after\"); omitted: `a` against the current facilities."),
    format: Literal["json", "csv"] = Query("json", description="JSON document or the table as CSV."),
    cell_ids: bool = Query(False, description="List the ids of newly (un)covered cells."),
    top_facilities: int = Query(10, ge=0, le=1000, description="Facilities per standard in `load_changes`."),
    prefer: str | None = PreferH,
    service: ScenarioService = Depends(scenario_service),
):
    sa = scenario_ref(service, a, "a")
    sb = scenario_ref(service, b, "b") if b is not None else None
    check_runnable(service.state, sa, *([sb] if sb else []))
    pinned = request.url.include_query_params(a=f"{sa.name}@{sa.version}", **({"b": f"{sb.name}@{sb.version}"} if sb else {}))

    def work(progress: Progress) -> str:
        service.comparison(sa, sb, progress)  # the runs are kept: the pinned URL then answers at once
        return str(pinned)

    needed = [sa, sb] if sb else [base_of(sa), sa]
    large = is_large(service.state, needed) and not all(service.has_run(s) for s in needed)  # kept runs answer at once
    queued = start_or_run(request, service.state, "scenario-compare", large, prefer, work)
    if queued is not None:
        return queued
    with service.state.compute_slots:
        comparison = service.comparison(sa, sb)
    table = json.loads(comparison.table().to_json(orient="records"))
    if format == "csv":
        buf = io.StringIO()
        comparison.table().to_csv(buf, index=False)
        return Response(buf.getvalue(), media_type="text/csv")
    doc = comparison.to_json(top_facilities=top_facilities, cell_ids=cell_ids)
    map_url = request.url_for("compare_map").include_query_params(a=f"{sa.name}@{sa.version}", **({"b": f"{sb.name}@{sb.version}"} if sb else {}))
    return ComparisonDoc(**doc, table=table, links=[
        Link(href=str(pinned), rel="self", type="application/json"),
        Link(href=str(pinned.include_query_params(format="csv")), rel="alternate", type="text/csv", title="Table"),
        Link(href=str(map_url), rel="alternate", type="text/html", title="Change map"),
    ])


def _change_map(request: Request, service: ScenarioService, a: Scenario, b: Scenario | None, lang: str, basemap: str | None, prefer: str | None):
    check_runnable(service.state, a, *([b] if b else []))
    key = json.dumps([content_key(a), None if b is None else content_key(b), a.name, a.version,
                      None if b is None else [b.name, b.version], lang, basemap])
    folder = service.state.data_dir / "scenario-maps"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"change-{hashlib.sha256(key.encode()).hexdigest()[:32]}.html"

    def make(progress: Progress) -> None:
        from maps.compare import change_map

        change_map(service.comparison(a, b, progress), path, lang=lang, basemap=basemap)

    return file_or_job(request, service.state, path, make, "text/html", is_large(service.state, [a] + ([b] if b else [])), prefer)


_MAP_RESPONSES = {200: {"content": {"text/html": {}}, "description": "The change map"}, **JOB_ACCEPTED}


@router.get(
    "/compare/map.html",
    name="compare_map",
    summary="Change map of a comparison",
    description="Self-contained HTML map: the coverage of `b` with the cells newly covered / no longer covered and the "
    "facilities whose load changes most (`a` against the current facilities when `b` is omitted).",
    response_class=FileResponse,
    responses=_MAP_RESPONSES,
    dependencies=[Depends(require_read)],
)
def compare_map(
    request: Request,
    a: str = Query(min_length=1, max_length=220, description="NAME[@VERSION] (\"before\")."),
    b: str | None = Query(None, min_length=1, max_length=220, description="NAME[@VERSION] (\"after\")."),
    lang: str = Lang,
    basemap: Literal["osm", "light", "none"] | None = Basemap,
    prefer: str | None = PreferH,
    service: ScenarioService = Depends(scenario_service),
):
    sa = scenario_ref(service, a, "a")
    sb = scenario_ref(service, b, "b") if b is not None else None
    return _change_map(request, service, sa, sb, lang, basemap, prefer)


# ------------------------------------------------------------------ CRUD


@router.post(
    "",
    status_code=201,
    summary="Create a scenario",
    description="Save a new scenario as version 1 (`ETag: \"1\"`, `Location` of the scenario). Edits are checked "
    "against the loaded city: unknown facility ids, kinds, negative capacities and locations outside the city are 422.",
    response_model=ScenarioDoc,
    responses=CONFLICT,
    dependencies=[Depends(require_write)],
)
def create_scenario(body: ScenarioCreate, request: Request, response: Response, service: ScenarioService = Depends(scenario_service)) -> ScenarioDoc:
    if body.name.strip().lower() in RESERVED_NAMES:
        raise ApiProblem(422, f"name '{body.name}' is reserved (it is a path of this API)", errors=[{"field": "body.name", "message": "reserved"}])
    if body.name.strip() in ("", ".", ".."):
        # '.' and '..' are path segments: a URL holding them is rewritten by clients and proxies
        raise ApiProblem(422, f"name {body.name!r} cannot be a scenario name (it is a path segment)", errors=[{"field": "body.name", "message": "not '.', '..' or blank"}])
    scenario = _scenario(service.state, body.name.strip(), body)
    try:
        version = service.store.save(scenario, expected_version=0, message="created")
    except StaleWriteError as exc:
        raise ApiProblem(409, str(exc), errors=[{"field": "body.name", "message": "already exists"}]) from None
    saved = _get(service, scenario.name, version)
    response.headers["ETag"] = _etag(version)
    response.headers["Location"] = _url(request, "get_scenario", name=scenario.name)
    return _doc(request, saved)


@router.get("", summary="List scenarios", description="The latest version of every scenario (deleted ones with `deleted=true`).",
            response_model=list[VersionDoc], dependencies=[Depends(require_read)])
def list_scenarios(request: Request, deleted: bool = Query(False, description="Also list deleted scenarios."),
                   service: ScenarioService = Depends(scenario_service)) -> list[VersionDoc]:
    return [_version_doc(request, v) for v in service.store.list_scenarios(include_deleted=deleted)]


@router.get("/{name}", name="get_scenario", summary="A scenario", description="The latest version, with `ETag: \"<version>\"` to send back as If-Match.",
            response_model=ScenarioDoc, dependencies=[Depends(require_read)])
def get_scenario(request: Request, response: Response, name: str = NameP, service: ScenarioService = Depends(scenario_service)) -> ScenarioDoc:
    scenario = _get(service, name)
    response.headers["ETag"] = _etag(scenario.version)
    return _doc(request, scenario)


@router.get("/{name}/versions", name="scenario_versions", summary="Version history",
            description="Every version, oldest first, deletion markers included.",
            response_model=list[VersionDoc], dependencies=[Depends(require_read)])
def scenario_versions(request: Request, name: str = NameP, service: ScenarioService = Depends(scenario_service)) -> list[VersionDoc]:
    try:
        history = service.store.history(name)
    except ScenarioNotFoundError as exc:
        raise _not_found(exc) from None
    return [_version_doc(request, v) for v in history]


@router.get("/{name}/versions/{version}", name="get_scenario_version", summary="One version", description="A version by number (also after the scenario was deleted).",
            response_model=ScenarioDoc, dependencies=[Depends(require_read)])
def get_scenario_version(request: Request, response: Response, name: str = NameP, version: int = Path(ge=1, le=10**9),
                         service: ScenarioService = Depends(scenario_service)) -> ScenarioDoc:
    scenario = _get(service, name, version)
    response.headers["ETag"] = _etag(scenario.version)
    return _doc(request, scenario)


@router.put(
    "/{name}",
    summary="Replace a scenario",
    description="Save new content as the next version. Needs `If-Match` with the version it was based on: 428 without "
    "it, 412 when the scenario changed meanwhile (nothing is overwritten).",
    response_model=ScenarioDoc,
    responses={**STALE, **NEED_IF_MATCH},
    dependencies=[Depends(require_write)],
)
def replace_scenario(body: ScenarioReplace, request: Request, response: Response, name: str = NameP, if_match: str | None = IfMatchH,
                     service: ScenarioService = Depends(scenario_service)) -> ScenarioDoc:
    if body.name is not None and body.name != name:
        raise ApiProblem(422, f"name '{body.name}' in the body differs from '{name}' in the path (scenarios are not renamed)",
                         errors=[{"field": "body.name", "message": f"must be '{name}' or omitted"}])
    current = _get(service, name)
    expected = parse_if_match(if_match, name, current.version, "PUT")
    scenario = _scenario(service.state, name, body)
    with service.name_lock(name):
        try:
            version = service.store.save(scenario, expected_version=expected, message="replaced")
        except StaleWriteError as exc:
            raise stale_version(name, exc.current, str(expected)) from None
        service.keep_live(name, None, None)
    response.headers["ETag"] = _etag(version)
    return _doc(request, _get(service, name, version))


@router.delete(
    "/{name}",
    status_code=204,
    summary="Delete a scenario",
    description="Mark the scenario deleted (a new version); earlier versions stay readable under /versions. Needs `If-Match`.",
    responses={**STALE, **NEED_IF_MATCH},
    dependencies=[Depends(require_write)],
)
def delete_scenario(name: str = NameP, if_match: str | None = IfMatchH, service: ScenarioService = Depends(scenario_service)) -> Response:
    current = _get(service, name)
    expected = parse_if_match(if_match, name, current.version, "DELETE")
    with service.name_lock(name):
        try:
            service.store.delete(name, expected, message="deleted")
        except StaleWriteError as exc:
            raise stale_version(name, exc.current, str(expected)) from None
        except ScenarioNotFoundError as exc:
            raise _not_found(exc) from None
        service.keep_live(name, None, None)
    return Response(status_code=204)


# ------------------------------------------------------------------ live edits, runs, maps


@router.post(
    "/{name}/edits",
    name="scenario_edits",
    summary="Append an edit (live)",
    description="Add, move or close a facility, or change a capacity, saving a new version, and see at once what each "
    "standard now covers (computed incrementally, equal to a full run). Needs `If-Match`; the answer's `ETag` is the "
    "new version.",
    response_model=EditResult,
    status_code=201,
    responses={**STALE, **NEED_IF_MATCH},
    dependencies=[Depends(require_write)],
)
def scenario_edits(
    request: Request,
    response: Response,
    edit: Annotated[Edit, Body(examples=[{"op": "add", "id": "HS-NEW-1", "kind": "health_station", "lon": 116.505, "lat": 18.99},
                                         {"op": "remove", "id": "EC0008"}, {"op": "set_capacity", "id": "EC0009", "field": "beds", "value": 44}])],
    name: str = NameP,
    if_match: str | None = IfMatchH,
    service: ScenarioService = Depends(scenario_service),
) -> EditResult:
    state = service.state
    with service.name_lock(name):
        current = _get(service, name)
        expected = parse_if_match(if_match, name, current.version, "POST edits")
        check_runnable(state, current)
        why = outside_city(state, edit)
        if why:
            raise ApiProblem(422, f"edit ({edit.op} '{edit.id}'): {why}", errors=[{"field": "body", "message": why}])
        live = service.live(current)
        try:
            answer = live.apply(edit)
        except EditError as exc:
            raise ApiProblem(422, str(exc), errors=[{"field": "body.id", "message": str(exc)}]) from None
        updated = current.model_copy(update={"edits": [*current.edits, edit], "results": None})
        try:
            version = service.store.save(updated, expected_version=expected, message=f"{edit.op} {edit.id}")
        except StaleWriteError as exc:
            service.keep_live(name, None, None)  # the live state holds an edit the store refused
            raise stale_version(name, exc.current, str(expected)) from None
        except Exception:
            service.keep_live(name, None, None)
            raise
        service.keep_live(name, version, live)
    response.headers["ETag"] = _etag(version)
    response.headers["Location"] = _url(request, "get_scenario_version", name=name, version=version)
    return EditResult(name=name, version=version, edits=len(updated.edits), edit=answer["edit"], changed_cells=answer["changed_cells"],
                      standards=answer["standards"], links=_links(request, name, version))


@router.post(
    "/{name}/run",
    name="run_scenario_job",
    summary="Run a scenario in full",
    description="Evaluate the scenario (latest version, or `version`) over the whole city as a background job (202, "
    "job URL in `Location`). The job's result is a coverage run: per-standard summaries and links to the per-cell "
    "GeoJSON, GeoPackage and maps. The summaries are also kept with the version (`results`).",
    status_code=202,
    response_class=JSONResponse,
    responses=JOB_ACCEPTED,
    dependencies=[Depends(require_write)],
)
def run_scenario_job(request: Request, name: str = NameP, version: int | None = Query(None, ge=1, le=10**9),
                     service: ScenarioService = Depends(scenario_service)):
    scenario = _get(service, name, version)
    check_runnable(service.state, scenario)
    state = service.state

    def work(progress: Progress) -> str:
        run = service.full_run(scenario, progress)
        service.store.save_results(scenario.name, scenario.version, run.scenario.results)
        run_id, folder = state.new_run_folder()
        kept = Run(id=run_id, key=f"scenario {content_key(scenario)}", result=run.result,
                   request={"scenario": scenario.name, "version": scenario.version}, folder=folder)
        state.runs.add(kept, owner_of(request.headers.get("x-api-key", "")))
        return str(request.url_for("get_run", run_id=run_id))

    return start_or_run(request, state, "scenario-run", True, None, work)


@router.get(
    "/{name}/map.html",
    name="scenario_map",
    summary="Change map of a scenario",
    description="The scenario (latest, or `version`) against the city's current facilities: coverage after the plan, "
    "cells newly covered / no longer covered, facilities whose load changes most.",
    response_class=FileResponse,
    responses=_MAP_RESPONSES,
    dependencies=[Depends(require_read)],
)
def scenario_map(
    request: Request,
    name: str = NameP,
    version: int | None = Query(None, ge=1, le=10**9),
    lang: str = Lang,
    basemap: Literal["osm", "light", "none"] | None = Basemap,
    prefer: str | None = PreferH,
    service: ScenarioService = Depends(scenario_service),
):
    return _change_map(request, service, _get(service, name, version), None, lang, basemap, prefer)
