"""Service areas of a city's facilities under each standard, as a layer."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely

from geo.service_area import service_areas
from layers.city import City
from scenarios.standards import Standard

__all__ = ["standard_service_areas"]


def standard_service_areas(city: City, standards: Sequence[Standard], buffer_m: float = 25.0) -> gpd.GeoDataFrame:
    """One service-area polygon per facility and standard.

    Radius standards get a circle of the threshold around the facility (what
    the planning text literally says); walking standards get the streets
    reachable within the threshold, buffered by ``buffer_m`` on each side.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``standard``, ``facility_id``, ``kind``, ``mode``,
        ``threshold_m``, ``geometry`` in the city's CRS.
    """
    fac = city.facilities
    rows: dict[str, list] = {k: [] for k in ("standard", "facility_id", "kind", "mode", "threshold_m")}
    geoms: list = []
    for s in standards:
        pos = city.facilities_of(s.kinds)
        if pos.size == 0:
            continue
        if s.mode == "euclidean":
            polys = shapely.buffer(fac.geometry.values[pos], s.threshold_m, quad_segs=16)
        else:
            polys = np.asarray(service_areas(city.network, city.snapped_facilities.take(pos), [s.threshold_m], buffer_m=buffer_m))
            polys = polys.reshape(pos.size, -1)[:, 0]
        geoms.extend(polys)
        rows["standard"] += [s.id] * pos.size
        rows["facility_id"] += list(fac["id"].to_numpy()[pos])
        rows["kind"] += list(fac["kind"].to_numpy()[pos])
        rows["mode"] += [s.mode] * pos.size
        rows["threshold_m"] += [s.threshold_m] * pos.size
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=city.crs)
