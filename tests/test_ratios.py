"""Ratio rules per unit on hand-made units, cells and facilities."""

from __future__ import annotations

import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from geo.unit_ratios import (
    CapacityError,
    DemandError,
    RatioRule,
    RuleError,
    assign_to_units,
    evaluate_ratio_rule,
    evaluate_ratio_rules,
)
from layers.kinds import KINDS

# Four 1 km square units side by side: U1 [0,1000], U2 [1000,2000], U3, U4.
# Each holds two 500 x 1000 cells. Figures per unit:
#   unit  population  elderly  elderly_care beds   health_centre  service_station
#   U1    250,000     2,800    50                  2              1
#   U2    100,000     1,000    20 + 15             4              0
#   U3    100,001     2,800    (none)              0              2
#   U4        500         0    10                  0              0
# plus one elderly_care home (99 beds) outside every unit.
UNIT_POP = [(150_000, 100_000), (60_000, 40_000), (100_000, 1), (300, 200)]
UNIT_ELD = [(1_500, 1_300), (400, 600), (2_000, 800), (0, 0)]


@pytest.fixture()
def units():
    return gpd.GeoDataFrame(
        {"unit_id": ["U1", "U2", "U3", "U4"], "name": ["One", "Two", "Three", "Four"]},
        geometry=[box(i * 1000, 0, (i + 1) * 1000, 1000) for i in range(4)],
        crs=3857,
    )


@pytest.fixture()
def cells():
    geoms, pop, eld, unit = [], [], [], []
    for i in range(4):
        for half in range(2):
            x0 = i * 1000 + half * 500
            geoms.append(box(x0, 0, x0 + 500, 1000))
            pop.append(float(UNIT_POP[i][half]))
            eld.append(float(UNIT_ELD[i][half]))
            unit.append(f"U{i + 1}")
    return gpd.GeoDataFrame(
        {"cell_id": [f"c{j}" for j in range(8)], "population": pop, "elderly": eld, "subdistrict": unit},
        geometry=geoms,
        crs=3857,
    )


def _fac(rows):
    return gpd.GeoDataFrame(
        {
            "id": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "beds": [r[2] for r in rows],
            "doctors": [r[3] for r in rows],
        },
        geometry=[Point(r[4], r[5]) for r in rows],
        crs=3857,
    )


@pytest.fixture()
def facilities():
    return _fac(
        [
            ("e1", "elderly_care", 50.0, np.nan, 200, 500),
            ("e2", "elderly_care", 20.0, np.nan, 1200, 500),
            ("e3", "elderly_care", 15.0, np.nan, 1800, 500),
            ("e4", "elderly_care", 10.0, np.nan, 3500, 500),
            ("e5", "elderly_care", 99.0, np.nan, 9000, 500),  # outside every unit
            ("h1", "health_centre", np.nan, 30.0, 100, 100),
            ("h2", "health_centre", np.nan, 12.0, 900, 900),
            ("h3", "health_centre", np.nan, 2.0, 1100, 100),
            ("h4", "health_centre", np.nan, 2.0, 1200, 100),
            ("h5", "health_centre", np.nan, 2.0, 1300, 100),
            ("h6", "health_centre", np.nan, 2.0, 1400, 100),
            ("s1", "service_station", np.nan, np.nan, 500, 700),
            ("s2", "service_station", np.nan, np.nan, 2100, 700),
            ("s3", "service_station", np.nan, np.nan, 2900, 700),
        ]
    )


BEDS_30 = RatioRule(
    id="beds-30", kind="per_demand", supply="beds", kinds=("elderly_care",),
    demand="elderly", per=1000, min_value=30,
)


