"""Points sent to the API in a declared datum, brought into the loaded city's coordinates."""

from __future__ import annotations

from api.state import AppState
from geo.chinacoords import bd09_to_wgs84, gcj02_to_wgs84
from geo.crs import transform_xy

__all__ = ["to_city_xy"]

_SOURCE_CRS = {"wgs84": "EPSG:4326", "gcj02": "EPSG:4326", "bd09": "EPSG:4326", "cgcs2000": "EPSG:4490"}
"""The CRS of each datum once GCJ-02 and BD-09 are shifted back to WGS84."""


def to_city_xy(state: AppState, lon: float, lat: float, coords: str) -> tuple[float, float, float, float]:
    """A point in a declared datum as ``(x, y)`` in the city's CRS and ``(lon, lat)`` in WGS84."""
    if coords == "gcj02":
        lon, lat = (float(v[0]) for v in gcj02_to_wgs84([lon], [lat]))
    elif coords == "bd09":
        lon, lat = (float(v[0]) for v in bd09_to_wgs84([lon], [lat]))
    x, y = transform_xy([lon], [lat], _SOURCE_CRS[coords], state.city.crs)
    return float(x[0]), float(y[0]), lon, lat
