"""RFC 9457 problem details: every error of the API is ``application/problem+json``.

A problem has ``type``, ``title``, ``status``, ``detail`` and ``instance``
(the request path); validation problems add ``errors: [{field, message}]``
so a portal can put each message next to its input. Raise :class:`ApiProblem`
in route code; the handlers registered by :func:`install_handlers` turn
FastAPI's validation errors, HTTP exceptions and the project's own errors
(:class:`geo.errors.LifecircleError`: ``LayerError``, ``StandardError``,
``SitingError``, ...) into problems too. Nothing else is a client error: any
other exception (a bare ``ValueError`` from numpy or shapely included) is a
500 problem with a request id and no internals, logged with its traceback by
:class:`api.observability.RequestContextMiddleware`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import LifecircleError
from layers.errors import LayerError

__all__ = ["ERROR_RESPONSES", "PROBLEM_TYPE", "ApiProblem", "FieldError", "Problem", "install_handlers", "problem_response"]

PROBLEM_TYPE = "about:blank"
"""Problem ``type``: RFC 9457's ``about:blank`` (the problem means what its
status says; ``detail`` and ``errors`` carry the specifics)."""

PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("lifecircle.api")


class FieldError(BaseModel):
    """One invalid input."""

    field: str = Field(description="Where the problem is: a JSON path such as `body.lon`, a query parameter, or a layer field.")
    message: str = Field(description="What is wrong, in plain words.")
    row: int | None = Field(None, description="1-based record number in an uploaded layer, when known.")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_TYPE,
                    "title": "Unprocessable Content",
                    "status": 422,
                    "detail": "body.lon: Input should be less than or equal to 180",
                    "instance": "/reach",
                    "errors": [{"field": "body.lon", "message": "Input should be less than or equal to 180"}],
                }
            ]
        }
    )

    type: str = Field(description="URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong in this request.")
    instance: str = Field(description="The request path.")
    errors: list[FieldError] | None = Field(None, description="Per-field validation messages.")


class ApiProblem(Exception):
    """An error to return as a problem response.

    Parameters
    ----------
    status : int
        HTTP status.
    detail : str
        The message (name the field or limit concerned).
    errors : list of dict, optional
        ``[{"field": ..., "message": ...}]``.
    headers : dict, optional
        Extra response headers (e.g. ``WWW-Authenticate``).
    """

    def __init__(self, status: int, detail: str, *, errors: list[dict] | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = int(status)
        self.detail = detail
        self.errors = errors
        self.headers = headers


def problem_response(
    request: Request,
    status: int,
    detail: str,
    errors: list[dict] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Build an ``application/problem+json`` response."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _loc(loc: tuple | list) -> str:
    return ".".join(str(p) for p in loc)


def _validation_errors(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid value"))
        out.append({"field": _loc(err.get("loc", ())) or "body", "message": message})
    return out


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = _validation_errors(exc)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    if len(errors) > 5:
        detail += f" (and {len(errors) - 5} more)"
    return problem_response(request, 422, detail, errors)


async def _on_problem(request: Request, exc: ApiProblem) -> JSONResponse:
    return problem_response(request, exc.status, exc.detail, exc.errors, exc.headers)


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no resource at {request.url.path}"
    elif exc.status_code == 405:
        detail = f"method {request.method} is not allowed on {request.url.path}"
    return problem_response(request, exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _on_layer_error(request: Request, exc: LayerError) -> JSONResponse:
    field = exc.field or "layer"
    err = {"field": field, "message": exc.problem}
    if exc.row is not None:
        err["row"] = exc.row
    return problem_response(request, 422, str(exc), [err])


async def _on_project_error(request: Request, exc: LifecircleError) -> JSONResponse:
    # StandardError, SitingError, MapError, UnknownCityError, ... carry messages
    # written for users; show them as they are.
    return problem_response(request, 422, str(exc))


def install_handlers(app: FastAPI) -> None:
    """Register the problem handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(ApiProblem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(LayerError, _on_layer_error)
    app.add_exception_handler(LifecircleError, _on_project_error)
    # Other exceptions are left to RequestContextMiddleware: 500 with request id, traceback logged.


def _error(description: str) -> dict:
    return {"model": Problem, "description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}


ERROR_RESPONSES: dict[int | str, dict] = {
    400: _error("Bad request"),
    401: _error("API key missing"),
    403: _error("API key not accepted"),
    404: _error("Not found"),
    413: _error("Request larger than the configured limit"),
    422: _error("Invalid input: the message names the field"),
    429: _error("Too many requests or jobs: retry after the seconds in `Retry-After`"),
    500: _error("Internal error (quote the request id)"),
}
"""Problem responses documented on every route (for OpenAPI clients and fuzzers)."""
