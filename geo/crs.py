"""Choosing the metric CRS of a place and moving coordinates between CRSs.

Everything inside lifecircle runs in one metric CRS per city. By default that
is a Transverse Mercator centred on the data with scale 1 on its central
meridian (:func:`local_tm_crs`): its scale error grows with the square of the
distance from that meridian and stays below 0.01 % within 90 km of it, so
straight-line distances are right to 0.01 % anywhere a city lies. A UTM zone
(scale 0.9996 on its meridian) is up to 0.04-0.1 % off, and a Gauss-Kruger
zone up to 0.03 % at its edge; planners may still choose one (e.g. EPSG:4547,
CGCS2000 3-degree zone, central meridian 114 E) and :func:`max_scale_error`
tells how far off it is over their data.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import CRS, Proj, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.crs import GeographicCRS, ProjectedCRS
from pyproj.crs.coordinate_operation import TransverseMercatorConversion
from pyproj.database import query_utm_crs_info

from geo.network import WalkNetwork

CrsLike = CRS | str | int
"""Anything :meth:`pyproj.CRS.from_user_input` takes: a CRS, ``"EPSG:4547"``, 4547."""

__all__ = [
    "WGS84",
    "utm_crs_for",
    "local_tm_crs",
    "max_scale_error",
    "metric_crs",
    "transformer",
    "transform_xy",
    "to_wgs84",
    "from_wgs84",
    "project_geometry",
    "project_network",
    "is_metric",
]

WGS84 = CRS.from_epsg(4326)
"""Geographic WGS84, the CRS at lifecircle's edges (files, API, web maps)."""


