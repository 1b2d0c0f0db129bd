"""The workbench's API beyond edits: changed tiles, E2SFCA tiles, ratio rules per unit, gaps, deltas per unit,
exports and suggestions on a scenario's facilities.

Each answer is checked against the library computing the same thing on its
own (a LiveScenario, run_ratios, evaluate_access, uncovered_clusters), or
against the API's other endpoint answering the same question.
"""

from __future__ import annotations

import functools
import io
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo.clusters import uncovered_clusters
from geo.crs import to_wgs84
from scenarios.ratio_standards import evaluate_access, get_access_standard, run_ratios
from scenarios.run import LiveScenario
from scenarios.standards import resolve_standards
from tests.test_api_helpers import HEADERS, cell_lonlat, demo_city, make_app
from tests.test_api_tiles import _pixel, _png

Image = pytest.importorskip("PIL.Image")

Z = 16
ACCESS = {0: (0x96, 0x96, 0x96), 1: (0xFD, 0xAE, 0x61), 2: (0x1A, 0x98, 0x50)}  # out of reach, under-served, served


@pytest.fixture(scope="module")
def client():
    return TestClient(make_app())


@functools.lru_cache(maxsize=1)
def _gap_cell() -> int:
    """The most populous demo cell no clinic reaches."""
    covered = LiveScenario(demo_city(), resolve_standards(["clinic-walk"])).standard_result("clinic-walk").covered
    return int(np.argmax(np.where(covered, -1.0, demo_city().cells["population"].to_numpy(float))))


def _new(client, name: str, **fields) -> None:
    r = client.post("/scenarios", json={"name": name, **fields}, headers=HEADERS)
    assert r.status_code == 201, r.text


def _edit(client, name: str, version: int, edit: dict) -> dict:
    r = client.post(f"/scenarios/{name}/edits", json=edit, headers={**HEADERS, "If-Match": f'"{version}"'})
    assert r.status_code == 201, r.text
    return r.json()


def _add_clinic_at_gap(client, name: str, version: int = 1) -> LiveScenario:
    """Add a health station on the gap cell through the API; the same edit in a LiveScenario of the library."""
    lon, lat = cell_lonlat(demo_city(), [_gap_cell()])
    edit = {"op": "add", "id": "WB-T1", "kind": "health_station", "lon": float(lon[0]), "lat": float(lat[0])}
    _edit(client, name, version, edit)
    live = LiveScenario(demo_city())
    live.apply(edit)
    return live


# ------------------------------------------------------------------ changed tiles


def test_changed_tiles_list_exactly_the_tiles_holding_recoloured_cells(client):
    _new(client, "chg", standards=["clinic-walk"])
    city = demo_city()
    before = LiveScenario(city, resolve_standards(["clinic-walk"])).standard_result("clinic-walk").covered
    lon, lat = cell_lonlat(city, np.arange(len(city.cells)))
    tiles = {_pixel(lo, la, Z)[:2] for lo, la in zip(lon, lat)}
    for tx, ty in tiles:  # the page has drawn version 1
        _png(client.get(f"/workbench/scenarios/chg/tiles/clinic-walk/{Z}/{tx}/{ty}.png"))
    live = _add_clinic_at_gap(client, "chg")
    after = live.standard_result("clinic-walk").covered
    changed = np.flatnonzero(before != after)
    assert changed.size > 0
    r = client.get("/workbench/scenarios/chg/tiles/clinic-walk/changed", params={"since": 1, "z": Z})
    assert r.status_code == 200, r.text
    listed = {tuple(t) for t in r.json()["tiles"]}
    assert r.json()["version"] == 2
    holding = {_pixel(lon[i], lat[i], Z)[:2] for i in changed}
    assert holding <= listed  # every tile with a recoloured cell centre is redrawn
    # and no tile is listed that no recoloured cell reaches (a cell spans less than a tile at z16: neighbours only)
    for tx, ty in listed:
        assert any(abs(tx - hx) <= 1 and abs(ty - hy) <= 1 for hx, hy in holding), (tx, ty)
    assert len(listed) < len(tiles) / 2  # one clinic recolours a corner of the city, not all of it
    same = client.get("/workbench/scenarios/chg/tiles/clinic-walk/changed", params={"since": 2, "z": Z}).json()
    assert same["tiles"] == []
    unknown = client.get("/workbench/scenarios/chg/tiles/clinic-walk/changed", params={"since": 1, "z": Z, "mode": "bands"}).json()
    assert unknown["tiles"] is None  # version 1 was never drawn in bands: redraw everything


