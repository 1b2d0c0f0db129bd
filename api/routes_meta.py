"""Service status, Prometheus metrics and the standards catalogue."""

from __future__ import annotations

import psutil
from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.models import Health, StandardInfo
from api.problems import ERROR_RESPONSES, ApiProblem
from api.security import get_state, require_read
from api.state import AppState
from scenarios.standards import Standard, catalogue

__all__ = ["router", "standard_info"]

router = APIRouter(tags=["Service"], responses=ERROR_RESPONSES)

OVERRIDABLE = ["threshold_m", "threshold_min", "speed_mps", "mode", "weight"]


def standard_info(s: Standard) -> StandardInfo:
    """The API form of a catalogue standard."""
    return StandardInfo(**s.to_dict(), parameters=OVERRIDABLE)


@router.get("/health", summary="Service status", description="Liveness and what is loaded. Always open (no key), for load balancers.", response_model=Health)
def health(state: AppState = Depends(get_state)) -> Health:
    city = state.city
    return Health(status="ok", city=city.name, generated=city.generated, cells=len(city.cells), facilities=len(city.facilities), jobs=len(state.jobs))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Requests and latencies per route, requests refused by a limit, jobs queued and running (all workers), "
    "this process's resident memory and its running jobs' memory, in the Prometheus text format.",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
    dependencies=[Depends(require_read)],
)
def metrics(state: AppState = Depends(get_state)) -> Response:
    m = state.metrics
    counts = state.jobs.counts()
    for job_state in ("queued", "running", "succeeded", "failed", "cancelled"):
        m.jobs.labels(job_state).set(counts.get(job_state, 0))
    m.rss.set(psutil.Process().memory_info().rss)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/standards",
    summary="Standards catalogue",
    description="Every service-radius standard with its parameters (threshold, speed, mode, weight) and the planning clause it comes from.",
    response_model=list[StandardInfo],
    dependencies=[Depends(require_read)],
)
def standards() -> list[StandardInfo]:
    return [standard_info(s) for s in catalogue().values()]


@router.get("/standards/{standard_id}", summary="One standard", description="A single catalogue standard.", response_model=StandardInfo, dependencies=[Depends(require_read)])
def standard(standard_id: str = Path(max_length=100, examples=["clinic-walk"])) -> StandardInfo:
    cat = catalogue()
    if standard_id not in cat:
        raise ApiProblem(404, f"unknown standard '{standard_id}'; valid standards are: {', '.join(cat)}")
    return standard_info(cat[standard_id])
