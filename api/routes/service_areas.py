"""Walking service areas around points or facilities, for one or several times."""

from __future__ import annotations

import json
import uuid

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.coords import to_city_xy
from api.geojson_pages import GEOJSON, GeoJSONResponse, feature_collection
from api.job_responses import JOB_ACCEPTED, PreferH, start_or_run
from api.jobs import Progress
from api.problems import ERROR_RESPONSES, ApiProblem
from api.reach import OutsideCityError
from api.schemas.common import LonLat, PointCoords
from api.security import get_state, owner_of, require_read
from api.state import AppState, wgs84_frame
from geo.service_area_geometry import service_areas
from geo.snap import Snapped

__all__ = ["ServiceAreaRequest", "router"]

router = APIRouter(tags=["Service areas"], dependencies=[Depends(require_read)], responses=ERROR_RESPONSES)


class ServiceAreaRequest(BaseModel):
    """Walking service areas around points or facilities."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"facility_ids": ["HC0001"], "minutes": [5, 10, 15]}, {"points": [{"lon": 116.475, "lat": 18.99}], "minutes": [10]}]},
    )

    points: list[LonLat] = Field(default_factory=list, description="Start points (in `coords`).")
    facility_ids: list[str] = Field(default_factory=list, description="Ids of facilities of the loaded city.")
    coords: PointCoords = "wgs84"
    minutes: list[float] = Field([5.0, 10.0, 15.0], min_length=1, max_length=6, description="Walking times in minutes.")
    speed_mps: float = Field(1.2, gt=0.1, le=3.0, description="Walking speed in m/s.")
    buffer_m: float = Field(25.0, gt=0, le=200, description="Half-width of the band drawn around reached streets.")


def _sources(state: AppState, req: ServiceAreaRequest) -> tuple[Snapped, list[dict]]:
    parts: list[Snapped] = []
    labels: list[dict] = []
    for i, p in enumerate(req.points):
        x, y, _, _ = to_city_xy(state, p.lon, p.lat, req.coords)
        try:
            parts.append(state.reach.locate(x, y))
        except OutsideCityError as exc:
            raise ApiProblem(422, f"points[{i}] (lon {p.lon:g}, lat {p.lat:g}): {exc}", errors=[{"field": f"body.points.{i}", "message": str(exc)}]) from None
        labels.append({"source": f"point {i}", "facility_id": None, "kind": None})
    fac = state.city.facilities
    ids = fac["id"].to_numpy(dtype=object)
    for i, fid in enumerate(req.facility_ids):
        rows = np.flatnonzero(ids == fid)
        if rows.size == 0:
            raise ApiProblem(422, f"facility_ids[{i}]: no facility '{fid}' in the loaded city", errors=[{"field": f"body.facility_ids.{i}", "message": "unknown facility id"}])
        snapped = state.city.snapped_facilities.take(rows[:1])
        if not snapped.ok[0]:
            raise ApiProblem(422, f"facility_ids[{i}]: facility '{fid}' is farther than {state.city.max_snap_m:g} m from every street", errors=[{"field": f"body.facility_ids.{i}", "message": "not on the walking network"}])
        parts.append(snapped)
        labels.append({"source": str(fid), "facility_id": str(fid), "kind": str(fac["kind"].iloc[rows[0]])})
    return Snapped.concat(parts), labels


def _compute(state: AppState, req: ServiceAreaRequest, sources: Snapped, labels: list[dict], progress: Progress | None = None) -> dict:
    minutes = sorted(set(req.minutes), reverse=True)
    budgets = [m * 60.0 * req.speed_mps for m in minutes]
    report = None if progress is None else (lambda done, total: progress("service areas", done / max(total, 1)))
    polys = service_areas(state.city.network, sources, budgets, buffer_m=req.buffer_m, progress=report)
    rows, geoms = [], []
    for j, m in enumerate(minutes):
        for i, lab in enumerate(labels):
            rows.append({**lab, "minutes": m, "distance_m": round(budgets[j], 1), "area_m2": round(float(shapely.area(polys[i, j])), 1)})
            geoms.append(polys[i, j])
    frame = wgs84_frame(gpd.GeoDataFrame(rows, geometry=geoms, crs=state.city.crs))
    return feature_collection(frame, np.arange(len(frame)), None)


def _check_limits(state: AppState, req: ServiceAreaRequest) -> float:
    """Refuse requests beyond the limits (422); return the work estimate in km^2."""
    limits = state.config.limits
    n = len(req.points) + len(req.facility_ids)
    if n == 0:
        raise ApiProblem(422, "give at least one of points or facility_ids", errors=[{"field": "body.points", "message": "no sources given"}])
    if n > limits.max_service_area_sources:
        raise ApiProblem(422, f"{n} sources exceed the limit of {limits.max_service_area_sources} per request", errors=[{"field": "body.points", "message": f"at most {limits.max_service_area_sources} sources"}])
    for m in req.minutes:
        if not 0 < m <= limits.max_service_area_minutes:
            raise ApiProblem(422, f"minutes {m:g}: each time must be above 0 and at most {limits.max_service_area_minutes:g} minutes", errors=[{"field": "body.minutes", "message": f"between 0 and {limits.max_service_area_minutes:g}"}])
        if m * 60.0 * req.speed_mps > limits.max_service_area_m:
            raise ApiProblem(
                422,
                f"minutes {m:g} at {req.speed_mps:g} m/s is a {m * 60.0 * req.speed_mps:,.0f} m walk, above the limit of {limits.max_service_area_m:,.0f} m",
                errors=[{"field": "body.minutes", "message": f"walk at most {limits.max_service_area_m:,.0f} m"}],
            )
    # the cost of a service area grows with the street area reached, ~ (walk length)^2
    return n * sum((m * 60.0 * req.speed_mps / 1000.0) ** 2 for m in set(req.minutes))


@router.post(
    "/service-areas",
    summary="Walking service areas",
    description="Polygons of the streets reachable on foot within each time (e.g. 5, 10 and 15 minutes) from given points "
    "and/or facilities of the loaded city, buffered by `buffer_m`; GeoJSON in WGS84, largest time first. "
    "Large requests (or `Prefer: respond-async`) run as a background job (202, job URL in `Location`).",
    response_class=GeoJSONResponse,
    responses=JOB_ACCEPTED,
)
def service_area(request: Request, req: ServiceAreaRequest, prefer: str | None = PreferH, state: AppState = Depends(get_state)):
    work_km2 = _check_limits(state, req)
    sources, labels = _sources(state, req)

    def work(progress: Progress) -> bytes:
        return json.dumps(_compute(state, req, sources, labels, progress)).encode()

    def keep(body: bytes) -> str:
        file_id = uuid.uuid4().hex
        owner = owner_of(request.headers.get("x-api-key", ""))
        state.shared.put_result(file_id, owner, "service-areas", GEOJSON, body, state.config.limits.max_results_per_key)
        return str(request.url_for("get_service_areas", result_id=file_id))

    large = work_km2 > state.config.limits.sync_max_service_area_km2
    queued = start_or_run(request, state, "service-areas", large, prefer, work, isolated=True, finish=keep)
    if queued is not None:
        return queued
    return GeoJSONResponse(_compute(state, req, sources, labels))


@router.get(
    "/service-areas/{result_id}",
    name="get_service_areas",
    summary="Service areas made by a job",
    description="The GeoJSON made by a background service-area job (its `result` link).",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "The service areas"}},
)
def get_service_areas(result_id: str = Path(max_length=64), state: AppState = Depends(get_state)) -> Response:
    stored = state.shared.get_result(result_id, "service-areas")
    if stored is None:
        raise ApiProblem(404, f"no service-area result with id '{result_id}' (it may have expired)")
    return Response(stored[1], media_type=stored[0])
