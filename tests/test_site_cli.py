"""``lifecircle site`` end to end on the demo city: files open, numbers agree, errors are clear."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from layers.cities import load_city
from scenarios.evaluate import evaluate_standard
from scenarios.standards import get_standard

pytestmark = pytest.mark.slow

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["site", *args])


def test_site_writes_files_that_open(tmp_path):
    out = tmp_path / "run"
    res = invoke("--city", "demo", "--standard", "clinic-walk", "--problem", "mclp", "--p", "2",
                 "--set", "threshold_min=10", "--spacing", "300", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "Proposed sites" in res.output and "with the 2 new sites" in res.output
    sites = gpd.read_file(out / "sites.gpkg", layer="sites")
    cells = gpd.read_file(out / "sites.gpkg", layer="newly_covered_cells")
    areas = gpd.read_file(out / "sites.gpkg", layer="service_areas")
    assert len(sites) == 2 and len(areas) == 2 and len(cells) > 0
    assert sites.crs.to_epsg() == 4326
    table = pd.read_csv(out / "sites.csv")
    np.testing.assert_allclose(table["lon"], sites.geometry.x, atol=1e-9)
    doc = json.loads((out / "siting.json").read_text())
    summary = doc["summary"]
    # the printed and written 'after' agrees with the city re-evaluated with the two sites added
    city = load_city("demo")
    std = get_standard("clinic-walk", threshold_min=10)
    before = evaluate_standard(city, std)
    assert summary["covered_before"] == pytest.approx(float(before.weight[before.covered].sum()))
    assert summary["covered_after"] - summary["covered_before"] == pytest.approx(cells["weight"].sum())
    assert f"{summary['covered_after']:,.0f}" in res.output
    html = (out / "sites.html").read_text(encoding="utf-8")
    assert "Proposed sites (2)" in html and "Newly covered cells" in html


def test_site_with_candidate_file_and_no_map(tmp_path):
    city = load_city("demo")
    x, y = city.cell_xy
    pick = [10, 500, 900, 1500]
    plots = gpd.GeoDataFrame({"id": ["A", "B", "C", "D"]}, geometry=shapely.points(x[pick], y[pick]), crs=city.crs)
    path = tmp_path / "plots.gpkg"
    plots.to_crs("EPSG:4326").to_file(path)
    out = tmp_path / "run"
    res = invoke("--standard", "clinic-walk", "--p", "2", "--candidates", str(path), "--require", "C",
                 "--exclude", "A", "--set", "threshold_min=10", "--no-map", "--out", str(out))
    assert res.exit_code == 0, res.output
    sites = gpd.read_file(out / "sites.gpkg", layer="sites")
    assert sites["candidate_id"].iloc[0] == "C" and "A" not in set(sites["candidate_id"])
    assert not (out / "sites.html").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--standard", "clinic-run", "--p", "1"], "unknown standard 'clinic-run'"),
        (["--standard", "clinic-walk", "--p", "1", "--remove", "NOPE"], "unknown facility id 'NOPE'"),
        (["--standard", "clinic-walk", "--problem", "nearest", "--p", "1"], "unknown problem 'nearest'"),
        (["--standard", "clinic-walk", "--p", "1", "--set", "threshold_min=-3"], "must be positive"),
    ],
)
def test_site_errors_are_one_line(tmp_path, args, message):
    res = invoke(*args, "--out", str(tmp_path / "x"))
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())
    assert "Traceback" not in res.output
