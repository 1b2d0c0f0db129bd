"""The door of the API: keys checked before a body is read, open endpoints rate-limited, OPTIONS answered.

FastAPI reads and validates a request's body before it runs the route's
dependencies, so a key check in a dependency comes after a 17 MB upload was
parsed. :class:`GateMiddleware` runs before that: it finds the route a
request is for and, when the route needs a key under this configuration,
checks ``X-API-Key`` from the headers alone and refuses (401/403) without
reading the body. The dependencies in :mod:`api.security` still check again,
so a route never relies on the gate alone.

Requests to routes open without a key are limited per client address by a
token bucket (``limits.open_requests_per_s``, ``limits.open_burst``); past it
they get 429 with ``Retry-After``. Requests with an accepted key are not
limited here (their jobs are bounded by the job queues).

``OPTIONS`` on a path (not a CORS preflight, which the CORS middleware answers)
gets ``204`` with ``Allow`` listing the path's methods.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import PROBLEM_TYPE
from api.security import CHALLENGE, key_ok, require_read, require_write

__all__ = ["GateMiddleware", "TokenBuckets", "route_access"]

_UNLIMITED = ("/health", "/metrics", "/docs", "/openapi.json", "/docs/assets")


def _calls(dependant) -> Iterable[Callable]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def route_access(route: APIRoute) -> str:
    """``"write"``, ``"read"`` or ``"open"``: what key the route asks for."""
    calls = set(_calls(route.dependant))
    if require_write in calls:
        return "write"
    if require_read in calls:
        return "read"
    return "open"


class TokenBuckets:
    """Per-client token buckets, the least recently seen forgotten past ``max_clients``.

    Parameters
    ----------
    rate : float
        Tokens added per second.
    burst : int
        Bucket size.
    """

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000):
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """Take a token; returns 0 when granted, else the seconds until one is there."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait


async def _problem(scope: Scope, send: Send, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"type": PROBLEM_TYPE, "title": title, "status": status, "detail": detail, "instance": scope.get("path", "")}).encode()
    raw = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class GateMiddleware:
    """See the module docstring.

    Parameters
    ----------
    app : ASGI app
        The app inside.
    app_ref : FastAPI
        The app whose state holds the configuration and metrics.
    routes : list of APIRoute
        The routes to match (every router's, with their full paths).
    """

    def __init__(self, app: ASGIApp, app_ref: FastAPI, routes: list[APIRoute]):
        self.app = app
        self.routes = routes
        self._access: dict[int, str] = {}
        state = app_ref.state.lifecircle
        self.config = state.config
        self.metrics = state.metrics
        limits = self.config.limits
        self.buckets = TokenBuckets(limits.open_requests_per_s, limits.open_burst) if limits.open_requests_per_s > 0 else None

    def _route(self, scope: Scope) -> APIRoute | None:
        """The route matching the request's method and path."""
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                return route
        return None

    def _allowed(self, scope: Scope) -> list[str]:
        """Every method the request's path answers."""
        return [m for m in _METHODS if self._route({**scope, "method": m}) is not None]

    def _needs(self, route: APIRoute) -> str:
        access = self._access.get(id(route))
        if access is None:
            access = self._access[id(route)] = route_access(route)
        if access == "read":
            return "key" if self.config.reads_require_key else "open"
        return "key" if access == "write" else "open"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            allowed = self._allowed(scope)
            if allowed:
                methods = ", ".join([*allowed, "OPTIONS"])
                await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", methods.encode())]})
                await send({"type": "http.response.body", "body": b""})
                return
        route = self._route(scope)
        if route is not None:
            key = dict(scope.get("headers") or []).get(b"x-api-key", b"").decode("latin-1")
            if self._needs(route) == "key":
                refusal = self._refuse_key(key)
                if refusal is not None:
                    self.metrics.refused.labels("auth").inc()
                    await _problem(scope, send, *refusal)
                    return
            elif self.buckets is not None and not (key and key_ok(key, self.config.api_keys)) and scope.get("path") not in _UNLIMITED:
                client = (scope.get("client") or ("unknown",))[0]
                wait = self.buckets.take(client)
                if wait > 0:
                    self.metrics.refused.labels("rate").inc()
                    limits = self.config.limits
                    await _problem(
                        scope, send, 429, "Too Many Requests",
                        f"more than {limits.open_requests_per_s:g} requests per second (limits.open_requests_per_s, "
                        f"burst {limits.open_burst}) from {client} without an API key; retry after {math.ceil(wait)} s",
                        {"Retry-After": str(max(1, math.ceil(wait)))},
                    )
                    return
        await self.app(scope, receive, send)

    def _refuse_key(self, key: str) -> tuple[int, str, str, dict[str, str] | None] | None:
        keys = self.config.api_keys
        if not keys:
            return 403, "Forbidden", "this endpoint is disabled: the server has no API key configured (LIFECIRCLE_API_KEYS)", None
        if not key:
            return 401, "Unauthorized", "this endpoint needs an API key in the X-API-Key header", CHALLENGE
        if not key_ok(key, keys):
            return 403, "Forbidden", "the API key in the X-API-Key header is not accepted", None
        return None
