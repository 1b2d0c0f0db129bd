"""Schemas that several resources of the HTTP API share (they make the OpenAPI document).

A schema used by one resource only sits beside its routes, in
``api/routes/<resource>.py``; one shared by several sits here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FacilityRef", "Link", "LonLat", "Overrides", "PointCoords"]

PointCoords = Literal["wgs84", "gcj02", "bd09", "cgcs2000"]
"""Datums a point may be given in (lon/lat)."""


class Link(BaseModel):
    """A hypermedia link (OGC API style)."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


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


class FacilityRef(BaseModel):
    """A facility and where it is (WGS84)."""

    id: str
    name: str
    kind: str
    lon: float
    lat: float
