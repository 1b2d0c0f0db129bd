"""Background jobs: long work runs in a thread pool, not tied to any request.

A job survives the client that started it disconnecting; the client polls
``GET /jobs/{id}`` for the state and percent, then follows the result link.
Finished jobs are kept until deleted or until they expire (TTL after they
finished). Deleting a queued job cancels it; deleting a running job asks it to
stop at its next progress report.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Job", "JobCancelled", "JobManager", "Progress"]

State = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Progress = Callable[[str, float], None]

log = logging.getLogger("lifecircle.api.jobs")


class JobCancelled(Exception):
    """Raised inside a job's progress callback once the job was deleted."""


@dataclass(eq=False)
class Job:
    """One unit of background work and what is known about it."""

    id: str
    kind: str
    state: State = "queued"
    progress: float = 0.0
    step: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result_url: str | None = None
    error: dict | None = None  # {"status": int, "detail": str}
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future | None = None

    @property
    def done(self) -> bool:
        return self.state in ("succeeded", "failed", "cancelled")


class JobManager:
    """Runs jobs in a thread pool and keeps their records.

    Parameters
    ----------
    workers : int
        Threads for jobs.
    ttl_s : float
        How long a finished job is kept.
    on_expire : callable, optional
        ``on_expire(job)`` when an expired job is dropped (to delete its result).
    """

    def __init__(self, workers: int, ttl_s: float, on_expire: Callable[[Job], None] | None = None):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lifecircle-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.ttl_s = ttl_s
        self._on_expire = on_expire

    def submit(self, kind: str, work: Callable[[Job, Progress], str]) -> Job:
        """Start ``work(job, progress)``; it returns the result URL.

        ``work`` may raise ``ValueError`` (reported as a 422 problem) or any
        other exception (reported as a 500 problem and logged).
        """
        job = Job(id=uuid.uuid4().hex, kind=kind)
        with self._lock:
            self._jobs[job.id] = job
        job.future = self._pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Job, Progress], str]) -> None:
        if job.cancel.is_set():
            return
        job.state, job.started, job.step = "running", time.time(), "starting"

        def progress(step: str, fraction: float) -> None:
            if job.cancel.is_set():
                raise JobCancelled(job.id)
            job.step, job.progress = step, max(job.progress, min(1.0, max(0.0, float(fraction))))

        try:
            url = work(job, progress)
        except JobCancelled:
            job.state = "cancelled"
        except ValueError as exc:  # the project's input errors: the user can fix them
            job.state, job.error = "failed", {"status": 422, "detail": str(exc)}
        except Exception:
            log.exception("job %s (%s) failed", job.id, job.kind)
            job.state, job.error = "failed", {"status": 500, "detail": "internal error; the incident was logged"}
        else:
            if job.cancel.is_set():
                job.state = "cancelled"
            else:
                job.result_url, job.progress, job.step, job.state = url, 1.0, "done", "succeeded"
        finally:
            job.finished = time.time()

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def all_jobs(self) -> list[Job]:
        """Every job still kept, oldest first."""
        self.purge()
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created)

    def get(self, job_id: str) -> Job | None:
        """The job, or ``None`` when unknown or expired."""
        self.purge()
        with self._lock:
            return self._jobs.get(job_id)

    def delete(self, job_id: str) -> Job | None:
        """Forget a job, cancelling it if it has not finished; ``None`` when unknown."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is not None:
            job.cancel.set()
            if job.future is not None and job.future.cancel():
                job.state, job.finished = "cancelled", time.time()
        return job

    def purge(self, now: float | None = None) -> list[Job]:
        """Drop finished jobs older than the TTL; returns them."""
        now = time.time() if now is None else now
        with self._lock:
            old = [j for j in self._jobs.values() if j.done and j.finished is not None and now - j.finished > self.ttl_s]
            for j in old:
                del self._jobs[j.id]
        for j in old:
            if self._on_expire:
                self._on_expire(j)
        return old

    def cancel_all(self) -> None:
        """Ask every unfinished job to stop (server shutdown); records are kept."""
        with self._lock:
            jobs = list(self._jobs.values())
        for j in jobs:
            if not j.done:
                j.cancel.set()

    def describe(self, job: Job) -> dict[str, Any]:
        """Plain-data view of a job for the API."""
        return {
            "id": job.id,
            "kind": job.kind,
            "state": job.state,
            "percent": round(100.0 * job.progress, 1),
            "step": job.step,
            "created": job.created,
            "started": job.started,
            "finished": job.finished,
            "result": job.result_url,
            "error": job.error,
        }
