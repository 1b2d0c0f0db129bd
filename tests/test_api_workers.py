"""api.workers.run_in_child: results, problems, crashes, cancel, memory budget and time limit of a forked job."""

from __future__ import annotations

import time

import numpy as np
import psutil
import pytest

from api.problems import ApiProblem
from api.workers import Cancelled, ChildCrashed, JobTimeLimit, MemoryBudgetExceeded, run_in_child
from scenarios.standards import StandardError

BIG = 1 << 40


def _run(work, cancelled=lambda: False, memory=BIG, **kw):
    seen = []
    out = run_in_child(work, lambda step, f: seen.append((step, f)), cancelled, memory, **kw)
    return out, seen


def test_result_and_progress_come_back():
    def work(progress):
        for i in range(3):
            progress("step", (i + 1) / 3)
        return {"sum": int(np.arange(10).sum())}

    out, seen = _run(work)
    assert out == {"sum": 45} and seen[-1] == ("step", 1.0)


def test_user_errors_come_back_as_problems_and_crashes_do_not_leak():
    def user(progress):
        raise StandardError("standard 'x': threshold must be positive")

    with pytest.raises(ApiProblem) as exc:
        _run(user)
    assert exc.value.status == 422 and "threshold must be positive" in exc.value.detail

    def crash(progress):
        raise ValueError("shapes (3,) (4,) not aligned")

    with pytest.raises(ChildCrashed) as exc:
        _run(crash)
    assert "aligned" not in str(exc.value)


def test_cancel_kills_the_child_at_once():
    t = time.perf_counter()
    stop_at = t + 0.3
    children = []

    def cancelled():
        children.extend(psutil.Process().children())
        return time.perf_counter() > stop_at

    with pytest.raises(Cancelled):
        _run(lambda progress: time.sleep(30), cancelled=cancelled)
    assert time.perf_counter() - t < 1.5
    assert children and not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)


def test_memory_budget_stops_the_child():
    def hog(progress):
        blocks = []
        for _ in range(40):
            blocks.append(np.ones(10_000_000 // 8))  # 10 MB each, touched
            time.sleep(0.02)
        return len(blocks)

    with pytest.raises(MemoryBudgetExceeded) as exc:
        _run(hog, memory=100_000_000)
    assert "memory budget of 100 MB" in str(exc.value)


def test_time_limit_bounds_the_whole_job():
    t = time.perf_counter()
    with pytest.raises(JobTimeLimit) as exc:
        _run(lambda progress: time.sleep(30), time_limit_s=0.5)
    assert time.perf_counter() - t < 2.0 and "time limit of 0.5 s" in str(exc.value)
