"""Turning an uploaded file into a validated layer in the city's CRS.

Every upload is written to a temporary file and read with
:func:`layers.readers.read_layer`, so GeoJSON bodies and multipart files go
through the same coordinate handling (WGS84, CGCS2000, GCJ-02, BD-09, EPSG
codes) and the same validators as the command line.

Limits are checked as early as each can be: bytes while the upload arrives
(:func:`copy_limited`, and :class:`api.app.BodyLimitMiddleware` for every
body), a zip's unpacked size and a file's feature count from its headers
before anything is decoded (:func:`precheck`), vertices once decoded. Server
paths never reach a message: reader errors name the uploaded file.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import BinaryIO

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from api.config import Limits
from api.problems import ApiProblem
from api.state import AppState, StoredLayer
from layers.errors import LayerError, collect_warnings, describe_rows
from layers.readers import read_layer
from layers.validate import check_overlap, validate_facilities, validate_grid

__all__ = ["SUFFIXES", "check_limits", "copy_limited", "ingest_file", "precheck"]

SUFFIXES = {".gpkg", ".zip", ".csv", ".geojson", ".json", ".parquet", ".geoparquet", ".shp"}
"""File types accepted by the multipart upload (``.shp`` only inside a ``.zip``)."""

_CHUNK = 1 << 20


def copy_limited(src: BinaryIO, dst: Path, max_bytes: int, field: str = "file") -> int:
    """Copy a stream to ``dst``, refusing (413) once it exceeds ``max_bytes``."""
    total = 0
    with open(dst, "wb") as out:
        while chunk := src.read(_CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise ApiProblem(413, f"{field}: the upload exceeds the limit of {max_bytes:,} bytes", errors=[{"field": field, "message": f"larger than {max_bytes:,} bytes"}])
            out.write(chunk)
    if total == 0:
        raise ApiProblem(422, f"{field}: the uploaded file is empty", errors=[{"field": field, "message": "empty file"}])
    return total


def check_limits(gdf: gpd.GeoDataFrame, limits: Limits, source: str) -> None:
    """Refuse layers with too many features or vertices (413, naming the limit)."""
    if len(gdf) > limits.max_features:
        raise ApiProblem(413, f"{source}: {len(gdf):,} features exceed the limit of {limits.max_features:,} features per layer", errors=[{"field": "features", "message": f"at most {limits.max_features:,} features"}])
    counts = shapely.get_num_coordinates(gdf.geometry.values)
    big = np.flatnonzero(counts > limits.max_vertices_per_feature)
    if big.size:
        rows = describe_rows(big + 1)
        raise ApiProblem(
            413,
            f"{source}, row {big[0] + 1}: a geometry has {counts[big[0]]:,} vertices, above the limit of {limits.max_vertices_per_feature:,} per feature (rows {rows})",
            errors=[{"field": "geometry", "message": f"at most {limits.max_vertices_per_feature:,} vertices per feature", "row": int(big[0] + 1)}],
        )
    if counts.sum() > limits.max_vertices:
        raise ApiProblem(413, f"{source}: {int(counts.sum()):,} vertices in total exceed the limit of {limits.max_vertices:,} per layer", errors=[{"field": "geometry", "message": f"at most {limits.max_vertices:,} vertices per layer"}])


ZIP_INFLATION = 10
"""A zip may unpack to at most this many times the upload limit (zip bombs)."""


def _too_many(source: str, count: int, limits: Limits) -> ApiProblem:
    return ApiProblem(
        413,
        f"{source}: {count:,} features exceed the limit of {limits.max_features:,} features per layer",
        errors=[{"field": "features", "message": f"at most {limits.max_features:,} features"}],
    )


def precheck(path: Path, limits: Limits, source: str, layer: str | None = None) -> None:
    """Refuse (413) a file whose unpacked size or feature count passes a limit, before decoding it.

    Counts come from headers (a zip's directory, GDAL's layer info) or one
    pass over the raw bytes (CSV rows); a file that cannot be inspected is
    left to the reader, which reports what is wrong with it.
    """
    suffix = path.suffix.lower()
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                unpacked = sum(i.file_size for i in zf.infolist())
        except zipfile.BadZipFile:
            return
        cap = ZIP_INFLATION * limits.max_upload_bytes
        if unpacked > cap:
            raise ApiProblem(413, f"{source}: the zip unpacks to {unpacked:,} bytes, above the limit of {cap:,} bytes",
                             errors=[{"field": "file", "message": f"unpacks to more than {cap:,} bytes"}])
    if suffix == ".csv":
        rows = 0
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                rows += chunk.count(b"\n")
        if rows - 1 > limits.max_features:
            raise _too_many(source, rows - 1, limits)
        return
    try:
        import pyogrio

        target = f"/vsizip/{path}" if suffix == ".zip" else str(path)
        count = int(pyogrio.read_info(target, layer=layer)["features"])
    except Exception:  # noqa: BLE001 - not inspectable here; the reader explains
        return
    if count > limits.max_features:
        raise _too_many(source, count, limits)


def _own_words(exc: LayerError, path: Path, source: str) -> LayerError:
    """The reader's error with the server's temporary path replaced by the uploaded file's name."""
    def clean(text: str) -> str:
        for p in (str(path), str(path.parent)):
            text = text.replace(p, source)
        return text

    return LayerError(source, clean(exc.problem), field=exc.field, row=exc.row)


