"""Memory housekeeping of a one-shot command: the collector's pace, and no teardown at exit.

A full (generation 2) collection walks every object the collector tracks. On
a city-sized run that walk is long: ``lifecircle cover`` on the
Guangzhou-sized city (750,880 cells) made 12 full collections costing 1.03 s
of a 14 s run, measured with :data:`gc.callbacks`, while every young
collection together cost 0.16 s. The pipeline makes few reference cycles,
and a command's process ends when the command does, so one-shot commands
keep the young collections (short-lived cycles are still freed) and put off
the full ones. ``serve`` is a long-lived process and keeps Python's pace.

At exit the interpreter frees every object one by one before the process
ends: 0.6 s after a city-sized ``cover``, for memory the operating system
takes back at once. After a one-shot command :func:`run_then_exit` runs the
exit handlers (logging, temporary folders, ``atexit``), flushes the output
and ends the process without that teardown, as mypy does; not under a profiler or a coverage
tool, which write their data at a normal exit. :func:`keep_until_exit` spares
a command's big results the same freeing when the command returns.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

__all__ = [
    "FULL_COLLECTION_EVERY",
    "LONG_LIVED_COMMANDS",
    "exit_code",
    "full_collections_deferred",
    "keep_until_exit",
    "one_shot",
    "own_process",
    "pace_commands",
    "run_then_exit",
]

#: Young (generation 1) collections between two full ones while a command runs;
#: Python's default is 10. With the default first threshold (700 allocations)
#: that is one full collection per ~7 million container allocations.
FULL_COLLECTION_EVERY = 1000

#: Commands that run a long-lived process and keep Python's collector pace.
LONG_LIVED_COMMANDS = frozenset({"serve"})


@contextmanager
def full_collections_deferred() -> Iterator[None]:
    """Run the body with full collections :data:`FULL_COLLECTION_EVERY` young ones apart.

    The previous thresholds come back on exit, also after an error.
    """
    old = gc.get_threshold()
    gc.set_threshold(old[0], old[1], max(old[2], FULL_COLLECTION_EVERY))
    try:
        yield
    finally:
        gc.set_threshold(*old)


def one_shot(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run inside :func:`full_collections_deferred` (same signature, for typer)."""
    if getattr(fn, "_one_shot", False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _ONE_SHOT_RAN
        _ONE_SHOT_RAN = True
        with full_collections_deferred():
            return fn(*args, **kwargs)

    wrapper._one_shot = True  # type: ignore[attr-defined]
    return wrapper


def pace_commands(app: typer.Typer) -> None:
    """Wrap every command of ``app`` and its groups with :func:`one_shot`, except :data:`LONG_LIVED_COMMANDS`."""
    for info in app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else None)
        if info.callback is not None and name not in LONG_LIVED_COMMANDS:
            info.callback = one_shot(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            pace_commands(group.typer_instance)


_ENDS_WITHOUT_TEARDOWN = False  # set by run_then_exit: this process is the command line's own
_ONE_SHOT_RAN = False  # set by a one-shot command as it starts: only then does the process end with os._exit
_KEPT: list[Any] = []


def own_process() -> bool:
    """Whether this process is the ``lifecircle`` command line's own, ending when the command does.

    ``False`` in tests (typer's runner), notebooks and servers calling the
    app in-process, and under a profiler: there nothing may fork the
    process (``write_outputs(background=...)``) or keep objects to the end.
    """
    return _ENDS_WITHOUT_TEARDOWN


def keep_until_exit(*objects: Any) -> None:
    """Hold a command's large objects (a city, its results) until the process ends.

    A command's locals are freed object by object when it returns: 0.35 s for
    a city-sized ``cover``, on the way to an exit that frees nothing. Under
    :func:`run_then_exit` they are kept and go with the process; anywhere else
    (tests, a command called in-process) this does nothing.
    """
    if _ENDS_WITHOUT_TEARDOWN:
        _KEPT.extend(objects)


def exit_code(exc: SystemExit) -> int:
    """The status a ``SystemExit`` ends the process with (its text, if any, goes to stderr)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def run_then_exit(app: Callable[[], Any]) -> NoReturn:
    """Run the command line app, then end the process without freeing its objects one by one.

    Parameters
    ----------
    app : callable
        The typer app (it ends by raising ``SystemExit``).
    """
    global _ENDS_WITHOUT_TEARDOWN
    traced = sys.getprofile() is not None or sys.gettrace() is not None
    _ENDS_WITHOUT_TEARDOWN = not traced
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exit_code(exc)
    if traced or not _ONE_SHOT_RAN:
        # a profiler or coverage tool writes its data at a normal exit; `serve` (not one-shot)
        # waits there for its job threads to finish
        sys.exit(code)
    atexit._run_exitfuncs()  # what a normal exit would run: logging.shutdown, weakref finalizers, temp folders
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``) or stream
            pass
    os._exit(code)
