"""Siting: propose where new facilities should go, as a background job.

``POST /siting`` checks the request, starts a job and answers ``202 Accepted``
with the job's URL in ``Location``; the job runs :func:`scenarios.siting.site`
on the loaded city and keeps the result (summary, proposed sites and newly
covered cells as GeoJSON in WGS84, and the change as scenario edits), which
``GET /siting/{result_id}`` returns.

The job is sized before it is queued (:func:`api.budget.siting_estimate`) and
refused when it would pass the memory budget; it runs in a child process that
cancelling ends, and its result is kept in the shared store under the key
that asked for it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.budget import check_budget, siting_estimate
from api.coords import to_city_xy
from api.geojson_pages import feature_collection
from api.job_responses import JOB_ACCEPTED, submit_job
from api.jobs import Progress
from api.problems import ERROR_RESPONSES, ApiProblem
from api.schemas.common import LonLat, Overrides, PointCoords
from api.security import get_state, job_owner, require_read, require_write
from api.state import AppState, wgs84_frame
from scenarios.siting import CitySiting, PlannerChoices, site
from scenarios.standards import get_standard

__all__ = ["SitingRequest", "router", "siting_document"]

router = APIRouter(prefix="/siting", tags=["Siting"], responses=ERROR_RESPONSES)

SITING_SLACK_S = 30.0
"""Seconds a siting job may run beyond its ``time_limit_s`` (building the matrix, re-evaluating the city)."""

MAX_CANDIDATES = 20_000
"""Most candidate points one request may send."""


class CandidatePoint(LonLat):
    """A candidate site (e.g. a vacant plot) given by the planner."""

    id: str = Field(min_length=1, max_length=100, description="Candidate id, unique in the request.")


class SitingRequest(BaseModel):
    """Where should new facilities go for one standard."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"standard": "clinic-walk", "problem": "mclp", "p": 3, "overrides": {"threshold_min": 10}},
                {"standard": "elderly-circle", "problem": "lscp", "target_share": 0.95, "remove": ["EC0003"]},
            ]
        },
    )

    standard: str = Field(max_length=64, description="Standard id, e.g. clinic-walk.")
    problem: Literal["mclp", "lscp", "p-median", "capacitated", "attendance"] = Field(
        "mclp", description="mclp: p sites covering the most; lscp: fewest sites reaching target_share; p-median: "
        "least weighted walking; capacitated: most served within capacity; attendance: most expected use."
    )
    p: int | None = Field(None, ge=0, le=1000, description="Number of new sites (all problems but lscp).")
    target_share: float | None = Field(None, gt=0, le=1, description="lscp: share of the reachable weight to cover.")
    overrides: Overrides = Field(default_factory=Overrides, description="Parameter overrides of the standard.")
    spacing_m: float = Field(200.0, ge=25, le=5000, description="Spacing of generated candidates along the streets.")
    candidates: list[CandidatePoint] | None = Field(
        None, min_length=1, max_length=MAX_CANDIDATES, description="Your candidate sites instead of generated ones."
    )
    coords: PointCoords = Field("wgs84", description="Datum of the candidates' lon/lat.")
    required: list[str] = Field(default_factory=list, max_length=1000, description="Candidate ids that must be chosen.")
    excluded: list[str] = Field(default_factory=list, max_length=MAX_CANDIDATES, description="Candidate ids that must not be chosen.")
    remove: list[str] = Field(default_factory=list, max_length=1000, description="Existing facility ids that close.")
    relocate: list[str] = Field(default_factory=list, max_length=1000, description="Existing facility ids that move to a new site.")
    min_spacing_m: float = Field(0.0, ge=0, le=100_000, description="Smallest distance between two new sites.")
    solver: Literal["auto", "milp", "greedy"] = "auto"
    time_limit_s: float = Field(60.0, gt=0, le=600, description="Time limit of the exact solver.")
    capacity: float | None = Field(None, ge=0, description="capacitated: people one new site can serve.")
    existing_capacity: float | str | None = Field(None, description="capacitated: a number or a facility column.")


