"""Ratio rules and accessibility standards from the catalogue, run on the demo city."""

from __future__ import annotations

import math

import geopandas as gpd
import pytest
from typer.testing import CliRunner

from api.cli import app
from geo.unit_ratios import CapacityError
from layers.cities import load_city
from scenarios.ratio_standards import (
    access_standards,
    evaluate_access,
    get_access_standard,
    get_ratio_rule,
    ratio_rules,
    run_ratios,
)
from scenarios.standards import StandardError


@pytest.fixture(scope="module")
def city():
    return load_city("demo")


def test_catalogue_has_the_documents_rules():
    rules = ratio_rules()
    assert rules["elderly-beds-zhuhai"].min_value == 30 and rules["elderly-beds-nanjing"].min_value == 40
    assert rules["health-centre-per-population"].max_value == 100_000
    assert {"beds-access", "doctors-access"} <= set(access_standards())
    assert all(r.source for r in rules.values())


def test_beds_rule_per_subdistrict_by_hand(city):
    """Supply per unit from a spatial join done here; shortfall = ceil(30 x elderly / 1000 - beds)."""
    report = run_ratios(city, ["elderly-beds-zhuhai"], [])
    table = report.rules["elderly-beds-zhuhai"].table.set_index("unit_id")
    units = city.units["subdistrict"]
    fac = city.facilities[city.facilities["kind"] == "elderly_care"]
    joined = gpd.sjoin(fac, units[["unit_id", "geometry"]], predicate="within")
    beds = joined.groupby("unit_id")["beds"].sum()
    elderly = city.cells.groupby("subdistrict")["elderly"].sum()
    for uid in units["unit_id"]:
        supply = float(beds.get(uid, 0.0))
        need = 30 * float(elderly.get(uid, 0.0)) / 1000
        assert table.loc[uid, "supply"] == pytest.approx(supply)
        assert table.loc[uid, "status"] == ("pass" if supply >= need else "fail")
        assert table.loc[uid, "shortfall"] == (0 if supply >= need else math.ceil(need - supply))


def test_override_threshold_equals_nanjing_rule(city):
    forty = run_ratios(city, ["elderly-beds-zhuhai"], [], {"elderly-beds-zhuhai": {"min_value": 40}})
    nanjing = run_ratios(city, ["elderly-beds-nanjing"], [])
    a = forty.rules["elderly-beds-zhuhai"].table
    b = nanjing.rules["elderly-beds-nanjing"].table
    assert list(a["shortfall"]) == list(b["shortfall"]) and list(a["status"]) == list(b["status"])
    with pytest.raises(StandardError, match="min_value"):
        get_ratio_rule("elderly-beds-zhuhai", min_value="lots")
    with pytest.raises(StandardError, match="unknown ratio rule"):
        get_ratio_rule("beds")


def test_access_classes_separate_underserved_from_uncovered(city):
    report = run_ratios(city, [], ["beds-access"])
    a = report.access["beds-access"]
    s = a.summary()
    elderly = city.cells["elderly"].to_numpy()
    assert s["uncovered_population"] + s["under-served_population"] + s["served_population"] == pytest.approx(elderly.sum())
    # a cell reached by no facility within the catchment is uncovered, never under-served
    reach = a.fca.reach
    labels = a.classes.label
    assert set(labels[reach == 0]) <= {"uncovered"}
    assert (labels[(reach > 0) & (a.fca.accessibility < 30 * (1 - 1e-12))] == "under-served").all()
    # a shorter catchment reaches fewer people
    short = evaluate_access(city, get_access_standard("beds-access", catchment_min=10))
    assert short.summary()["uncovered_population"] > s["uncovered_population"]


def test_bad_capacity_names_facility_and_field(city):
    bad = load_city("demo")
    bad.facilities = city.facilities.copy()
    first = bad.facilities.index[bad.facilities["kind"] == "elderly_care"][0]
    bad.facilities["beds"] = bad.facilities["beds"].astype(object)
    bad.facilities.loc[first, "beds"] = "many"
    fid = bad.facilities.loc[first, "id"]
    with pytest.raises(CapacityError, match=rf"{fid}.*beds|beds.*{fid}"):
        evaluate_access(bad, get_access_standard("beds-access"))


def test_cli_ratios(tmp_path):
    res = CliRunner().invoke(app, ["ratios", "--rule", "station-per-community", "--access", "doctors-access", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "ratios.csv").exists() and (tmp_path / "access.csv").exists()
    res = CliRunner().invoke(app, ["ratios", "--rule", "nope"])
    assert res.exit_code == 2 and "unknown ratio rule 'nope'" in res.output
