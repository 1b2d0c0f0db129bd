"""The store under real processes: SIGKILL during saves, and several processes racing.

Run as a script, this file is the writer process the tests start:
``python tests/test_store_kill.py loop URL NAME`` saves new versions forever,
printing each version number after ``save`` returned; ``... race URL NAME TAG N GO``
waits for the file GO to exist, then tries N saves, printing ``ok VERSION I`` or ``stale``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

if __name__ == "__main__":  # started as a writer process: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scenarios.store import ScenarioStore, StaleWriteError  # noqa: E402
from tests.test_store import plan, store_url  # noqa: E402,F401  (store_url is a fixture)

REPO = Path(__file__).resolve().parents[1]


def expected_results(n: int) -> dict:
    return {"n": n, "covered": [n / 10, None]}


def writer_loop(store: ScenarioStore, name: str) -> None:
    while True:
        v = store.head_version(name)
        s = plan(v + 1, name)
        s.results = expected_results(v + 1)
        print(store.save(s, expected_version=v, author=f"pid {os.getpid()}"), flush=True)


def writer_race(store: ScenarioStore, name: str, tag: str, attempts: int, go: Path) -> None:
    print("ready", flush=True)
    while not go.exists():  # start all racers together, after their slow imports
        time.sleep(0.005)
    for i in range(attempts):
        v = store.head_version(name)
        s = plan(v + 1, name)
        s.description = f"{tag} attempt {i}"
        try:
            print(f"ok {store.save(s, expected_version=v)} {i}", flush=True)
        except StaleWriteError:
            print("stale", flush=True)


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def read_line(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=30)
        pytest.fail(f"writer exited early with code {proc.returncode}:\n{proc.stderr.read()}")
    return line.strip()


def test_sigkill_during_saves_loses_no_committed_version(store_url):  # noqa: F811 (fixture)
    rng = random.Random(20261125)
    reported: list[int] = []
    for _ in range(3):
        proc = spawn("loop", store_url, "east")
        lines = [int(read_line(proc)) for _ in range(rng.randint(5, 30))]
        # The writer is in a tight save loop: the kill lands mid-save (or between saves).
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
        assert lines == list(range((reported[-1] if reported else 0) + 1, lines[-1] + 1)) or (
            reported and lines[0] == reported[-1] + 2  # the previous round's in-flight save had committed
        ), lines
        reported += lines
        with ScenarioStore(store_url) as store:
            assert store.check() == []
            head = store.head_version("east")
            # The save in flight at the kill either committed whole or not at all.
            assert head in (reported[-1], reported[-1] + 1)
            assert [h.version for h in store.history("east")] == list(range(1, head + 1))
            for v in reported:
                got = store.get("east", v)
                assert got.content() == plan(v).content()
                assert got.results == expected_results(v)


def test_processes_racing_never_both_win(store_url, tmp_path):  # noqa: F811 (fixture)
    with ScenarioStore(store_url) as store:
        store.save(plan(1), expected_version=0)
    go = tmp_path / "go"
    attempts = 10
    procs = [spawn("race", store_url, "east", f"w{k}", str(attempts), str(go)) for k in range(3)]
    for p in procs:
        assert read_line(p) == "ready"
    go.touch()
    wins: dict[int, str] = {}
    stale = 0
    for k, p in enumerate(procs):
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        for line in out.splitlines():
            if line == "stale":
                stale += 1
                continue
            _, v, i = line.split()
            assert int(v) not in wins, f"version {v} claimed by two writers"
            wins[int(v)] = f"w{k} attempt {i}"
    assert len(wins) + stale == 3 * attempts
    with ScenarioStore(store_url) as store:
        head = store.head_version("east")
        assert sorted(wins) == list(range(2, head + 1))  # every committed version has exactly one winner
        for v, description in wins.items():
            assert store.get("east", v).description == description  # and holds the winner's content
        assert store.check() == []


if __name__ == "__main__":
    mode, url, name = sys.argv[1:4]
    with ScenarioStore(url) as writer_store:
        if mode == "loop":
            writer_loop(writer_store, name)
        else:
            writer_race(writer_store, name, sys.argv[4], int(sys.argv[5]), Path(sys.argv[6]))
