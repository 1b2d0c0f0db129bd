"""Shared pieces of every ``lifecircle`` command: consoles, errors, progress and ``--set`` parsing.

Every command module imports from here; this module imports no command, so the
CLI has no import cycle (the app in :mod:`api.cli` registers the commands).
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from api.crashlog import INTERNAL_EXIT, crash_message
from geo.errors import LifecircleError

__all__ = ["console", "err_console", "fail", "user_errors", "PhaseClock", "CLOCK", "progress_bar", "parse_overrides"]

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print a clear error (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/bold red] {message}")
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's validation errors into a one-line message and exit code 2."""
    try:
        yield
    except (LifecircleError, FileNotFoundError) as exc:  # the user's input: exit 2 with the message
        fail(str(exc))
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug: traceback to the log file, one line and exit 70 here
        fail(crash_message(exc), code=INTERNAL_EXIT)


class PhaseClock:
    """Wall time of each named step, fed by the same ``progress(step, fraction)`` calls as the bar.

    A step lasts from its first report until the next step's; ``--timings``
    writes the result as JSON (used by ``bench/bench_cover_large.py``).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget all steps (a command starts)."""
        self.seconds: dict[str, float] = {}
        self._step: str | None = None
        self._since = time.perf_counter()

    def __call__(self, step: str, fraction: float = 0.0) -> None:
        now = time.perf_counter()
        if step != self._step:
            if self._step is not None:
                self.seconds[self._step] = self.seconds.get(self._step, 0.0) + now - self._since
            self._step, self._since = step, now

    def write(self, path: Path) -> None:
        """Close the running step and write ``{step: seconds}`` (plus ``total``) as JSON."""
        self("(end)")
        self.seconds["total"] = sum(v for k, v in self.seconds.items() if k != "total")
        path.write_text(json.dumps({k: round(v, 3) for k, v in self.seconds.items()}, indent=1), encoding="utf-8")


CLOCK = PhaseClock()
"""Times every progress step of this process (one command per process)."""


@contextmanager
def progress_bar() -> Iterator:
    """A rich progress bar; yields a ``progress(step, fraction)`` callback."""
    with Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def update(step: str, fraction: float) -> None:
            CLOCK(step, fraction)
            bar.update(task, description=step, completed=max(0.0, min(1.0, fraction)))

        yield update
        bar.update(task, completed=1.0)


def parse_overrides(items: list[str]) -> dict[str, dict[str, str]]:
    """``clinic-walk.threshold_min=20`` -> ``{"clinic-walk": {"threshold_min": "20"}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        sid, dot, param = key.partition(".")
        if not sep or not dot or not sid or not param:
            fail(f"--set '{item}': expected STANDARD.PARAMETER=VALUE, e.g. clinic-walk.threshold_min=20")
        out.setdefault(sid, {})[param] = value
    return out
