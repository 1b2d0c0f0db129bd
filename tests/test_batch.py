"""lifecircle batch: plans, the run on a LocalCluster, equality with the sequential loop, resume, failures, a killed worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml

from layers.cities.generator import generate_city
from layers.city_folder import save_city_folder
from scenarios.batch import BatchPlanError, ClusterError, load_plan, open_client, plan_from_dict, run_batch
from scenarios.batch.schema import cells_columns
from scenarios.batch.tasks import CELL_COLUMNS
from scenarios.evaluate import evaluate
from scenarios.run import run_scenario

STANDARDS = ["station-radius", "clinic-walk", "elderly-circle"]
CODE = "pinned"  # the code digest in input hashes: pinned, as others edit the tree while the suite runs


@pytest.fixture(scope="module")
def cities(tmp_path_factory) -> dict[str, Path]:
    """Three small generated districts as city folders."""
    root = tmp_path_factory.mktemp("batch-cities")
    out = {}
    for i, name in enumerate(["north", "south", "west"]):
        city = generate_city(width_m=2600, height_m=2200, seed=100 + i, name=name)
        out[name] = save_city_folder(city, root / name)
    return out


def _scenarios(cities: dict[str, Path]) -> list[dict]:
    from layers.cities import load_city

    north = load_city(cities["north"])
    south = load_city(cities["south"])
    # a clinic in the middle of north, and south without its first elderly-care centre
    centre = north.cells.geometry.union_all().centroid
    from geo.crs import to_wgs84

    lon, lat = to_wgs84(np.array([centre.x]), np.array([centre.y]), north.crs)
    ec = south.facilities.loc[south.facilities["kind"] == "elderly_care", "id"].iloc[0]
    return [
        {"name": "north-clinic", "city": str(cities["north"]), "standards": ["clinic-walk"],
         "edits": [{"op": "add", "id": "NEW-1", "kind": "health_station", "lon": float(lon[0]), "lat": float(lat[0])}]},
        {"name": "south-close", "city": str(cities["south"]), "standards": ["elderly-circle", "station-radius"],
         "edits": [{"op": "remove", "id": str(ec)}]},
    ]


def _plan(tmp: Path, cities: dict[str, Path], **extra) -> Path:
    data = {"cities": [str(p) for p in cities.values()], "standards": STANDARDS,
            "scenarios": _scenarios(cities), **extra}
    path = tmp / "plan.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def threads_client():
    """Two in-process workers: the fastest LocalCluster to start inside the suite."""
    with open_client(workers=2, processes=False, dashboard=False) as client:
        yield client


def _cells(out: Path) -> gpd.GeoDataFrame:
    return gpd.read_parquet(out / "cells").sort_values(["city", "scenario", "cell_id"], ignore_index=True)


def _same(a: pd.Series, b: pd.Series) -> bool:
    """Equal value for value: floats bit for bit, missing where missing."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    if len(a) != len(b) or not (a.isna() == b.isna()).all():
        return False
    x, y = a[a.notna()], b[b.notna()]
    if pd.api.types.is_float_dtype(x):
        return bool(np.array_equal(x.to_numpy(np.float64).view(np.int64), y.to_numpy(np.float64).view(np.int64)))
    return bool((x.astype(object).to_numpy() == y.astype(object).to_numpy()).all())


@pytest.fixture(scope="module")
def reference(cities, tmp_path_factory, threads_client):
    """One batch run of three cities (one of them in tiles), two scenarios and a sweep."""
    tmp = tmp_path_factory.mktemp("batch-ref")
    plan = load_plan(_plan(tmp, cities, tiles={"west": 4},
                           sweeps=[{"standard": "elderly-circle", "p": [1, 2], "cities": ["north"]}]))
    report = run_batch(plan, tmp / "out", threads_client, code=CODE)
    return plan, report, tmp / "out"


