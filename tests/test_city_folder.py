"""A planner's city built once with ``lifecircle city build`` and used by every command through ``--city DIR``."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from layers.build import city_from_files
from layers.cities import load_city
from layers.city_folder import FORMAT_VERSION, load_city_folder, save_city_folder
from layers.errors import LayerError
from scenarios.evaluate import evaluate
from scenarios.standards import resolve_standards
from tests import own_city

pytestmark = pytest.mark.filterwarnings("ignore::layers.errors.LayerWarning")
runner = CliRunner()


def invoke(*args: str):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Input files and the city folder built from them by the command line."""
    root = tmp_path_factory.mktemp("planner")
    files = own_city.write_city_files(root / "inputs")
    folder = root / "cities" / "futian"
    output = invoke("city", "build", "--grid", files["grid"], "--facilities", files["facilities"],
                    "--network", files["network"], "--units", files["units"], "--candidates", files["candidates"],
                    "--name", "福田区", "--out", folder)
    return files, folder, output


def test_build_writes_a_folder_with_a_manifest(built):
    files, folder, output = built
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == FORMAT_VERSION and manifest["name"] == "福田区"
    assert manifest["attribution"] == "test streets (made up)"  # the saved network's credit travels on
    for role in ("grid", "facilities", "network", "units", "candidates"):
        digest = hashlib.sha256(files[role].read_bytes()).hexdigest()
        assert manifest["sources"][role]["sha256"] == digest, role
    assert manifest["counts"]["units_subdistrict"] == 2 and manifest["counts"]["units_community"] == 4
    assert manifest["counts"]["candidates"] == 3
    assert "connected pieces" in output and "福田区" in output


def test_folder_loads_the_city_it_was_built_from(built):
    files, folder, _ = built
    direct = city_from_files(files["grid"], files["facilities"], network=files["network"], units=files["units"],
                             candidates=files["candidates"], name="福田区")
    loaded = load_city(folder)
    assert loaded.crs.equals(direct.crs) and loaded.name == "福田区"
    pd.testing.assert_frame_equal(pd.DataFrame(loaded.cells.drop(columns="geometry")),
                                  pd.DataFrame(direct.cells.drop(columns="geometry")), check_dtype=False)
    assert loaded.cells.geometry.geom_equals_exact(direct.cells.geometry, tolerance=0).all()
    assert loaded.facilities["id"].tolist() == direct.facilities["id"].tolist()
    for a in ("x", "y", "u", "v", "length"):
        assert np.array_equal(getattr(loaded.network, a), getattr(direct.network, a)), a
    assert loaded.candidates["id"].tolist() == ["K1", "K2", "K3"]
    # the results are the same city's results
    r1, r2 = evaluate(loaded, resolve_standards()), evaluate(direct, resolve_standards())
    for sid in r1.results:
        assert np.array_equal(r1.results[sid].dist_m, r2.results[sid].dist_m), sid


def test_units_from_the_boundary_file_drive_the_ratio_rules(built):
    """Beds per 1,000 elderly per subdistrict, by the rule engine and by hand from the test's own data."""
    from scenarios.ratio_standards import run_ratios

    _, folder, _ = built
    report = run_ratios(load_city(folder), ["elderly-beds-zhuhai"], [])
    table = report.rules["elderly-beds-zhuhai"].table.set_index("unit_id")
    cells = own_city.cells()
    elderly = cells.groupby("subdistrict")["elderly"].sum()
    fac = own_city.facilities()
    west = fac["x"] - own_city.ORIGIN[0] < (own_city.N - 1) * own_city.STEP / 2
    beds = {"SD-W": fac.loc[west, "beds"].sum(), "SD-E": fac.loc[~west, "beds"].sum()}
    for unit in ("SD-W", "SD-E"):
        assert table.loc[unit, "demand"] == pytest.approx(elderly[unit])
        assert table.loc[unit, "supply"] == pytest.approx(beds[unit])
        assert table.loc[unit, "ratio"] == pytest.approx(beds[unit] / elderly[unit] * 1000)
    assert set(report.city.units["community"]["name"]) == {"C-WS 名", "C-WN 名", "C-ES 名", "C-EN 名"}


def test_diagnostics_count_the_stranded_piece(built):
    """The separate 2 x 2 piece has residents and no facility: a hand count from the test's own cells."""
    from scenarios.diagnostics import city_diagnostics

    _, folder, _ = built
    d = city_diagnostics(load_city(folder))
    assert d.n_pieces == 2
    cells = own_city.cells()
    c = cells.geometry.centroid
    stranded = (c.x - own_city.ORIGIN[0]) > (own_city.N - 1) * own_city.STEP + 300
    assert d.pieces["population"].iloc[1] == pytest.approx(cells.loc[stranded, "population"].sum())
    lacking = d.without_kind.set_index("kind")["population"]
    assert lacking["health_centre"] == pytest.approx(cells.loc[stranded, "population"].sum())


def test_city_info(built):
    _, folder, _ = built
    out = invoke("city", "info", folder)
    assert "connected pieces" in out and "2 (2 with residents" in out
    assert "EPSG" not in out.split("CRS")[1].splitlines()[0] or "local TM" in out


