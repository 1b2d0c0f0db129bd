"""Comparing two runs on a hand-built city; every expected number worked out by hand.

One straight street A(0,0) - B(400,0) - C(800,0) - D(1200,0). Four 100 m cells
centred 50 m north of it at x = 100, 500, 900, 1150 (access legs of 50 m),
with 100, 200, 300, 400 residents.

Clinic walk, threshold 500 m (search limit 1000 m):
  before: H1 at (0,0)                    -> 150, 550, 950, beyond    covered: cell 1
  after:  H1 moved to (600,0), H2 opened at (1000,0)
          H1: 550, 150, 350, 600; H2: 950, 550, 150, 200
          nearest: 550 (H1), 150 (H1), 150 (H2), 200 (H2)           covered: cells 2, 3, 4
  newly covered: c2, c3, c4 (900 residents); newly uncovered: c1 (100)
  load of H1: 100 + 200 + 300 = 600 -> 100 + 200 = 300; H2: 0 -> 300 + 400 = 700.
Station radius (straight line, 500 m): S1 at (500,300) is unchanged:
  471.7, 250, 471.7, 696.4 m -> cells 1-3 covered in both runs, load 1,000 both.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from geo.network import WalkNetwork
from layers.city import City
from scenarios.compare import CHANGES, ComparisonError, compare
from scenarios.evaluate import evaluate
from scenarios.model import Scenario
from scenarios.run import run_scenario
from scenarios.standards import get_standard

XS = [100.0, 500.0, 900.0, 1150.0]
POP = [100.0, 200.0, 300.0, 400.0]


@pytest.fixture(scope="module")
def city() -> City:
    net = WalkNetwork.from_edges(x=[0, 400, 800, 1200], y=[0, 0, 0, 0], u=[0, 1, 2], v=[1, 2, 3], crs=32650)
    cells = gpd.GeoDataFrame(
        {"cell_id": [f"c{i + 1}" for i in range(4)], "population": POP, "elderly": [p / 10 for p in POP]},
        geometry=[box(x - 50, 0, x + 50, 100) for x in XS],
        crs=32650,
    )
    fac = gpd.GeoDataFrame(
        {
            "id": ["H1", "S1"],
            "name": ["Clinic one", "Station one"],
            "kind": ["health_station", "service_station"],
            "beds": [np.nan, np.nan],
            "doctors": [3.0, np.nan],
            "floor_area_m2": [np.nan, np.nan],
        },
        geometry=[Point(0, 0), Point(500, 300)],
        crs=32650,
    )
    return City(name="hand", crs=net.crs, cells=cells, facilities=fac, network=net)


def _scenario(edits) -> Scenario:
    return Scenario(
        name="plan",
        city="hand",
        standards=["clinic-walk", "station-radius"],
        overrides={"clinic-walk": {"threshold_m": 500.0}},
        edits=edits,
    )


@pytest.fixture(scope="module")
def comparison(city):
    base = run_scenario(_scenario([]), city)
    plan = run_scenario(
        _scenario(
            [
                {"op": "move", "id": "H1", "x": 600.0, "y": 0.0},
                {"op": "add", "id": "H2", "kind": "health_station", "x": 1000.0, "y": 0.0, "name": "Clinic two"},
            ]
        ),
        city,
    )
    return compare(base, plan, name_a="base", name_b="plan")


def test_run_distances_by_hand(comparison):
    after = comparison.result_b.results["clinic-walk"]
    np.testing.assert_allclose(after.dist_m, [550, 150, 150, 200], atol=1e-9)
    before = comparison.result_a.results["clinic-walk"]
    np.testing.assert_allclose(before.dist_m, [150, 550, 950, np.inf], atol=1e-9)


def test_table(comparison):
    t = comparison.table().set_index("standard")
    c = t.loc["clinic-walk"]
    assert (c["covered_before"], c["covered_after"], c["covered_change"]) == (100.0, 900.0, 800.0)
    assert (c["share_before"], c["share_after"], c["share_change"]) == (0.1, 0.9, 0.8)
    assert (c["newly_covered_cells"], c["newly_covered_population"]) == (3, 900.0)
    assert (c["newly_uncovered_cells"], c["newly_uncovered_population"]) == (1, 100.0)
    assert (c["facilities_before"], c["facilities_after"]) == (1, 2)
    s = t.loc["station-radius"]
    assert (s["covered_before"], s["covered_after"], s["newly_covered_cells"], s["newly_uncovered_cells"]) == (
        600.0, 600.0, 0, 0,
    )


def test_load_changes(comparison):
    loads = comparison.load_changes("clinic-walk")
    assert loads["id"].tolist() == ["H2", "H1"]  # largest absolute change first
    assert loads["status"].tolist() == ["opened", "moved"]
    assert loads["load_before"].tolist() == [0.0, 600.0]
    assert loads["load_after"].tolist() == [700.0, 300.0]
    assert loads["load_change"].tolist() == [700.0, -300.0]
    station = comparison.load_changes("station-radius")
    assert station.to_dict("records")[0] | {"name": None} == {
        "id": "S1", "name": None, "kind": "service_station", "status": "same",
        "load_before": 1000.0, "load_after": 1000.0, "load_change": 0.0,
    }


def test_closed_facility(city):
    base = evaluate(city, [get_standard("clinic-walk", threshold_m=500.0)])
    closed = run_scenario(
        Scenario(name="x", city="hand", standards=["clinic-walk"], overrides={"clinic-walk": {"threshold_m": 500.0}},
                 edits=[{"op": "remove", "id": "H1"}]),
        city,
    )
    comp = compare(base, closed)
    loads = comp.load_changes("clinic-walk")
    assert loads.to_dict("records")[0]["status"] == "closed"
    assert loads["load_after"].tolist() == [0.0]
    assert comp.changes["clinic-walk"].newly_uncovered.tolist() == [0]


def test_change_layer(comparison):
    layer = comparison.change_layer("clinic-walk")
    assert layer["cell_id"].tolist() == ["c1", "c2", "c3", "c4"]
    assert layer["change"].tolist() == ["newly_uncovered", "newly_covered", "newly_covered", "newly_covered"]
    assert set(layer["change"]) <= set(CHANGES)
    assert layer.crs == comparison.result_b.city.crs
    assert np.isnan(layer["dist_before_m"].iloc[3]) and layer["dist_after_m"].iloc[3] == 200.0
    assert comparison.change_layer("station-radius")["change"].eq("unchanged").all()
    assert len(comparison.change_layer("clinic-walk", changed_only=True)) == 4
    assert comparison.cells("clinic-walk", "newly_uncovered")["cell_id"].tolist() == ["c1"]


def test_json(comparison):
    doc = comparison.to_json()
    text = json.dumps(doc, allow_nan=False)  # strict JSON: no NaN or inf
    back = json.loads(text)
    clinic = next(s for s in back["standards"] if s["standard"] == "clinic-walk")
    assert clinic["before"]["covered"] == 100.0 and clinic["after"]["covered"] == 900.0
    assert clinic["newly_covered"] == {"cells": 3, "population": 900.0, "cell_ids": ["c2", "c3", "c4"]}
    assert clinic["newly_uncovered"]["cell_ids"] == ["c1"]
    assert [r["id"] for r in clinic["load_changes"]] == ["H2", "H1"]
    assert (back["before"], back["after"], back["city"]) == ("base", "plan", "hand")


def test_refuses_incomparable(city, comparison):
    other = City(
        name="hand2", crs=city.crs, cells=city.cells.iloc[:3].copy(), facilities=city.facilities, network=city.network
    )
    with pytest.raises(ComparisonError, match="not on the same cells"):
        compare(comparison.result_a, evaluate(other, [get_standard("clinic-walk")]))
    with pytest.raises(ComparisonError, match="no standard in common"):
        compare(evaluate(city, [get_standard("elderly-circle")]), comparison.result_b)
    with pytest.raises(ComparisonError, match="not in both runs"):
        comparison.change_layer("elderly-circle")
    with pytest.raises(ComparisonError, match="ScenarioRun or a CoverageResult"):
        compare("base", comparison.result_b)
