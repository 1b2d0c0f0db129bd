"""Background jobs: bounded queues, records in the shared store, heavy work in killable processes.

A job survives the client that started it disconnecting; the client polls
``GET /jobs/{id}`` for the state and percent, then follows the result link.

- **Records** live in the shared store (:mod:`api.shared`), so every worker of
  a deployment sees every job; finished jobs are kept for the TTL.
- **Bounds**: at most ``limits.max_queued_jobs`` unfinished jobs in all and
  ``limits.max_jobs_per_key`` per owner (API key); past either,
  :class:`api.shared.QueueFull` (the routes answer 429 with ``Retry-After``).
- **Running**: ``workers`` threads per server process take jobs in order.
  Heavy jobs (``isolated=True``) run in a forked child process
  (:func:`api.workers.run_in_child`) watched for its memory budget; light ones
  run on the thread and stop at their next progress report.
- **Cancelling** sets the job's flag in the shared store (any worker may do
  it); the worker running it checks the flag at least every 0.25 s and kills
  the child, so the job stops and its memory is freed within about a second.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from api.problems import ApiProblem
from api.shared import JobRow, SharedStore
from api.workers import Cancelled, ChildCrashed, run_in_child, worker_name
from geo.errors import LifecircleError

__all__ = ["Job", "JobCancelled", "JobManager", "Progress"]

Progress = Callable[[str, float], None]

log = logging.getLogger("lifecircle.api.jobs")

_DB_POLL_S = 0.25  # how often a running job reads its cancel flag and writes its progress


class JobCancelled(Exception):
    """Raised inside a job's progress callback once the job was cancelled."""


@dataclass(eq=False)
class Job:
    """This process's handle on a job it runs (the record is in the shared store)."""

    id: str
    kind: str
    owner: str
    state: str = "queued"
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future | None = None

    @property
    def done(self) -> bool:
        return self.state in ("succeeded", "failed", "cancelled")


