"""Coverage runs: summaries, per-cell GeoJSON, GeoPackage download and maps.

Small runs (cells x standards up to ``limits.sync_max_cell_standards``) are
computed in the request and answered ``201 Created``; larger ones, or any
request sent with ``Prefer: respond-async``, become a background job answered
``202 Accepted`` with the job's URL in ``Location``. Identical requests
(same standards after overrides, same layers) reuse the kept run.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from api.budget import check_budget, coverage_estimate
from api.geojson_pages import GEOJSON, BboxQ, GeoJSONResponse, LimitQ, OffsetQ, items_page
from api.job_responses import JOB_ACCEPTED, PreferH, file_or_job, start_or_run
from api.jobs import Progress
from api.problems import ERROR_RESPONSES, ApiProblem
from api.schemas.common import Link, Overrides
from api.security import get_state, owner_of, require_read, require_write
from api.state import AppState, Run, coverage_cells, coverage_summary
from api.uploads import layer_city_frames
from scenarios.evaluate import CoverageResult, evaluate
from scenarios.outputs import write_outputs
from scenarios.run import city_with_facilities
from scenarios.standards import Standard, resolve_standards

__all__ = ["CoverageRequest", "RunInfo", "router", "run_info"]

router = APIRouter(prefix="/coverage", tags=["Coverage"], responses=ERROR_RESPONSES)

RunId = Path(max_length=64, description="Run id as returned by POST /coverage.")
MEDIA = {"png": "image/png", "pdf": "application/pdf", "svg": "image/svg+xml"}


class CoverageRequest(BaseModel):
    """A coverage run: standards, overrides and optionally uploaded layers."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"standards": ["clinic-walk", "elderly-circle"], "overrides": {"clinic-walk": {"threshold_min": 15}}},
            ]
        },
    )

    standards: list[str] | None = Field(None, min_length=1, max_length=50, description="Standard ids (all by default).")
    overrides: dict[str, Overrides] = Field(default_factory=dict)
    facilities_layer: str | None = Field(None, description="Id of an uploaded facilities layer to use instead of the city's.")
    grid_layer: str | None = Field(None, description="Id of an uploaded grid layer to use instead of the city's cells.")


