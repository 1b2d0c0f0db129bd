"""One-shot commands put off full garbage collections; `serve` keeps Python's pace."""

from __future__ import annotations

import gc

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.cli.collector import FULL_COLLECTION_EVERY, LONG_LIVED_COMMANDS, full_collections_deferred, one_shot


def _commands(typer_app):
    for info in typer_app.registered_commands:
        yield info
    for group in typer_app.registered_groups:
        yield from _commands(group.typer_instance)


def test_deferred_inside_and_restored_after_an_error():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError):
        with full_collections_deferred():
            inside = gc.get_threshold()
            raise RuntimeError("boom")
    assert inside == (before[0], before[1], max(before[2], FULL_COLLECTION_EVERY))
    assert gc.get_threshold() == before


def test_every_command_but_serve_is_one_shot():
    seen = {info.name: getattr(info.callback, "_one_shot", False) for info in _commands(app)}
    assert seen["cover"] and seen["demo"] and seen["site"] and seen["batch"]
    assert all(not seen[name] for name in LONG_LIVED_COMMANDS)
    assert sum(seen.values()) == len(seen) - len(LONG_LIVED_COMMANDS)


def test_a_wrapped_command_runs_with_the_deferred_pace():
    seen = []

    def standards(lang: str = "en") -> None:
        seen.append(gc.get_threshold())

    wrapped = one_shot(standards)
    assert one_shot(wrapped) is wrapped  # wrapping twice changes nothing
    wrapped()
    assert seen[0][2] >= FULL_COLLECTION_EVERY


def test_help_still_shows_the_options_of_a_wrapped_command():
    out = CliRunner().invoke(app, ["cover", "--help"])
    assert out.exit_code == 0
    assert "--grid" in out.output and "--facilities" in out.output


def _run_then_exit(tmp_path, body: list[str], one_shot_app: bool = True):
    """Run ``run_then_exit`` on a small app in a fresh interpreter; ``body`` lines end the app."""
    import subprocess
    import sys
    from pathlib import Path

    lines = [
        "import atexit, pathlib, sys, threading, time",
        "from api.cli.collector import one_shot, run_then_exit",
        "def handler():",
        f"    pathlib.Path({str(tmp_path / 'atexit.txt')!r}).write_text('ran')",
        "atexit.register(handler)",
        "def app():",
        "    print('buffered output', end='')",
        *("    " + line for line in body),
        f"run_then_exit({'one_shot(app)' if one_shot_app else 'app'})",
    ]
    return subprocess.run([sys.executable, "-c", "\n".join(lines)], capture_output=True, text=True, timeout=120,
                          cwd=str(Path(__file__).parents[1]))


def test_run_then_exit_runs_exit_handlers_flushes_and_keeps_the_status(tmp_path):
    done = _run_then_exit(tmp_path, ["raise SystemExit(3)"])
    assert done.returncode == 3
    assert done.stdout == "buffered output"
    assert (tmp_path / "atexit.txt").read_text() == "ran"


def test_run_then_exit_on_success_and_on_a_message(tmp_path):
    ok = _run_then_exit(tmp_path, [])
    assert ok.returncode == 0 and ok.stdout == "buffered output"
    text = _run_then_exit(tmp_path, ["raise SystemExit('gave up')"])
    assert text.returncode == 1 and "gave up" in text.stderr


def test_run_then_exit_leaves_a_profilers_exit_alone(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "p.prof"
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "api.cli", "standards"],
                          capture_output=True, text=True, timeout=120,
                          cwd=str(__import__("pathlib").Path(__file__).parents[1]))
    assert done.returncode == 0
    assert out.stat().st_size > 0  # cProfile wrote its data: the process ended normally


def test_keep_until_exit_keeps_nothing_in_process():
    from api.cli import collector

    collector.keep_until_exit(object())
    assert collector._KEPT == []  # tests and in-process calls free as usual


def test_a_command_that_is_not_one_shot_exits_normally(tmp_path):
    # like `serve`: the normal exit waits for threads still running (job workers) before the process ends
    late = str(tmp_path / "late.txt")
    body = ["def finish():", "    time.sleep(0.3)", f"    pathlib.Path({late!r}).write_text('finished')",
            "threading.Thread(target=finish).start()"]
    done = _run_then_exit(tmp_path, body, one_shot_app=False)
    assert done.returncode == 0 and done.stdout == "buffered output"
    assert (tmp_path / "late.txt").read_text() == "finished"
    assert (tmp_path / "atexit.txt").read_text() == "ran"
