"""The speed-ups of ``lifecircle cover`` keep the results: threaded snapping and
evaluation, service areas computed once per city, Arrow-written GeoPackage
layers, the ``--service-areas`` default and ``--timings``."""

from __future__ import annotations

import dataclasses
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

import scenarios.service_area_layer as sa_module
from api.cli import app
from geo.service_area_geometry import service_areas
from geo.snap import snap, snap_in_threads
from layers.cities import load_city
from layers.network_io import save_network
from scenarios.evaluate import evaluate, evaluate_standard
from scenarios.outputs import write_outputs
from scenarios.standards import resolve_standards

runner = CliRunner()


@pytest.fixture(scope="module")
def demo():
    return load_city("demo")


def _fresh(city):
    """The same city without any cached snapping or memoised service areas."""
    return dataclasses.replace(city, network=dataclasses.replace(city.network))


def test_threaded_snapping_matches_snap(demo):
    """Chunks in threads give exactly what one call of geo.snap.snap gives, unsnappable points included."""
    rng = np.random.default_rng(5)
    x0, y0, x1, y1 = demo.network.bounds()
    # a margin beyond the 500 m snapping limit, so some points stay unsnapped
    x = rng.uniform(x0 - 900, x1 + 900, 5000)
    y = rng.uniform(y0 - 900, y1 + 900, 5000)
    want = snap(demo.network, x, y, max_dist=500.0)
    got = snap_in_threads(demo.network, x, y, max_dist=500.0, chunk=700)
    assert (~want.ok).sum() > 50
    for f in ("edge", "to_u", "to_v", "access", "x", "y"):
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f))


def test_threaded_evaluate_matches_each_standard_alone(demo):
    city = _fresh(demo)
    together = evaluate(city)
    for s in resolve_standards():
        alone = evaluate_standard(_fresh(demo), s)
        r = together.results[s.id]
        np.testing.assert_array_equal(r.dist_m, alone.dist_m)
        np.testing.assert_array_equal(r.facility, alone.facility)
        assert r.summary() == alone.summary()
    assert list(together.results) == [s.id for s in resolve_standards()]  # catalogue order kept


