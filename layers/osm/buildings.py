"""Building footprints and land-use areas from an OpenStreetMap file (for the population estimate)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np

from geo.crs import WGS84
from layers.osm.files import file_format, read_features

__all__ = ["load_osm_buildings", "load_osm_landuse"]


def load_osm_buildings(path: str | Path, keys: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Read building footprints with the tags a population estimate needs.

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf``, ``.osm`` or ``.osm.xml``.
    keys : tuple of str
        OSM keys to return as columns (e.g.
        :data:`layers.population.BUILDING_KEYS`); missing tags are NaN.

    Returns
    -------
    geopandas.GeoDataFrame
        WGS84 polygons, columns ``id`` and ``keys``; ways and multipolygon
        relations tagged ``building=*``. Non-polygon features are dropped.

    Raises
    ------
    OsmError
        If the file is missing or unreadable.
    """
    return _polygons_with_keys(path, {"building": True}, "buildings", keys)


def load_osm_landuse(path: str | Path) -> gpd.GeoDataFrame:
    """Read land-use areas (``landuse=*`` polygons) as WGS84 ``id, landuse, geometry``."""
    return _polygons_with_keys(path, {"landuse": True}, "landuse", ("landuse",))


def _polygons_with_keys(path, tags: dict, what: str, keys: tuple[str, ...]) -> gpd.GeoDataFrame:
    p, fmt = file_format(path)
    ids, records, geoms = read_features(p, fmt, tags, what)
    data = {"id": ids, **{k: [r.get(k, np.nan) for r in records] for k in keys}}
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(list(geoms), crs=WGS84))
    polygonal = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    return frame[polygonal].reset_index(drop=True)
