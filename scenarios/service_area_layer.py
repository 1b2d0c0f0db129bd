"""Service areas of a city's facilities under each standard, as a layer.

Walking service areas are the expensive output of a coverage run (a
Dijkstra plus a buffer of thousands of street pieces per facility), and one
run asks for them twice: for the GeoPackage and for the HTML map. They are
therefore kept per city and standard (:func:`standard_service_areas` computes
each standard's areas once per City object), and
:func:`service_areas_affordable` tells callers whether to draw them by
default.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.service_area_geometry import service_areas
from layers.city import City
from scenarios.standards import Standard

__all__ = ["AUTO_WALKING_AREAS_MAX", "service_areas_affordable", "standard_service_areas"]

AUTO_WALKING_AREAS_MAX = 250
"""Walking service areas drawn by default up to this many (facility,
standard) pairs. Each costs about 0.1-0.4 s of CPU at a 15-30 minute walk on
a dense street grid, so this keeps the default under about a minute; beyond
it the layer is written only on request (``--service-areas``)."""

Progress = Callable[[str, float], None]

# City -> {(standard, buffer_m): frame}; weak so a dropped City frees its areas.
_MEMO: weakref.WeakKeyDictionary[City, dict[tuple[Standard, float], gpd.GeoDataFrame]] = weakref.WeakKeyDictionary()


def service_areas_affordable(city: City, standards: Sequence[Standard]) -> bool:
    """Whether the walking service areas of ``standards`` are cheap enough to draw by default.

    Radius standards (circles) are always cheap; walking ones are counted per
    facility and compared with :data:`AUTO_WALKING_AREAS_MAX`.

    Parameters
    ----------
    city : City
    standards : sequence of Standard

    Returns
    -------
    bool
    """
    walking = sum(city.facilities_of(s.kinds).size for s in standards if s.mode != "euclidean")
    return walking <= AUTO_WALKING_AREAS_MAX


def _one_standard(city: City, s: Standard, buffer_m: float, progress: Progress | None) -> gpd.GeoDataFrame:
    """The service areas of one standard's facilities (empty frame when it has none)."""
    fac = city.facilities
    pos = city.facilities_of(s.kinds)
    if s.mode == "euclidean":
        polys = shapely.buffer(fac.geometry.values[pos], s.threshold_m, quad_segs=16)
    else:
        tell = None if progress is None else (lambda done, total: progress(f"service areas {s.id}", done / max(total, 1)))
        polys = np.asarray(
            service_areas(city.network, city.snapped_facilities.take(pos), [s.threshold_m], buffer_m=buffer_m, progress=tell)
        ).reshape(pos.size, -1)[:, 0] if pos.size else np.empty(0, dtype=object)  # fmt: skip
    return gpd.GeoDataFrame(
        {
            "standard": [s.id] * pos.size,
            "facility_id": fac["id"].to_numpy()[pos],
            "kind": fac["kind"].to_numpy()[pos],
            "mode": [s.mode] * pos.size,
            "threshold_m": np.full(pos.size, s.threshold_m),
        },
        geometry=np.asarray(polys, dtype=object),
        crs=city.crs,
    )


def standard_service_areas(
    city: City,
    standards: Sequence[Standard],
    buffer_m: float = 25.0,
    progress: Progress | None = None,
) -> gpd.GeoDataFrame:
    """One service-area polygon per facility and standard.

    Radius standards get a circle of the threshold around the facility (what
    the planning text literally says); walking standards get the streets
    reachable within the threshold, buffered by ``buffer_m`` on each side.
    Each standard's areas are computed once per City object and reused by
    later calls (the output writer and the map ask for the same areas).

    Parameters
    ----------
    city : City
    standards : sequence of Standard
    buffer_m : float, default 25
        Half-width of the band drawn around reached streets.
    progress : callable, optional
        ``progress(step, fraction)`` while walking areas are computed.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``standard``, ``facility_id``, ``kind``, ``mode``,
        ``threshold_m``, ``geometry`` in the city's CRS.
    """
    memo = _MEMO.setdefault(city, {})
    parts = []
    for s in standards:
        key = (s, float(buffer_m))
        if key not in memo:
            memo[key] = _one_standard(city, s, buffer_m, progress)
        parts.append(memo[key])
    parts = [p for p in parts if len(p)]
    if not parts:
        return gpd.GeoDataFrame(
            {k: [] for k in ("standard", "facility_id", "kind", "mode", "threshold_m")}, geometry=[], crs=city.crs
        )
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=city.crs)
