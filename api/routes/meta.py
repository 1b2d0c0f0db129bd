"""Service status, Prometheus metrics and the standards catalogue."""

from __future__ import annotations

from typing import Literal

import psutil
from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from api.problems import ERROR_RESPONSES, ApiProblem
from api.security import get_state, require_read
from api.state import AppState
from scenarios.standards import Standard, catalogue

__all__ = ["Health", "StandardInfo", "router", "standard_info"]

router = APIRouter(tags=["Service"], responses=ERROR_RESPONSES)

OVERRIDABLE = ["threshold_m", "threshold_min", "speed_mps", "mode", "weight"]


class Health(BaseModel):
    """Service status."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ok", "city": "demo", "generated": True, "cells": 2038, "facilities": 86, "jobs": 0}]}
    )

    status: Literal["ok"]
    city: str
    generated: bool = Field(description="True when the loaded city is synthetic (not a real place).")
    cells: int
    facilities: int
    jobs: int = Field(description="Jobs currently known (queued, running or kept).")


class StandardInfo(BaseModel):
    """One catalogue standard with its parameters and source clause."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "elderly-circle",
                    "title_en": "10-minute elderly service circle",
                    "title_zh": "10分钟为老服务圈",
                    "kinds": ["elderly_care"],
                    "mode": "network",
                    "threshold_m": 540.0,
                    "threshold_min": 10.0,
                    "speed_mps": 0.9,
                    "weight": "elderly",
                    "bands_min": [],
                    "source": "Guangzhou 2009 social-management reform, item 37 ...",
                    "speed_source": "TCRP Report 112 ...",
                    "note": "",
                    "parameters": ["threshold_m", "threshold_min", "speed_mps", "mode", "weight"],
                }
            ]
        }
    )

    id: str
    title_en: str
    title_zh: str
    kinds: list[str]
    mode: Literal["euclidean", "network"]
    threshold_m: float
    threshold_min: float | None
    speed_mps: float
    weight: Literal["population", "elderly"]
    bands_min: list[float]
    source: str
    speed_source: str
    note: str
    parameters: list[str] = Field(description="Parameters that a run may override.")


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
