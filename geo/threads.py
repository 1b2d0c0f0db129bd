"""The cores this process may use, and running a GIL-free kernel over them in even chunks.

``os.cpu_count()`` counts the host's cores. A process pinned to some of them
(``taskset``, a scheduler's cpuset) or limited by a cgroup CPU quota (a
container started with ``--cpus 2`` on a 64-core host) gets fewer: threads
beyond that only queue or get throttled. :func:`usable_cpu_count` is the one
place this package asks how many threads to start.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

__all__ = ["over_cores", "usable_cpu_count", "cgroup_cpu_limit", "CORES"]

T = TypeVar("T")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _dirs_up(base: Path, path: str) -> list[Path]:
    """``base/path`` and its parents up to ``base``: a quota on any of them applies.

    Inside a container with its own cgroup namespace the group is mounted at
    ``base`` itself while ``/proc/self/cgroup`` may still name a longer path,
    so ``base`` is always included.
    """
    parts = [p for p in path.strip("/").split("/") if p]
    return [base.joinpath(*parts[:k]) for k in range(len(parts), -1, -1)]


def _v2_limit(text: str | None) -> float | None:
    """CPUs from a cgroup v2 ``cpu.max`` ("max 100000" or "200000 100000")."""
    fields = (text or "").split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = float(fields[0]), float(fields[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_limit(quota: str | None, period: str | None) -> float | None:
    """CPUs from cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1: none)."""
    try:
        q, p = float(quota or ""), float(period or "")
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def cgroup_cpu_limit(root: Path = Path("/")) -> float | None:
    """CPUs the process's cgroups allow (quota / period), or ``None`` when unlimited.

    Parameters
    ----------
    root : pathlib.Path, default "/"
        Where ``proc/self/cgroup`` and ``sys/fs/cgroup`` are found (tests
        point it at a fake tree).

    Returns
    -------
    float or None
        The smallest quota of the process's CPU cgroup and its parents:
        cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``.
        ``None`` where there is none, or where the files cannot be read (not
        Linux).
    """
    membership = _read(root / "proc" / "self" / "cgroup")
    if membership is None:
        return None
    fs = root / "sys" / "fs" / "cgroup"
    limits: list[float] = []
    for line in membership.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        hierarchy, controllers, path = fields
        if hierarchy == "0" and controllers == "":  # cgroup v2 (unified)
            for base in (fs, fs / "unified"):
                limits += [x for d in _dirs_up(base, path) if (x := _v2_limit(_read(d / "cpu.max"))) is not None]
        elif "cpu" in controllers.split(","):  # cgroup v1 cpu controller
            for base in {fs / controllers, fs / "cpu", fs / "cpu,cpuacct"}:
                for d in _dirs_up(base, path):
                    x = _v1_limit(_read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us"))
                    if x is not None:
                        limits.append(x)
    return min(limits) if limits else None


def usable_cpu_count(root: Path = Path("/")) -> int:
    """How many cores this process may actually run on: at least 1.

    The CPUs of its affinity mask (``os.sched_getaffinity``; ``os.cpu_count()``
    where that does not exist), capped by the cgroup CPU quota rounded up (a
    quota of 1.5 CPUs keeps two threads busy part of the time rather than
    leaving half a core unused).

    Parameters
    ----------
    root : pathlib.Path, default "/"
        Passed to :func:`cgroup_cpu_limit`.

    Returns
    -------
    int
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = cgroup_cpu_limit(root)
    if quota is not None:
        n = min(n, math.ceil(quota))
    return max(1, n)


CORES = usable_cpu_count()
"""Cores this process may use, read once at import (the answer costs file reads)."""

# One pool for the process, started on first use: starting threads for every
# call cost ~0.5 ms, a tenth of a 100k-node city's radius query.
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_IN_POOL = threading.local()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=CORES, thread_name_prefix="geo-cores")
        return _POOL


def _forget_pool_after_fork() -> None:
    """In a forked child: drop the parent's pool, whose threads did not come along.

    Tasks submitted to it would wait for ever; the child's first
    :func:`over_cores` starts a pool of its own (layers.forked writes a
    GeoPackage in such a child).
    """
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _run_marked(fn: Callable[[slice], T], part: slice) -> T:
    _IN_POOL.active = True
    try:
        return fn(part)
    finally:
        _IN_POOL.active = False


def over_cores(fn: Callable[[slice], T], n: int, min_chunk: int) -> list[T]:
    """``fn`` over even slices of ``range(n)``, one per core, in order.

    Parameters
    ----------
    fn : callable
        Takes a ``slice`` of the items and returns its part of the result.
        It must release the GIL for the threads to help (numpy, GEOS, the
        kernels of :mod:`geo.jit`).
    n : int
        Number of items.
    min_chunk : int
        Fewest items per slice: below this a thread costs more than it saves,
        so small inputs run in one call on the calling thread.

    Returns
    -------
    list
        ``fn``'s results, slice by slice in order.

    Notes
    -----
    The slices run on one process-wide pool. A call made from inside one of
    its tasks runs on the calling thread instead, so nested use cannot wait
    on itself.
    """
    workers = min(CORES, n // max(min_chunk, 1))
    if workers <= 1 or getattr(_IN_POOL, "active", False):
        return [fn(slice(0, n))]
    size = -(-n // workers)
    parts = [slice(i, i + size) for i in range(0, n, size)]
    futures = [_pool().submit(_run_marked, fn, p) for p in parts]
    return [f.result() for f in futures]
