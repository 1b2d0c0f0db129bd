"""Walking service areas around points or facilities, for one or several times."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter, Depends

from api.models import ServiceAreaRequest
from api.ogc import GeoJSONResponse, feature_collection
from api.problems import ERROR_RESPONSES, ApiProblem
from api.reach import OutsideCityError
from api.routes_reach import to_city_xy
from api.security import get_state, require_read
from api.state import AppState, wgs84_frame
from geo.service_area import service_areas
from geo.snap import Snapped

__all__ = ["router"]

router = APIRouter(tags=["Service areas"], dependencies=[Depends(require_read)], responses=ERROR_RESPONSES)


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


@router.post(
    "/service-areas",
    summary="Walking service areas",
    description="Polygons of the streets reachable on foot within each time (e.g. 5, 10 and 15 minutes) from given points "
    "and/or facilities of the loaded city, buffered by `buffer_m`; GeoJSON in WGS84, largest time first.",
    response_class=GeoJSONResponse,
)
def service_area(req: ServiceAreaRequest, state: AppState = Depends(get_state)) -> GeoJSONResponse:
    limits = state.config.limits
    n = len(req.points) + len(req.facility_ids)
    if n == 0:
        raise ApiProblem(422, "give at least one of points or facility_ids", errors=[{"field": "body.points", "message": "no sources given"}])
    if n > limits.max_service_area_sources:
        raise ApiProblem(422, f"{n} sources exceed the limit of {limits.max_service_area_sources} per request", errors=[{"field": "body.points", "message": f"at most {limits.max_service_area_sources} sources"}])
    too_long = [m for m in req.minutes if not 0 < m <= limits.max_service_area_minutes]
    if too_long:
        raise ApiProblem(422, f"minutes {too_long[0]:g}: each time must be above 0 and at most {limits.max_service_area_minutes:g} minutes", errors=[{"field": "body.minutes", "message": f"between 0 and {limits.max_service_area_minutes:g}"}])
    sources, labels = _sources(state, req)
    minutes = sorted(set(req.minutes), reverse=True)
    budgets = [m * 60.0 * req.speed_mps for m in minutes]
    polys = service_areas(state.city.network, sources, budgets, buffer_m=req.buffer_m, workers=2)
    rows, geoms = [], []
    for j, m in enumerate(minutes):
        for i, lab in enumerate(labels):
            rows.append({**lab, "minutes": m, "distance_m": round(budgets[j], 1), "area_m2": round(float(shapely.area(polys[i, j])), 1)})
            geoms.append(polys[i, j])
    frame = wgs84_frame(gpd.GeoDataFrame(rows, geometry=geoms, crs=state.city.crs))
    return GeoJSONResponse(feature_collection(frame, np.arange(len(frame)), None))