class JobManager:
    """Queues, runs and describes jobs.

    Parameters
    ----------
    shared : SharedStore
        Where job records live.
    workers : int
        Threads running jobs in this process.
    ttl_s : float
        How long a finished job is kept.
    max_queued, max_per_owner : int
        Queue bounds, overall and per owner.
    memory_limit : int
        Bytes one isolated job may use beyond what it shares with the server.
    on_memory : callable, optional
        ``on_memory(total_bytes)`` of this process's running children (metrics).
    """

    def __init__(
        self,
        shared: SharedStore,
        workers: int,
        ttl_s: float,
        max_queued: int = 1_000_000,
        max_per_owner: int = 1_000_000,
        memory_limit: int = 1 << 62,
        on_memory: Callable[[int], None] | None = None,
    ):
        self.shared = shared
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lifecircle-job")
        self._local: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.ttl_s = ttl_s
        self.max_queued, self.max_per_owner = max_queued, max_per_owner
        self.memory_limit = memory_limit
        self.worker = worker_name()
        self._child_memory: dict[str, int] = {}
        self._on_memory = on_memory

    def submit(
        self,
        kind: str,
        work: Callable[[Job, Progress], Any],
        *,
        owner: str = "local",
        isolated: bool = False,
        finish: Callable[[Any], str] | None = None,
        time_limit_s: float | None = None,
    ) -> Job:
        """Queue ``work``; it returns the result URL, or with ``finish`` a value that ``finish`` turns into one.

        ``work(job, progress)`` runs on a job thread, or with ``isolated`` in a
        forked process (its return value must then pickle; ``finish`` runs back
        in this process, e.g. to store the result; ``time_limit_s`` bounds its
        wall-clock time). ``work`` may raise
        :class:`ApiProblem` or a :class:`~geo.errors.LifecircleError` (the job
        fails with that problem, 422 for the latter); anything else fails it
        with a 500 and is logged.

        Raises
        ------
        api.shared.QueueFull
            A queue bound is reached.
        """
        job = Job(id=uuid.uuid4().hex, kind=kind, owner=owner)
        self.shared.add_job(job.id, owner, kind, self.worker, self.max_queued, self.max_per_owner)
        with self._lock:
            self._local[job.id] = job
        job.future = self._pool.submit(self._run, job, work, isolated, finish, time_limit_s)
        return job

    # -- running ------------------------------------------------------------------

    def _run(self, job: Job, work: Callable[[Job, Progress], Any], isolated: bool, finish: Callable[[Any], str] | None, time_limit_s: float | None) -> None:
        try:
            if job.cancel.is_set() or not self.shared.start_job(job.id):
                job.state = "cancelled"
                return
            job.state = "running"
            self._execute(job, work, isolated, finish, time_limit_s)
        finally:
            with self._lock:
                self._local.pop(job.id, None)

    def _execute(self, job: Job, work, isolated: bool, finish, time_limit_s: float | None) -> None:
        last_poll = [0.0]
        current = {"step": "starting", "progress": 0.0}

        def cancelled() -> bool:
            now = time.monotonic()
            if not job.cancel.is_set() and now - last_poll[0] >= _DB_POLL_S:
                last_poll[0] = now
                # one round trip: write the progress, read the flag another worker may have set
                self.shared.update_job(job.id, step=current["step"][:200], progress=current["progress"])
                if self.shared.cancel_requested(job.id):
                    job.cancel.set()
            return job.cancel.is_set()

        def progress(step: str, fraction: float) -> None:
            current["step"] = step
            current["progress"] = max(current["progress"], min(1.0, max(0.0, float(fraction))))
            if cancelled():
                raise JobCancelled(job.id)

        outcome: dict[str, Any] = {}
        try:
            if isolated:
                value = run_in_child(
                    lambda report: work(job, report), progress, cancelled, self.memory_limit,
                    on_memory=lambda used: self._memory(job.id, used), time_limit_s=time_limit_s,
                )
                url = finish(value) if finish is not None else value
            else:
                value = work(job, progress)
                url = finish(value) if finish is not None else value
        except (JobCancelled, Cancelled):
            outcome = {"state": "cancelled", "step": "cancelled"}
        except ApiProblem as exc:
            outcome = {"state": "failed", "error": {"status": exc.status, "detail": exc.detail}}
        except LifecircleError as exc:  # the user's input: they can fix it
            outcome = {"state": "failed", "error": {"status": 422, "detail": str(exc)}}
        except ChildCrashed as exc:
            log.error("job %s (%s): %s", job.id, job.kind, exc)
            outcome = {"state": "failed", "error": {"status": 500, "detail": f"internal error in job {job.id}; the incident was logged"}}
        except Exception:
            log.exception("job %s (%s) failed", job.id, job.kind)
            outcome = {"state": "failed", "error": {"status": 500, "detail": f"internal error in job {job.id}; the incident was logged"}}
        else:
            if job.cancel.is_set() or self.shared.cancel_requested(job.id):
                outcome = {"state": "cancelled", "step": "cancelled"}
            else:
                outcome = {"state": "succeeded", "result_url": url, "progress": 1.0, "step": "done"}
        outcome.setdefault("progress", current["progress"])
        outcome.setdefault("step", current["step"][:200])
        self.shared.update_job(job.id, finished=time.time(), **outcome)
        job.state = outcome["state"]

    def _memory(self, job_id: str, used: int) -> None:
        with self._lock:
            if used:
                self._child_memory[job_id] = used
            else:
                self._child_memory.pop(job_id, None)
            total = sum(self._child_memory.values())
        if self._on_memory is not None:
            self._on_memory(total)

    # -- records ----------------------------------------------------------------

    def __len__(self) -> int:
        return sum(self.counts().values())

    def counts(self) -> dict[str, int]:
        """Jobs per state in the shared store."""
        return self.shared.job_counts()

    def all_jobs(self) -> list[JobRow]:
        """Every job still kept, oldest first."""
        self.purge()
        return self.shared.list_jobs()

    def get(self, job_id: str) -> JobRow | None:
        """The job, or ``None`` when unknown or expired."""
        self.purge()
        return self.shared.get_job(job_id)

    def cancel(self, job_id: str) -> JobRow | None:
        """Stop an unfinished job (the record stays, as cancelled); ``None`` when unknown."""
        with self._lock:
            local = self._local.get(job_id)
        row = self.shared.cancel_job(job_id)
        if local is not None:
            local.cancel.set()
        return row

    def delete(self, job_id: str) -> JobRow | None:
        """Cancel an unfinished job, or forget a finished one; ``None`` when unknown."""
        row = self.shared.get_job(job_id)
        if row is None:
            return None
        if row.done:
            self.shared.delete_job(job_id)
            return row
        return self.cancel(job_id)

    def purge(self) -> None:
        """Drop finished jobs older than the TTL (and kept results as old), at most every few seconds."""
        if self.shared.due("jobs"):
            self.shared.purge_jobs(self.ttl_s)
            self.shared.purge_results(self.ttl_s)

    def cancel_all(self) -> None:
        """Stop every job this process runs (server shutdown); the records say cancelled."""
        with self._lock:
            local = list(self._local)
        for job_id in local:
            self.cancel(job_id)

    @staticmethod
    def describe(job: JobRow) -> dict[str, Any]:
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
