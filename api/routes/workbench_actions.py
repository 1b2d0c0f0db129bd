"""Workbench actions on a scenario's facilities now: suggest sites, export the view.

- ``POST /workbench/scenarios/{name}/siting``: a siting job (the body of ``POST /siting``) run on the city with the
  scenario's facilities at its latest version, not the city's own: proposals count what the plan already covers;
- ``GET /workbench/scenarios/{name}/export.{fmt}``: the print map (PNG or PDF, :func:`maps.static.export_map`) of
  one standard on the scenario's facilities, framed to the page's view, with the coverage table.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from api.job_responses import JOB_ACCEPTED, PreferH, file_or_job
from api.jobs import Progress
from api.problems import ERROR_RESPONSES, ApiProblem
from api.scenario_service import ScenarioService, scenario_service
from api.schemas.siting import SitingRequest
from api.security import require_read, require_write
from api.siting_jobs import start_siting
from api.state import AppState
from api.workbench_views import NameP, ViewCache, live_scenario, view_cache
from geo.crs import from_wgs84
from layers.city import City

__all__ = ["parse_bbox", "router"]

router = APIRouter(prefix="/workbench", tags=["Workbench"], responses=ERROR_RESPONSES)

MEDIA = {"png": "image/png", "pdf": "application/pdf"}


class _OnCity:
    """The app's state seen with another city: what a job started here reads as ``state.city``."""

    def __init__(self, state: AppState, city: City):
        self._state = state
        self.city = city

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)


@router.post("/scenarios/{name}/siting", name="scenario_siting", status_code=202, summary="Propose sites for a scenario",
             description="As `POST /siting` (same body, same job and result), on the scenario's facilities at its latest "
             "version: existing demand is what the plan's facilities (the edits included) already serve, and "
             "`remove`/`relocate` name them.",
             dependencies=[Depends(require_write)])
def scenario_siting(req: SitingRequest, request: Request, name: str = NameP,
                    service: ScenarioService = Depends(scenario_service),
                    views: ViewCache = Depends(view_cache)) -> JSONResponse:
    with service.name_lock(name):
        scenario, live = live_scenario(service, name)
        city = views.city(scenario, live)
    return start_siting(req, request, _OnCity(service.state, city))  # type: ignore[arg-type]


def parse_bbox(text: str | None, city: City) -> tuple[float, float, float, float] | None:
    """``west,south,east,north`` (WGS84) as ``(xmin, ymin, xmax, ymax)`` in the city's CRS (422 problems)."""
    if text is None:
        return None
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise ApiProblem(422, f"bbox={text!r}: give four numbers west,south,east,north (WGS84 degrees)",
                         errors=[{"field": "query.bbox", "message": "four numbers"}]) from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ApiProblem(422, f"bbox={text!r}: needs west < east within -180..180 and south < north within -90..90",
                         errors=[{"field": "query.bbox", "message": "not a lon/lat box"}])
    x, y = from_wgs84(np.array([w, e, w, e]), np.array([s, s, n, n]), city.crs)
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


@router.get("/scenarios/{name}/export.{fmt}", name="scenario_export", summary="Export a scenario's view (PNG or PDF)",
            description="The print-ready map of `standard` on the scenario's facilities at its latest version, framed to "
            "`bbox` (the page's view; default the whole city), with legend and the coverage table of every standard: "
            "the export of `/coverage/{run}/map.{fmt}`. On a city of more cells than `limits.sync_max_cell_standards` "
            "(or with `Prefer: respond-async`) the file is made by a background job (202) whose result is this same URL.",
            response_class=FileResponse,
            responses={200: {"content": {m: {} for m in MEDIA.values()}, "description": "The exported map"}, **JOB_ACCEPTED},
            dependencies=[Depends(require_read)])
def scenario_export(
    request: Request,
    fmt: Literal["png", "pdf"],
    name: str = NameP,
    standard: str = Query(max_length=64, description="Standard id to map."),
    bbox: str | None = Query(None, max_length=200, description="west,south,east,north in WGS84: the view to frame."),
    lang: Literal["en", "zh"] = Query("en"),
    paper: Literal["A4", "A3"] = "A4",
    orientation: Literal["portrait", "landscape"] = "landscape",
    dpi: int = Query(150, ge=50, le=300, description="PNG resolution."),
    prefer: str | None = PreferH,
    service: ScenarioService = Depends(scenario_service),
    views: ViewCache = Depends(view_cache),
) -> Response:
    from maps.static import export_map

    state = service.state
    box = parse_bbox(bbox, state.city)
    with service.name_lock(name):
        scenario, live = live_scenario(service, name)
        if standard not in {s.id for s in live.standards}:
            raise ApiProblem(422, f"scenario '{name}' does not check standard '{standard}'; it checks: "
                             f"{', '.join(s.id for s in live.standards)}", errors=[{"field": "query.standard", "message": "not in this scenario"}])
        # the full result (gap clusters included) of this version: the live state moves on with the next edit
        result = views.get(("result", name, scenario.version), live.result)
    key = json.dumps([name, scenario.version, standard, box, lang, paper, orientation, dpi, fmt])
    folder = state.data_dir / "workbench-exports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.{fmt}"

    def make(progress: Progress) -> None:
        with state.map_lock:  # export_map writes atomically: a file that exists is complete (file_or_job serves it)
            export_map(result, path, format=fmt, paper=paper, orientation=orientation, dpi=dpi, lang=lang,
                       standard=standard, bbox=box)

    # 5-10 s and +0.3-0.4 GB at the Guangzhou size (bench/RESULTS.md): a job there, in the request on a district
    large = len(state.city.cells) > state.config.limits.sync_max_cell_standards
    return file_or_job(request, state, path, make, MEDIA[fmt], large, prefer,
                       filename=f"{name}-v{scenario.version}-{standard}.{fmt}")