def test_cover_map_export_on_the_folder(built, tmp_path):
    _, folder, _ = built
    out = tmp_path / "run"
    text = invoke("cover", "--city", folder, "--out", out, "--ratios")
    assert "connected pieces" in text and (out / "coverage.gpkg").exists()
    # the run refers to the city folder (reloaded from there by --results), it does not copy it
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["city"] == str(Path(folder).resolve())
    assert not (out / "city").exists()
    cells = gpd.read_file(out / "coverage.gpkg", layer="cells")
    assert len(cells) == len(own_city.cells())
    checks = json.loads((out / "diagnostics.json").read_text(encoding="utf-8"))
    assert checks["network_pieces"] == 2
    # the summary carries the checks: everyone on the stranded piece lacks a reachable clinic
    summary = pd.read_csv(out / "summary.csv").set_index("standard")
    c = own_city.cells()
    stranded = (c.geometry.centroid.x - own_city.ORIGIN[0]) > (own_city.N - 1) * own_city.STEP + 300
    assert summary.loc["clinic-walk", "population_on_pieces_without"] == pytest.approx(c.loc[stranded, "population"].sum())
    assert (cells.loc[stranded.to_numpy(), "piece"] == 1).all() and (cells.loc[~stranded.to_numpy(), "piece"] == 0).all()
    assert (cells.loc[stranded.to_numpy(), "clinic_walk_status"] != "covered").all()
    # map and export from the results, without recomputing; --out a folder writes into it
    invoke("map", "--results", out, "--out", tmp_path / "report/")
    assert (tmp_path / "report" / "map.html").stat().st_size > 10_000
    invoke("export", "--results", out, "--out", tmp_path / "report", "--format", "png", "--dpi", "60")
    assert {"map.png", "map-summary.csv", "map-summary.xlsx"} <= {p.name for p in (tmp_path / "report").iterdir()}
    html = (tmp_path / "report" / "map.html").read_text(encoding="utf-8")
    assert "福田区" in html  # the city's own name is the title, not "custom"


def test_results_folder_reloads_the_same_run(built, tmp_path):
    from scenarios.run_folder import load_run

    files, _, _ = built
    out = tmp_path / "run"
    # a run from loose files keeps its city inside the results folder
    invoke("cover", "--grid", files["grid"], "--facilities", files["facilities"], "--network", files["network"],
           "--name", "loose", "--out", out, "--no-map")
    assert (out / "city" / "manifest.json").exists()
    again = load_run(out)
    fresh = evaluate(load_city(out / "city"), resolve_standards())
    for sid, r in fresh.results.items():
        assert np.array_equal(again.results[sid].dist_m, r.dist_m) and np.array_equal(again.results[sid].facility, r.facility)


def test_site_ratios_and_scenarios_on_the_folder(built, tmp_path):
    _, folder, _ = built
    text = invoke("site", "--city", folder, "--standard", "clinic-walk", "--p", "1", "--no-map", "--out", tmp_path / "s")
    sites = pd.read_csv(tmp_path / "s" / "sites.csv")
    assert sites["candidate_id"].astype(str).iloc[0] in {"K1", "K2", "K3"}  # the folder's own candidates
    text = invoke("ratios", "--city", folder)
    assert "elderly-beds-zhuhai" in text
    db = f"sqlite:///{tmp_path / 's.db'}"
    invoke("scenario", "new", "plan", "--city", folder, "-s", "clinic-walk", "--db", db)
    invoke("scenario", "edit", "plan", "--add", "kind=health_station,id=NEW,lon=114.06,lat=22.545", "--db", db)
    invoke("scenario", "run", "plan", "--db", db)
    text = invoke("scenario", "compare", "plan", "--db", db)
    assert "clinic-walk" in text
    # a scenario file naming the folder relative to itself runs from anywhere
    plan = folder.parent / "plan.yaml"
    plan.write_text("name: p2\ncity: futian\nstandards: [clinic-walk]\nedits:\n  - {op: remove, id: HS1}\n", encoding="utf-8")
    text = invoke("run", plan)
    assert "clinic-walk" in text


def test_serve_loads_the_folder(built):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.config import ApiConfig

    _, folder, _ = built
    app_ = create_app(ApiConfig(city=str(folder), api_keys=["k" * 12], data_dir=tempfile.mkdtemp()))
    with TestClient(app_) as client:
        health = client.get("/health").json()
    assert health["city"] == "福田区" and health["cells"] == len(own_city.cells())


def test_older_newer_and_damaged_folders_are_refused_with_what_to_do(built, tmp_path):
    import shutil

    _, folder, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    for version, expected in ((0, r"older format 0 .* rebuild it with 'lifecircle city build --grid .*cells.gpkg"),
                              (FORMAT_VERSION + 1, "newer lifecircle .* upgrade lifecircle")):
        (copy / "manifest.json").write_text(json.dumps({**manifest, "format_version": version}), encoding="utf-8")
        with pytest.raises(LayerError, match=expected):
            load_city_folder(copy)
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (copy / "facilities.parquet").write_bytes(b"truncated")
    with pytest.raises(LayerError, match="damaged: facilities.parquet has 9 bytes"):
        load_city_folder(copy)
    (copy / "facilities.parquet").unlink()
    with pytest.raises(LayerError, match="damaged: facilities.parquet is missing"):
        load_city(copy)
    with pytest.raises(LayerError, match="not a city folder"):
        load_city(tmp_path)
    res = runner.invoke(app, ["cover", "--city", str(copy), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "damaged" in res.output


def test_save_refuses_a_folder_with_other_content(built, tmp_path):
    _, folder, _ = built
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LayerError, match="exists and is not a city folder"):
        save_city_folder(load_city(folder), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
