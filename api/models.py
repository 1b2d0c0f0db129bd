"""Request and response models of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from geojson_pydantic import FeatureCollection
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CoverageRequest",
    "FacilityRef",
    "Health",
    "JobInfo",
    "KindReach",
    "LayerInfo",
    "LayerType",
    "LayerUpload",
    "Link",
    "LonLat",
    "Overrides",
    "ReachRequest",
    "ReachResponse",
    "RunInfo",
    "ServiceAreaRequest",
    "StandardInfo",
    "StandardReach",
]

PointCoords = Literal["wgs84", "gcj02", "bd09", "cgcs2000"]
LayerType = Literal["facilities", "grid", "units"]
COORDS_PATTERN = r"^(?i:wgs84|cgcs2000|gcj02|bd09|EPSG:[0-9]{4,6})$"
STANDARD_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"
OBJECT_ID = r"^[0-9a-f]{32}$"


class Link(BaseModel):
    """A hypermedia link (OGC API style)."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


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


class Overrides(BaseModel):
    """Per-run changes to one standard's parameters."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"threshold_min": 15}]})

    threshold_m: float | None = Field(None, gt=0, le=100_000, description="Reach in metres.")
    threshold_min: float | None = Field(None, gt=0, le=600, description="Reach in minutes of walking.")
    speed_mps: float | None = Field(None, gt=0, le=10, description="Walking speed in m/s.")
    mode: Literal["euclidean", "network"] | None = None
    weight: Literal["population", "elderly"] | None = None


class LonLat(BaseModel):
    """A point given as longitude and latitude in degrees."""

    lon: float = Field(ge=-180, le=180, description="Longitude in degrees.")
    lat: float = Field(ge=-90, le=90, description="Latitude in degrees.")


class ReachRequest(LonLat):
    """One address to check."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"lon": 116.475, "lat": 18.99, "coords": "wgs84"}]},
    )

    coords: PointCoords = Field("wgs84", description="Datum of lon/lat: wgs84 (GPS), gcj02 (Amap, Tencent), bd09 (Baidu), cgcs2000.")
    standards: list[str] | None = Field(None, min_length=1, max_length=50, description="Standard ids to check (all by default).")
    overrides: dict[str, Overrides] = Field(default_factory=dict, description="Per-standard parameter overrides.")


class FacilityRef(BaseModel):
    """A facility and where it is (WGS84)."""

    id: str
    name: str
    kind: str
    lon: float
    lat: float


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


class LayerUpload(BaseModel):
    """A layer sent as GeoJSON."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "proposed clinics",
                    "type": "facilities",
                    "coords": "gcj02",
                    "data": {
                        "type": "FeatureCollection",
                        "features": [
                            {
                                "type": "Feature",
                                "geometry": {"type": "Point", "coordinates": [116.48, 18.99]},
                                "properties": {"id": "new-1", "name": "New clinic", "kind": "health_station"},
                            }
                        ],
                    },
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    type: LayerType = Field(description="facilities (points with kind), grid (polygons with population) or units (polygons).")
    coords: str = Field("wgs84", pattern=COORDS_PATTERN, description="Datum of the coordinates: wgs84, cgcs2000, gcj02, bd09 or EPSG:code.")
    data: FeatureCollection


class LayerInfo(BaseModel):
    """An uploaded layer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3f2c0e4a9b8d4c7e8f6a5b4c3d2e1f00",
                    "name": "proposed clinics",
                    "type": "facilities",
                    "features": 1,
                    "source": "proposed clinics.geojson",
                    "bbox": [116.48, 18.99, 116.48, 18.99],
                    "warnings": [],
                    "created": 1767225600.0,
                    "links": [{"href": "/layers/3f2c0e4a9b8d4c7e8f6a5b4c3d2e1f00", "rel": "self"}],
                }
            ]
        }
    )

    id: str
    name: str
    type: LayerType
    features: int
    source: str
    bbox: list[float] = Field(description="minlon, minlat, maxlon, maxlat")
    warnings: list[str] = Field(description="Problems that were repaired or worked around.")
    created: float
    links: list[Link]


class CoverageRequest(BaseModel):
    """A coverage run: standards, overrides and optionally uploaded layers."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"standards": ["clinic-walk", "elderly-circle"], "overrides": {"clinic-walk": {"threshold_min": 15}}},
            ]
        },
    )

    standards: list[str] | None = Field(None, min_length=1, max_length=50, description="Standard ids (all by default).")
    overrides: dict[str, Overrides] = Field(default_factory=dict)
    facilities_layer: str | None = Field(None, description="Id of an uploaded facilities layer to use instead of the city's.")
    grid_layer: str | None = Field(None, description="Id of an uploaded grid layer to use instead of the city's cells.")


class RunInfo(BaseModel):
    """A finished coverage run."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9c1d0e4a9b8d4c7e8f6a5b4c3d2e1f00",
                    "city": "demo",
                    "generated": True,
                    "created": 1767225600.0,
                    "request": {"standards": ["clinic-walk"], "overrides": {}, "facilities_layer": None, "grid_layer": None},
                    "summary": [{"standard": "clinic-walk", "covered": 300000.0, "share_covered": 0.94}],
                    "links": [{"href": "/coverage/9c1d.../cells", "rel": "items", "type": "application/geo+json"}],
                }
            ]
        }
    )

    id: str
    city: str
    generated: bool
    created: float
    request: dict[str, Any]
    summary: list[dict[str, Any]] = Field(description="One entry per standard: covered population, share, gaps, source clause.")
    links: list[Link]


class JobInfo(BaseModel):
    """A background job."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5e1d0e4a9b8d4c7e8f6a5b4c3d2e1f00",
                    "kind": "coverage",
                    "state": "running",
                    "percent": 40.0,
                    "step": "evaluating clinic-walk",
                    "created": 1767225600.0,
                    "started": 1767225600.1,
                    "finished": None,
                    "result": None,
                    "error": None,
                }
            ]
        }
    )

    id: str
    kind: str
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    percent: float
    step: str
    created: float
    started: float | None
    finished: float | None
    result: str | None = Field(description="URL of the result once the job succeeded.")
    error: dict[str, Any] | None = Field(description="`{status, detail}` when the job failed.")


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