def siting_document(siting: CitySiting) -> dict[str, Any]:
    """The result as JSON: summary, sites and newly covered cells (GeoJSON, WGS84), edits."""
    sites = wgs84_frame(siting.sites)
    cells = wgs84_frame(siting.newly_covered_cells)
    doc = siting.to_dict()
    doc["sites"] = feature_collection(sites, np.arange(len(sites)), "site_id")
    doc["newly_covered_cells"] = feature_collection(cells, np.arange(len(cells)), "cell_id")
    return doc


def _candidates(state: AppState, req: SitingRequest):
    if req.candidates is None:
        return None
    import geopandas as gpd
    import shapely

    xy = [to_city_xy(state, c.lon, c.lat, req.coords)[:2] for c in req.candidates]
    return gpd.GeoDataFrame(
        {"id": [c.id for c in req.candidates]},
        geometry=shapely.points(np.asarray(xy, dtype=np.float64)),
        crs=state.city.crs,
    )


def _run(state: AppState, req: SitingRequest, progress: Progress) -> bytes:
    overrides = req.overrides.model_dump(exclude_none=True)
    siting = site(
        state.city, req.standard, req.problem, p=req.p, target_share=req.target_share,
        candidates=_candidates(state, req), spacing_m=req.spacing_m, overrides=overrides,
        options=PlannerChoices(required=req.required, excluded=req.excluded, remove=req.remove,
                               relocate=req.relocate, min_spacing_m=req.min_spacing_m),
        solver=req.solver, time_limit_s=req.time_limit_s, capacity=req.capacity,
        existing_capacity=req.existing_capacity, progress=progress,
    )
    doc = siting_document(siting)
    doc["request"] = req.model_dump(mode="json")
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


@router.post(
    "",
    status_code=202,
    summary="Propose sites",
    description="Choose where new facilities of a standard's kind should go (maximal covering, set covering, "
    "p-median, capacitated coverage or maximal attendance), counting demand the existing facilities already serve "
    "(after any closures). Always a background job: answers 202 with the job in `Location`; the job's `result` "
    "links to the sites (GeoJSON), the newly covered cells and a summary with coverage before and after, "
    "re-evaluated on the city with the sites added.",
    responses=JOB_ACCEPTED,
    dependencies=[Depends(require_write)],
)
def create_siting(req: SitingRequest, request: Request, state: AppState = Depends(get_state)) -> JSONResponse:
    standard = get_standard(req.standard, **req.overrides.model_dump(exclude_none=True))  # 422 now, not in the job
    if req.problem != "lscp" and req.p is None:
        raise ApiProblem(422, f"problem '{req.problem}' needs p, the number of new sites", errors=[{"field": "body.p", "message": "required"}])
    if req.candidates is not None:
        ids = [c.id for c in req.candidates]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ApiProblem(422, f"candidate id '{dup}' appears more than once", errors=[{"field": "body.candidates", "message": "ids must be unique"}])

    n_cand = None if req.candidates is None else len(req.candidates)
    check_budget(siting_estimate(state.city, standard, req.problem, req.solver, n_cand, req.spacing_m), state.config.limits.job_memory_mb)
    owner = job_owner(request, state)

    def keep(body: bytes) -> str:
        result_id = uuid.uuid4().hex
        state.shared.put_result(result_id, owner, "siting", "application/json", body, state.config.limits.max_results_per_key)
        return str(request.url_for("get_siting", result_id=result_id))

    # the solver's time limit bounds the whole job; the slack covers loading and the after-check
    return submit_job(request, state, "siting", lambda progress: _run(state, req, progress), isolated=True, finish=keep,
                      time_limit_s=req.time_limit_s + SITING_SLACK_S)


@router.get(
    "/{result_id}",
    name="get_siting",
    summary="A siting result",
    description="Summary (objective, bound, gap, solver status, coverage now / after closures / with the new sites), "
    "proposed sites and newly covered cells as GeoJSON FeatureCollections in WGS84, and the change as scenario edits.",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "The siting result"}},
    dependencies=[Depends(require_read)],
)
def get_siting(result_id: str = Path(max_length=64), state: AppState = Depends(get_state)) -> Response:
    stored = state.shared.get_result(result_id, "siting")
    if stored is None:
        raise ApiProblem(404, f"no siting result with id '{result_id}' (it may have expired)")
    return Response(stored[1], media_type=stored[0])

