"""Uploading, listing, reading and deleting layers (facilities, grid, units)."""

from __future__ import annotations

import json
from pathlib import Path as FsPath
from typing import Literal

import numpy as np
from fastapi import APIRouter, Depends, File, Form, Path, Request, Response, UploadFile
from geojson_pydantic import FeatureCollection
from pydantic import BaseModel, ConfigDict, Field

from api.geojson_pages import GeoJSONResponse, extent_wgs84, feature_collection, layer_id_column
from api.problems import ERROR_RESPONSES, ApiProblem
from api.schemas.common import Link
from api.security import get_state, owner_of, require_read, require_write
from api.state import AppState, StoredLayer
from api.uploads import SUFFIXES, copy_limited, ingest_file, remove_dir, temp_upload_dir

__all__ = ["LayerInfo", "LayerType", "LayerUpload", "layer_info", "router"]

router = APIRouter(prefix="/layers", tags=["Layers"], responses=ERROR_RESPONSES)

LayerId = Path(max_length=64, description="Layer id as returned by the upload.")

LayerType = Literal["facilities", "grid", "units"]
COORDS_PATTERN = r"^(?i:wgs84|cgcs2000|gcj02|bd09|EPSG:[0-9]{4,6})$"


class LayerUpload(BaseModel):
    """A layer sent as GeoJSON."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "proposed clinics",
                    "type": "facilities",
                    "coords": "gcj02",
                    "data": {
                        "type": "FeatureCollection",
                        "features": [
                            {
                                "type": "Feature",
                                "geometry": {"type": "Point", "coordinates": [116.48, 18.99]},
                                "properties": {"id": "new-1", "name": "New clinic", "kind": "health_station"},
                            }
                        ],
                    },
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    type: LayerType = Field(description="facilities (points with kind), grid (polygons with population) or units (polygons).")
    coords: str = Field("wgs84", pattern=COORDS_PATTERN, description="Datum of the coordinates: wgs84, cgcs2000, gcj02, bd09 or EPSG:code.")
    data: FeatureCollection


class LayerInfo(BaseModel):
    """An uploaded layer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3f2c0e4a9b8d4c7e8f6a5b4c3d2e1f00",
                    "name": "proposed clinics",
                    "type": "facilities",
                    "features": 1,
                    "source": "proposed clinics.geojson",
                    "bbox": [116.48, 18.99, 116.48, 18.99],
                    "warnings": [],
                    "created": 1767225600.0,
                    "links": [{"href": "/layers/3f2c0e4a9b8d4c7e8f6a5b4c3d2e1f00", "rel": "self"}],
                }
            ]
        }
    )

    id: str
    name: str
    type: LayerType
    features: int
    source: str
    bbox: list[float] = Field(description="minlon, minlat, maxlon, maxlat")
    warnings: list[str] = Field(description="Problems that were repaired or worked around.")
    created: float
    links: list[Link]


def layer_info(request: Request, layer: StoredLayer) -> LayerInfo:
    """The API description of a stored layer, with links."""
    base = str(request.url_for("get_layer", layer_id=layer.id))
    items = str(request.url_for("ogc_collection", collection_id=f"layer-{layer.id}")) + "/items"
    return LayerInfo(
        id=layer.id,
        name=layer.name,
        type=layer.type,
        features=len(layer.frame),
        source=layer.source,
        bbox=extent_wgs84(layer.frame),
        warnings=layer.warnings,
        created=layer.created,
        links=[
            Link(href=base, rel="self", type="application/json"),
            Link(href=base + "/geojson", rel="alternate", type="application/geo+json", title="Whole layer as GeoJSON"),
            Link(href=items, rel="items", type="application/geo+json", title="OGC API items (paged)"),
        ],
    )


def _created(request: Request, response: Response, layer: StoredLayer) -> LayerInfo:
    info = layer_info(request, layer)
    response.headers["Location"] = info.links[0].href
    return info


def _check_capacity(state: AppState, owner: str) -> None:
    if len(state.layers.ids(owner)) >= state.config.limits.max_layers:
        raise ApiProblem(422, f"the server keeps at most {state.config.limits.max_layers} uploaded layers per API key (limits.max_layers); delete one first")