class RunInfo(BaseModel):
    """A finished coverage run."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9c1d0e4a9b8d4c7e8f6a5b4c3d2e1f00",
                    "city": "demo",
                    "generated": True,
                    "created": 1767225600.0,
                    "request": {"standards": ["clinic-walk"], "overrides": {}, "facilities_layer": None, "grid_layer": None},
                    "summary": [{"standard": "clinic-walk", "covered": 300000.0, "share_covered": 0.94}],
                    "links": [{"href": "/coverage/9c1d.../cells", "rel": "items", "type": "application/geo+json"}],
                }
            ]
        }
    )

    id: str
    city: str
    generated: bool
    created: float
    request: dict[str, Any]
    summary: list[dict[str, Any]] = Field(description="One entry per standard: covered population, share, gaps, source clause.")
    links: list[Link]


def run_info(request: Request, run: Run[CoverageResult]) -> RunInfo:
    """The API description of a run, with links to its outputs."""
    base = str(request.url_for("get_run", run_id=run.id))
    coll = str(request.url_for("ogc_collection", collection_id=f"run-{run.id}-cells"))
    doc = coverage_summary(run)
    return RunInfo(
        id=run.id,
        city=run.result.city.name,
        generated=run.result.city.generated,
        created=run.created,
        request=run.request,
        summary=doc["standards"],
        links=[
            Link(href=base, rel="self", type="application/json"),
            Link(href=base + "/cells", rel="items", type=GEOJSON, title="Per-cell results (paged GeoJSON)"),
            Link(href=coll, rel="collection", type="application/json", title="OGC collection of the cells"),
            Link(href=base + "/coverage.gpkg", rel="enclosure", type="application/geopackage+sqlite3", title="GeoPackage"),
            Link(href=base + "/map.html", rel="alternate", type="text/html", title="Interactive map"),
            Link(href=base + "/map.png", rel="alternate", type="image/png", title="Map (PNG)"),
            Link(href=base + "/map.pdf", rel="alternate", type="application/pdf", title="Map (PDF)"),
        ],
    )


def _key(standards: list[Standard], req: CoverageRequest) -> str:
    return json.dumps({"s": [s.to_dict() for s in standards], "f": req.facilities_layer, "g": req.grid_layer}, sort_keys=True)


def _evaluate(state: AppState, standards: list[Standard], fac, grid, progress: Progress | None) -> CoverageResult:
    """Evaluate ``standards`` on the city, or on it with uploaded facilities/grid frames."""
    city = state.city
    # A fresh City over the uploaded layers; the shared one is never touched.
    if grid is not None:
        city = dataclasses.replace(city, cells=grid, facilities=fac if fac is not None else city.facilities)
    elif fac is not None:
        # Same cells and network: their snapping (seconds on a large city) is carried over, not redone.
        city = city_with_facilities(city, fac)
    if city is not state.city:
        city.name = f"{city.name} (uploaded layers)"
    return evaluate(city, standards, progress=progress)


def _keep(state: AppState, result: CoverageResult, req: CoverageRequest, key: str, owner: str) -> Run[CoverageResult]:
    run_id, folder = state.new_run_folder()
    run = Run(id=run_id, key=key, result=result, request=req.model_dump(mode="json"), folder=folder)
    state.runs.add(run, owner)
    return run


@router.post(
    "",
    status_code=201,
    summary="Run coverage",
    description="Evaluate standards (all by default) with optional parameter overrides over the loaded city, or over "
    "uploaded facilities/grid layers. Answers 201 with the run, 200 when an identical run is kept, or 202 with a "
    "job URL for large runs and `Prefer: respond-async`.",
    response_model=RunInfo,
    responses={200: {"model": RunInfo, "description": "An identical run was already kept"}, **JOB_ACCEPTED},
    dependencies=[Depends(require_write)],
)
def create_run(req: CoverageRequest, request: Request, response: Response, prefer: str | None = PreferH, state: AppState = Depends(get_state)):
    overrides = {k: v.model_dump(exclude_none=True) for k, v in req.overrides.items()}
    standards = resolve_standards(req.standards, overrides)
    fac, grid = layer_city_frames(state, req.facilities_layer, req.grid_layer)  # 404/422 now, not in a job
    key = _key(standards, req)
    kept = state.runs.find_key(key)
    if kept is not None:
        response.status_code = 200
        response.headers["Location"] = str(request.url_for("get_run", run_id=kept.id))
        return run_info(request, kept)
    n_cells = len(grid) if grid is not None else len(state.city.cells)
    check_budget(coverage_estimate(n_cells, len(standards)), state.config.limits.job_memory_mb)

    owner = owner_of(request.headers.get("x-api-key", ""))

    def finish(result: CoverageResult) -> str:
        return str(request.url_for("get_run", run_id=_keep(state, result, req, key, owner).id))

    large = n_cells * len(standards) > state.config.limits.sync_max_cell_standards
    # a job evaluates in a child process that cancelling ends; the result comes back to be kept here
    queued = start_or_run(request, state, "coverage", large, prefer, lambda progress: _evaluate(state, standards, fac, grid, progress),
                          isolated=True, finish=finish)
    if queued is not None:
        return queued
    with state.compute_slots:
        run = _keep(state, _evaluate(state, standards, fac, grid, None), req, key, owner)
    response.headers["Location"] = str(request.url_for("get_run", run_id=run.id))
    return run_info(request, run)


def _run(state: AppState, run_id: str) -> Run[CoverageResult]:
    run = state.runs.get(run_id)
    if run is None:
        raise ApiProblem(404, f"no coverage run with id '{run_id}' (it may have expired)")
    return run


@router.get("", summary="List runs", description="Coverage runs still kept.", response_model=list[RunInfo], dependencies=[Depends(require_read)])
def list_runs(request: Request, state: AppState = Depends(get_state)) -> list[RunInfo]:
    return [run_info(request, r) for r in state.runs.values()]


@router.get("/{run_id}", name="get_run", summary="A run's summary", description="Per standard: population covered, share, uncovered, largest gaps, source clause; links to the outputs.", response_model=RunInfo, dependencies=[Depends(require_read)])
def get_run(request: Request, run_id: str = RunId, state: AppState = Depends(get_state)) -> RunInfo:
    return run_info(request, _run(state, run_id))


@router.delete("/{run_id}", status_code=204, summary="Delete a run", description="Forget a run and its files.", dependencies=[Depends(require_write)])
def delete_run(run_id: str = RunId, state: AppState = Depends(get_state)) -> Response:
    if not state.runs.remove(run_id):
        raise ApiProblem(404, f"no coverage run with id '{run_id}'")
    return Response(status_code=204)


@router.get(
    "/{run_id}/cells",
    summary="Per-cell results (GeoJSON)",
    description="Cells with distance, walking time, nearest facility and coverage per standard, in WGS84, paged with next/prev links.",
    response_class=GeoJSONResponse,
    dependencies=[Depends(require_read)],
)
def run_cells(request: Request, run_id: str = RunId, bbox: str | None = BboxQ, limit: int = LimitQ, offset: int = OffsetQ, state: AppState = Depends(get_state)) -> GeoJSONResponse:
    run = _run(state, run_id)
    return items_page(request, coverage_cells(run), "cell_id", bbox, limit, offset, state.config.limits.max_page_size)


def _file_or_job(request: Request, state: AppState, run: Run[CoverageResult], path: FsPath, make: Callable[[], object], media: str, download: str | None, prefer: str | None) -> Response:
    """Serve a file of ``run``, making it first (in the request, or as a job for large cities)."""
    large = len(run.result.city.cells) * len(run.result.results) > state.config.limits.sync_max_cell_standards
    return file_or_job(request, state, path, lambda progress: make(), media, large, prefer, filename=download)


_FILE_RESPONSES = JOB_ACCEPTED


@router.get(
    "/{run_id}/coverage.gpkg",
    summary="Download the GeoPackage",
    description="Layers cells, facilities, uncovered_clusters and service_areas in WGS84.",
    response_class=FileResponse,
    responses={200: {"content": {"application/geopackage+sqlite3": {}}, "description": "The GeoPackage"}, **_FILE_RESPONSES},
    dependencies=[Depends(require_read)],
)
def run_gpkg(request: Request, run_id: str = RunId, prefer: str | None = PreferH, state: AppState = Depends(get_state)):
    run = _run(state, run_id)
    path = run.folder / "coverage.gpkg"
    return _file_or_job(request, state, run, path, lambda: write_outputs(run.result, run.folder), "application/geopackage+sqlite3", f"coverage-{run.id}.gpkg", prefer)


Lang = Query("en", pattern="^(en|zh)$", description="Label language.")


@router.get(
    "/{run_id}/map.html",
    summary="Interactive map",
    description="Self-contained HTML map (Leaflet) of the run: cells, facilities, service areas, gaps; English or Chinese labels.",
    response_class=FileResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The map"}, **_FILE_RESPONSES},
    dependencies=[Depends(require_read)],
)
def run_map(
    request: Request,
    run_id: str = RunId,
    lang: str = Lang,
    basemap: Literal["osm", "light", "none"] | None = Query(None, description="Background tiles (default: none for generated cities)."),
    prefer: str | None = PreferH,
    state: AppState = Depends(get_state),
):
    from maps.interactive import coverage_map

    run = _run(state, run_id)
    path = run.folder / f"map-{lang}-{basemap or 'default'}.html"
    return _file_or_job(request, state, run, path, lambda: coverage_map(run.result, path, lang=lang, basemap=basemap), "text/html", None, prefer)


@router.get(
    "/{run_id}/map.{fmt}",
    summary="Print map (PNG, PDF or SVG)",
    description="A print-ready page for one standard with legend, scale bar, north arrow and summary table.",
    response_class=FileResponse,
    responses={200: {"content": {m: {} for m in MEDIA.values()}, "description": "The exported map"}, **_FILE_RESPONSES},
    dependencies=[Depends(require_read)],
)
def run_export(
    request: Request,
    fmt: Literal["png", "pdf", "svg"],
    run_id: str = RunId,
    lang: str = Lang,
    standard: str | None = Query(None, max_length=100, description="Standard id to map (default: the walking clinic standard)."),
    paper: Literal["A4", "A3"] = "A4",
    orientation: Literal["portrait", "landscape"] = "portrait",
    dpi: int = Query(150, ge=50, le=300, description="PNG resolution."),
    prefer: str | None = PreferH,
    state: AppState = Depends(get_state),
):
    from maps.static import export_map

    run = _run(state, run_id)
    if standard is not None and standard not in run.result.results:
        raise ApiProblem(422, f"standard '{standard}' was not evaluated in this run; it has: {', '.join(run.result.results)}", errors=[{"field": "query.standard", "message": "not in this run"}])
    path = run.folder / f"map-{standard or 'default'}-{lang}-{paper}-{orientation}-{dpi}.{fmt}"

    def make() -> None:
        with state.map_lock:
            export_map(run.result, path, format=fmt, paper=paper, orientation=orientation, dpi=dpi, lang=lang, standard=standard)

    return _file_or_job(request, state, run, path, make, MEDIA[fmt], f"coverage-{run.id}.{fmt}", prefer)
