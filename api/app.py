"""The FastAPI application of the city portal.

Routes live in ``api/routes/``, one module per resource with one
:class:`fastapi.APIRouter` each (the workbench's three: ``workbench``,
``workbench_layers``, ``workbench_actions``), listed in :data:`ROUTERS`; the
workbench page itself is mounted at ``/app`` by
:func:`api.routes.workbench.mount_pages`. To add a resource: write
``api/routes/<resource>.py`` with ``router = APIRouter(prefix="/<resource>",
tags=[...], responses=ERROR_RESPONSES)`` and its request/response schemas
beside the routes (shared ones in :mod:`api.schemas`), take the shared state
with ``state: AppState = Depends(get_state)``, protect writes with
``dependencies=[Depends(require_write)]`` (reads with ``require_read``), raise
:class:`api.problems.ApiProblem` for errors, and append the router to
:data:`ROUTERS`. A route module imports no other route module.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import routes
from api.config import ApiConfig, load_config
from api.docs import install_docs
from api.gate import GateMiddleware
from api.observability import RequestContextMiddleware
from api.problems import PROBLEM_TYPE, install_handlers
from api.state import AppState
from layers.city import City

__all__ = ["ROUTERS", "BodyLimitMiddleware", "create_app"]

log = logging.getLogger("lifecircle.api")

ROUTERS: list[APIRouter] = [
    routes.meta.router,
    routes.ogc.router,
    routes.reach.router,
    routes.layers.router,
    routes.coverage.router,
    routes.service_areas.router,
    routes.siting.router,
    routes.scenarios.router,
    routes.ratios.router,
    routes.jobs.router,
    routes.catalogue.router,
    routes.tiles.router,
    routes.workbench_layers.router,
    routes.workbench_actions.router,
    routes.workbench.router,
]
"""Routers mounted by :func:`create_app`, in this order."""

TAGS = [
    {"name": "Service", "description": "Status and the standards catalogue (thresholds, speeds, source clauses)."},
    {"name": "OGC API - Features", "description": "Layers and results as OGC collections in WGS84, for QGIS and web maps."},
    {"name": "Reach", "description": "Who is within walking reach: one address against every facility kind and standard."},
    {"name": "Layers", "description": "Upload facilities, population grids and units (GeoJSON, GeoPackage, zipped Shapefile, CSV)."},
    {"name": "Coverage", "description": "Run standards over the city, download results and maps."},
    {"name": "Service areas", "description": "Walking service-area polygons for points or facilities."},
    {"name": "Siting", "description": "Where new facilities should go for a standard (background jobs)."},
    {"name": "Scenarios", "description": "What-if plans: versioned edits (If-Match), live coverage per edit, runs, comparisons, change maps."},
    {"name": "Ratio standards", "description": "Capacity and ratio rules per unit (beds per 1,000 elderly, one station per community) and accessibility per cell."},
    {"name": "Jobs", "description": "Background work: progress, result link, cancel."},
    {"name": "Workbench", "description": "What the planner's workbench page at /app reads: the city, its base layer, a scenario's live coverage, facilities and tiles."},
]

# multipart framing and form fields around the file itself
_MULTIPART_SLACK = 64 * 1024


class BodyLimitMiddleware:
    """Refuse request bodies above a size with a 413 problem, before or while reading them.

    Bodies with a ``Content-Length`` are checked up front; streamed (chunked)
    bodies are counted as they arrive and cut off once they pass the limit:
    the app sees the body end there, and whatever it answers is replaced by
    the 413 (FastAPI would call the cut body unparseable, a 400).
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await self._refuse(scope, send)
                return
        seen = 0
        exceeded = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            if exceeded:  # the rest of the body is never read
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            if exceeded:
                if not refused:
                    refused = True
                    await self._refuse(scope, send)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            pass
        if exceeded and not refused:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        import json

        body = json.dumps(
            {
                "type": PROBLEM_TYPE,
                "title": "Content Too Large",
                "status": 413,
                "detail": f"the request body exceeds the limit of {self.max_bytes - _MULTIPART_SLACK:,} bytes (limits.max_upload_bytes)",
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def create_app(config: ApiConfig | None = None, *, city: City | None = None) -> FastAPI:
    """Build the API.

    Parameters
    ----------
    config : ApiConfig, optional
        Defaults to :func:`api.config.load_config` (environment and
        ``$LIFECIRCLE_CONFIG``).
    city : City, optional
        Serve this city instead of loading the configured one (tests, embedding).

    Returns
    -------
    fastapi.FastAPI
        With ``app.state.lifecircle`` holding the :class:`api.state.AppState`.
        The city is loaded here (cached on disk by :mod:`layers`), so the
        first request is as fast as any other.
    """
    config = config or load_config()
    state = AppState(config, city)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        state.close()  # the state outlives a lifespan (test clients run several)

    app = FastAPI(
        title="lifecircle API",
        version="0.1.0",
        summary="Who is within walking reach of public services, where the gaps are.",
        description=(
            f"Life-circle coverage for **{state.city.name}**"
            + (" (a generated district, not a real place)" if state.city.generated else "")
            + ". All coordinates in responses are WGS84 (lon, lat); inputs may be WGS84, CGCS2000, GCJ-02 or BD-09. "
            "Errors are RFC 9457 `application/problem+json`; a 500 names a request id to quote. "
            + ("Every endpoint needs an `X-API-Key`." if config.reads_require_key else
               "Write endpoints and background jobs need an `X-API-Key`; open endpoints are rate-limited per client address.")
        ),
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.lifecircle = state
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    api_routes = [route for router in ROUTERS for route in router.routes]
    install_docs(app, api_routes)
    routes.workbench.mount_pages(app)  # /app: the workbench page and its vendored Leaflet
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.limits.max_upload_bytes + _MULTIPART_SLACK)
    app.add_middleware(GateMiddleware, app_ref=app, routes=api_routes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=config.cors_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["X-API-Key", "Content-Type", "If-Match", "Prefer", "Accept", "X-Request-ID"],
        expose_headers=["Location", "ETag", "Preference-Applied", "Retry-After", "X-Request-ID"],
        allow_credentials=False,
        max_age=600,
    )
    app.add_middleware(RequestContextMiddleware, metrics=state.metrics)
    log.info("lifecircle API serving %s (%d cells, %d facilities)", state.city.name, len(state.city.cells), len(state.city.facilities))
    return app
