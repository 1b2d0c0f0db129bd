"""What the command line does with an error that is not the user's: log it, say where, exit 70.

A :class:`geo.errors.LifecircleError` is a message for the user (exit code 2).
Anything else is a bug: its traceback goes to ``logs/lifecircle.log`` in the
data folder (:func:`scenarios.store.data_dir`), and the user reads one line
naming the error's type and that file, with the exit code
:data:`INTERNAL_EXIT` (``EX_SOFTWARE`` of sysexits.h).
"""

from __future__ import annotations

import traceback
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["INTERNAL_EXIT", "crash_message", "log_file"]

INTERNAL_EXIT = 70
"""Exit code of an unexpected error (a bug), distinct from a user error's 2."""


def log_file() -> Path:
    """The file unexpected errors of the command line are written to."""
    # imported here: scenarios.store brings in SQLAlchemy (~28 MB), which every
    # command would otherwise load through api.cli.console just to name a folder
    from scenarios.store import data_dir

    return data_dir() / "logs" / "lifecircle.log"


def crash_message(exc: BaseException) -> str:
    """Append the traceback of ``exc`` to :func:`log_file`; return the line to show the user."""
    path = log_file()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"--- {stamp} unexpected error\n")
            fh.write("".join(traceback.format_exception(exc)))
        where = f"the details are in {path}"
    except OSError as err:  # the log cannot be written: show the traceback instead of losing it
        where = f"the log {path} cannot be written ({err.strerror}):\n{''.join(traceback.format_exception(exc))}"
    return f"internal error ({type(exc).__name__}); this is a bug in lifecircle, not in your input; {where}"
