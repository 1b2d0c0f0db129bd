"""The plan's catalogue, made active on a worker while its tasks run.

:func:`scenarios.catalogue.use_catalogue` is process-wide and restores the
previous catalogue on exit. A worker with several threads runs several tasks
at once: if each used it on its own, the first to finish would switch the
catalogue back under the others. Here the tasks of one catalogue share one
activation, counted; a task of another catalogue (a second batch on the same
cluster) waits until the worker is free of the first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from scenarios.catalogue import Catalogue, use_catalogue

__all__ = ["catalogue_active"]

_cond = threading.Condition()
_users = 0
_digest: str | None = None
_activation: AbstractContextManager | None = None


@contextmanager
def catalogue_active(cat: Catalogue) -> Iterator[Catalogue]:
    """Make ``cat`` the worker's active catalogue inside the block, shared with concurrent tasks of it.

    Parameters
    ----------
    cat : Catalogue
        The plan's catalogue (:attr:`scenarios.batch.plan.BatchPlan.catalogue`).
    """
    global _users, _digest, _activation
    with _cond:
        while _users and _digest != cat.digest:
            _cond.wait()
        if _users == 0:
            _activation = use_catalogue(cat)
            _activation.__enter__()
            _digest = cat.digest
        _users += 1
    try:
        yield cat
    finally:
        with _cond:
            _users -= 1
            if _users == 0:
                activation, _activation, _digest = _activation, None, None
                activation.__exit__(None, None, None)
                _cond.notify_all()
