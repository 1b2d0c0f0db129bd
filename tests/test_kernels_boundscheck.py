"""The compiled kernels' tests again, with numba's bounds checks switched on.

Compiled numba code does not check array bounds: an index one past the end
silently corrupts memory (a grid-build bug of that kind segfaulted before
it was fixed). ``NUMBA_BOUNDSCHECK=1`` compiles the kernels with checks that
raise ``IndexError`` instead, so running their tests that way turns any
out-of-range access into a failure. A separate cache directory keeps the
checked and unchecked compilations apart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL_TESTS = [
    "tests/test_edge_grid.py",
    "tests/test_snap.py",
    "tests/test_euclid.py",
    "tests/test_network.py",
    "tests/test_paths.py",
    "tests/test_dijkstra.py",
    "tests/test_clusters_lattice.py",
    "tests/test_validity.py",
]


def test_kernel_tests_pass_with_numba_bounds_checks(tmp_path):
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *KERNEL_TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
