"""OGC API - Features (Part 1: Core, GeoJSON) read access to layers and results.

Collections:

* ``cells``, ``facilities`` and ``units-<level>``: the loaded city;
* ``layer-<id>``: uploaded layers;
* ``run-<id>-cells`` and ``run-<id>-facilities``: coverage run results.

All items are GeoJSON in WGS84 (CRS84), paged with ``limit``/``offset`` and
``next``/``prev`` links, filtered with ``bbox`` (:mod:`api.geojson_pages`),
so QGIS and other OGC clients can add them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.geojson_pages import (
    GEOJSON,
    BboxQ,
    GeoJSONResponse,
    LimitQ,
    OffsetQ,
    extent_wgs84,
    items_page,
    layer_id_column,
    one_feature,
)
from api.problems import ERROR_RESPONSES, ApiProblem
from api.schemas.common import Link
from api.security import get_state, require_read
from api.state import AppState, coverage_cells, coverage_facilities

__all__ = ["Source", "find_source", "router"]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]


@dataclass
class Source:
    """A collection: where its WGS84 features come from."""

    id: str
    title: str
    description: str
    load: Callable[[], gpd.GeoDataFrame]
    id_column: str | None
    extent: list[float]


def _city_sources(state: AppState) -> list[Source]:
    # the loaded city never changes: its collections (and their extents) are made once
    kept = state.__dict__.get("_ogc_city_sources")
    if kept is not None:
        return list(kept)
    city = state.city
    out = [
        Source("cells", f"Population cells of {city.name}", "Residents and residents aged 60+ per cell.", lambda: state.city_cells, "cell_id", extent_wgs84(city.cells)),
        Source("facilities", f"Facilities of {city.name}", "Public service facilities with kind and capacities.", lambda: state.city_facilities, "id", extent_wgs84(city.facilities)),
    ]
    for level, gdf in state.city_units.items():
        out.append(Source(f"units-{level}", f"{level} units of {city.name}", f"Administrative units ({level}).", (lambda g=gdf: g), "unit_id" if "unit_id" in gdf else None, extent_wgs84(city.units[level])))
    state.__dict__["_ogc_city_sources"] = out
    return list(out)


def _layer_source(layer) -> Source:
    return Source(f"layer-{layer.id}", layer.name, f"Uploaded {layer.type} layer ({layer.source}).", (lambda lay=layer: lay.wgs84), layer_id_column(layer.type), extent_wgs84(layer.frame))


def _run_sources(run) -> list[Source]:
    ext = extent_wgs84(run.result.city.cells)
    return [
        Source(f"run-{run.id}-cells", f"Coverage run {run.id}: cells", "Per-cell distance, time, nearest facility and coverage per standard.", (lambda r=run: coverage_cells(r)), "cell_id", ext),
        Source(f"run-{run.id}-facilities", f"Coverage run {run.id}: facilities", "Facilities with the population each serves per standard.", (lambda r=run: coverage_facilities(r)), "id", extent_wgs84(run.result.city.facilities)),
    ]


def _sources(state: AppState) -> list[Source]:
    out = _city_sources(state)
    out += [_layer_source(layer) for layer in state.layers.values()]
    for run in state.runs.values():
        out += _run_sources(run)
    return out


def find_source(state: AppState, collection_id: str) -> Source:
    """The collection ``collection_id``; 404 problem when unknown.

    Looked up by its id's form (``layer-<id>``, ``run-<id>-cells``), so a request
    for one collection never loads every kept layer and run.
    """
    found: list[Source] = []
    if collection_id.startswith("layer-"):
        layer = state.layers.get(collection_id.removeprefix("layer-"))
        found = [] if layer is None else [_layer_source(layer)]
    elif collection_id.startswith("run-"):
        run_id = collection_id.removeprefix("run-").rsplit("-", 1)[0]
        run = state.runs.get(run_id)
        found = [] if run is None else _run_sources(run)
    else:
        found = _city_sources(state)
    for s in found:
        if s.id == collection_id:
            return s
    raise ApiProblem(404, f"no collection named '{collection_id}'; see /collections")


# ---------------------------------------------------------------- documents
class LandingPage(BaseModel):
    """OGC API landing page."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"title": "lifecircle", "description": "...", "links": [{"href": "/collections", "rel": "data"}]}]})

    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    """OGC conformance classes implemented."""

    conformsTo: list[str]


class Extent(BaseModel):
    spatial: dict


class Collection(BaseModel):
    """One OGC collection."""

    id: str
    title: str
    description: str
    itemType: str = "feature"
    crs: list[str] = Field(default_factory=lambda: [CRS84])
    extent: Extent
    links: list[Link]