def _check_lonlat(lon: float, lat: float) -> None:
    if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"({lon}, {lat}) is not a valid WGS84 longitude/latitude")


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone containing a point.

    Parameters
    ----------
    lon, lat : float
        WGS84 degrees.

    Returns
    -------
    pyproj.CRS
        e.g. EPSG:32650 (UTM 50N) for Shenzhen, EPSG:32635 for Helsinki.

    Raises
    ------
    ValueError
        If the point is not a valid longitude/latitude.
    """
    _check_lonlat(lon, lat)
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
    )
    if not infos:  # polar regions have no UTM zone
        raise ValueError(f"no UTM zone covers ({lon}, {lat})")
    # A point on a zone border matches two zones; prefer the standard
    # numbering (zone = floor((lon + 180) / 6) + 1) so the choice is stable.
    zone = min(int((lon + 180) // 6) + 1, 60)
    wanted = str((32600 if lat >= 0 else 32700) + zone)
    for info in infos:
        if info.code == wanted:
            return CRS.from_epsg(int(info.code))
    return CRS.from_epsg(int(infos[0].code))


def local_tm_crs(lon: float, lat: float) -> CRS:
    """A Transverse Mercator on WGS84 centred on a place, with scale 1 on its meridian.

    Parameters
    ----------
    lon, lat : float
        WGS84 degrees of the place's centre. The meridian is rounded to 0.01
        degree (about 1 km), so that the same data read from different files
        or CRSs gets the very same CRS.

    Returns
    -------
    pyproj.CRS
        Named ``"lifecircle local TM <lon>E"``; false easting 500 km, as in
        UTM, so x stays positive.

    Raises
    ------
    ValueError
        If the point is not a valid longitude/latitude.
    """
    _check_lonlat(lon, lat)
    lon0 = round(float(lon), 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    hemisphere = "E" if lon0 >= 0 else "W"
    conversion = TransverseMercatorConversion(
        latitude_natural_origin=0.0,
        longitude_natural_origin=lon0,
        false_easting=500_000.0,
        false_northing=0.0,
        scale_factor_natural_origin=1.0,
    )
    return ProjectedCRS(conversion, name=f"lifecircle local TM {abs(lon0):.2f}{hemisphere}", geodetic_crs=GeographicCRS(datum="WGS84"))


def max_scale_error(crs: CRS, bounds: tuple[float, float, float, float]) -> float:
    """Largest relative scale error of a projected CRS over a WGS84 box.

    Parameters
    ----------
    crs : pyproj.CRS
        A projected CRS.
    bounds : tuple of 4 floats
        ``(min_lon, min_lat, max_lon, max_lat)``.

    Returns
    -------
    float
        ``max |k - 1|`` over a 5 x 5 lattice of the box (the scale error of
        conformal projections varies smoothly, with its extremes on the box's
        edges), e.g. ``4e-4`` for a UTM zone's centre.
    """
    lon = np.linspace(bounds[0], bounds[2], 5)
    lat = np.linspace(bounds[1], bounds[3], 5)
    lon, lat = (a.ravel() for a in np.meshgrid(lon, lat))
    factors = Proj(crs).get_factors(lon, lat)
    k = np.concatenate([factors.meridional_scale, factors.parallel_scale])
    return float(np.nanmax(np.abs(k - 1.0)))


def metric_crs(
    data: gpd.GeoDataFrame | gpd.GeoSeries | tuple[float, float, float, float], epsg: CrsLike | None = None
) -> CRS:
    """Choose the metric CRS for a place.

    Parameters
    ----------
    data : geopandas.GeoDataFrame or GeoSeries or tuple of 4 floats
        The place's data (any CRS; it must have one), or its WGS84 bounds
        ``(min_lon, min_lat, max_lon, max_lat)``.
    epsg : int or str or pyproj.CRS, optional
        The user's choice, e.g. ``4547`` (CGCS2000 / 3-degree Gauss-Kruger CM
        114E). Must be a projected CRS in metres.

    Returns
    -------
    pyproj.CRS
        ``epsg`` if given, else :func:`local_tm_crs` of the data's centre.

    Raises
    ------
    ValueError
        If ``epsg`` is not a projected CRS with metre units, or ``data`` has no
        CRS.
    """
    if epsg is not None:
        crs = CRS.from_user_input(epsg)
        if not is_metric(crs):
            raise ValueError(f"{crs.to_string()} is not a projected CRS in metres; choose one such as a UTM or Gauss-Kruger zone")
        return crs
    if isinstance(data, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if data.crs is None:
            raise ValueError("the data has no CRS, so its metric CRS cannot be chosen")
        minx, miny, maxx, maxy = data.to_crs(WGS84).total_bounds
    else:
        minx, miny, maxx, maxy = (float(b) for b in data)
    return local_tm_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0)


def is_metric(crs: CRS) -> bool:
    """Whether a CRS is projected with both axes in metres."""
    return bool(crs.is_projected and all(a.unit_name in ("metre", "meter") for a in crs.axis_info))


@lru_cache(maxsize=64)
def transformer(src: CRS, dst: CRS) -> Transformer:
    """A cached ``always_xy`` transformer (x/lon first, whatever the CRS says)."""
    return Transformer.from_crs(src, dst, always_xy=True)


def transform_xy(x: ArrayLike, y: ArrayLike, src: CrsLike, dst: CrsLike) -> tuple[np.ndarray, np.ndarray]:
    """Project coordinate arrays from ``src`` to ``dst``.

    Parameters
    ----------
    x, y : array_like
        Coordinates in ``src`` (longitude first for geographic CRSs).
    src, dst : pyproj.CRS or str or int
        Source and destination CRS.

    Returns
    -------
    x, y : numpy.ndarray of float64
    """
    src, dst = CRS.from_user_input(src), CRS.from_user_input(dst)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if src == dst:
        return x.copy(), y.copy()
    return transformer(src, dst).transform(x, y)


def to_wgs84(x: ArrayLike, y: ArrayLike, crs: CrsLike) -> tuple[np.ndarray, np.ndarray]:
    """Project coordinates in ``crs`` to WGS84 ``(lon, lat)``."""
    return transform_xy(x, y, crs, WGS84)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: CrsLike) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 ``(lon, lat)`` to ``crs``."""
    return transform_xy(lon, lat, WGS84, crs)


def project_geometry(geoms: np.ndarray, src: CrsLike, dst: CrsLike) -> np.ndarray:
    """Project an array of shapely geometries (vectorised over all vertices)."""
    src, dst = CRS.from_user_input(src), CRS.from_user_input(dst)
    if src == dst:
        return np.asarray(geoms, dtype=object)
    t = transformer(src, dst)
    return shapely.transform(
        np.asarray(geoms, dtype=object),
        lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])),
    )


def project_network(network: WalkNetwork, crs: CrsLike) -> WalkNetwork:
    """The same network with node coordinates and geometry in ``crs``.

    Edge lengths are kept: they are walking distances measured along the street
    and do not depend on the map projection (projection scale error within a
    city is far below the length rounding of the source data).

    Parameters
    ----------
    network : WalkNetwork
        A network that knows its CRS.
    crs : pyproj.CRS or str or int
        Target metric CRS.

    Returns
    -------
    WalkNetwork

    Raises
    ------
    ValueError
        If the network has no CRS.
    """
    crs = CRS.from_user_input(crs)
    if network.crs is None:
        raise ValueError("the network has no CRS, so it cannot be reprojected")
    if network.crs == crs:
        return network
    x, y = transform_xy(network.x, network.y, network.crs, crs)
    geometry = None if network.geometry is None else project_geometry(network.geometry, network.crs, crs)
    # dataclasses.replace builds a fresh instance, so no cached CSR/tree leaks over.
    return replace(network, x=np.ascontiguousarray(x), y=np.ascontiguousarray(y), geometry=geometry, crs=crs)