@router.post(
    "",
    status_code=201,
    summary="Upload a layer as GeoJSON",
    description="A FeatureCollection of facilities (points with `kind`), grid cells (polygons with `population`) "
    "or units (polygons), in WGS84, CGCS2000, GCJ-02 (Amap/Tencent), BD-09 (Baidu) or an EPSG CRS. "
    "The layer is validated (errors name the field and row) and stored in the city's CRS.",
    response_model=LayerInfo,
    dependencies=[Depends(require_write)],
)
def upload_geojson(body: LayerUpload, request: Request, response: Response, state: AppState = Depends(get_state)) -> LayerInfo:
    _check_capacity(state, owner_of(request.headers.get("x-api-key", "")))
    folder = temp_upload_dir(state)
    try:
        path = folder / "layer.geojson"
        path.write_text(json.dumps(body.data.model_dump(mode="json", exclude_unset=True)), encoding="utf-8")
        layer = ingest_file(state, path, name=body.name, layer_type=body.type, coords=body.coords, source=f"{body.name} (GeoJSON)",
                            owner=owner_of(request.headers.get("x-api-key", "")))
    finally:
        remove_dir(folder)
    return _created(request, response, layer)


@router.post(
    "/upload",
    status_code=201,
    summary="Upload a layer file",
    description="Multipart upload of a GeoPackage (.gpkg), zipped Shapefile (.zip), CSV with lon/lat columns (.csv), "
    "GeoJSON or GeoParquet. `coords` declares the coordinate system when the file has none (CSV, Shapefile "
    "without .prj) or when its numbers are GCJ-02/BD-09.",
    response_model=LayerInfo,
    dependencies=[Depends(require_write)],
)
def upload_file(
    request: Request,
    response: Response,
    file: UploadFile = File(description="The layer file."),
    type: LayerType = Form(description="facilities, grid or units."),
    name: str | None = Form(None, min_length=1, max_length=200, description="Display name (default: the file name)."),
    coords: str | None = Form(None, pattern=COORDS_PATTERN, description="wgs84, cgcs2000, gcj02, bd09 or EPSG:code."),
    layer: str | None = Form(None, max_length=200, description="Layer name inside a multi-layer GeoPackage."),
    lon_col: str | None = Form(None, max_length=100, description="CSV longitude column (detected by default)."),
    lat_col: str | None = Form(None, max_length=100, description="CSV latitude column (detected by default)."),
    state: AppState = Depends(get_state),
) -> LayerInfo:
    filename = FsPath(file.filename or "").name
    suffix = FsPath(filename).suffix.lower()
    if suffix not in SUFFIXES or suffix == ".shp":
        raise ApiProblem(
            422,
            f"file: cannot tell the format of {filename or 'the upload'!r}; send .gpkg, .zip (Shapefile), .csv, .geojson, .json or .parquet",
            errors=[{"field": "file", "message": "unsupported file type"}],
        )
    _check_capacity(state, owner_of(request.headers.get("x-api-key", "")))
    folder = temp_upload_dir(state)
    try:
        path = folder / f"upload{suffix}"
        copy_limited(file.file, path, state.config.limits.max_upload_bytes)
        stored = ingest_file(
            state, path, name=name or filename, layer_type=type, coords=coords, source=filename, layer=layer, lon_col=lon_col, lat_col=lat_col,
            owner=owner_of(request.headers.get("x-api-key", "")),
        )
    finally:
        remove_dir(folder)
    return _created(request, response, stored)


@router.get("", summary="List layers", description="Every uploaded layer still kept.", response_model=list[LayerInfo], dependencies=[Depends(require_read)])
def list_layers(request: Request, state: AppState = Depends(get_state)) -> list[LayerInfo]:
    return [layer_info(request, lay) for lay in state.layers.values()]


def _layer(state: AppState, layer_id: str) -> StoredLayer:
    layer = state.layers.get(layer_id)
    if layer is None:
        raise ApiProblem(404, f"no uploaded layer with id '{layer_id}'")
    return layer


@router.get("/{layer_id}", name="get_layer", summary="Describe a layer", description="Name, type, feature count, extent and links.", response_model=LayerInfo, dependencies=[Depends(require_read)])
def get_layer(request: Request, layer_id: str = LayerId, state: AppState = Depends(get_state)) -> LayerInfo:
    return layer_info(request, _layer(state, layer_id))


@router.get(
    "/{layer_id}/geojson",
    summary="A layer as GeoJSON",
    description="The whole validated layer as a GeoJSON FeatureCollection in WGS84 (use the OGC items endpoint for paging).",
    response_class=GeoJSONResponse,
    dependencies=[Depends(require_read)],
)
def layer_geojson(layer_id: str = LayerId, state: AppState = Depends(get_state)) -> GeoJSONResponse:
    layer = _layer(state, layer_id)
    frame = layer.wgs84
    return GeoJSONResponse(feature_collection(frame, np.arange(len(frame)), layer_id_column(layer.type)))


@router.delete("/{layer_id}", status_code=204, summary="Delete a layer", description="Forget an uploaded layer.", dependencies=[Depends(require_write)])
def delete_layer(layer_id: str = LayerId, state: AppState = Depends(get_state)) -> Response:
    if not state.layers.remove(layer_id):
        raise ApiProblem(404, f"no uploaded layer with id '{layer_id}'")
    return Response(status_code=204)
