"""GeoJSON in WGS84 for the HTTP API: features written fast, OGC-style pages, one feature, extents.

What the OGC collections (:mod:`api.routes.ogc`) and every other resource
answering GeoJSON (layers, coverage runs, ratio reports, service areas,
siting results) share: :func:`features_json` and :func:`feature_collection`
write a frame's rows, :func:`items_page` one page filtered by ``bbox`` with
``numberMatched``/``numberReturned`` and ``next``/``prev`` links, and the
paging query parameters (``LimitQ``, ``OffsetQ``, ``BboxQ``) those routes take.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import Query, Request
from fastapi.responses import JSONResponse, Response

from api.problems import ApiProblem

__all__ = ["GEOJSON", "BboxQ", "GeoJSONResponse", "LimitQ", "OffsetQ", "extent_wgs84", "feature_collection", "features_json",
           "items_page", "layer_id_column", "one_feature"]

GEOJSON = "application/geo+json"
HARD_MAX_LIMIT = 100_000


class GeoJSONResponse(JSONResponse):
    """JSON with the GeoJSON media type."""

    media_type = GEOJSON


def extent_wgs84(gdf: gpd.GeoDataFrame) -> list[float]:
    """``[minlon, minlat, maxlon, maxlat]`` of a layer in any CRS (cheap: corners only)."""
    if len(gdf) == 0:
        return [-180.0, -90.0, 180.0, 90.0]
    minx, miny, maxx, maxy = gdf.total_bounds
    corners = gpd.GeoSeries(shapely.points([minx, minx, maxx, maxx], [miny, maxy, miny, maxy]), crs=gdf.crs)
    b = corners.to_crs("EPSG:4326").total_bounds if gdf.crs is not None else corners.total_bounds
    return [round(float(v), 7) for v in b]


def layer_id_column(layer_type: str) -> str:
    return {"facilities": "id", "grid": "cell_id", "units": "unit_id"}[layer_type]


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    """``"minlon,minlat,maxlon,maxlat"`` as numbers; 422 problem when malformed."""
    if bbox is None:
        return None
    parts = bbox.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ApiProblem(422, f"bbox {bbox!r}: expected four numbers minlon,minlat,maxlon,maxlat", errors=[{"field": "query.bbox", "message": "expected four comma-separated numbers"}])
    x0, y0, x1, y1 = values
    if x0 > x1 or y0 > y1 or abs(y0) > 90 or abs(y1) > 90:
        raise ApiProblem(422, f"bbox {bbox!r}: need minlon <= maxlon, minlat <= maxlat and latitudes within [-90, 90]", errors=[{"field": "query.bbox", "message": "min greater than max or latitude out of range"}])
    return x0, y0, x1, y1


def feature_collection(frame: gpd.GeoDataFrame, rows: np.ndarray, id_column: str | None) -> dict:
    """GeoJSON FeatureCollection of ``frame.iloc[rows]`` with feature ids."""
    return json.loads(features_json(frame, rows, id_column).join(('{"type":"FeatureCollection","features":', "}")))


def _plain_column(values: pd.Series, rows: np.ndarray) -> list:
    """``values`` at ``rows`` as JSON-ready Python values: NaN, infinities and NA to None."""
    arr = values.to_numpy()[rows]
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        out = arr.tolist()
        for i in np.flatnonzero(bad):
            out[i] = None
        return out
    if arr.dtype.kind in "biu":
        return arr.tolist()
    # object / string columns: NA markers (None, NaN, pd.NA) to None; numpy scalars to Python ones
    return [None if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v))
            else (v.item() if isinstance(v, np.generic) else v) for v in arr.tolist()]


def features_json(frame: gpd.GeoDataFrame, rows: np.ndarray, id_column: str | None) -> str:
    """The JSON text of the features ``frame.iloc[rows]``, as a JSON array.

    Geometries are written by GEOS in one vectorised call and properties
    column by column; ``GeoDataFrame.to_geo_dict`` walks every row in Python
    and was most of the time of a page request.
    """
    rows = np.asarray(rows, dtype=np.intp)
    geom_name = frame.geometry.name
    geoms = shapely.to_geojson(frame.geometry.values[rows])
    names = [c for c in frame.columns if c != geom_name]
    columns = [_plain_column(frame[c], rows) for c in names]
    ids = [str(v) for v in frame[id_column].to_numpy()[rows].tolist()] if id_column else [int(r) for r in rows]
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    parts = []
    for i in range(rows.size):
        props = dumps({name: col[i] for name, col in zip(names, columns, strict=True)})
        geometry = "null" if geoms[i] is None else geoms[i]
        parts.append(f'{{"id":{dumps(ids[i])},"type":"Feature","properties":{props},"geometry":{geometry}}}')
    return "[" + ",".join(parts) + "]"


def items_page(request: Request, frame: gpd.GeoDataFrame, id_column: str | None, bbox: str | None, limit: int, offset: int, max_limit: int, extra_links: list[dict] | None = None) -> Response:
    """One page of features with OGC ``numberMatched``/``numberReturned`` and next/prev links."""
    box = parse_bbox(bbox)
    if box is None:
        rows = np.arange(len(frame))
    else:
        x0, y0, x1, y1 = box
        rows = np.sort(frame.sindex.query(shapely.box(x0, y0, x1, y1), predicate="intersects"))
    limit = min(limit, max_limit)
    page = rows[offset : offset + limit]
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON}]
    if offset + limit < rows.size:
        links.append({"href": str(request.url.include_query_params(offset=offset + limit, limit=limit)), "rel": "next", "type": GEOJSON})
    if offset > 0:
        links.append({"href": str(request.url.include_query_params(offset=max(0, offset - limit), limit=limit)), "rel": "prev", "type": GEOJSON})
    links += extra_links or []
    rest = json.dumps(
        {
            "numberMatched": int(rows.size),
            "numberReturned": int(page.size),
            "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "links": links,
        }
    )
    body = '{"type":"FeatureCollection","features":' + features_json(frame, page, id_column) + "," + rest[1:]
    return Response(body.encode("utf-8"), media_type=GEOJSON)


def one_feature(frame: gpd.GeoDataFrame, id_column: str | None, feature_id: str, where: str) -> dict:
    """A single feature by id; 404 problem when absent."""
    if id_column:
        rows = np.flatnonzero(frame[id_column].astype(str).to_numpy() == feature_id)
    else:
        rows = np.array([int(feature_id)]) if feature_id.isdigit() and int(feature_id) < len(frame) else np.array([], dtype=int)
    if rows.size == 0:
        raise ApiProblem(404, f"no feature '{feature_id}' in {where}")
    feature = feature_collection(frame, rows[:1], id_column)["features"][0]
    return feature


LimitQ = Query(100, ge=1, le=HARD_MAX_LIMIT, description="Features per page (capped by the server's max_page_size).")
OffsetQ = Query(0, ge=0, le=10**9, description="Features to skip.")
BboxQ = Query(None, max_length=200, description="minlon,minlat,maxlon,maxlat (CRS84).", examples=["116.45,18.97,116.50,19.01"])
