"""layers.forked: a writer in a forked child, its errors raised in the parent; write_outputs(background=True)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo.threads import over_cores
from layers.errors import LayerError
from layers.forked import can_fork, forked
from scenarios.evaluate import evaluate
from scenarios.gpkg_layer import wgs84_polygon_wkb
from scenarios.outputs import write_outputs
from tests.test_evaluate import city  # noqa: F401  (the hand-built city of test_evaluate)

pytestmark = pytest.mark.skipif(not can_fork(), reason="this platform has no fork (the writer runs in-process there)")


def _write(path: Path, text: str) -> None:
    path.write_text(f"{text} from {os.getpid()}")


def _sums_over_cores(path: Path) -> None:
    # the parent's pool threads do not exist in the child: this hung before geo.threads forgot its pool at fork
    parts = over_cores(lambda s: int(np.arange(s.start, s.stop).sum()), 100_000, 10)
    path.write_text(str(sum(parts)))


def _raise(exc: BaseException) -> None:
    raise exc


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _sleep() -> None:
    time.sleep(60)


def _timeout(signum, frame):
    raise TimeoutError("the forked child did not finish")


def test_the_child_writes_and_the_parent_waits(tmp_path):
    out = tmp_path / "a.txt"
    with forked(_write, out, "hello"):
        pass
    text = out.read_text()
    assert text.startswith("hello from ") and int(text.split()[-1]) != os.getpid()


def test_disabled_runs_here(tmp_path):
    out = tmp_path / "a.txt"
    with forked(_write, out, "here", enabled=False):
        assert out.read_text() == f"here from {os.getpid()}"  # already written when the block starts


def test_the_childs_error_is_raised_in_the_parent_with_its_type():
    with pytest.raises(ValueError, match="bad field"):
        with forked(_raise, ValueError("bad field")):
            pass


def test_an_error_that_does_not_pickle_comes_back_as_its_message():
    class Local(Exception):  # a class pickle cannot find by name
        pass

    with pytest.raises(RuntimeError, match="Local: nope") as caught:
        with forked(_raise, Local("nope")):
            pass
    assert any("in the background writer process" in note for note in caught.value.__notes__)


def test_a_project_error_keeps_its_type_and_fields():
    # LayerError's constructor takes keyword fields: pickle.dumps(exc) would not come back
    with pytest.raises(LayerError) as caught:
        with forked(_raise, LayerError("cells.gpkg", "population is missing", field="population", row=3)):
            pass
    assert caught.value.field == "population" and caught.value.row == 3
    assert str(caught.value) == str(LayerError("cells.gpkg", "population is missing", field="population", row=3))
    assert "_raise" in "\n".join(caught.value.__notes__)  # where it happened, in the child


def test_a_fork_that_fails_writes_here(tmp_path, monkeypatch):
    def no_fork():
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(os, "fork", no_fork)
    out = tmp_path / "a.txt"
    with forked(_write, out, "fallback"):
        assert out.read_text() == f"fallback from {os.getpid()}"


def test_a_child_killed_by_a_signal_is_an_error():
    with pytest.raises(RuntimeError, match="signal 9"):
        with forked(_kill_self):
            pass


def test_an_error_in_the_parent_stops_the_child():
    with pytest.raises(KeyError):
        with forked(_sleep) as call:
            pid = call._pid
            raise KeyError("parent gave up")
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # killed and reaped: no zombie left


def test_the_child_can_use_the_thread_pool_the_parent_started(tmp_path):
    over_cores(lambda s: s.stop - s.start, 100_000, 10)  # the parent's pool exists now
    out = tmp_path / "sum.txt"
    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(60)  # fail, not hang, if the child waits on threads it does not have
    try:
        with forked(_sums_over_cores, out):
            pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert int(out.read_text()) == sum(range(100_000))


def test_background_geopackage_equals_the_one_written_here(city, tmp_path):  # noqa: F811
    result = evaluate(city)
    seen = []
    here = write_outputs(result, tmp_path / "here", service_areas=True)
    cells = result.city.cells
    there = write_outputs(result, tmp_path / "there", service_areas=True, background=True,
                          meanwhile=lambda: seen.append(os.getpid()) or {"extra": tmp_path / "x"},
                          cells_wkb=lambda: wgs84_polygon_wkb(cells.geometry.values._data, cells.crs))
    assert seen == [os.getpid()]  # the meanwhile work ran here, once
    assert there["extra"] == tmp_path / "x" and set(there) - {"extra"} == set(here)
    assert not [p for p in (tmp_path / "there").iterdir() if ".partial" in p.name]
    for layer in ("cells", "facilities", "uncovered_clusters", "service_areas"):
        a = gpd.read_file(here["gpkg"], layer=layer)
        b = gpd.read_file(there["gpkg"], layer=layer)
        assert a.crs == b.crs
        assert np.all(a.geometry.values.geom_equals_exact(b.geometry.values, tolerance=0.0) | (a.geometry.is_empty & b.geometry.is_empty))
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))


def test_background_geoparquet_equals_the_files_written_here(city, tmp_path):  # noqa: F811
    result = evaluate(city)
    here = write_outputs(result, tmp_path / "here", service_areas=True, format="parquet")
    there = write_outputs(result, tmp_path / "there", service_areas=True, format="parquet", background=True)
    assert set(here) == set(there)
    assert not [p for p in (tmp_path / "there").iterdir() if ".partial" in p.name]
    for layer in ("cells", "facilities", "uncovered_clusters", "service_areas"):
        a, b = gpd.read_parquet(here[layer]), gpd.read_parquet(there[layer])
        assert a.crs == b.crs
        assert np.all(a.geometry.values.geom_equals_exact(b.geometry.values, tolerance=0.0) | (a.geometry.is_empty & b.geometry.is_empty))
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))


def test_a_failed_background_write_leaves_no_file(city, tmp_path, monkeypatch):  # noqa: F811
    import scenarios.outputs as outputs

    result = evaluate(city)

    def broken(frame, path, name, wkb=None):
        raise OSError("disk full")

    monkeypatch.setattr(outputs, "_write_layer", broken)  # the child inherits the patched module
    with pytest.raises(OSError, match="disk full"):
        write_outputs(result, tmp_path / "o", service_areas=False, background=True)
    assert not (tmp_path / "o" / "coverage.gpkg").exists()
    assert not [p for p in (tmp_path / "o").iterdir() if ".partial" in p.name]