class Collections(BaseModel):
    """All collections."""

    links: list[Link]
    collections: list[Collection]


router = APIRouter(tags=["OGC API - Features"], dependencies=[Depends(require_read)], responses=ERROR_RESPONSES)


def _collection_doc(request: Request, s: Source) -> Collection:
    base = str(request.url_for("ogc_collection", collection_id=s.id))
    return Collection(
        id=s.id,
        title=s.title,
        description=s.description,
        extent=Extent(spatial={"bbox": [s.extent], "crs": CRS84}),
        links=[
            Link(href=base, rel="self", type="application/json"),
            Link(href=base + "/items", rel="items", type=GEOJSON, title="Features as GeoJSON"),
        ],
    )


@router.get("/", summary="Landing page", description="OGC API landing page with links to the API description, conformance and collections.", response_model=LandingPage)
def landing(request: Request, state: AppState = Depends(get_state)) -> LandingPage:
    url = lambda name: str(request.url_for(name))
    return LandingPage(
        title=f"lifecircle: {state.city.name}",
        description="Who is within walking reach of public services: layers, coverage results and reach queries (OGC API - Features).",
        links=[
            Link(href=str(request.url), rel="self", type="application/json", title="This document"),
            Link(href=str(request.url_for("openapi")), rel="service-desc", type="application/vnd.oai.openapi+json;version=3.0", title="OpenAPI description"),
            Link(href=str(request.base_url) + "docs", rel="service-doc", type="text/html", title="Interactive documentation"),
            Link(href=url("ogc_conformance"), rel="conformance", type="application/json"),
            Link(href=url("ogc_collections"), rel="data", type="application/json", title="Collections"),
        ],
    )


@router.get("/conformance", name="ogc_conformance", summary="Conformance classes", description="The OGC API - Features conformance classes this server implements.", response_model=Conformance)
def conformance() -> Conformance:
    return Conformance(conformsTo=CONFORMANCE)


@router.get("/collections", name="ogc_collections", summary="List collections", description="The city's layers, uploaded layers and coverage results as OGC collections.", response_model=Collections)
def collections(request: Request, state: AppState = Depends(get_state)) -> Collections:
    return Collections(
        links=[Link(href=str(request.url), rel="self", type="application/json")],
        collections=[_collection_doc(request, s) for s in _sources(state)],
    )


CollectionId = Path(description="Collection id, e.g. `cells`, `facilities`, `layer-<id>`, `run-<id>-cells`.", max_length=200)


@router.get("/collections/{collection_id}", name="ogc_collection", summary="Describe a collection", description="Title, extent (CRS84) and links of one collection.", response_model=Collection)
def collection(request: Request, collection_id: str = CollectionId, state: AppState = Depends(get_state)) -> Collection:
    return _collection_doc(request, find_source(state, collection_id))


class FeatureCollectionPage(BaseModel):
    """A page of GeoJSON features (WGS84) with OGC paging links."""

    model_config = ConfigDict(extra="allow")

    type: str = "FeatureCollection"
    features: list[dict]
    numberMatched: int
    numberReturned: int
    links: list[Link]


class FeatureDoc(BaseModel):
    """One GeoJSON feature (WGS84)."""

    model_config = ConfigDict(extra="allow")

    type: str = "Feature"
    id: str | int
    geometry: dict | None
    properties: dict | None

@router.get("/collections/{collection_id}/items", summary="Features of a collection", description="GeoJSON features in WGS84, filtered by `bbox`, paged with `limit`/`offset` and next/prev links.", response_class=GeoJSONResponse, response_model=FeatureCollectionPage)
def items(request: Request, collection_id: str = CollectionId, bbox: str | None = BboxQ, limit: int = LimitQ, offset: int = OffsetQ, state: AppState = Depends(get_state)) -> GeoJSONResponse:
    s = find_source(state, collection_id)
    coll = str(request.url_for("ogc_collection", collection_id=s.id))
    return items_page(request, s.load(), s.id_column, bbox, limit, offset, state.config.limits.max_page_size, [{"href": coll, "rel": "collection", "type": "application/json"}])


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature", description="A single GeoJSON feature by id.", response_class=GeoJSONResponse, response_model=FeatureDoc)
def item(collection_id: str = CollectionId, feature_id: str = Path(max_length=200), state: AppState = Depends(get_state)) -> GeoJSONResponse:
    s = find_source(state, collection_id)
    return GeoJSONResponse(one_feature(s.load(), s.id_column, feature_id, f"collection '{collection_id}'"))
