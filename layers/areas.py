"""Area facilities (parks): reached from their edge, not their centroid.

A kind of the active catalogue with ``geometry = "polygon"`` may be given as
polygons. Each polygon becomes access points spaced along its edge (at most
the kind's ``edge_spacing_m`` apart), so that a walk is measured to the
nearest point of the park's edge. Points of such a kind are taken as they are:
give a park's entrances as points (with the park's id in a ``site`` column)
to measure from its entrances instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.kinds import KINDS, Kind

__all__ = ["area_access_points"]


def area_access_points(gdf: gpd.GeoDataFrame, kinds: Mapping[str, Kind] | None = None) -> gpd.GeoDataFrame:
    """Replace polygons of polygon kinds by access points along their edge.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        A facilities layer as read (any CRS; metres are measured in a local
        UTM zone when the CRS is geographic).
    kinds : mapping, optional
        The kinds in force (default: the active catalogue's).

    Returns
    -------
    geopandas.GeoDataFrame
        ``gdf`` itself when it has no polygon of a polygon kind (or has other
        non-point rows, which validation then reports). Otherwise point rows
        first, then per polygon its access points: ``id`` becomes
        ``{id}#{k}`` and ``site`` holds the polygon's id; capacities stay on
        the first access point only (0 on the others), so sums count each
        area once.
    """
    kinds = KINDS if kinds is None else kinds
    if "kind" not in gdf.columns or gdf.empty or gdf.crs is None:
        return gdf
    areal = {k for k, v in kinds.items() if v.geometry == "polygon"}
    areal |= {v.zh for k, v in kinds.items() if v.geometry == "polygon"}
    geoms = gdf.geometry.values
    is_poly = np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
    if not is_poly.any():
        return gdf
    kind_text = gdf["kind"].astype(str).str.strip()
    ok = kind_text.isin(areal).to_numpy() | kind_text.str.lower().isin(areal).to_numpy()
    if (is_poly & ~ok).any() or (~is_poly & (shapely.get_type_id(geoms) != 0)).any():
        return gdf  # polygons of point kinds, or lines: validation names the rows
    metric = gdf.crs if gdf.crs.is_projected else gdf.estimate_utm_crs()
    polys = gdf[is_poly].to_crs(metric)
    ids = polys["id"].astype(str).to_numpy() if "id" in polys.columns else np.array([f"a{i + 1}" for i in np.flatnonzero(is_poly)])
    rows, points = [], []
    caps = [c for c in gdf.columns if c in _capacity_like(kinds)]
    for (_, rec), pid, geom in zip(polys.iterrows(), ids, polys.geometry.values):
        kind = kinds.get(str(rec["kind"]).strip()) or next(v for v in kinds.values() if v.zh == str(rec["kind"]).strip())
        edge = shapely.boundary(geom)
        length = float(shapely.length(edge))
        n = max(1, int(np.ceil(length / kind.edge_spacing_m)))
        at = (np.arange(n) + 0.5) * length / n
        for k, p in enumerate(shapely.line_interpolate_point(edge, at)):
            row = rec.drop(labels=[gdf.geometry.name]).to_dict()
            row.update(id=f"{pid}#{k + 1}", site=pid)
            if k:
                row.update({c: 0.0 for c in caps})
            rows.append(row)
            points.append(p)
    access = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=points, crs=metric).to_crs(gdf.crs)
    plain = gdf[~is_poly].copy()
    if "site" not in plain.columns:
        plain["site"] = plain["id"].astype(str) if "id" in plain.columns else None
    return gpd.GeoDataFrame(pd.concat([plain, access], ignore_index=True), geometry=gdf.geometry.name, crs=gdf.crs)


def _capacity_like(kinds: Mapping[str, Kind]) -> set[str]:
    from layers.kinds import CAPACITY_FIELDS

    return set(CAPACITY_FIELDS) | {c for k in kinds.values() for c in k.capacity}