def _validate_units(gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    """Polygons with ``unit_id`` (generated ``u1..`` when absent) and ``name``."""
    geoms = gdf.geometry.values
    bad = ~np.isin(shapely.get_type_id(geoms), [3, 6])  # Polygon, MultiPolygon
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise LayerError(source, "units must be Polygon or MultiPolygon geometries", field="geometry", row=first + 1)
    frame = gdf.reset_index(drop=True).copy()
    if "unit_id" in frame:
        ids = frame["unit_id"].astype(str).str.strip()
        dup = ids.duplicated(keep=False).to_numpy()
        if dup.any():
            raise LayerError(source, f"unit_id {ids[dup].iloc[0]!r} is used by more than one record", field="unit_id", row=int(np.flatnonzero(dup)[1]) + 1)
        frame["unit_id"] = ids
    else:
        frame["unit_id"] = [f"u{i + 1}" for i in range(len(frame))]
    if "name" not in frame:
        frame["name"] = frame["unit_id"]
    frame["geometry"] = shapely.make_valid(geoms)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=gdf.crs)


def ingest_file(
    state: AppState,
    path: Path,
    *,
    name: str,
    layer_type: str,
    coords: str | None,
    source: str,
    layer: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    owner: str = "local",
) -> StoredLayer:
    """Read, limit-check, validate and register one uploaded layer.

    Raises
    ------
    LayerError
        Unreadable or invalid data (422 with field and row).
    ApiProblem
        A limit is exceeded, or the layer registry is full.
    """
    precheck(path, state.config.limits, source, layer)
    with collect_warnings() as found:
        try:
            raw = read_layer(path, layer=layer, coords=coords, lon_col=lon_col, lat_col=lat_col)
        except LayerError as exc:
            raise _own_words(exc, path, source) from None
        if len(raw) == 0:
            raise LayerError(source, "the layer has no records")
        check_limits(raw, state.config.limits, source)
        present = ~(shapely.is_missing(raw.geometry.values) | shapely.is_empty(raw.geometry.values))
        if not present.all():
            raise LayerError(source, "geometry is missing or empty", field="geometry", row=int(np.flatnonzero(~present)[0]) + 1)
        frame = raw.to_crs(state.city.crs)
        if not np.isfinite(frame.total_bounds).all():
            raise LayerError(source, "coordinates cannot be projected into the city's coordinate system", field="geometry")
        if layer_type == "facilities":
            frame = validate_facilities(frame, source)
        elif layer_type == "grid":
            frame = validate_grid(frame, source)
        else:
            frame = _validate_units(frame, source)
        check_overlap(tuple(frame.total_bounds), state.city.network.bounds(), source)
    stored = StoredLayer(
        id=uuid.uuid4().hex,
        name=name,
        type=layer_type,
        frame=frame,
        source=source,
        warnings=[str(w).replace(str(path), source) for w in found],
    )
    _ = stored.wgs84  # build the WGS84 copy and its index before other threads read it
    if not state.layers.add(stored, owner):
        raise ApiProblem(422, f"the server keeps at most {state.config.limits.max_layers} uploaded layers per API key (limits.max_layers); delete one first")
    return stored


def temp_upload_dir(state: AppState) -> Path:
    """A fresh folder for one upload under the data directory (caller removes it)."""
    parent = state.data_dir / "uploads"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=parent))


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def layer_city_frames(state: AppState, facilities_layer: str | None, grid_layer: str | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The uploaded frames to use in a run instead of the city's (404/422 problems when wrong)."""
    out = []
    for layer_id, want, field in ((facilities_layer, "facilities", "facilities_layer"), (grid_layer, "grid", "grid_layer")):
        if layer_id is None:
            out.append(None)
            continue
        stored = state.layers.get(layer_id)
        if stored is None:
            raise ApiProblem(404, f"{field}: no uploaded layer with id '{layer_id}'", errors=[{"field": f"body.{field}", "message": "unknown layer id"}])
        if stored.type != want:
            raise ApiProblem(422, f"{field}: layer '{layer_id}' is a {stored.type} layer, not {want}", errors=[{"field": f"body.{field}", "message": f"must be a {want} layer"}])
        out.append(stored.frame)
    return out[0], out[1]
