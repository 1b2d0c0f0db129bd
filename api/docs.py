"""``/docs`` that works without internet, and an OpenAPI document that says what this server asks for.

Swagger UI's script and style come from the ``swagger-ui-bundle`` package
(installed with lifecircle) and are served under ``/docs/assets``: planning
bureaus often run on intranets, where a CDN link gives a blank page.

The OpenAPI document is adjusted to the configuration: an operation lists the
``X-API-Key`` security only when this server asks for a key there (writes
always; reads when ``reads_require_key``), and ``If-Match`` is marked required
on the operations that answer 428 without it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api.gate import route_access

__all__ = ["install_docs"]

ASSETS = "/docs/assets"


def _openapi(app: FastAPI, routes: list[APIRoute]) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, description=app.description,
                      routes=app.routes, tags=app.openapi_tags)
    config = app.state.lifecircle.config
    for route in routes:
        if not route.include_in_schema:
            continue
        access = route_access(route)  # the gate and the document read one rule
        keyed = access == "write" or (access == "read" and config.reads_require_key)
        for method in route.methods or ():
            op = doc["paths"].get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            if keyed:
                op["security"] = [{"APIKeyHeader": []}]
            else:
                op.pop("security", None)
            for param in op.get("parameters", []):
                if param.get("in") == "header" and param.get("name") == "If-Match" and "428" in op.get("responses", {}):
                    param["required"] = True
    app.openapi_schema = doc
    return doc


def install_docs(app: FastAPI, routes: list[APIRoute]) -> None:
    """Serve ``/docs`` from vendored assets and the OpenAPI of ``routes`` as configured (create the app with ``docs_url=None``)."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    app.openapi = lambda: _openapi(app, routes)  # type: ignore[method-assign]
