"""What keeps the siting run small: int32 conflict pairs, and heavy imports left until they are needed.

The memory itself is measured in bench/ (see bench/RESULTS.md, "Siting speed and
memory"); these tests pin the behaviour that measurement relies on.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import geo.siting.problem as problem
from geo.siting.problem import conflict_pairs, pair_dtype
from geo.siting.shrink import reduce


def _brute_pairs(xy: np.ndarray, spacing: float) -> np.ndarray:
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    return np.argwhere(np.triu(d < spacing, 1))


@pytest.mark.parametrize("chunk", [1, 7, 1 << 18])
def test_conflict_pairs_int32_and_exact_in_any_chunking(monkeypatch, chunk):
    monkeypatch.setattr(problem, "_PAIR_CHUNK", chunk)
    rng = np.random.default_rng(11)
    xy = np.round(rng.random((300, 2)) * 2000)
    xy[7] = xy[3] + [0.0, 250.0]  # exactly at the spacing: not a conflict
    got = conflict_pairs(xy, 250.0)
    assert got.dtype == np.int32
    assert got.shape[1] == 2 and got.shape[0] > 100
    assert np.array_equal(got, _brute_pairs(xy, 250.0))
    assert conflict_pairs(xy, 0.0).dtype == np.int32 and conflict_pairs(xy, 0.0).shape == (0, 2)


def test_pair_dtype_widens_past_int32():
    assert pair_dtype(10) is np.int32
    assert pair_dtype(2**31 - 1) is np.int32
    assert pair_dtype(2**31) is np.int64


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_reduce_renumbers_conflicts_in_their_own_type(dtype):
    from scipy import sparse

    rng = np.random.default_rng(5)
    k, m = 40, 25
    s = sparse.csr_matrix(rng.integers(0, 5, (k, m)) * (rng.random((k, m)) < 0.4) + 0.0)
    allowed = rng.random(k) < 0.8
    conflicts = _brute_pairs(rng.random((k, 2)) * 1000, 300.0).astype(dtype)
    red = reduce(s, allowed, np.zeros(0, dtype=np.int64), conflicts, shrink=True)
    assert red.conflicts.dtype == dtype
    # by definition: the pairs with both ends kept, as positions among the kept rows
    pos = {int(c): i for i, c in enumerate(red.cand)}
    want = [[pos[a], pos[b]] for a, b in conflicts.tolist() if a in pos and b in pos]
    assert red.conflicts.tolist() == want


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_cli_and_the_solve_do_not_import_the_writers_or_the_database():
    # SQLAlchemy came with every command (api.crashlog), pyogrio/GDAL with every solve
    # (scenarios.outputs): 28 MB each, held through the distances and the solve
    loaded = _modules_after("import api.cli, scenarios.siting")
    assert "sqlalchemy" not in loaded
    assert "pyogrio" not in loaded
    assert "scenarios.outputs" not in loaded


def test_write_siting_is_still_importable_from_scenarios_siting():
    from scenarios.outputs import write_siting
    from scenarios.siting import write_siting as reexported

    assert reexported is write_siting
    with pytest.raises(AttributeError):
        import scenarios.siting

        scenarios.siting.no_such_name  # noqa: B018


def test_the_map_does_not_import_mapclassify():
    # mapclassify costs ~85 MB and ~2.5 s (scikit-learn, scipy.stats, a numba compile
    # at import); the default quantile classes are computed without it
    assert "mapclassify" not in _modules_after("import maps.siting")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim is Linux-only")
def test_release_freed_memory_finds_malloc_trim_on_linux():
    import platform

    from scenarios.siting_memory import release_freed_memory

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert release_freed_memory() is True