# ---------------------------------------------------------------- plans
def test_plan_errors_name_the_field_before_any_work(cities, tmp_path):
    ok = {"cities": [str(cities["north"])]}
    cases = [
        ({"cities": ["nowhere-city"]}, "cities[0]: 'nowhere-city' is neither a built-in city"),
        ({**ok, "standards": ["clinic-wlak"]}, "standards: unknown standard 'clinic-wlak'"),
        ({**ok, "scenarios": [{"name": "x", "city": "demo"}]}, "scenario 'x' is for city 'demo', which is not in cities"),
        ({**ok, "sweeps": [{"standard": "clinic-walk", "p": [0]}]}, "sweeps[0].p"),
        ({**ok, "sweeps": [{"standard": "clinic-walk", "p": [1], "problem": "lscp"}]}, "sweeps[0].problem"),
        ({**ok, "tiles": {"elsewhere": 4}}, "tiles.elsewhere: no city of the plan"),
        ({**ok, "citys": ["demo"]}, "citys"),
    ]
    for data, expected in cases:
        with pytest.raises(BatchPlanError) as err:
            plan_from_dict(data, "plan.yaml", tmp_path)
        assert expected in str(err.value), str(err.value)
        assert str(err.value).startswith("plan.yaml")


def test_cli_reports_a_missing_city_in_one_line_and_does_no_work(tmp_path):
    from typer.testing import CliRunner

    from api.cli import app

    plan = tmp_path / "plan.yaml"
    plan.write_text("cities: [demo, ./no-such-folder]\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["batch", str(plan), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "cities[1]: './no-such-folder' is neither a built-in city" in result.output
    assert not (tmp_path / "out").exists()


def test_a_scheduler_that_does_not_answer_is_one_clear_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.perf_counter()
    with pytest.raises(ClusterError, match=f"--scheduler tcp://127.0.0.1:{port}: no Dask scheduler answers"):
        with open_client(scheduler=f"tcp://127.0.0.1:{port}", timeout_s=1):
            pass
    assert time.perf_counter() - t < 30


# ---------------------------------------------------------------- results
def test_batch_equals_the_sequential_loop(reference, cities):
    plan, report, out = reference
    assert report.ok and not report.skipped
    cells = _cells(out)
    summary = pd.read_csv(out / "summary.csv")
    assert {"city", "scenario", "standard", "covered", "total", "share"} <= set(summary.columns)
    from layers.cities import load_city

    runs = 0
    for ref in plan.cities:
        city = load_city(ref.ref)
        for sc in [None] + [s for s in plan.scenarios if s.city == ref.ref]:
            if sc is None:
                result = evaluate(city, plan.standards)
                name = "base"
            else:
                result = run_scenario(sc, city).result
                name = sc.name
            want = result.cells_frame()
            got = cells[(cells["city"] == ref.name) & (cells["scenario"] == name)].set_index("cell_id")
            got = got.loc[want["cell_id"].astype(str)]
            assert len(got) == len(want)
            for s in result.results.values():
                for col in cells_columns([s.standard]):
                    assert _same(got[col], want[col]), (ref.name, name, col)
            rows = summary[(summary["city"] == ref.name) & (summary["scenario"] == name)].set_index("standard")
            for row in result.summary_frame().itertuples():
                assert rows.loc[row.standard, "covered"] == pytest.approx(row.covered, abs=0.051)
                assert rows.loc[row.standard, "total"] == pytest.approx(row.total, abs=0.051)
            runs += 1
    assert runs == 5  # three cities as they are, two scenarios
    assert len(summary) == 3 * 3 + 1 + 2
    # tiles are partitions of their own, and their cells are exactly the city's
    assert sorted(cells.loc[cells["city"] == "west", "tile"].unique()) == [0, 1, 2, 3]


def test_cells_have_the_columns_and_values_of_covers_cells_layer(reference, cities, tmp_path):
    """DIR/cells/ carries every per-standard column `cover` writes for the same city, value for value."""
    from typer.testing import CliRunner

    from api.cli import app
    from layers.cities import load_city
    from scenarios.diagnostics import diagnostic_cells

    plan, report, out = reference
    args = ["cover", "--city", str(cities["north"]), "--out", str(tmp_path), "--format", "parquet", "--no-map",
            "--no-service-areas"] + [a for s in STANDARDS for a in ("--standard", s)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    cover = gpd.read_parquet(tmp_path / "cells.parquet")
    city = load_city(cities["north"])
    # cover's layer = the grid's columns + cells_frame()'s per-standard columns + the diagnostics
    # (network piece, street distance, detour), which batch does not compute
    diagnostics = set(diagnostic_cells(evaluate(city, plan.standards)).columns) - {"cell_id", "population", "geometry"}
    want = [c for c in cover.columns if c not in city.cells.columns and c not in diagnostics]
    got = _cells(out)
    got = got[(got["city"] == "north") & (got["scenario"] == "base")].set_index("cell_id")
    have = [c for c in got.columns if c not in CELL_COLUMNS and c != "geometry"]
    assert sorted(have) == sorted(want)
    # the columns a fixed five-per-standard list left out
    assert {"clinic_walk_status", "clinic_walk_search_limit_m", "station_radius_status"} <= set(have)
    got = got.loc[cover["cell_id"].astype(str)]
    for col in want:
        assert _same(got[col], cover[col]), col
    assert set(got["clinic_walk_status"]) >= {"covered", "beyond threshold"}


def test_sweep_curve_points_are_the_siting_runs(reference):
    from layers.cities import load_city
    from scenarios.siting import site

    plan, report, out = reference
    curves = pd.read_csv(out / "sweeps" / "curves.csv")
    assert list(curves["p"]) == [1, 2]
    city = load_city(plan.city("north").ref)
    for p in (1, 2):
        want = site(city, "elderly-circle", problem="mclp", p=p, solver="greedy").summary()
        assert curves.set_index("p").loc[p, "covered_after"] == pytest.approx(want["covered_after"], rel=1e-12)
    assert (out / "sweeps" / "elderly-circle-mclp.png").stat().st_size > 1000


def test_the_dataset_has_one_schema_and_reads_with_pyarrow_and_dask_geopandas(reference):
    import pyarrow.parquet as pq

    plan, report, out = reference
    files = sorted((out / "cells").glob("*.parquet"))
    assert len(files) == 2 + 2 + 4  # north and south with their scenario, west's base in 4 tiles
    schemas = {str(pq.read_schema(f).remove_metadata()) for f in files}
    assert len(schemas) == 1
    frame = gpd.read_parquet(out / "cells")
    assert frame.crs.to_epsg() == 4326
    assert len(frame) == sum(pq.read_metadata(f).num_rows for f in files)
    dgpd = pytest.importorskip("dask_geopandas")
    ddf = dgpd.read_parquet(out / "cells")
    assert ddf.npartitions == len(files)
    assert len(ddf.compute()) == len(frame)


# ---------------------------------------------------------------- resume and failures
def test_a_resumed_run_does_no_repeated_work(reference, threads_client, tmp_path):
    import shutil

    plan, report, out = reference
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    stamps = {p: p.stat().st_mtime_ns for p in (copy / "cells").glob("*.parquet")}
    again = run_batch(plan, copy, threads_client, code=CODE)
    assert again.ran == [] and again.failed == []
    assert sorted(again.skipped) == sorted(report.ran)
    assert {p: p.stat().st_mtime_ns for p in (copy / "cells").glob("*.parquet")} == stamps
    # a half-written file (no manifest entry) is never taken as done: it is written again, alone
    victim = copy / "cells" / "south__south-close.parquet"
    manifest = (copy / "manifest.json").read_text()
    import json

    data = json.loads(manifest)
    del data["partitions"]["cells/south/south-close"]
    (copy / "manifest.json").write_text(json.dumps(data))
    victim.write_bytes(b"PAR1 half a file")
    third = run_batch(plan, copy, threads_client, code=CODE)
    assert third.ran == ["cells/south/south-close"]
    assert _same(gpd.read_parquet(victim)["elderly_circle_dist_m"],
                 gpd.read_parquet(out / "cells" / "south__south-close.parquet")["elderly_circle_dist_m"])
    assert pd.read_csv(copy / "summary.csv").equals(pd.read_csv(out / "summary.csv"))


def test_a_new_override_reruns_exactly_the_partitions_it_changes(reference, cities, threads_client, tmp_path):
    """station-radius at 600 m: the base runs (north, south, west's four tiles) again; the rest is kept."""
    import json
    import shutil

    plan, report, out = reference
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    stamps = {p.name: p.stat().st_mtime_ns for p in (copy / "cells").glob("*.parquet")}
    changed = load_plan(_plan(tmp_path, cities, tiles={"west": 4}, overrides={"station-radius": {"threshold_m": 600}},
                              sweeps=[{"standard": "elderly-circle", "p": [1, 2], "cities": ["north"]}]))
    again = run_batch(changed, copy, threads_client, code=CODE)
    assert again.ok, again.failed
    # the scenarios name their own standards, the sweep is elderly-circle's, and the tiles' halo is
    # clinic-walk's (wider than 600 m): none of them changes, so none runs again
    base = ["cells/north/base", "cells/south/base"] + [f"cells/west/base/t{t}" for t in range(4)]
    assert sorted(again.ran) == sorted(base)
    assert sorted(again.skipped) == sorted(set(report.ran) - set(base))
    rerun = {Path(f).name for k in base for f in json.loads((copy / "manifest.json").read_text())["partitions"][k]["files"]}
    now = {p.name: p.stat().st_mtime_ns for p in (copy / "cells").glob("*.parquet")}
    assert {n for n in now if now[n] != stamps[n]} == rerun
    # and the rerun partitions hold the new answer
    from layers.cities import load_city

    got = gpd.read_parquet(copy / "cells" / "north__base.parquet").set_index("cell_id")
    want = evaluate(load_city(cities["north"]), changed.standards).cells_frame()
    for col in ("station_radius_covered", "station_radius_search_limit_m", "station_radius_status"):
        assert _same(got.loc[want["cell_id"].astype(str), col], want[col]), col
    old = gpd.read_parquet(out / "cells" / "north__base.parquet")
    assert got["station_radius_covered"].sum() > old["station_radius_covered"].sum()
    summary = pd.read_csv(copy / "summary.csv").set_index(["city", "scenario", "standard"])
    assert summary.loc[("north", "base", "station-radius"), "threshold_m"] == 600


def test_a_partition_failing_on_bad_data_names_the_city_and_the_others_finish(cities, tmp_path, threads_client):
    data = {"cities": [str(cities["north"]), str(cities["south"])], "standards": ["station-radius"],
            "scenarios": [{"name": "bad-edit", "city": str(cities["south"]), "edits": [{"op": "remove", "id": "NO-SUCH"}]}]}
    plan = plan_from_dict(data, "plan.yaml", tmp_path)
    report = run_batch(plan, tmp_path / "out", threads_client, code=CODE)
    assert [k for k, _ in report.failed] == ["cells/south/bad-edit"]
    assert "city 'south', scenario 'bad-edit'" in report.failed[0][1] and "NO-SUCH" in report.failed[0][1]
    assert sorted(report.ran) == ["cells/north/base", "cells/south/base"]
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert sorted(set(zip(summary["city"], summary["scenario"]))) == [("north", "base"), ("south", "base")]
    assert "NO-SUCH" in (tmp_path / "out" / "failures.csv").read_text()


def test_a_killed_worker_does_not_change_the_result(reference, cities, tmp_path):
    """Kill a worker process of a LocalCluster while it runs a partition: Dask runs it again elsewhere."""
    plan, report, out = reference
    with open_client(workers=2, processes=True, dashboard=False) as client:
        client.run(lambda: __import__("scenarios.batch.tasks"))  # warm imports before the clock matters
        pids = client.run(os.getpid)
        killed: list[int] = []

        def killer() -> None:
            deadline = time.time() + 120
            while time.time() < deadline and not killed:
                busy = [w for w, tasks in client.processing().items() if tasks]
                if busy:
                    time.sleep(0.3)  # mid-task
                    pid = pids.get(busy[0])
                    if pid:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                time.sleep(0.05)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        again = run_batch(plan, tmp_path / "out", client, code=CODE)
        thread.join()
    assert killed, "no worker was killed"
    assert again.ok, again.failed
    assert sorted(again.ran) == sorted(report.ran)
    a, b = _cells(tmp_path / "out"), _cells(out)
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        assert _same(a[col], b[col]) if col != "geometry" else a.geometry.equals(b.geometry), col
    assert pd.read_csv(tmp_path / "out" / "summary.csv").equals(pd.read_csv(out / "summary.csv"))


# ---------------------------------------------------------------- the plan's catalogue
DISTRICT = """
[catalogue]
id = "test-district"
title_en = "A district's own standards"
title_zh = "本区标准"
source = "tests/test_batch.py"
extends = "seeds"

[[standard]]
id = "clinic-300m"
title_en = "Health station within a 300 m walk"
title_zh = "步行300米内有卫生站"
kinds = ["health_station", "health_centre"]
mode = "network"
threshold_m = 300.0
weight = "population"
source = "tests/test_batch.py: a planner's own reach"

[[standard]]
id = "care-radius-400"
title_en = "Elderly care within 400 m"
title_zh = "400米内有养老设施"
kinds = ["elderly_care"]
mode = "euclidean"
threshold_m = 400.0
weight = "elderly"
source = "tests/test_batch.py: a planner's own reach"
"""


def _district_plan(tmp: Path, cities: dict[str, Path], **extra) -> Path:
    (tmp / "district.toml").write_text(DISTRICT, encoding="utf-8")
    data = {"cities": [str(cities["north"])], "standards": ["clinic-300m", "care-radius-400"], **extra}
    path = tmp / "plan.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_the_plans_catalogue_is_evaluated_on_worker_processes(cities, tmp_path):
    """Standards only the plan's catalogue has run on LocalCluster worker processes, as in one process."""
    from layers.cities import load_city
    from scenarios.catalogue import use_catalogue
    from scenarios.siting import site

    plan = load_plan(_district_plan(tmp_path, cities, catalogue="district.toml",
                                    sweeps=[{"standard": "care-radius-400", "p": [1], "cities": ["north"]}]))
    assert plan.catalogue.id == "test-district" and [s.id for s in plan.standards] == ["clinic-300m", "care-radius-400"]
    with open_client(workers=2, processes=True, dashboard=False) as client:
        report = run_batch(plan, tmp_path / "out", client, code=CODE)
    assert report.ok, report.failed
    assert sorted(report.ran) == ["cells/north/base", "sweep/north/care-radius-400/mclp/p1"]
    assert {report.info[k]["catalogue"] for k in report.ran} == {"test-district"}  # active on the worker
    city = load_city(cities["north"])
    with use_catalogue(plan.catalogue):
        want = evaluate(city, plan.standards).cells_frame()
        point = site(city, "care-radius-400", problem="mclp", p=1, solver="greedy").summary()
    got = _cells(tmp_path / "out").set_index("cell_id").loc[want["cell_id"].astype(str)]
    columns = cells_columns(plan.standards)
    assert "clinic_300m_status" in columns and "care_radius_400_dist_m" in columns
    for col in columns:
        assert _same(got[col], want[col]), col
    assert got["clinic_300m_covered"].any() and not got["clinic_300m_covered"].all()
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary["standard"]) == ["clinic-300m", "care-radius-400"]
    curve = pd.read_csv(tmp_path / "out" / "sweeps" / "curves.csv")
    assert curve.loc[0, "covered_after"] == pytest.approx(point["covered_after"], rel=1e-12)


def test_catalogue_option_fills_the_plan_and_is_part_of_every_input_hash(cities, tmp_path):
    from typer.testing import CliRunner

    from api.cli import app
    from scenarios.batch.runner import plan_jobs

    path = _district_plan(tmp_path, cities)  # no catalogue: in the plan
    with pytest.raises(BatchPlanError, match="standards: unknown standard 'clinic-300m'"):
        load_plan(path)
    plan = load_plan(path, catalogue=tmp_path / "district.toml")  # what --catalogue gives
    assert plan.catalogue.id == "test-district"
    # the same plan under a catalogue that differs only in a note: every partition has new inputs
    (tmp_path / "other.toml").write_text(DISTRICT.replace('source = "tests/test_batch.py"\n',
                                                          'source = "tests/test_batch.py"\nnote = "edited"\n'),
                                         encoding="utf-8")
    other = load_plan(path, catalogue=tmp_path / "other.toml")
    assert plan.standards == other.standards and plan.catalogue.digest != other.catalogue.digest
    a, b = plan_jobs(plan, CODE), plan_jobs(other, CODE)
    assert [j.key for j, _, _ in a.cells] == [j.key for j, _, _ in b.cells]
    assert all(x != y for (_, x, _), (_, y, _) in zip(a.cells, b.cells))
    # a bad --catalogue is one line before any work
    result = CliRunner().invoke(app, ["batch", str(path), "--out", str(tmp_path / "out"),
                                      "--catalogue", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2, result.output
    assert "--catalogue:" in result.output and "missing.toml" in result.output
    assert not (tmp_path / "out").exists()


def test_the_example_plan_for_the_built_in_cities_is_valid():
    from layers.cities import CITIES

    plan = load_plan(Path(__file__).parent.parent / "scenarios" / "examples" / "batch-builtin.yaml")
    assert [c.name for c in plan.cities] == sorted(CITIES)
    assert [s.name for s in plan.scenarios] == ["new-clinic-east", "close-elderly-centre"]
    assert plan.city("demo").tiles == 4 and plan.city("helsinki").tiles == 1
    assert plan.sweeps[0].p == list(range(1, 9)) and plan.sweeps[0].cities == ["demo", "helsinki"]
