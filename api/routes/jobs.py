"""Background jobs: state, percent, result link; cancel and delete.

How a route answers with a job (``202 Accepted``) is :mod:`api.job_responses`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response

from api.problems import ERROR_RESPONSES, ApiProblem
from api.schemas.jobs import JobInfo
from api.security import get_state, owner_of, require_read, require_write
from api.state import AppState

__all__ = ["router"]

router = APIRouter(prefix="/jobs", tags=["Jobs"], responses=ERROR_RESPONSES)

JobId = Path(max_length=64, description="Job id from the `Location` of a 202 response.")


@router.get("", summary="List jobs", description="Jobs still kept (running, queued, or finished within the TTL).", response_model=list[JobInfo], dependencies=[Depends(require_read)])
def list_jobs(state: AppState = Depends(get_state)) -> list[JobInfo]:
    return [JobInfo(**state.jobs.describe(j)) for j in state.jobs.all_jobs()]


@router.get(
    "/{job_id}",
    name="get_job",
    summary="Job status",
    description="State (queued, running, succeeded, failed, cancelled), percent, current step, and the result URL once done. "
    "A failed job carries the problem (status and detail) that stopped it.",
    response_model=JobInfo,
    dependencies=[Depends(require_read)],
)
def get_job(job_id: str = JobId, state: AppState = Depends(get_state)) -> JobInfo:
    job = state.jobs.get(job_id)
    if job is None:
        raise ApiProblem(404, f"no job with id '{job_id}' (it may have expired)")
    return JobInfo(**state.jobs.describe(job))


@router.delete(
    "/{job_id}",
    status_code=204,
    summary="Cancel or delete a job",
    description="Cancels a queued or running job (it stops within about a second, and stays listed as `cancelled` "
    "until it expires), or forgets a finished one. Only the key that started a job may delete it; any worker of "
    "the deployment may be asked.",
    dependencies=[Depends(require_write)],
)
def delete_job(request: Request, job_id: str = JobId, state: AppState = Depends(get_state)) -> Response:
    job = state.jobs.get(job_id)
    if job is None:
        raise ApiProblem(404, f"no job with id '{job_id}'")
    if job.owner != owner_of(request.headers.get("x-api-key", "")) and job.owner != "local":
        raise ApiProblem(403, f"job '{job_id}' was started with another API key")
    state.jobs.delete(job_id)
    return Response(status_code=204)
