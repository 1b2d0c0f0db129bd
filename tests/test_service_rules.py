"""Catchment rules and grid rules (seeds-full: Nanjing 2011 item 12, Guangzhou's one base grid) against hand counts.

The city is one straight street (x = 0..1000 m, y = 0) with ten 100 m cells north of it
(centroids at x = 50, 150, ..., 950; y = 50) and facilities 10-20 m off the street, so
every nearest facility and every straight-line distance below is worked out by hand.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from geo.network import WalkNetwork
from layers.cities import load_city
from layers.network_io import save_network
from scenarios.catalogue import use_catalogue
from scenarios.service_rules import attach_grid, run_catchments, run_grid_rules
from tests.own_city import ORIGIN, UTM50

runner = CliRunner()
OX, OY = ORIGIN
POP = [100, 200, 50, 100, 300, 100, 100, 200, 100, 50]
FACILITIES = [  # id, kind, x, y (metres from the street's west end)
    ("C1", "rural_centre", 500, 10), ("R1", "rural_station", 120, 10), ("R2", "rural_station", 760, 10),
    ("R3", "rural_station", 980, 10), ("SC", "service_centre", 500, 20), ("S1", "service_station", 120, 20),
]


def invoke(*args):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def write_inputs(root):
    root.mkdir(parents=True, exist_ok=True)
    x = OX + np.arange(11) * 100.0
    save_network(WalkNetwork.from_edges(x, np.full(11, OY), np.arange(10), np.arange(1, 11), crs=UTM50),
                 root / "street.npz", attribution="test street")
    cells = [shapely.box(OX + 100 * i, OY, OX + 100 * (i + 1), OY + 100) for i in range(10)]
    gpd.GeoDataFrame({"cell_id": [f"c{i}" for i in range(10)], "population": POP, "elderly": [p / 10 for p in POP]},
                     geometry=cells, crs=UTM50).to_file(root / "cells.gpkg")
    gpd.GeoDataFrame({"id": [f[0] for f in FACILITIES], "name": [f[0] for f in FACILITIES],
                      "kind": [f[1] for f in FACILITIES]},
                     geometry=[shapely.Point(OX + f[2], OY + f[3]) for f in FACILITIES], crs=UTM50).to_file(root / "fac.gpkg")
    grid = [shapely.box(OX, OY - 50, OX + 400, OY + 150), shapely.box(OX + 400, OY - 50, OX + 1000, OY + 150),
            shapely.box(OX + 1000, OY - 50, OX + 1100, OY + 150)]
    gpd.GeoDataFrame({"code": ["G1", "G2", "G3"], "name": ["西格", "东格", "空格"]}, geometry=grid,
                     crs=UTM50).to_file(root / "grid.gpkg")
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = write_inputs(tmp_path_factory.mktemp("rules") / "in")
    out = root.parent / "city"
    invoke("city", "build", "--grid", root / "cells.gpkg", "--facilities", root / "fac.gpkg", "--network",
           root / "street.npz", "--management-grid", root / "grid.gpkg", "--catalogue", "seeds-full", "--out", out)
    return out


def test_catchments_by_hand(folder):
    city = load_city(folder)
    with use_catalogue("seeds-full"):
        reports = {r.rule.id: r for r in run_catchments(city)}
    # nearest rural station along the street: cells at x=50..350 -> R1 (120); 450..850 -> R2 (760; 450 is
    # 330 from R1, 310 from R2; 850 is 90 from R2, 130 from R3); 950 -> R3 (980)
    st = reports["rural-station-catchment"].facilities.set_index("facility")
    assert st.loc["R1", "population"] == 100 + 200 + 50 + 100 and st.loc["R1", "status"] == "pass"
    assert st.loc["R2", "population"] == 300 + 100 + 100 + 200 + 100 and st.loc["R2", "status"] == "pass"
    assert st.loc["R3", "population"] == 50 and st.loc["R3", "status"] == "below"  # 300-1,000
    centre = reports["rural-centre-catchment"].facilities.set_index("facility")
    assert centre.loc["C1", "population"] == sum(POP) and centre.loc["C1", "status"] == "pass"  # 1,000-5,000
    assert reports["rural-station-catchment"].unassigned_population == 0
    # with a 200 m search, nearest centres farther than that count for no facility ...
    with use_catalogue("seeds-full"):
        near = run_catchments(city, ["rural-centre-catchment"], search_m=200.0)[0]
    # ... only cells whose walk to C1 (x=500) is within 200 m count: x=450, 550 (50 along + legs of 50 and 10 m);
    # x=350 and 650 are 150 along + 60 = 210 m away
    assert near.facilities.set_index("facility").loc["C1", "population"] == 300 + 100
    assert near.unassigned_population == sum(POP) - 400


def test_grid_rule_by_hand(folder):
    city = load_city(folder)
    assert set(city.units) == {"grid"} and list(city.cells["grid"]) == ["G1"] * 4 + ["G2"] * 6
    with use_catalogue("seeds-full"):
        rep = run_grid_rules(city)
    g = rep.grid.set_index("grid_id")
    # station-radius (500 m straight line) from S1 at (120, 20): the cell at x=550 is sqrt(430^2 + 30^2) = 431 m
    # away, the one at x=650 531 m: cells 6-9 (100 + 200 + 100 + 50 residents) are out of reach
    assert g.loc["G1", "station_radius_uncovered"] == 0 and g.loc["G2", "station_radius_uncovered"] == 450
    # centre-radius (1,250 m) from SC at (500, 20) reaches every cell
    assert (g["centre_radius_uncovered"] == 0).all()
    assert g.loc["G1", "population"] == 450 and g.loc["G2", "population"] == 850 and g.loc["G3", "population"] == 0
    assert list(g["grid_full_coverage_covered"]) == [True, False, True] and list(g["has_residents"]) == [True, True, False]
    s = rep.summary().set_index("rule").loc["grid-full-coverage"]
    assert s["with_residents"] == 2 and s["covered"] == 1 and s["share_covered"] == 0.5 and not s["pass"]


def test_grid_layer_for_one_run_and_the_cli(folder, tmp_path):
    root = folder.parent / "in"
    out = invoke("service-rules", "--city", folder, "--out", tmp_path / "r")
    assert "rural-station-catchment: 2 of 3 facilities" in out and "1 of 2 grid cells" in out
    rows = pd.read_csv(tmp_path / "r" / "catchments.csv").set_index("facility")
    assert rows.loc["R3", "status"] == "below" and rows.loc["R2", "population"] == 800
    grid = gpd.read_file(tmp_path / "r" / "service_rules.gpkg", layer="grid")
    assert list(grid["grid_full_coverage_covered"]) == [True, False, True]
    rules = pd.read_csv(tmp_path / "r" / "rules.csv")
    assert set(rules["rule"]) == {"rural-centre-catchment", "rural-station-catchment", "grid-full-coverage"}
    # the default catalogue has neither kind of rule, but aggregates any standard to a grid given for the run
    out = invoke("service-rules", "--city", folder, "--catalogue", "seeds", "--grid-layer", root / "grid.gpkg",
                 "--standard", "station-radius", "--out", tmp_path / "g")
    g = pd.read_csv(tmp_path / "g" / "grid.csv").set_index("grid_id")
    assert g.loc["G2", "station_radius_uncovered"] == 450 and g.loc["G2", "station_radius_share"] == round(400 / 850, 4)
    city = attach_grid(load_city(folder), root / "grid.gpkg")
    assert list(city.cells["grid"]) == ["G1"] * 4 + ["G2"] * 6


def test_errors_name_what_is_missing(folder, tmp_path):
    res = runner.invoke(app, ["service-rules", "--city", str(folder), "--catalogue", "seeds", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "no catchment or grid rules" in res.output
    res = runner.invoke(app, ["service-rules", "--city", str(folder), "--rule", "nope", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--rule nope" in res.output