# ------------------------------------------------------------------ E2SFCA tiles


def test_access_tiles_colour_cells_by_the_e2sfca_class(client):
    _new(client, "acc")
    city = demo_city()
    code = evaluate_access(city, get_access_standard("beds-access")).classes.code
    rng = np.random.default_rng(3)
    rows = [int(i) for k in (0, 1, 2) for i in rng.choice(np.flatnonzero(code == k), min(5, int((code == k).sum())), replace=False)]
    assert {int(code[i]) for i in rows} == {0, 1, 2}
    lon, lat = cell_lonlat(city, rows)
    for row, lo, la in zip(rows, lon, lat):
        tx, ty, px, py = _pixel(lo, la, Z)
        for of in ("scenario", "base"):
            img = _png(client.get(f"/workbench/scenarios/acc/tiles/beds-access/{Z}/{tx}/{ty}.png", params={"mode": "access", "of": of}))
            assert tuple(img[py, px, :3]) == ACCESS[int(code[row])], (row, of)
    r = client.get(f"/workbench/scenarios/acc/tiles/clinic-walk/{Z}/0/0.png", params={"mode": "access"})
    assert r.status_code == 404 and "beds-access" in r.json()["detail"]


# ------------------------------------------------------------------ ratio rules per unit


def test_ratio_rules_per_unit_equal_the_ratio_api_then_follow_an_edit(client):
    _new(client, "rat")
    shown = client.get("/workbench/scenarios/rat/ratios").json()
    assert shown["version"] == 1 and shown["rules"]
    for rule in shown["rules"]:  # no edit yet: the ratio API's own answer on the city
        units = client.get(f"/ratios/units/{rule['level']}", headers=HEADERS).json()["features"]
        col = rule["id"].replace("-", "_") + "_status"
        assert {f["properties"]["unit_id"]: f["properties"][col] for f in units} == {u: v["status"] for u, v in rule["units"].items()}
    # a large elderly-care home in a failing subdistrict
    rule = next(r for r in shown["rules"] if r["id"] == "elderly-beds-zhuhai")
    failing = next(u for u, v in rule["units"].items() if v["status"] == "fail")
    city = demo_city()
    unit = city.units["subdistrict"].set_index("unit_id").loc[failing, "geometry"].representative_point()
    ulon, ulat = to_wgs84(np.array([unit.x]), np.array([unit.y]), city.crs)
    edit = {"op": "add", "id": "EC-T1", "kind": "elderly_care", "lon": float(ulon[0]), "lat": float(ulat[0]),
            "capacities": {"beds": 5000}}
    _edit(client, "rat", 1, edit)
    live = LiveScenario(city)
    live.apply(edit)
    expected = run_ratios(city.with_facilities(live.facilities()), None, []).rules["elderly-beds-zhuhai"].table
    after = next(r for r in client.get("/workbench/scenarios/rat/ratios").json()["rules"] if r["id"] == "elderly-beds-zhuhai")
    assert {u: v["status"] for u, v in after["units"].items()} == dict(zip(expected["unit_id"].astype(str), expected["status"]))
    assert after["units"][failing]["status"] == "pass"
    # a clinic without doctors stops the rule counting doctors only, with the library's message
    _add_clinic_at_gap(client, "rat", version=2)
    rules = {r["id"]: r for r in client.get("/workbench/scenarios/rat/ratios").json()["rules"]}
    assert "WB-T1" in rules["gp-per-10k"]["error"] and "doctors" in rules["gp-per-10k"]["error"]
    assert rules["gp-per-10k"]["units"] == {} and rules["elderly-beds-zhuhai"]["error"] is None


