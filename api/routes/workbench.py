"""The planner's workbench: the ``/app`` page and the read endpoints it draws from.

The page (``api/static/workbench/``, plain ES modules, no build step) and the
vendored Leaflet (``maps/assets/``) are served by this server, so the
workbench works on an intranet with no outside request. Edits go through the
scenario API (``POST /scenarios/{name}/edits`` with ``If-Match``); this module
adds what the page reads:

- ``GET /workbench/city``: the loaded city's name, bounds, facility kinds and standards (both languages);
- ``GET /workbench/base.geojson``: the walking network and unit boundaries, the page's base layer;
- ``GET /workbench/scenarios/{name}/coverage``: every standard's coverage at the scenario's current version;
- ``GET /workbench/scenarios/{name}/facilities``: the scenario's facilities (GeoJSON);
- ``GET /workbench/scenarios/{name}/tiles/{standard}/{z}/{x}/{y}.png``: its cells as XYZ tiles (covered, walk-time
  bands or E2SFCA accessibility; of the scenario or of the city's own facilities);
- ``GET /workbench/scenarios/{name}/tiles/{standard}/changed``: the tiles an edit recoloured (the page redraws only those).

Ratio rules per unit, gaps and deltas per unit are in :mod:`api.routes.workbench_layers`; suggestions and exports
on a scenario's facilities in :mod:`api.routes.workbench_actions` (routers of their own under ``/workbench``);
what the three share (a scenario's live state, results kept per version) in :mod:`api.workbench_views`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path as FsPath
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Response
from fastapi.staticfiles import StaticFiles

from api.problems import ERROR_RESPONSES, ApiProblem
from api.scenario_service import ScenarioService, scenario_service
from api.security import get_state, require_read
from api.state import AppState
from api.tile_service import ModeQ, TileService, X, Y, Z, check_tile, tile_response, tile_service
from api.workbench_views import NameP, ViewCache, etag_headers, live_scenario, view_cache
from geo.crs import to_wgs84
from layers.kinds import CAPACITY_FIELDS, active_kinds
from scenarios.evaluate import band_labels
from scenarios.ratio_standards import access_standards, evaluate_access, get_access_standard
from scenarios.standards import resolve_standards

__all__ = ["BASE_MAX_SEGMENTS", "mount_pages", "router"]

STATIC = FsPath(__file__).resolve().parents[1] / "static" / "workbench"
BASE_MAX_SEGMENTS = 150_000
"""Street segments sent as the base layer at most (the longest kept): a few MB of GeoJSON."""

router = APIRouter(prefix="/workbench", tags=["Workbench"], responses=ERROR_RESPONSES)

_base_lock = threading.Lock()


def mount_pages(app: FastAPI) -> None:
    """Serve the workbench page at ``/app/`` and the vendored Leaflet at ``/app/vendor/``."""
    vendor = FsPath(str(resources.files("maps").joinpath("assets")))
    app.mount("/app/vendor", StaticFiles(directory=vendor), name="workbench_vendor")
    app.mount("/app", StaticFiles(directory=STATIC, html=True), name="workbench")


# ------------------------------------------------------------------ the city


def _bounds(state: AppState) -> list[float]:
    xmin, ymin, xmax, ymax = state.city.cells.total_bounds
    lon, lat = to_wgs84(np.array([xmin, xmax, xmin, xmax]), np.array([ymin, ymin, ymax, ymax]), state.city.crs)
    return [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]


@router.get("/city", summary="The loaded city, for the workbench",
            description="Name, WGS84 bounds `[west, south, east, north]`, facility kinds, standards and E2SFCA accessibility "
            "standards with English and Chinese labels, and the unit levels.",
            dependencies=[Depends(require_read)])
def city_info(state: AppState = Depends(get_state)) -> dict[str, Any]:
    kinds = [{"id": k.id, "en": k.en, "zh": k.zh, "colour": k.colour, "capacity": list(k.capacity)} for k in active_kinds().values()]
    standards = [
        {"id": s.id, "en": s.title_en, "zh": s.title_zh, "kinds": list(s.kinds), "threshold_m": s.threshold_m,
         "mode": s.mode, "weight": s.weight, "bands": band_labels(s)}
        for s in resolve_standards()
    ]
    access = [{"id": a.id, "en": a.title_en, "zh": a.title_zh, "kinds": list(a.kinds)} for a in access_standards().values()]
    return {"name": state.city.name, "generated": bool(state.city.generated), "bounds": _bounds(state),
            "kinds": kinds, "standards": standards, "access": access, "levels": list(state.city.units or {}),
            "capacity_fields": list(CAPACITY_FIELDS),
            "reads_require_key": state.config.reads_require_key}


def base_layer(state: AppState, max_segments: int = BASE_MAX_SEGMENTS) -> bytes:
    """GeoJSON (WGS84) of the walking network as straight segments and the unit boundaries.

    A network with more than ``max_segments`` edges is thinned to its longest
    ones (the main streets), which is what shows at city-wide zoom.
    """
    city = state.city
    net = city.network
    lon, lat = to_wgs84(net.x, net.y, city.crs)
    u, v = np.asarray(net.u), np.asarray(net.v)
    if len(u) > max_segments:
        keep = np.sort(np.argpartition(-np.asarray(net.length), max_segments)[:max_segments])
        u, v = u[keep], v[keep]
    seg = np.round(np.stack([np.column_stack([lon[u], lat[u]]), np.column_stack([lon[v], lat[v]])], axis=1), 6)
    features = [{"type": "Feature", "properties": {"layer": "network", "segments": int(len(u)), "edges": int(len(net.u))},
                 "geometry": {"type": "MultiLineString", "coordinates": seg.tolist()}}]
    for level, frame in (city.units or {}).items():
        wgs = frame.to_crs("EPSG:4326")
        geo = json.loads(wgs[["geometry"]].to_json(drop_id=True))
        for feat, (_, row) in zip(geo["features"], wgs.iterrows()):
            feat["properties"] = {"layer": "unit", "level": level, "unit_id": str(row["unit_id"]),
                                  "name": str(row["name"]) if "name" in wgs.columns else str(row["unit_id"])}
            features.append(feat)
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":")).encode()


@router.get("/base.geojson", summary="Base layer: walking network and unit boundaries",
            description=f"The city's own walking network (straight segments; the longest {BASE_MAX_SEGMENTS:,} on larger "
            "networks) and unit boundaries as a GeoJSON FeatureCollection in WGS84. No online tiles are needed.",
            response_class=Response, responses={200: {"content": {"application/geo+json": {}}}},
            dependencies=[Depends(require_read)])
def base_geojson(state: AppState = Depends(get_state)) -> Response:
    with _base_lock:  # built once per city: seconds on a large network
        body = getattr(state, "_workbench_base", None)
        if body is None:
            body = base_layer(state)
            state._workbench_base = body  # type: ignore[attr-defined]
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "private, max-age=3600"})


# ------------------------------------------------------------------ a scenario's live state


@router.get("/scenarios/{name}/coverage", name="scenario_coverage", summary="A scenario's coverage now",
            description="Per standard, the coverage summary at the scenario's latest version (the numbers an edit answers "
            "with), computed on the live state. `ETag` is the version.",
            dependencies=[Depends(require_read)])
def scenario_coverage(response: Response, name: str = NameP, service: ScenarioService = Depends(scenario_service)) -> dict[str, Any]:
    with service.name_lock(name):  # not between an edit's live change and its save
        scenario, live = live_scenario(service, name)
        summaries = live.summaries()
    response.headers.update(etag_headers(scenario.version))
    return {"name": name, "version": scenario.version, "edits": len(scenario.edits), "standards": summaries}


@router.get("/scenarios/{name}/facilities", name="scenario_facilities", summary="A scenario's facilities",
            description="The facilities after the scenario's edits as GeoJSON (WGS84), with kind and capacities. `ETag` is the version.",
            response_class=Response, responses={200: {"content": {"application/geo+json": {}}}},
            dependencies=[Depends(require_read)])
def scenario_facilities(name: str = NameP, service: ScenarioService = Depends(scenario_service)) -> Response:
    with service.name_lock(name):
        scenario, live = live_scenario(service, name)
        frame = live.facilities()
    lon, lat = to_wgs84(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy(), frame.crs)
    features = []
    for i, rec in enumerate(frame.drop(columns="geometry").to_dict("records")):
        props = {k: (None if isinstance(val, float) and not np.isfinite(val) else val) for k, val in rec.items()}
        features.append({"type": "Feature", "id": str(rec["id"]), "properties": props,
                         "geometry": {"type": "Point", "coordinates": [round(float(lon[i]), 7), round(float(lat[i]), 7)]}})
    body = {"type": "FeatureCollection", "name": name, "version": scenario.version, "features": features}
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/geo+json", headers=etag_headers(scenario.version))


AccessQ = Query(None, max_length=64, description="mode=access: the E2SFCA accessibility standard (e.g. beds-access).")
OfQ = Query("scenario", description="scenario: its facilities now; base: the city's own facilities under its standards.")


def _check_standard(name: str, standard: str, known: list[str], what: str) -> None:
    if standard not in known:
        raise ApiProblem(404, f"scenario '{name}' has no {what} '{standard}'; it has: {', '.join(known)}",
                         errors=[{"field": "path.standard", "message": f"not a {what} of this scenario"}])


def _colouring(service: ScenarioService, views: ViewCache, tiles: TileService, name: str, standard: str,
               mode: str, of: str) -> tuple[tuple, Callable[[], tuple]]:
    """The colouring's cache key and a function giving its colours (call it outside the scenario's lock).

    Under ``service.name_lock(name)``: only the live state is read here; an
    E2SFCA evaluation (seconds on a large city) runs in the returned function.
    """
    scenario, live = live_scenario(service, name)
    if mode == "access":
        _check_standard(name, standard, list(access_standards()), "accessibility standard")
        city = service.state.city if of == "base" else views.city(scenario, live)
        key = ("access", "base") if of == "base" else ("access", name, scenario.version)
        key = (*key, standard)

        def access():
            return views.get(key, lambda: evaluate_access(city, get_access_standard(standard)))

        return key, lambda: tiles.colours(key, mode, access)
    if of == "base":
        live = views.base(scenario)
    _check_standard(name, standard, [s.id for s in live.standards], "standard")
    key = (*views.base_key(scenario), standard) if of == "base" else ("scenario", name, scenario.version, standard)
    colours = tiles.colours(key, mode, lambda: live.standard_result(standard))  # the version: a later edit never reuses them
    return key, lambda: colours


@router.get("/scenarios/{name}/tiles/{standard}/{z}/{x}/{y}.png", name="scenario_tile", summary="A scenario's cells as map tiles",
            description="XYZ PNG tile (256 px, Web Mercator) of the cells at the scenario's latest version, coloured like "
            "`/coverage/{run}/tiles/...` (`mode=covered` or `bands`), or by E2SFCA accessibility with `mode=access` "
            "(`standard` then names an accessibility standard; grey out of reach, orange under-served, green served). "
            "`of=base` draws the city's own facilities instead (the other side of a comparison). Add `?v=<version>` "
            "to the URL so that caches keep one copy per version.",
            response_class=Response, responses={200: {"content": {"image/png": {}}}},
            dependencies=[Depends(require_read)])
def scenario_tile(
    name: str = NameP,
    standard: str = Path(max_length=64),
    z: int = Z,
    x: int = X,
    y: int = Y,
    mode: Literal["covered", "bands", "access"] = ModeQ,
    of: Literal["scenario", "base"] = OfQ,
    service: ScenarioService = Depends(scenario_service),
    views: ViewCache = Depends(view_cache),
    tiles: TileService = Depends(tile_service),
) -> Response:
    check_tile(z, x, y)
    with service.name_lock(name):  # the live state is read between edits; the drawing is not held up by them
        key, colours = _colouring(service, views, tiles, name, standard, mode, of)
        png = tiles.cached(key, mode, z, x, y)
    if png is None:
        png = tiles.render(key, service.state.city, colours(), mode, z, x, y)
    return tile_response(png, "private, max-age=60")


@router.get("/scenarios/{name}/tiles/{standard}/changed", name="scenario_changed_tiles", summary="Tiles an edit recoloured",
            description="The zoom-`z` tiles whose colours differ between version `since` and the latest version, so that "
            "a page redraws only those after an edit. `tiles` is null when the colouring of `since` is no longer kept "
            "(redraw every tile).",
            dependencies=[Depends(require_read)])
def changed_tiles(
    name: str = NameP,
    standard: str = Path(max_length=64),
    since: int = Query(ge=1, le=10**9, description="The version the page's tiles show."),
    z: int = Query(ge=0, le=22, description="Zoom level of the tiles to list."),
    mode: Literal["covered", "bands", "access"] = ModeQ,
    service: ScenarioService = Depends(scenario_service),
    views: ViewCache = Depends(view_cache),
    tiles: TileService = Depends(tile_service),
) -> dict[str, Any]:
    with service.name_lock(name):
        key, colours = _colouring(service, views, tiles, name, standard, mode, "scenario")
    colours()  # the latest colouring, kept
    version = key[-2]
    found = (np.empty((0, 2), dtype=np.int64) if since == version
             else tiles.changed_tiles(service.state.city, (*key[:-2], since, key[-1]), key, mode, z))
    return {"name": name, "version": version, "since": since, "z": z,
            "tiles": None if found is None else found.tolist()}