def test_beds_per_thousand_elderly(units, facilities, cells):
    res = evaluate_ratio_rule(BEDS_30, units, facilities, cells)
    t = res.table.set_index("unit_id")
    # U1: 30 * 2800 / 1000 = 84 beds needed, 50 there -> 34 short
    # U2: 30 * 1000 / 1000 = 30 needed, 35 there -> pass
    # U3: 84 needed, none there -> 84 short, listed without facility
    # U4: no elderly -> "no demand", not a division by zero
    assert t["required"].tolist() == pytest.approx([84, 30, 84, 0])
    assert t["supply"].tolist() == [50, 35, 0, 10]
    assert t["status"].tolist() == ["fail", "pass", "fail", "no demand"]
    assert t["shortfall"].tolist() == [34, 0, 84, 0]
    assert t.loc["U3", "message"] == "needs 84 more beds (no elderly_care facility)"
    assert t.loc["U4", "message"].startswith("no demand")
    assert t.loc["U1", "ratio"] == pytest.approx(50 / 2800 * 1000)
    assert np.isnan(t.loc["U4", "ratio"])
    tot = res.totals
    assert tot["demand"] == 6600 and tot["supply"] == 95
    assert tot["shortfall"] == 118
    assert tot["ratio"] == pytest.approx(95 / 6600 * 1000)
    assert tot["units_without_facility"] == ["U3"]
    assert (tot["units_pass"], tot["units_fail"], tot["units_no_demand"]) == (1, 2, 1)
    assert tot["facilities_outside"] == 1
    assert res.failing["unit_id"].tolist() == ["U1", "U3"]


def test_shortfall_rounds_up_and_exact_is_not_short(units, facilities, cells):
    # 40 beds per 1000 elderly (Nanjing): U1 needs 112 -> 62 short; U2 needs 40 -> 5 short
    rule = RatioRule(id="beds-40", kind="per_demand", supply="beds", kinds=("elderly_care",),
                     demand="elderly", per=1000, min_value=40)
    t = evaluate_ratio_rule(rule, units, facilities, cells).table.set_index("unit_id")
    assert t.loc["U1", "shortfall"] == 62 and t.loc["U2", "shortfall"] == 5
    # 35 beds per 1000 elderly in U2 is exactly met (35.000000000000004 in floats)
    rule = RatioRule(id="beds-35", kind="per_demand", supply="beds", kinds=("elderly_care",),
                     demand="elderly", per=1000, min_value=35)
    t = evaluate_ratio_rule(rule, units, facilities, cells).table.set_index("unit_id")
    assert t.loc["U2", "status"] == "pass"
    # a fractional need rounds up: 33.3 per 1000 of 2800 = 93.24 -> 44 more beds in U1
    rule = RatioRule(id="beds-33", kind="per_demand", supply="beds", kinds=("elderly_care",),
                     demand="elderly", per=1000, min_value=33.3)
    t = evaluate_ratio_rule(rule, units, facilities, cells).table.set_index("unit_id")
    assert t.loc["U1", "shortfall"] == 44


def test_doctors_range_reports_over(units, facilities, cells):
    rule = RatioRule(id="gp", kind="per_demand", supply="doctors", kinds=("health_centre",),
                     demand="population", per=10_000, min_value=2, max_value=3)
    t = evaluate_ratio_rule(rule, units, facilities, cells).table.set_index("unit_id")
    # U1: 250,000 residents need 50-75 doctors; 42 -> 8 short
    # U2: 100,000 need 20-30; 8 -> 12 short
    # U4: 500 need 0.1 -> 1 short, no facility
    assert t["supply"].tolist() == [42, 8, 0, 0]
    assert t["shortfall"].tolist() == [8, 12, 21, 1]
    assert t.loc["U1", "required_max"] == pytest.approx(75)
    assert t.loc["U4", "message"] == "needs 1 more doctor (no health_centre facility)"
    assert not t["over"].any()
    rich = RatioRule(id="gp-low", kind="per_demand", supply="doctors", kinds=("health_centre",),
                     demand="population", per=10_000, min_value=0.5, max_value=1)
    t = evaluate_ratio_rule(rich, units, facilities, cells).table.set_index("unit_id")
    # U1 has 42 > 25 doctors (the upper end): over, but still a pass
    assert t.loc["U1", "over"] and t.loc["U1", "status"] == "pass"


