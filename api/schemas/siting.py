"""The siting request: what ``POST /siting`` and ``POST /workbench/scenarios/{name}/siting`` take."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import LonLat, Overrides, PointCoords

__all__ = ["MAX_CANDIDATES", "CandidatePoint", "SitingRequest"]

MAX_CANDIDATES = 20_000
"""Most candidate points one request may send."""


class CandidatePoint(LonLat):
    """A candidate site (e.g. a vacant plot) given by the planner."""

    id: str = Field(min_length=1, max_length=100, description="Candidate id, unique in the request.")


class SitingRequest(BaseModel):
    """Where should new facilities go for one standard."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"standard": "clinic-walk", "problem": "mclp", "p": 3, "overrides": {"threshold_min": 10}},
                {"standard": "elderly-circle", "problem": "lscp", "target_share": 0.95, "remove": ["EC0003"]},
            ]
        },
    )

    standard: str = Field(max_length=64, description="Standard id, e.g. clinic-walk.")
    problem: Literal["mclp", "lscp", "p-median", "capacitated", "attendance"] = Field(
        "mclp", description="mclp: p sites covering the most; lscp: fewest sites reaching target_share; p-median: "
        "least weighted walking; capacitated: most served within capacity; attendance: most expected use."
    )
    p: int | None = Field(None, ge=0, le=1000, description="Number of new sites (all problems but lscp).")
    target_share: float | None = Field(None, gt=0, le=1, description="lscp: share of the reachable weight to cover.")
    overrides: Overrides = Field(default_factory=Overrides, description="Parameter overrides of the standard.")
    spacing_m: float = Field(200.0, ge=25, le=5000, description="Spacing of generated candidates along the streets.")
    candidates: list[CandidatePoint] | None = Field(
        None, min_length=1, max_length=MAX_CANDIDATES, description="Your candidate sites instead of generated ones."
    )
    coords: PointCoords = Field("wgs84", description="Datum of the candidates' lon/lat.")
    required: list[str] = Field(default_factory=list, max_length=1000, description="Candidate ids that must be chosen.")
    excluded: list[str] = Field(default_factory=list, max_length=MAX_CANDIDATES, description="Candidate ids that must not be chosen.")
    remove: list[str] = Field(default_factory=list, max_length=1000, description="Existing facility ids that close.")
    relocate: list[str] = Field(default_factory=list, max_length=1000, description="Existing facility ids that move to a new site.")
    min_spacing_m: float = Field(0.0, ge=0, le=100_000, description="Smallest distance between two new sites.")
    solver: Literal["auto", "milp", "greedy"] = "auto"
    time_limit_s: float = Field(60.0, gt=0, le=600, description="Time limit of the exact solver.")
    capacity: float | None = Field(None, ge=0, description="capacitated: people one new site can serve.")
    existing_capacity: float | str | None = Field(None, description="capacitated: a number or a facility column.")
