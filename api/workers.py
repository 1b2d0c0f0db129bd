"""Running one heavy job in a child process that can be ended at any moment.

A thread cannot be stopped from outside, and a job that holds gigabytes keeps
them until it returns. A forked child can: cancelling kills it, and the
kernel takes its memory back at once. The child shares the loaded city with
the server (fork, copy-on-write), reports progress through a pipe, and sends
its result back pickled. The parent watches three things every
``poll_s``: the pipe, the cancel flag, and the child's resident memory above
what it started with; past ``memory_limit`` the child is killed.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import psutil

from api.problems import ApiProblem
from geo.errors import LifecircleError

__all__ = ["Cancelled", "ChildCrashed", "JobTimeLimit", "MemoryBudgetExceeded", "run_in_child", "worker_name"]

log = logging.getLogger("lifecircle.api.jobs")

_FORK = mp.get_context("fork")
_PROGRESS_EVERY_S = 0.05


class MemoryBudgetExceeded(LifecircleError):
    """A job's worker process grew past the memory budget and was stopped."""


class JobTimeLimit(LifecircleError):
    """A job ran past its time limit and was stopped."""


class ChildCrashed(RuntimeError):
    """The worker process died without an answer (killed by the system, or a bug)."""


class Cancelled(Exception):
    """The job was cancelled and its worker process killed."""


def _reset_after_fork() -> None:
    # The parent's process-wide thread pool (geo.threads) has no threads in a
    # forked child; a child that submitted to it would wait for ever.
    import geo.threads

    geo.threads._POOL = None
    geo.threads._POOL_LOCK = threading.Lock()


def _child(work: Callable[[Callable[[str, float], None]], Any], conn: Any) -> None:
    _reset_after_fork()
    last = [0.0]

    def progress(step: str, fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S or fraction >= 1.0:
            last[0] = now
            conn.send(("progress", str(step), float(fraction)))

    try:
        result = work(progress)
    except ApiProblem as exc:
        conn.send(("problem", exc.status, exc.detail))
    except LifecircleError as exc:
        conn.send(("problem", 422, str(exc)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which logs it
        conn.send(("crash", traceback.format_exc()))
    else:
        conn.send(("ok", result))
    finally:
        conn.close()


def run_in_child(
    work: Callable[[Callable[[str, float], None]], Any],
    progress: Callable[[str, float], None],
    cancelled: Callable[[], bool],
    memory_limit: int,
    poll_s: float = 0.1,
    on_memory: Callable[[int], None] | None = None,
    time_limit_s: float | None = None,
) -> Any:
    """Run ``work(progress)`` in a forked child and return its (picklable) result.

    Parameters
    ----------
    work : callable
        Runs in the child; its exceptions come back as below.
    progress : callable
        Called in this process with each ``(step, fraction)`` the child reports.
    cancelled : callable
        Polled; once true the child is killed and :class:`Cancelled` raised.
    memory_limit : int
        Bytes the child may add to what it shared with the parent at the fork.
    on_memory : callable, optional
        Told the child's added memory at each poll (for metrics).
    time_limit_s : float, optional
        Wall-clock bound of the whole job; past it the child is killed.

    Raises
    ------
    ApiProblem
        The job's own ``ApiProblem`` or ``LifecircleError`` (as 422).
    MemoryBudgetExceeded
        The child passed ``memory_limit`` and was killed.
    JobTimeLimit
        The child ran past ``time_limit_s`` and was killed.
    ChildCrashed
        Anything else; the traceback is logged.
    """
    recv, send = _FORK.Pipe(duplex=False)
    child = _FORK.Process(target=_child, args=(work, send), daemon=True)
    child.start()
    send.close()
    proc = psutil.Process(child.pid)
    try:
        base = proc.memory_info().rss
    except psutil.Error:
        base = 0
    peak = 0
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    try:
        while True:
            if recv.poll(poll_s):
                try:
                    msg = recv.recv()
                except EOFError:
                    msg = None
                if msg is None:
                    child.join(5)
                    raise ChildCrashed(f"the job's worker process ended with exit code {child.exitcode}")
                if msg[0] != "progress":
                    child.join(5)
                    if msg[0] == "ok":
                        return msg[1]
                    if msg[0] == "problem":
                        raise ApiProblem(msg[1], msg[2])
                    log.error("job worker process failed:\n%s", msg[1])
                    raise ChildCrashed("the job's worker process failed")
                progress(msg[1], msg[2])
            # checked after every message too: a chatty child must not starve a cancel
            if cancelled():
                raise Cancelled()
            try:
                used = max(0, proc.memory_info().rss - base)
            except psutil.Error:
                used = 0
            peak = max(peak, used)
            if on_memory is not None:
                on_memory(used)
            if used > memory_limit:
                raise MemoryBudgetExceeded(
                    f"the job needed more than the memory budget of {memory_limit / 1e6:,.0f} MB "
                    f"(limits.job_memory_mb; it had reached {used / 1e6:,.0f} MB) and was stopped; ask for a smaller problem"
                )
            if deadline is not None and time.monotonic() > deadline:
                raise JobTimeLimit(f"the job ran past its time limit of {time_limit_s:g} s and was stopped")
            if not child.is_alive() and not recv.poll(0):
                raise ChildCrashed(f"the job's worker process ended with exit code {child.exitcode} (peak {peak / 1e6:,.0f} MB)")
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        recv.close()
        if on_memory is not None:
            on_memory(0)


def worker_name() -> str:
    """``host:pid`` of this server process, as recorded on the jobs it runs."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"