# ------------------------------------------------------------------ gaps


def test_largest_gaps_are_the_librarys_clusters_before_and_after_an_edit(client):
    _new(client, "gap")
    city = demo_city()
    r = client.get("/workbench/scenarios/gap/gaps/clinic-walk", params={"top": 3})
    assert r.status_code == 200, r.text
    result = LiveScenario(city).standard_result("clinic-walk")
    ref = uncovered_clusters(city.cells.geometry, ~result.covered & (result.weight > 0), result.weight, top=3)
    got = [f["properties"] for f in r.json()["features"]]
    assert [g["rank"] for g in got] == [1, 2, 3]
    assert [g["population"] for g in got] == pytest.approx(ref["population"].tolist())
    assert [g["n_cells"] for g in got] == ref["n_cells"].tolist()
    live = _add_clinic_at_gap(client, "gap")
    after = live.standard_result("clinic-walk")
    ref = uncovered_clusters(city.cells.geometry, ~after.covered & (after.weight > 0), after.weight, top=10)
    got = [f["properties"] for f in client.get("/workbench/scenarios/gap/gaps/clinic-walk").json()["features"]]
    assert [g["population"] for g in got] == pytest.approx(ref["population"].tolist())  # version 2's gaps
    assert sum(g["population"] for g in got) < sum(uncovered_clusters(
        city.cells.geometry, ~result.covered & (result.weight > 0), result.weight, top=10)["population"])
    assert client.get("/workbench/scenarios/gap/gaps/nope").status_code == 404


# ------------------------------------------------------------------ deltas per unit


