"""Public-service facilities from an OpenStreetMap file, by the tag mapping."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import WGS84
from layers.kinds import CAPACITY_FIELDS
from layers.osm.files import file_format, read_features
from layers.osm.tags import TagMapping, facility_capacities, facility_kind, load_tag_mapping

__all__ = ["load_osm_facilities"]

_FACILITY_COLUMNS = ["id", "name", "kind", *CAPACITY_FIELDS]


def load_osm_facilities(path: str | Path, mapping: TagMapping | None = None) -> gpd.GeoDataFrame:
    """Read public-service facilities from an OpenStreetMap file.

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf``, ``.osm`` or ``.osm.xml``.
    mapping : TagMapping, optional
        Tag-to-kind rules; default ``layers/osm_tags.toml``.

    Returns
    -------
    geopandas.GeoDataFrame
        WGS84 points, index ``0..k-1``, columns ``id`` (``"node/123"``,
        ``"way/45"``, ...), ``name`` (``""`` when untagged), ``kind``,
        ``beds``, ``doctors``, ``floor_area_m2`` (NaN when unknown). Buildings
        and areas are represented by a point inside them. A node inside an
        area of the same kind, with the same name or no name on one of the
        two, is taken as a duplicate of the area and dropped (its name and
        capacities fill gaps in the area's).

    Raises
    ------
    OsmError
        If the file is missing or unreadable.
    """
    p, fmt = file_format(path)
    mapping = mapping or load_tag_mapping()
    ids, records, geoms = read_features(p, fmt, mapping.prefilter(), "pois")
    rows = []
    for fid, tags, geom in zip(ids, records, geoms):
        kind = facility_kind(tags, mapping)
        if kind is None or geom is None or shapely.is_empty(geom):
            continue
        rows.append({"id": fid, "name": tags.get("name", ""), "kind": kind, **facility_capacities(tags, kind, mapping), "geometry": geom})
    if not rows:
        return gpd.GeoDataFrame({c: pd.Series(dtype=float if c in CAPACITY_FIELDS else object) for c in _FACILITY_COLUMNS}, geometry=gpd.GeoSeries([], crs=WGS84))
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
    frame = frame.drop_duplicates("id")
    frame = _merge_nodes_into_areas(frame)
    frame["geometry"] = shapely.point_on_surface(frame.geometry.values)
    return frame[_FACILITY_COLUMNS + ["geometry"]].reset_index(drop=True)


def _merge_nodes_into_areas(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop nodes that restate an area (building, site) of the same facility."""
    is_area = shapely.get_dimensions(frame.geometry.values) == 2
    is_node = frame["id"].str.startswith("node/").to_numpy()
    if not is_area.any() or not is_node.any():
        return frame
    areas, nodes = frame[is_area], frame[is_node]
    ni, ai = shapely.STRtree(areas.geometry.values).query(nodes.geometry.values, predicate="within")
    drop = []
    for n, a in zip(ni, ai):
        node_row, area_label = nodes.iloc[n], areas.index[a]
        area_name = frame.at[area_label, "name"]
        if node_row["kind"] != frame.at[area_label, "kind"]:
            continue
        if node_row["name"] and area_name and node_row["name"].casefold() != area_name.casefold():
            continue  # two different facilities in one building
        if not area_name:
            frame.at[area_label, "name"] = node_row["name"]
        for f in CAPACITY_FIELDS:
            if np.isnan(frame.at[area_label, f]):
                frame.at[area_label, f] = node_row[f]
        drop.append(nodes.index[n])
    return frame.drop(index=drop)
