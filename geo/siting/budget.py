"""The time limit and cancellation of one siting run.

A siting run is bounded as a whole: measuring candidate distances, shrinking,
the heuristics, the bounds, the MILP and the independent check all share one
deadline. Every stage that can take long asks :func:`time_left` before (or
while) it works; stages that already hold a usable answer (the heuristic, a
bound) stop early and say so in the result's status and notes, and stages
that cannot produce anything usable (the distance matrix) raise
:class:`SitingTimeLimit`.

A caller that wants to stop a run (a cancelled server job) passes ``cancel``,
a function returning True once the run should end; :func:`check_cancel`
turns it into :class:`SitingCancelled` at the next stage boundary, and HiGHS
is interrupted through its callbacks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from geo.siting.errors import SitingError

__all__ = ["TIME_LIMIT_STATUS", "SitingCancelled", "SitingTimeLimit", "check_cancel", "deadline_after", "time_left"]

TIME_LIMIT_STATUS = "Time limit reached"
"""Status of a result the time limit cut short (HiGHS's own wording)."""

Cancel = Callable[[], bool]


class SitingTimeLimit(SitingError):
    """The time limit ran out before the run had any answer to give (e.g. while measuring distances)."""


class SitingCancelled(SitingError):
    """The caller's ``cancel`` check asked the run to stop."""


def deadline_after(seconds: float, start: float | None = None) -> float:
    """The ``time.perf_counter()`` value ``seconds`` after ``start`` (default now)."""
    return (time.perf_counter() if start is None else start) + float(seconds)


def time_left(deadline: float | None) -> float:
    """Seconds until ``deadline`` (``inf`` without one; never negative)."""
    if deadline is None:
        return float("inf")
    return max(deadline - time.perf_counter(), 0.0)


def check_cancel(cancel: Cancel | None, stage: str) -> None:
    """Raise :class:`SitingCancelled` when ``cancel()`` says so.

    Raises
    ------
    SitingCancelled
        Naming the stage that was running.
    """
    if cancel is not None and cancel():
        raise SitingCancelled(f"siting cancelled during {stage}")