def test_service_areas_computed_once_per_city(demo, monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return service_areas(*args, **kwargs)

    monkeypatch.setattr(sa_module, "service_areas", counting)
    city = _fresh(demo)
    # the short walk only: the 30-minute areas take seconds and add nothing here
    standards = resolve_standards(["centre-radius", "station-radius", "elderly-circle"])
    walking = [s for s in standards if s.mode == "network"]
    first = sa_module.standard_service_areas(city, standards)
    again = sa_module.standard_service_areas(city, standards)
    assert len(calls) == len(walking)
    assert first["facility_id"].tolist() == again["facility_id"].tolist()
    assert bool(shapely.equals(first.geometry.values, again.geometry.values).all())
    # a walking area is the geo function's own polygon for that facility
    s = walking[0]
    pos = city.facilities_of(s.kinds)
    direct = service_areas(city.network, city.snapped_facilities.take(pos[:1]), s.threshold_m)
    row = first[(first["standard"] == s.id)].iloc[0]
    assert row["facility_id"] == city.facilities["id"].iloc[pos[0]]
    assert shapely.area(shapely.symmetric_difference(row.geometry, direct[0])) < 1e-6 * shapely.area(direct[0])
    # one standard alone comes from the memo too
    only = sa_module.standard_service_areas(city, [s])
    assert len(calls) == len(walking) and set(only["standard"]) == {s.id}
    # another City object computes its own
    sa_module.standard_service_areas(_fresh(demo), [s])
    assert len(calls) == len(walking) + 1


def test_service_areas_affordable(demo, monkeypatch):
    standards = resolve_standards()
    walking = sum(demo.facilities_of(s.kinds).size for s in standards if s.mode == "network")
    assert sa_module.service_areas_affordable(demo, standards)
    monkeypatch.setattr(sa_module, "AUTO_WALKING_AREAS_MAX", walking - 1)
    assert not sa_module.service_areas_affordable(demo, standards)
    # circles are always cheap
    assert sa_module.service_areas_affordable(demo, [s for s in standards if s.mode == "euclidean"])


def test_layers_written_through_arrow_read_back_as_written(demo, tmp_path):
    result = evaluate(_fresh(demo))
    write_outputs(result, tmp_path, service_areas=False)
    gpkg = tmp_path / "coverage.gpkg"
    assert {"cells", "facilities", "uncovered_clusters"} <= set(pyogrio.list_layers(gpkg)[:, 0])
    assert "service_areas" not in set(pyogrio.list_layers(gpkg)[:, 0])
    back = gpd.read_file(gpkg, layer="cells")
    want = result.cells_frame()
    assert back.crs.to_epsg() == 4326 and len(back) == len(want)
    for col in ("clinic_walk_facility", "centre_radius_facility"):
        np.testing.assert_array_equal(back[col].isna().to_numpy(), want[col].isna().to_numpy())
        ok = want[col].notna().to_numpy()
        assert back[col].to_numpy()[ok].tolist() == want[col].to_numpy()[ok].tolist()
    np.testing.assert_allclose(back["clinic_walk_dist_m"], want["clinic_walk_dist_m"], equal_nan=True)
    assert back["elderly_circle_covered"].astype(bool).tolist() == want["elderly_circle_covered"].tolist()
    assert back["clinic_walk_band"].tolist() == list(want["clinic_walk_band"])
    # cell positions lie well inside their cells after the WGS84 round trip
    assert bool(shapely.contains(want.geometry.values, back.to_crs(demo.crs).geometry.centroid.values).all())
    clusters = gpd.read_file(gpkg, layer="uncovered_clusters")
    frame = result.clusters_frame()
    assert clusters["cell_ids"].tolist() == [str(v) for v in frame["cell_ids"]]


def _user_files(tmp_path, city):
    grid = tmp_path / "cells.gpkg"
    city.cells[["cell_id", "population", "elderly", "geometry"]].to_crs(4326).to_file(grid, driver="GPKG")
    fac = city.facilities.to_crs(4326)
    sites = tmp_path / "sites.csv"
    pd.DataFrame({"id": fac["id"], "kind": fac["kind"], "lon": fac.geometry.x, "lat": fac.geometry.y}).to_csv(sites, index=False)
    return ["--grid", str(grid), "--facilities", str(sites), "--network", str(save_network(city.network, tmp_path / "n.npz"))]


def test_cover_service_area_switch_and_timings(demo, tmp_path, monkeypatch):
    files = _user_files(tmp_path, demo)
    common = ["cover", *files, "--no-map", "--standard", "elderly-circle", "--crs", demo.crs.to_string()]
    # an earlier command in the same process leaves no steps in the timings
    assert runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--no-map", "--no-service-areas"]).exit_code == 0
    # default on a small city: drawn
    res = runner.invoke(app, [*common, "--out", str(tmp_path / "a"), "--timings", str(tmp_path / "t.json")])
    assert res.exit_code == 0, res.output
    assert "service_areas" in set(pyogrio.list_layers(tmp_path / "a" / "coverage.gpkg")[:, 0])
    phases = json.loads((tmp_path / "t.json").read_text())
    for step in ("reading cells.gpkg", "loading the network", "snapping cells to the network", "writing the layer files", "waiting for the layer files", "total"):
        assert phases[step] >= 0.0
    assert phases["total"] == pytest.approx(sum(v for k, v in phases.items() if k != "total"), abs=0.01)
    assert not any(k.startswith("loading cached city") for k in phases)  # only this command's steps
    # explicitly off
    res = runner.invoke(app, [*common, "--out", str(tmp_path / "b"), "--no-service-areas"])
    assert res.exit_code == 0, res.output
    assert "service_areas" not in set(pyogrio.list_layers(tmp_path / "b" / "coverage.gpkg")[:, 0])
    # default on a "big" city: skipped with a note; --service-areas forces them
    monkeypatch.setattr(sa_module, "AUTO_WALKING_AREAS_MAX", 0)
    res = runner.invoke(app, [*common, "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert "--service-areas" in res.output
    assert "service_areas" not in set(pyogrio.list_layers(tmp_path / "c" / "coverage.gpkg")[:, 0])
    res = runner.invoke(app, [*common, "--out", str(tmp_path / "d"), "--service-areas"])
    assert res.exit_code == 0, res.output
    areas = gpd.read_file(tmp_path / "d" / "coverage.gpkg", layer="service_areas")
    assert set(areas["standard"]) == {"elderly-circle"}
    assert len(areas) == demo.facilities_of(resolve_standards(["elderly-circle"])[0].kinds).size
