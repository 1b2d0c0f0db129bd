"""Siting: propose where new facilities should go, as a background job.

``POST /siting`` answers ``202 Accepted`` with the job's URL in ``Location``;
the job (:func:`api.siting_jobs.start_siting`: checked, sized against the
memory budget, run in a killable child process) runs
:func:`scenarios.siting.site` on the loaded city and keeps the result
(summary, proposed sites and newly covered cells as GeoJSON in WGS84, and the
change as scenario edits), which ``GET /siting/{result_id}`` returns. The
request schema is :class:`api.schemas.siting.SitingRequest`, shared with the
workbench's siting on a scenario.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response

from api.job_responses import JOB_ACCEPTED
from api.problems import ERROR_RESPONSES, ApiProblem
from api.schemas.siting import SitingRequest
from api.security import get_state, require_read, require_write
from api.siting_jobs import start_siting
from api.state import AppState

__all__ = ["router"]

router = APIRouter(prefix="/siting", tags=["Siting"], responses=ERROR_RESPONSES)


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
    return start_siting(req, request, state)


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

