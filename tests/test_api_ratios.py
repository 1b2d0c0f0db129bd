"""Ratio standards endpoints: catalogue, reports per unit and per cell, GeoJSON, map.

The numbers are checked twice: against ``run_ratios`` on the demo city, and
per unit against a brute-force count (facilities inside each unit polygon,
elderly summed over the unit's cells) that shares no code with geo.unit_ratios.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from scenarios.ratio_standards import access_standards, ratio_rules, run_ratios
from tests.test_api_helpers import HEADERS, demo_city, make_app

REQUEST = {
    "rules": ["elderly-beds-zhuhai", "station-per-community"],
    "accessibility": ["beds-access"],
    "overrides": {"elderly-beds-zhuhai": {"min_value": 40}, "beds-access": {"catchment_min": 10}},
}


@pytest.fixture(scope="module")
def client():
    return TestClient(make_app())


@pytest.fixture(scope="module")
def report(client):
    r = client.post("/ratios", json=REQUEST, headers=HEADERS)
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith(f"/ratios/{r.json()['id']}")
    return r.json()


@pytest.fixture(scope="module")
def reference():
    return run_ratios(demo_city(), REQUEST["rules"], REQUEST["accessibility"], REQUEST["overrides"])


def test_catalogue_lists_rules_with_thresholds_and_sources(client):
    doc = client.get("/ratio-rules").json()
    rules, stds = ratio_rules(), access_standards()
    assert [r["id"] for r in doc["rules"]] == list(rules)
    assert [a["id"] for a in doc["accessibility"]] == list(stds)
    for r in doc["rules"]:
        assert r["min_value"] == rules[r["id"]].min_value and r["source"] == rules[r["id"]].source and r["source"]
    one = client.get("/ratio-rules/gp-per-10k").json()
    assert one["max_value"] == 3.0 and one["per"] == 10000.0
    assert client.get("/ratio-rules/nope").status_code == 404


def test_report_equals_run_ratios(report, reference):
    assert [r["rule"] for r in report["rules"]] == REQUEST["rules"]
    for got in report["rules"]:
        want = reference.rules[got["rule"]]
        t = want.totals
        assert got["min_value"] == want.rule.min_value
        assert (got["units_count"], got["units_pass"], got["units_fail"], got["shortfall"]) == (t["units"], t["units_pass"], t["units_fail"], t["shortfall"])
        assert got["supply"] == pytest.approx(t["supply"]) and got["demand"] == pytest.approx(t["demand"])
        table = want.table.set_index("unit_id")
        assert [u["unit_id"] for u in got["units"]] == list(table.index)
        for u in got["units"]:
            row = table.loc[u["unit_id"]]
            assert (u["status"], u["shortfall"], u["message"]) == (row["status"], row["shortfall"], row["message"])
            assert u["required"] == pytest.approx(row["required"])
    [access] = report["accessibility"]
    want = reference.access["beds-access"].summary()
    assert access["catchment_min"] == 10
    for key in ("mean_accessibility", "served_population", "under-served_population", "uncovered_population", "served_cells"):
        assert access[key] == pytest.approx(want[key]), key


def test_beds_rule_by_brute_force(report):
    """40 beds per 1,000 elderly per subdistrict, counted by hand from polygons and cells."""
    city = demo_city()
    units = city.units["subdistrict"]
    care = city.facilities[city.facilities["kind"] == "elderly_care"]
    got = {u["unit_id"]: u for u in report["rules"][0]["units"]}
    fails = 0
    for uid, poly in zip(units["unit_id"], units.geometry, strict=True):
        inside = shapely.contains_xy(poly, care.geometry.x.to_numpy(), care.geometry.y.to_numpy())
        beds = float(care["beds"].to_numpy()[inside].sum())
        elderly = float(city.cells.loc[city.cells["subdistrict"] == uid, "elderly"].sum())
        need = 40.0 * elderly / 1000.0
        assert got[uid]["supply"] == pytest.approx(beds) and got[uid]["demand"] == pytest.approx(elderly)
        assert got[uid]["status"] == ("pass" if beds >= need else "fail")
        assert got[uid]["shortfall"] == max(0, math.ceil(need - beds - 1e-9))
        fails += beds < need
    assert fails > 0  # the raised threshold leaves some subdistricts short


def test_identical_request_reuses_the_report(client, report):
    r = client.post("/ratios", json=REQUEST, headers=HEADERS)
    assert r.status_code == 200 and r.json()["id"] == report["id"]
    assert client.get(f"/ratios/{report['id']}").json()["rules"] == report["rules"]
    assert client.get("/ratios/0123456789abcdef0123456789abcdef").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rules": ["no-such-rule"]}, "body.rules.0"),
        ({"accessibility": ["beds-access", "x"]}, "body.accessibility.1"),
        ({"overrides": {"no-such-rule": {"min_value": 3}}}, "body.overrides.no-such-rule"),
        ({"overrides": {"elderly-beds-zhuhai": {"min_value": -3}}}, "body.overrides.elderly-beds-zhuhai.min_value"),
        ({"overrides": {"elderly-beds-zhuhai": {"beds": 3}}}, "body.overrides.elderly-beds-zhuhai.beds"),
        ({"overrides": {"elderly-beds-zhuhai": {"catchment_min": 3}}}, "body.overrides.elderly-beds-zhuhai"),
        ({"overrides": {"elderly-beds-zhuhai": {"level": "province"}}}, "body.overrides.elderly-beds-zhuhai.level"),
        ({"overrides": {"gp-per-10k": {"max_value": 1}}}, "body.overrides.gp-per-10k"),
    ],
)
def test_bad_requests_name_the_field(client, body, field):
    r = client.post("/ratios", json=body, headers=HEADERS)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field, r.json()


def test_posting_needs_the_key(client):
    assert client.post("/ratios", json=REQUEST).status_code == 401
    assert client.post("/ratios", json=REQUEST, headers={"X-API-Key": "wrong-key-123"}).status_code == 403
    assert client.get("/ratio-rules").status_code == 200


def test_units_geojson_has_status_columns(client, report, reference):
    r = client.get(f"/ratios/units/subdistrict?report={report['id']}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    features = r.json()["features"]
    table = reference.rules["elderly-beds-zhuhai"].table.set_index("unit_id")
    assert [f["id"] for f in features] == list(demo_city().units["subdistrict"]["unit_id"])
    for f in features:
        p = f["properties"]
        assert p["elderly_beds_zhuhai_status"] == table.loc[f["id"], "status"]
        assert p["elderly_beds_zhuhai_shortfall"] == table.loc[f["id"], "shortfall"]
        assert "station_per_community_status" not in p  # a community rule
        lon, lat = f["geometry"]["coordinates"][0][0][:2] if f["geometry"]["type"] == "Polygon" else f["geometry"]["coordinates"][0][0][0][:2]
        assert 116 < lon < 117 and 18 < lat < 20
    community = client.get(f"/ratios/units/community?report={report['id']}").json()["features"]
    statuses = {f["properties"]["station_per_community_status"] for f in community}
    assert statuses <= {"pass", "fail", "no demand"} and len(community) == len(demo_city().units["community"])
    r = client.get(f"/ratios/units/province?report={report['id']}")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "path.level"
    r = client.get("/ratios/units/subdistrict?report=0123456789abcdef0123456789abcdef")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "query.report"


def test_default_report_is_the_whole_catalogue(client):
    features = client.get("/ratios/units/subdistrict").json()["features"]
    ref = run_ratios(demo_city())
    for rid, res in ref.rules.items():
        if res.rule.level != "subdistrict":
            continue
        status = res.table.set_index("unit_id")["status"]
        col = rid.replace("-", "_") + "_status"
        assert [f["properties"][col] for f in features] == [status[f["id"]] for f in features]


def test_cells_paged_equal_cell_columns(client, report, reference):
    city = demo_city()
    url = f"/ratios/cells?report={report['id']}&limit=900"
    seen = []
    while url:
        page = client.get(url).json()
        assert page["numberMatched"] == len(city.cells)
        seen += page["features"]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert [f["id"] for f in seen] == list(city.cells["cell_id"])
    cols = reference.cell_columns()
    np.testing.assert_allclose([f["properties"]["beds_access_value"] for f in seen], cols["beds_access_value"])
    assert [f["properties"]["beds_access_class"] for f in seen] == list(cols["beds_access_class"])


def test_ratio_map(client, report):
    r = client.get(f"/ratios/map.html?report={report['id']}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "lc-map-meta" in r.text
    assert client.get("/ratios/map.html?report=0123456789abcdef0123456789abcdef").status_code == 404


def test_a_report_made_by_one_worker_is_served_by_another(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    one = TestClient(make_app(scenario_db_url=url, data_dir=str(tmp_path / "one")))
    two = TestClient(make_app(scenario_db_url=url, data_dir=str(tmp_path / "two")))
    made = one.post("/ratios", json=REQUEST, headers=HEADERS)
    assert made.status_code == 201
    seen = two.get(f"/ratios/{made.json()['id']}")
    assert seen.status_code == 200 and seen.json()["rules"] == made.json()["rules"]
    assert two.post("/ratios", json=REQUEST, headers=HEADERS).json()["id"] == made.json()["id"]
