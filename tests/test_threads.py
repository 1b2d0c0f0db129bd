"""geo.threads: even slices, results in order, nesting that cannot deadlock; the cores a process may use."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geo.threads import cgroup_cpu_limit, over_cores, usable_cpu_count

ROOT = Path(__file__).resolve().parent.parent


def test_slices_cover_the_range_in_order():
    a = np.arange(100_003)
    parts = over_cores(lambda c: a[c].copy(), a.size, min_chunk=10)
    np.testing.assert_array_equal(np.concatenate(parts), a)


def test_small_inputs_run_in_one_call():
    calls = []
    over_cores(lambda c: calls.append(c), 50, min_chunk=1000)
    assert calls == [slice(0, 50)]


def test_nested_calls_run_inline_instead_of_waiting_on_the_pool():
    # every outer task calls over_cores again; with a pool of cpu_count workers
    # this would deadlock if the inner calls queued behind the outer ones
    def outer(c: slice) -> int:
        inner = over_cores(lambda d: d.stop - d.start, 10_000, min_chunk=10)
        return sum(inner) + (c.stop - c.start)

    assert sum(over_cores(outer, 64, min_chunk=1)) == 64 + 10_000 * len(over_cores(lambda c: 0, 64, min_chunk=1))


# -- the cores the process may use ------------------------------------------------


def _fake_tree(root, cgroup: str, files: dict[str, str]) -> None:
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "cgroup").write_text(cgroup)
    for rel, text in files.items():
        path = root / "sys" / "fs" / "cgroup" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def host_of_64(monkeypatch):
    """A 64-core host on which the process may run anywhere."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(os, "cpu_count", lambda: 64)


def test_cgroup_v2_quota_caps_a_64_core_host(tmp_path, host_of_64):
    _fake_tree(tmp_path, "0::/portal.slice/app\n", {"portal.slice/app/cpu.max": "200000 100000\n"})
    assert cgroup_cpu_limit(tmp_path) == 2.0
    assert usable_cpu_count(tmp_path) == 2


def test_cgroup_v2_quota_of_a_parent_and_namespace_root_apply(tmp_path, host_of_64):
    # the container's own group is mounted at /sys/fs/cgroup (cgroup namespace),
    # while a parent named in /proc/self/cgroup holds a tighter quota
    _fake_tree(tmp_path, "0::/kube/pod\n", {"cpu.max": "400000 100000", "kube/cpu.max": "150000 100000", "kube/pod/cpu.max": "max 100000"})
    assert cgroup_cpu_limit(tmp_path) == 1.5
    assert usable_cpu_count(tmp_path) == 2  # 1.5 CPUs: two threads, each throttled part of the time


def test_cgroup_v1_cfs_quota(tmp_path, host_of_64):
    cgroup = "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n"
    _fake_tree(tmp_path, cgroup, {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "300000", "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000"})
    assert usable_cpu_count(tmp_path) == 3


def test_no_quota_leaves_the_affinity(tmp_path, host_of_64, monkeypatch):
    _fake_tree(tmp_path, "1:cpu:/\n0::/\n", {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000", "cpu.max": "max 100000"})
    assert cgroup_cpu_limit(tmp_path) is None
    assert usable_cpu_count(tmp_path) == 64
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5, 9, 12})  # taskset -c 5,9,12
    assert usable_cpu_count(tmp_path) == 3


def test_unreadable_cgroups_fall_back_to_affinity(tmp_path, host_of_64):
    assert cgroup_cpu_limit(tmp_path / "nowhere") is None
    assert usable_cpu_count(tmp_path / "nowhere") == 64


def test_a_pinned_process_starts_one_thread():
    """Under ``taskset -c 0`` the module sees one core and over_cores runs in one call."""
    if shutil.which("taskset") is None:
        pytest.skip("taskset is not installed")
    code = (
        "from geo.threads import CORES, over_cores\n"
        "print(CORES, len(over_cores(lambda s: s, 1_000_000, min_chunk=1)))\n"
    )
    run = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["1", "1"]
