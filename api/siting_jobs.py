"""Siting as a background job: what ``POST /siting`` and a workbench scenario's siting both start.

:func:`start_siting` checks the request (the standard and its overrides, ``p``,
unique candidate ids), sizes the job (:func:`api.budget.siting_estimate`,
refused past the memory budget) and queues it in a child process that
cancelling ends; the job runs :func:`scenarios.siting.site` on ``state.city``
and keeps :func:`siting_document` in the shared store under the key that
asked for it, read back at ``GET /siting/{result_id}``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse

from api.budget import check_budget, siting_estimate
from api.coords import to_city_xy
from api.geojson_pages import feature_collection
from api.job_responses import submit_job
from api.jobs import Progress
from api.problems import ApiProblem
from api.schemas.siting import SitingRequest
from api.security import job_owner
from api.state import AppState, wgs84_frame
from scenarios.siting import CitySiting, PlannerChoices, site
from scenarios.standards import get_standard

__all__ = ["SITING_SLACK_S", "siting_document", "start_siting"]

SITING_SLACK_S = 30.0
"""Seconds a siting job may run beyond its ``time_limit_s`` (building the matrix, re-evaluating the city)."""


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


def start_siting(req: SitingRequest, request: Request, state: AppState) -> JSONResponse:
    """Check ``req``, size its job and start it on ``state.city``: ``202 Accepted`` with the job in ``Location``.

    Parameters
    ----------
    req : SitingRequest
    request : fastapi.Request
        The request asking (its key owns the job and the result).
    state : AppState
        The app's state; the job sites on its ``city`` (a scenario's city
        when the workbench asks).

    Returns
    -------
    fastapi.responses.JSONResponse
        The job document. 422 problems for an unknown standard, a missing
        ``p``, a repeated candidate id or a job past the memory budget.
    """
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

