"""Request ids, the structured access log, Prometheus metrics, and the last line against crashes.

:class:`RequestContextMiddleware` wraps the whole app (outermost):

- gives every request an id (the client's ``X-Request-ID`` when it is a short
  token, else a fresh one), answers it in ``X-Request-ID`` and keeps it in
  :data:`REQUEST_ID` for log records and 500 problems;
- writes one JSON line per request to the ``lifecircle.access`` logger
  (method, path, status, duration, client, request id);
- counts requests and latencies for ``/metrics``;
- turns any exception that escaped the app into a 500 problem with the request
  id and nothing of the exception itself, and logs the traceback.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID", "Metrics", "RequestContextMiddleware", "internal_error_body"]

REQUEST_ID: ContextVar[str] = ContextVar("lifecircle_request_id", default="-")
"""Id of the request being served (``-`` outside requests)."""

access_log = logging.getLogger("lifecircle.access")
log = logging.getLogger("lifecircle.api")

_GIVEN_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Metrics:
    """The Prometheus series of one app, in a registry of its own (tests run several apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("lifecircle_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "lifecircle_http_request_seconds",
            "Time from request to the end of the response",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.jobs = Gauge("lifecircle_jobs", "Background jobs by state, in the shared store", ["state"], registry=self.registry)
        self.rss = Gauge("lifecircle_resident_memory_bytes", "Resident memory of this server process", registry=self.registry)
        self.job_rss = Gauge("lifecircle_job_memory_bytes", "Resident memory of this process's running job workers", registry=self.registry)
        self.refused = Counter("lifecircle_refused", "Requests refused by a limit", ["reason"], registry=self.registry)


def internal_error_body(path: str) -> bytes:
    """The 500 problem: the request id to quote to an operator, and nothing else."""
    rid = REQUEST_ID.get()
    return json.dumps(
        {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": f"internal error; the incident was logged with request id {rid}",
            "instance": path,
            "request_id": rid,
        }
    ).encode()


def _route_template(scope: Scope) -> str:
    # The route's template, not the raw path: ids in paths would make a series per request.
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestContextMiddleware:
    """Request id, access log, metrics and the 500 fallback (see the module docstring)."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _GIVEN_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unexpected error on %s %s (request id %s)", scope.get("method"), scope.get("path"), rid)
            if not response_started:
                body = internal_error_body(scope.get("path", ""))
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": body})
            status = 500
        finally:
            elapsed = time.perf_counter() - started
            method = scope.get("method", "")
            route = _route_template(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            client = scope.get("client")
            access_log.info(
                json.dumps(
                    {
                        "request_id": rid,
                        "method": method,
                        "path": scope.get("path", ""),
                        "route": route,
                        "status": status,
                        "ms": round(elapsed * 1000.0, 2),
                        "client": client[0] if client else None,
                    }
                )
            )
            REQUEST_ID.reset(token)