def test_count_per_demand_range(units, facilities, cells):
    rule = RatioRule(id="hc", kind="count_per_demand_range", supply="count", kinds=("health_centre",),
                     demand="population", min_value=30_000, max_value=100_000)
    t = evaluate_ratio_rule(rule, units, facilities, cells).table.set_index("unit_id")
    # need ceil(pop / 100,000): U1 250,000 -> 3; U2 100,000 -> 1; U3 100,001 -> 2; U4 500 -> 1
    assert t["required"].tolist() == [3, 1, 2, 1]
    assert t["facilities"].tolist() == [2, 4, 0, 0]
    assert t["shortfall"].tolist() == [1, 0, 2, 1]
    assert t.loc["U1", "message"] == "needs 1 more facility"
    assert t.loc["U3", "message"] == "needs 2 more facilities (no health_centre facility)"
    # U2: at most floor(100,000 / 30,000) = 3 centres; 4 is over-provision
    assert t.loc["U2", "required_max"] == 3 and t.loc["U2", "over"]
    assert t.loc["U2", "ratio"] == pytest.approx(25_000)  # residents per centre


def test_count_per_unit_by_unit_column_and_by_location(units, facilities, cells):
    rule = RatioRule(id="station", kind="count_per_unit", supply="count", kinds=("service_station",),
                     demand="population", level="community")
    # level 'community': cells have no such column, so cells go by location
    by_loc = evaluate_ratio_rule(rule, units, facilities, cells).table
    by_col = evaluate_ratio_rule(rule, units, facilities, cells, unit_column="subdistrict").table
    assert by_loc.equals(by_col)
    assert by_loc["status"].tolist() == ["pass", "fail", "pass", "fail"]
    assert by_loc["facilities"].tolist() == [1, 0, 2, 0]
    assert by_loc["shortfall"].tolist() == [0, 1, 0, 1]


def test_cells_outside_units_and_unknown_unit_ids(units, facilities, cells):
    cells = cells.copy()
    cells.loc[7, "subdistrict"] = "nowhere"
    res = evaluate_ratio_rule(BEDS_30, units, facilities, cells, unit_column="subdistrict")
    # the moved cell had no elderly: totals unchanged, population moved out of U4
    assert res.totals["demand_outside"] == 0
    rule = RatioRule(id="st", kind="count_per_unit", supply="count", kinds=("service_station",))
    res = evaluate_ratio_rule(rule, units, facilities, cells, unit_column="subdistrict")
    assert res.totals["demand_outside"] == 200
    assert res.table.set_index("unit_id").loc["U4", "demand"] == 300


def test_assign_points_boundary_goes_to_first_unit(units):
    pts = np.array([Point(1000, 500), Point(1500, 500), Point(-5, 0)])
    assert assign_to_units(pts, units).tolist() == [0, 1, -1]


@pytest.mark.parametrize(
    "bad, match",
    [
        ("ten", r"facility 'e2': field 'beds' is not a finite number \('ten'\)"),
        (-3.0, r"facility 'e2': field 'beds' is negative"),
        (None, r"facility 'e2': field 'beds' is missing"),
    ],
)
def test_bad_capacity_names_facility_and_field(units, facilities, cells, bad, match):
    fac = facilities.copy()
    fac["beds"] = fac["beds"].astype(object)
    fac.loc[1, "beds"] = bad
    with pytest.raises(CapacityError, match=match):
        evaluate_ratio_rule(BEDS_30, units, fac, cells)


def test_bad_capacity_without_ids_names_the_row(units, facilities, cells):
    fac = facilities.drop(columns="id")
    fac.loc[3, "beds"] = -1.0
    with pytest.raises(CapacityError, match="facility 'row 3': field 'beds' is negative"):
        evaluate_ratio_rule(BEDS_30, units, fac, cells)


def test_capacity_of_other_kinds_is_not_needed(units, facilities, cells):
    # health centres have NaN beds: irrelevant to an elderly-care beds rule
    evaluate_ratio_rule(BEDS_30, units, facilities, cells)
    # text that reads as a number is accepted
    fac = facilities.copy()
    fac["beds"] = fac["beds"].astype(object)
    fac.loc[0, "beds"] = "50"
    assert evaluate_ratio_rule(BEDS_30, units, fac, cells).totals["supply"] == 95