def test_deltas_per_unit_sum_to_the_comparisons_and_match_the_library(client):
    _new(client, "cmp-b")
    live = _add_clinic_at_gap(client, "cmp-b")
    r = client.get("/workbench/compare/units", params={"a": "cmp-b", "level": "community"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["before"] == "current facilities" and doc["after"] == "cmp-b@2"
    city = demo_city()
    base = LiveScenario(city)
    table = {row["standard"]: row["covered_change"] for row in client.get("/scenarios/compare", params={"a": "cmp-b"}).json()["table"]}
    for sid, change in table.items():
        rows = [u for u in doc["units"] if u["standard"] == sid]
        assert sum(u["covered_change"] for u in rows) == pytest.approx(change, abs=0.1 * len(rows) + 0.1)
        ra, rb = base.standard_result(sid), live.standard_result(sid)
        for u in rows:
            inside = (city.cells["community"].astype(str) == u["unit_id"]).to_numpy()
            assert u["covered_before"] == pytest.approx(float((ra.weight * ra.covered)[inside].sum()), abs=0.1)
            assert u["covered_after"] == pytest.approx(float((rb.weight * rb.covered)[inside].sum()), abs=0.1)
    assert any(u["covered_change"] > 0 for u in doc["units"] if u["standard"] == "clinic-walk")
    _new(client, "cmp-a")
    two = client.get("/workbench/compare/units", params={"a": "cmp-a", "b": "cmp-b"}).json()
    assert two["before"] == "cmp-a@1" and two["level"] == "subdistrict"
    assert client.get("/workbench/compare/units", params={"a": "cmp-a", "level": "district"}).status_code == 422
    assert client.get("/workbench/compare/units", params={"a": "nope"}).status_code == 404


# ------------------------------------------------------------------ export


def test_export_png_and_pdf_of_the_view(client):
    _new(client, "exp")
    png = client.get("/workbench/scenarios/exp/export.png", params={"standard": "clinic-walk", "bbox": "116.45,18.95,116.5,19.0", "dpi": 60})
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(png.content)).size[0] > Image.open(io.BytesIO(png.content)).size[1]  # landscape page
    pdf = client.get("/workbench/scenarios/exp/export.pdf", params={"standard": "clinic-walk"})
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    bad = client.get("/workbench/scenarios/exp/export.png", params={"standard": "clinic-walk", "bbox": "1,2,3"})
    assert bad.status_code == 422 and "bbox" in bad.json()["detail"]
    assert client.get("/workbench/scenarios/exp/export.png", params={"standard": "nope"}).status_code == 422


# ------------------------------------------------------------------ suggestions on the scenario's facilities


def _job_result(client, response) -> dict:
    return _followed(client, response).json()


def test_suggestions_start_from_the_scenarios_facilities(client):
    _new(client, "sug")
    _add_clinic_at_gap(client, "sug")
    now = client.get("/workbench/scenarios/sug/coverage").json()["standards"]["clinic-walk"]["covered"]
    body = {"standard": "clinic-walk", "problem": "mclp", "p": 1}
    on_plan = _job_result(client, client.post("/workbench/scenarios/sug/siting", json=body, headers=HEADERS))
    on_city = _job_result(client, client.post("/siting", json=body, headers=HEADERS))
    assert on_plan["summary"]["covered_current"] == pytest.approx(now, abs=0.5)  # the plan's clinic counts
    assert on_plan["summary"]["covered_current"] > on_city["summary"]["covered_current"]
    assert client.post("/workbench/scenarios/nope/siting", json=body, headers=HEADERS).status_code == 404


# ------------------------------------------------------------------ heavy views as jobs on a large city


def _followed(client, response):
    """The answer behind a 202: the job polled to its end, then its result URL fetched (raw response)."""
    assert response.status_code == 202, response.text
    url = response.headers["Location"]
    for _ in range(600):
        job = client.get(url, headers=HEADERS).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.2)
    assert job["state"] == "succeeded", job
    return client.get(job["result"], headers=HEADERS)


def test_compare_units_and_export_run_as_jobs_on_a_large_city(client):
    """Past limits.sync_max_cell_standards (here set below the demo's size) both answer 202 with a job whose result
    is the same answer the request gives on a small city; once the runs and the file are kept, they answer at once."""
    big = TestClient(make_app(limits={"sync_max_cell_standards": 1000}))
    for c in (client, big):
        _new(c, "heavy")
        _add_clinic_at_gap(c, "heavy")
    small = client.get("/workbench/compare/units", params={"a": "heavy", "level": "community"}, headers=HEADERS)
    assert small.status_code == 200
    first = big.get("/workbench/compare/units", params={"a": "heavy", "level": "community"}, headers=HEADERS)
    result = _followed(big, first)
    assert result.status_code == 200 and "a=heavy%402" in str(result.url)  # pinned to the version compared
    assert result.json() == small.json()
    again = big.get("/workbench/compare/units", params={"a": "heavy", "level": "community"}, headers=HEADERS)
    assert again.status_code == 200 and again.json() == small.json()  # the runs are kept
    # Prefer: respond-async asks for a job on any city
    assert client.get("/workbench/compare/units", params={"a": "heavy", "b": "heavy"},
                      headers={**HEADERS, "Prefer": "respond-async"}).status_code == 202
    params = {"standard": "clinic-walk", "dpi": 50}
    png = _followed(big, big.get("/workbench/scenarios/heavy/export.png", params=params, headers=HEADERS))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    kept = big.get("/workbench/scenarios/heavy/export.png", params=params, headers=HEADERS)
    assert kept.status_code == 200 and kept.content == png.content
    assert "heavy-v2-clinic-walk.png" in kept.headers["content-disposition"]
    assert client.get("/workbench/scenarios/heavy/export.png", params=params, headers=HEADERS).status_code == 200
