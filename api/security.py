"""API keys: write endpoints need ``X-API-Key``; reads only when configured.

Keys are compared with :func:`hmac.compare_digest` against every configured
key (no early exit, so timing says nothing about which key nearly matched)
and never logged or echoed. Also the dependencies that reach the app's state
(:func:`get_state`, :func:`app_singleton`), which every route module uses.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.problems import ApiProblem
from api.state import AppState

__all__ = ["API_KEY_HEADER", "CHALLENGE", "app_singleton", "get_state", "job_owner", "key_ok", "owner_of", "require_read", "require_write"]

API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="API key for write endpoints (and for reads when the server is configured so).",
)

CHALLENGE = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}


async def get_state(request: Request) -> AppState:
    """The :class:`AppState` of the app serving this request.

    The dependencies here are ``async`` because they only read memory: as
    plain functions FastAPI would send each one to the thread pool.
    """
    return request.app.state.lifecircle


def app_singleton(attr: str, factory: Callable[[AppState], Any]) -> Callable[[Request], Awaitable[Any]]:
    """A dependency giving one ``factory(state)`` per app, kept as ``app.state.<attr>`` (made on first use).

    Async, so it runs in the event loop: no other request can make a second
    one between the look-up and the assignment.
    """

    async def dependency(request: Request) -> Any:
        found = getattr(request.app.state, attr, None)
        if found is None:
            found = factory(request.app.state.lifecircle)
            setattr(request.app.state, attr, found)
        return found

    return dependency


def key_ok(given: str, keys: list[str]) -> bool:
    """Whether ``given`` is one of ``keys`` (constant time over every key)."""
    given_b = given.encode("utf-8", "surrogateescape")
    results = [hmac.compare_digest(given_b, k.encode("utf-8")) for k in keys]
    return any(results)


def _check(state: AppState, key: str | None, what: str) -> None:
    keys = state.config.api_keys
    if not keys:
        raise ApiProblem(403, f"{what} endpoints are disabled: the server has no API key configured (LIFECIRCLE_API_KEYS)")
    if not key:
        raise ApiProblem(401, f"{what} endpoints need an API key in the X-API-Key header", headers=CHALLENGE)
    if not key_ok(key, keys):
        raise ApiProblem(403, "the API key in the X-API-Key header is not accepted")


async def require_write(state: AppState = Depends(get_state), key: str | None = Security(API_KEY_HEADER)) -> None:
    """Dependency of endpoints that create, change or delete something."""
    _check(state, key, "write")


async def require_read(state: AppState = Depends(get_state), key: str | None = Security(API_KEY_HEADER)) -> None:
    """Dependency of read endpoints: a key is needed only if ``reads_require_key``."""
    if state.config.reads_require_key:
        _check(state, key, "read")


def owner_of(key: str) -> str:
    """The owner id of an API key: a hash, so keys are never stored or logged."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def job_owner(request: Request, state: AppState) -> str:
    """The owner of a background job this request starts: its API key, which jobs require.

    Raises
    ------
    ApiProblem
        401/403 when the request has no accepted key.
    """
    key = request.headers.get("x-api-key")
    keys = state.config.api_keys
    if not keys:
        raise ApiProblem(403, "this request would run as a background job, and jobs are disabled: the server has no API key configured")
    if not key:
        raise ApiProblem(401, "this request would run as a background job, which needs an API key in the X-API-Key header", headers=CHALLENGE)
    if not key_ok(key, keys):
        raise ApiProblem(403, "the API key in the X-API-Key header is not accepted")
    return owner_of(key)