def test_bad_demand_names_cell(units, facilities, cells):
    cells = cells.copy()
    cells.loc[2, "elderly"] = -1.0
    with pytest.raises(DemandError, match="cell 'c2': field 'elderly' is negative"):
        evaluate_ratio_rule(BEDS_30, units, facilities, cells)


def test_rule_validation():
    with pytest.raises(RuleError, match="kind must be one of"):
        RatioRule(id="x", kind="per_person", supply="beds", kinds=("elderly_care",))
    with pytest.raises(RuleError, match="supply must be 'count'"):
        RatioRule(id="x", kind="count_per_unit", supply="beds", kinds=("elderly_care",))
    with pytest.raises(RuleError, match="needs max_value"):
        RatioRule(id="x", kind="count_per_demand_range", supply="count", kinds=("health_centre",))
    with pytest.raises(RuleError, match="per must be a positive number"):
        RatioRule(id="x", kind="per_demand", supply="beds", kinds=("elderly_care",), per=0)
    with pytest.raises(RuleError, match=r"unknown key\(s\) \['radius'\]"):
        RatioRule.from_dict({"id": "x", "kind": "per_demand", "supply": "beds", "kinds": ["elderly_care"], "radius": 3})
    rule = RatioRule.from_dict(BEDS_30.to_dict())
    assert rule == BEDS_30


def test_evaluate_many_needs_each_level(units, facilities, cells):
    rule = RatioRule(id="st", kind="count_per_unit", supply="count", kinds=("service_station",), level="community")
    out = evaluate_ratio_rules([BEDS_30, rule], {"subdistrict": units, "community": units}, facilities, cells)
    assert list(out) == ["beds-30", "st"]
    with pytest.raises(RuleError, match="level 'community'.*only for \\['subdistrict'\\]"):
        evaluate_ratio_rules([rule], {"subdistrict": units}, facilities, cells)


def test_duplicate_unit_ids_are_refused(units, facilities, cells):
    units = units.copy()
    units.loc[1, "unit_id"] = "U1"
    with pytest.raises(RuleError, match="unit_id 'U1' appears more than once"):
        evaluate_ratio_rule(BEDS_30, units, facilities, cells)


def test_ratio_rules_catalogue_data_builds():
    path = Path(__file__).resolve().parents[1] / "scenarios" / "ratio_rules.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    rules = [RatioRule.from_dict(entry) for entry in data["rule"]]
    assert len({r.id for r in rules}) == len(rules)
    for r in rules:
        assert set(r.kinds) <= set(KINDS), r.id
        assert r.source, r.id


@pytest.mark.slow
def test_catalogue_rules_on_demo_city():
    """Every catalogue rule on the built-in demo city: totals add up both ways."""
    from layers.cities import load_city

    path = Path(__file__).resolve().parents[1] / "scenarios" / "ratio_rules.toml"
    rules = [RatioRule.from_dict(e) for e in tomllib.loads(path.read_text(encoding="utf-8"))["rule"]]
    city = load_city("demo")
    out = evaluate_ratio_rules(rules, city.units, city.facilities, city.cells)
    for rule in rules:
        res = out[rule.id]
        t = res.table
        assert len(t) == len(city.units[rule.level])
        # demand: units plus outside = all cells
        total = city.cells[rule.demand].sum()
        assert t["demand"].sum() + res.totals["demand_outside"] == pytest.approx(total)
        # supply: units = the facilities of the kinds inside units
        fac = city.facilities[city.facilities["kind"].isin(rule.kinds)]
        amount = len(fac) if rule.supply == "count" else fac[rule.supply].sum()
        n_out = res.totals["facilities_outside"]
        assert res.totals["facilities"] + n_out == len(fac)
        if n_out == 0:
            assert t["supply"].sum() == pytest.approx(amount)
        # status and shortfall agree
        assert ((t["status"] == "fail") == (t["shortfall"] > 0)).all()
        # cells by their unit column and by location land in the same units
        by_loc = evaluate_ratio_rule(rule, city.units[rule.level], city.facilities, city.cells, unit_column="-")
        np.testing.assert_allclose(by_loc.table["demand"], t["demand"])
