"""Answers that may be background jobs: ``202 Accepted`` with the job, or the work done in the request.

Every route that may hand its work to a job (coverage, service areas,
siting, scenario runs and comparisons, maps and files) answers through
:func:`submit_job`, :func:`start_or_run` or :func:`file_or_job`, and
documents the ``202`` with :data:`JOB_ACCEPTED`; ``Prefer: respond-async``
is read with :data:`PreferH`. The job routes themselves (``/jobs``) are in
:mod:`api.routes.jobs`.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Any

from fastapi import Header, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from api.jobs import Progress
from api.problems import ApiProblem
from api.schemas.jobs import JobInfo
from api.security import job_owner, key_ok
from api.shared import QueueFull
from api.state import AppState

__all__ = ["JOB_ACCEPTED", "PreferH", "file_or_job", "start_or_run", "submit_job"]

PreferH = Header(None, max_length=200, description="`respond-async` to always get a background job (202).")


JOB_ACCEPTED = {
    202: {
        "description": "Running as a background job; poll the job URL in `Location`",
        "content": {"application/json": {"schema": JobInfo.model_json_schema()}},
    }
}
"""The documented ``202 Accepted`` of endpoints that may answer with a job."""


def submit_job(
    request: Request,
    state: AppState,
    kind: str,
    work: Callable[[Progress], Any],
    *,
    isolated: bool = False,
    finish: Callable[[Any], str] | None = None,
    time_limit_s: float | None = None,
) -> JSONResponse:
    """Queue ``work`` as a job of the request's API key and answer ``202 Accepted`` (``Location``: the job).

    Raises
    ------
    ApiProblem
        401/403 without an accepted key (jobs need one); 429 with
        ``Retry-After`` when the server's or the key's queue is full.
    """
    owner = job_owner(request, state)
    try:
        job = state.jobs.submit(kind, lambda job, progress: work(progress), owner=owner, isolated=isolated, finish=finish, time_limit_s=time_limit_s)
    except QueueFull as exc:
        state.metrics.refused.labels(f"queue_{exc.scope}").inc()
        limits = state.config.limits
        which = (
            f"the server already has {exc.limit} unfinished jobs (limits.max_queued_jobs)"
            if exc.scope == "server"
            else f"your API key already has {exc.limit} unfinished jobs (limits.max_jobs_per_key)"
        )
        raise ApiProblem(429, f"{which}; wait for one to finish or cancel one (DELETE /jobs/{{id}})",
                         headers={"Retry-After": str(limits.retry_after_s)}) from None
    url = str(request.url_for("get_job", job_id=job.id))
    row = state.jobs.get(job.id)
    return JSONResponse(state.jobs.describe(row), status_code=202, headers={"Location": url, "Preference-Applied": "respond-async"})


def start_or_run(
    request: Request,
    state: AppState,
    kind: str,
    large: bool,
    prefer: str | None,
    work: Callable[[Progress], Any],
    *,
    isolated: bool = False,
    finish: Callable[[Any], str] | None = None,
) -> JSONResponse | None:
    """Submit ``work`` as a background job when it is ``large`` or the client sent ``Prefer: respond-async``.

    Returns the ``202 Accepted`` response (see :func:`submit_job`), or ``None``
    when the caller should do the work in the request. ``work(progress)``
    returns the URL of its result, or a value ``finish`` turns into one
    (``isolated``: ``work`` runs in a child process that cancelling kills).
    """
    if not large and not (prefer is not None and "respond-async" in prefer.lower()):
        return None
    return submit_job(request, state, kind, work, isolated=isolated, finish=finish)


def file_or_job(
    request: Request,
    state: AppState,
    path: FsPath,
    make: Callable[[Progress], object],
    media: str,
    large: bool,
    prefer: str | None,
    result_url: str | None = None,
    filename: str | None = None,
) -> Response:
    """Serve the file at ``path``, making it first: in the request, or as a background job when ``large``.

    The job's result is ``result_url`` (default the request's URL): once the
    file exists, the same request serves it at once. ``make`` must write the
    file atomically (:mod:`layers.atomic`): a file that exists is served.
    ``filename`` names the download (``Content-Disposition``).

    Made in the request for a client without a key, a file is made only when
    no other such client is having one made (else 429): a render takes
    seconds, and open clients must not be able to queue them without end.
    """
    if not path.exists():
        lock = _file_lock(path)

        def work(progress: Progress) -> str:
            with lock:
                if not path.exists():
                    make(progress)
            return result_url or str(request.url)

        queued = start_or_run(request, state, "export", large, prefer, work)
        if queued is not None:
            return queued
        keyed = key_ok(request.headers.get("x-api-key", ""), state.config.api_keys)
        if not keyed and not state.open_render_slot.acquire(blocking=False):
            state.metrics.refused.labels("render").inc()
            raise ApiProblem(429, "another client without an API key is having a map or file made; retry shortly, or send an API key",
                             headers={"Retry-After": "2"})
        try:
            with state.compute_slots:
                work(lambda step, fraction: None)
        finally:
            if not keyed:
                state.open_render_slot.release()
    return FileResponse(path, media_type=media, filename=filename)


# Striped locks: one per export path would grow without end in a long-running
# server; two paths sharing a stripe only wait for each other (a request holds
# one lock at a time, so this cannot deadlock).
_FILE_LOCKS = tuple(threading.Lock() for _ in range(64))


def _file_lock(path: FsPath) -> threading.Lock:
    """The lock that serialises building the export file at ``path``."""
    return _FILE_LOCKS[zlib.crc32(str(path).encode()) % len(_FILE_LOCKS)]
