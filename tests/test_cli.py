"""The ``lifecircle`` command line end to end, in temporary folders."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from api.cli import app
from layers.cities import load_city
from layers.network_io import save_network
from scenarios.evaluate import evaluate

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    res = runner.invoke(app, ["demo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out, res.output


def test_demo_writes_outputs_that_open(demo_run):
    out, output = demo_run
    layers = dict(pyogrio.list_layers(out / "coverage.gpkg"))
    assert {"cells", "facilities", "uncovered_clusters", "service_areas"} <= set(layers)
    cells = gpd.read_file(out / "coverage.gpkg", layer="cells")
    assert cells.crs.to_epsg() == 4326
    assert {"clinic_walk_time_min", "elderly_circle_covered", "centre_radius_dist_m"} <= set(cells.columns)
    areas = gpd.read_file(out / "coverage.gpkg", layer="service_areas")
    assert set(areas["standard"]) == {"centre-radius", "station-radius", "clinic-walk", "elderly-circle"}
    assert (out / "map.html").stat().st_size > 10_000
    assert "generated" in output.lower()


def test_demo_summary_matches_cells(demo_run):
    """summary.csv/json agree with the per-cell layer, recomputed here from the cells."""
    out, _ = demo_run
    cells = gpd.read_file(out / "coverage.gpkg", layer="cells")
    summary = pd.read_csv(out / "summary.csv").set_index("standard")
    doc = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert doc["generated"] is True and len(doc["standards"]) == 4
    for prefix, sid, weight in [
        ("clinic_walk", "clinic-walk", "population"),
        ("elderly_circle", "elderly-circle", "elderly"),
        ("station_radius", "station-radius", "population"),
    ]:
        covered = cells.loc[cells[f"{prefix}_covered"].astype(bool), weight].sum()
        assert summary.loc[sid, "covered"] == pytest.approx(covered, abs=0.5)
        assert summary.loc[sid, "total"] == pytest.approx(cells[weight].sum(), abs=0.5)


def test_standards_lists_catalogue():
    res = runner.invoke(app, ["standards"])
    assert res.exit_code == 0
    for sid in ("centre-radius", "station-radius", "clinic-walk", "elderly-circle"):
        assert sid in res.output


def _user_files(tmp_path):
    """The demo city written out as a user would hand it over: gpkg grid, CSV sites, saved network."""
    city = load_city("demo")
    grid = tmp_path / "cells.gpkg"
    city.cells[["cell_id", "population", "elderly", "geometry"]].to_crs(4326).to_file(grid, driver="GPKG")
    fac = city.facilities.to_crs(4326)
    sites = tmp_path / "sites.csv"
    pd.DataFrame(
        {"id": fac["id"], "name": fac["name"], "kind": fac["kind"], "lng": fac.geometry.x, "lat": fac.geometry.y}
    ).to_csv(sites, index=False)
    net = save_network(city.network, tmp_path / "net.npz")
    return city, grid, sites, net


def test_cover_with_user_files_reproduces_demo(tmp_path):
    city, grid, sites, net = _user_files(tmp_path)
    out = tmp_path / "results"
    res = runner.invoke(
        app,
        ["cover", "--grid", str(grid), "--facilities", str(sites), "--network", str(net),
         "--standard", "clinic-walk", "--out", str(out), "--no-map", "--crs", city.crs.to_string()],
    )
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out / "summary.csv").set_index("standard")
    want = evaluate(city).results["clinic-walk"].summary()
    assert list(got.index) == ["clinic-walk"]
    # the round trip through WGS84 files moves points by far less than a metre
    assert got.loc["clinic-walk", "covered"] == pytest.approx(want["covered"], rel=1e-3)


def test_cover_bad_input_is_one_clear_line(tmp_path):
    city, grid, sites, net = _user_files(tmp_path)
    bad = tmp_path / "bad.csv"
    text = sites.read_text().splitlines()
    head, first = text[0], text[1].split(",")
    first[2] = "hospitalx"  # unknown kind
    bad.write_text("\n".join([head, ",".join(first)] + text[2:]))
    res = runner.invoke(app, ["cover", "--grid", str(grid), "--facilities", str(bad), "--network", str(net), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "kind" in res.output and "hospitalx" in res.output and "health_station" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["cover", "--grid", str(grid), "--facilities", str(sites), "--network", str(net), "--standard", "nope"])
    assert res.exit_code == 2 and "unknown standard 'nope'" in res.output


def test_cover_needs_exactly_one_network(tmp_path):
    res = runner.invoke(app, ["cover", "--grid", "a.gpkg", "--facilities", "b.csv"])
    assert res.exit_code == 2 and "exactly one network source" in res.output


def test_bad_override_names_parameter(tmp_path):
    city, grid, sites, net = _user_files(tmp_path)
    res = runner.invoke(
        app,
        ["cover", "--grid", str(grid), "--facilities", str(sites), "--network", str(net),
         "--set", "clinic-walk.threshold_min=soon", "--no-map"],
    )
    assert res.exit_code == 2 and "threshold_min" in res.output and "soon" in res.output
