"""Reach of one address: nearest facility of each kind and the standards met."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.coords import to_city_xy
from api.problems import ERROR_RESPONSES, ApiProblem
from api.reach import OutsideCityError
from api.schemas.common import FacilityRef, LonLat, Overrides, PointCoords
from api.security import get_state, require_read
from api.state import AppState
from geo.crs import to_wgs84
from layers.kinds import KINDS
from scenarios.standards import resolve_standards, walking_speeds

__all__ = ["KindReach", "ReachRequest", "ReachResponse", "StandardReach", "facility_ref", "router"]

router = APIRouter(tags=["Reach"], dependencies=[Depends(require_read)], responses=ERROR_RESPONSES)



class ReachRequest(LonLat):
    """One address to check."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"lon": 116.475, "lat": 18.99, "coords": "wgs84"}]},
    )

    coords: PointCoords = Field("wgs84", description="Datum of lon/lat: wgs84 (GPS), gcj02 (Amap, Tencent), bd09 (Baidu), cgcs2000.")
    standards: list[str] | None = Field(None, min_length=1, max_length=50, description="Standard ids to check (all by default).")
    overrides: dict[str, Overrides] = Field(default_factory=dict, description="Per-standard parameter overrides.")


class KindReach(BaseModel):
    """The nearest facility of one kind from the address."""

    kind: str
    label_en: str
    label_zh: str
    facility: FacilityRef | None = Field(description="Nearest by walking; null when none can be reached.")
    walk_m: float | None = Field(description="Walking distance in metres (street network, access legs included).")
    walk_min: float | None = Field(description="Walking time in minutes at the residents' speed.")
    walk_min_elderly: float | None = Field(description="Walking time in minutes at the elderly speed.")
    straight_m: float | None = Field(description="Straight-line distance to the nearest facility of this kind.")


class StandardReach(BaseModel):
    """Whether the address meets one standard."""

    id: str
    title_en: str
    title_zh: str
    mode: Literal["euclidean", "network"]
    threshold_m: float
    threshold_min: float | None
    distance_m: float | None = Field(description="Straight-line or walking distance per the standard's mode.")
    time_min: float | None = Field(description="Walking time at the standard's speed (walking standards only).")
    facility: FacilityRef | None
    met: bool


class ReachResponse(BaseModel):
    """Reach of one address."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lon": 116.475,
                    "lat": 18.99,
                    "snapped": {"lon": 116.4751, "lat": 18.9901},
                    "access_m": 12.4,
                    "kinds": [
                        {
                            "kind": "health_station",
                            "label_en": "Community health service station / clinic",
                            "label_zh": "社区卫生服务站",
                            "facility": {"id": "HS0003", "name": "Clinic 3", "kind": "health_station", "lon": 116.48, "lat": 18.99},
                            "walk_m": 812.5,
                            "walk_min": 11.3,
                            "walk_min_elderly": 15.0,
                            "straight_m": 640.2,
                        }
                    ],
                    "standards": [
                        {
                            "id": "clinic-walk",
                            "title_en": "Community health facility within a 15-30 minute walk",
                            "title_zh": "步行15-30分钟可达社区卫生服务设施",
                            "mode": "network",
                            "threshold_m": 2160.0,
                            "threshold_min": 30.0,
                            "distance_m": 812.5,
                            "time_min": 11.3,
                            "facility": {"id": "HS0003", "name": "Clinic 3", "kind": "health_station", "lon": 116.48, "lat": 18.99},
                            "met": True,
                        }
                    ],
                }
            ]
        }
    )

    lon: float = Field(description="The query point in WGS84 (after any datum shift).")
    lat: float
    snapped: LonLat = Field(description="Where the walk starts on the street network.")
    access_m: float = Field(description="Straight walk from the point to the street.")
    kinds: list[KindReach]
    standards: list[StandardReach]


def facility_ref(state: AppState, row: int) -> FacilityRef | None:
    """A facility of the loaded city by row position (``None`` for -1)."""
    return None if row < 0 else state.facility_refs[row]


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


@router.post(
    "/reach",
    summary="Reach of one address",
    description="Walking time and distance from one address to the nearest facility of each kind, which facility "
    "(id, name, location), and which standards the address meets. Coordinates may be WGS84 (GPS), GCJ-02 "
    "(Amap/Gaode, Tencent), BD-09 (Baidu) or CGCS2000. Points outside the loaded city, or too far from "
    "its streets, are refused with 422.",
    response_model=ReachResponse,
)
async def reach(req: ReachRequest, state: AppState = Depends(get_state)) -> ReachResponse:
    # async on purpose: the answer takes well under a millisecond of CPU, less
    # than a hop to the thread pool, and heavy requests in that pool (coverage
    # runs) must not queue the cheap ones behind them.
    standards = resolve_standards(req.standards, {k: v.model_dump(exclude_none=True) for k, v in req.overrides.items()})
    x, y, lon, lat = to_city_xy(state, req.lon, req.lat, req.coords)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ApiProblem(422, "lon/lat cannot be projected into the city's coordinate system", errors=[{"field": "body.lon", "message": "outside the projection's area"}])
    try:
        q = state.reach.locate(x, y)
    except OutsideCityError as exc:
        raise ApiProblem(422, f"lon {req.lon:g}, lat {req.lat:g}: {exc}", errors=[{"field": "body.lon", "message": str(exc)}]) from None
    answers = {a.kind: a for a in state.reach.kind_answers(x, y, q)}
    speeds = walking_speeds()
    v_res, v_old = float(speeds["residents_mps"]), float(speeds["elderly_mps"])
    kinds = [
        KindReach(
            kind=k,
            label_en=KINDS[k]["en"],
            label_zh=KINDS[k]["zh"],
            facility=facility_ref(state, a.facility),
            walk_m=_finite(a.walk_m),
            walk_min=_finite(a.walk_m / v_res / 60.0),
            walk_min_elderly=_finite(a.walk_m / v_old / 60.0),
            straight_m=_finite(a.straight_m),
        )
        for k, a in answers.items()
    ]
    out = []
    for s in standards:
        ans = state.reach.standard_answer(s, answers)
        out.append(
            StandardReach(
                id=s.id,
                title_en=s.title_en,
                title_zh=s.title_zh,
                mode=s.mode,
                threshold_m=s.threshold_m,
                threshold_min=s.threshold_min,
                distance_m=_finite(ans.dist_m),
                time_min=_finite(ans.dist_m / s.speed_mps / 60.0) if s.mode == "network" else None,
                facility=facility_ref(state, ans.facility),
                met=ans.met,
            )
        )
    slon, slat = to_wgs84(np.array([q.x[0]]), np.array([q.y[0]]), state.city.crs)
    return ReachResponse(lon=lon, lat=lat, snapped=LonLat(lon=float(slon[0]), lat=float(slat[0])), access_m=float(q.access[0]), kinds=kinds, standards=out)
