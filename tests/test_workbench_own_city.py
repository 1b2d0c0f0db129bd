"""The workbench on a planner's own city: a folder built by ``lifecircle city build`` from user files.

The files are made here (no ``../shared`` data): a 100 m grid and unit
boundaries in CGCS2000 Gauss-Kruger CM 114E (EPSG:4547), facilities as an
Amap-style CSV in GCJ-02, a saved street network. Two folders: one with
units and every capacity, one built without unit boundaries and without the
``doctors`` column, as planners' lists often come. The page's numbers must
equal what the coverage API answers on the same city, and what the city
lacks must be said in words, not shown as an error or a blank map.
"""

from __future__ import annotations

import tempfile

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.config import ApiConfig
from layers.cities import load_city
from scenarios.run import LiveScenario
from scenarios.standards import resolve_standards
from tests import own_city
from tests.test_api_helpers import HEADERS, KEY, cell_lonlat
from tests.workbench_helpers import CHROMEDRIVER, CHROMIUM, chromium, open_workbench, served, wait_for

pytestmark = pytest.mark.filterwarnings("ignore::layers.errors.LayerWarning")

GK114 = 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E: what a Shenzhen planner's GIS files are in

needs_browser = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromium-driver are not installed")


def _build(root, name: str, units: bool, doctors: bool):
    """Write the user files (EPSG:4547 grid and units, GCJ-02 CSV) and build a city folder from them by the CLI."""
    root.mkdir(parents=True, exist_ok=True)
    from layers.network_io import save_network

    grid, fac, net = root / "cells.gpkg", root / "facilities.csv", root / "streets.npz"
    cells = own_city.cells().to_crs(GK114)
    (cells if units else cells.drop(columns=["subdistrict", "community"])).to_file(grid)  # no unit columns either
    own_city.write_facilities_csv(fac, shift="gcj02")
    if not doctors:
        pd.read_csv(fac).drop(columns=["doctors"]).to_csv(fac, index=False)
    save_network(own_city.network(), net, attribution="test streets (made up)")
    args = ["city", "build", "--grid", grid, "--facilities", fac, "--facilities-coords", "gcj02", "--network", net,
            "--name", name, "--out", root / "city"]
    if units:
        own_city.units().to_crs(GK114).to_file(root / "units.gpkg")
        args += ["--units", root / "units.gpkg"]
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return load_city(root / "city")


@pytest.fixture(scope="module")
def cities(tmp_path_factory):
    root = tmp_path_factory.mktemp("own-workbench")
    return {"full": _build(root / "full", "福田测试", units=True, doctors=True),
            "bare": _build(root / "bare", "福田-bare", units=False, doctors=False)}


def _app(city, **settings):
    return create_app(ApiConfig(api_keys=[KEY], data_dir=tempfile.mkdtemp(prefix="lifecircle-test-"), **settings), city=city)


@pytest.fixture(scope="module")
def full(cities):
    with TestClient(_app(cities["full"]), headers=HEADERS) as c:
        yield c


@pytest.fixture(scope="module")
def bare(cities):
    with TestClient(_app(cities["bare"]), headers=HEADERS) as c:
        yield c


def _uncovered_spot(city, standard: str = "clinic-walk") -> tuple[float, float]:
    """WGS84 lon/lat of the most populous cell ``standard`` leaves uncovered (by the library, not the API)."""
    result = LiveScenario(city, resolve_standards([standard])).standard_result(standard)
    lon, lat = cell_lonlat(city, [int(np.argmax(np.where(result.covered, -1.0, result.weight)))])
    return float(lon[0]), float(lat[0])


def _coverage_api(client) -> dict[str, float]:
    """Covered population per standard as ``POST /coverage`` (the coverage API) answers on the loaded city."""
    r = client.post("/coverage", json={})
    assert r.status_code in (200, 201), r.text
    return {s["standard"]: s["covered"] for s in r.json()["summary"]}


# ------------------------------------------------------------------ API


def test_folder_city_is_in_the_planners_crs_and_datum(cities):
    city = cities["full"]
    assert city.name == "福田测试" and set(city.units) == {"subdistrict", "community"}
    # GCJ-02 points read back where the UTM originals were (the shift undone to well under a metre)
    x, y = city.facilities.geometry.x.to_numpy(), city.facilities.geometry.y.to_numpy()
    from geo.crs import transform_xy

    ox, oy = transform_xy(own_city.facilities()["x"], own_city.facilities()["y"], own_city.UTM50, city.crs)
    assert np.hypot(x - np.asarray(ox), y - np.asarray(oy)).max() < 1.0


def test_workbench_numbers_equal_the_coverage_api_then_follow_an_edit(full, cities):
    assert full.post("/scenarios", json={"name": "own"}).status_code == 201
    shown = full.get("/workbench/scenarios/own/coverage").json()["standards"]
    api = _coverage_api(full)
    assert {k: v["covered"] for k, v in shown.items()} == api
    assert 0 < api["clinic-walk"] < shown["clinic-walk"]["total"]  # the stranded piece: someone is left out
    lon, lat = _uncovered_spot(cities["full"])
    edit = {"op": "add", "id": "NEW1", "kind": "health_station", "lon": lon, "lat": lat, "capacities": {"doctors": 2}}
    r = full.post("/scenarios/own/edits", json=edit, headers={**HEADERS, "If-Match": '"1"'})
    assert r.status_code == 201, r.text
    after = full.get("/workbench/scenarios/own/coverage").json()["standards"]
    assert after["clinic-walk"]["covered"] > api["clinic-walk"]
    # the full run of the plan (the comparison's "after") agrees with the live numbers
    table = {row["standard"]: row for row in full.get("/scenarios/compare", params={"a": "own"}).json()["table"]}
    assert {k: v["covered"] for k, v in after.items()} == pytest.approx({k: t["covered_after"] for k, t in table.items()})
    assert table["clinic-walk"]["covered_before"] == pytest.approx(api["clinic-walk"])


def test_units_of_the_folder_drive_ratios_and_per_unit_deltas(full):
    rules = {r["id"]: r for r in full.get("/workbench/scenarios/own/ratios").json()["rules"]}
    beds = rules["elderly-beds-zhuhai"]
    assert beds["error"] is None and set(beds["units"]) == {"SD-W", "SD-E"}
    units = full.get("/workbench/compare/units", params={"a": "own", "level": "community"}).json()["units"]
    clinic = [u for u in units if u["standard"] == "clinic-walk"]
    table = {row["standard"]: row for row in full.get("/scenarios/compare", params={"a": "own"}).json()["table"]}
    # the stranded piece lies outside every community, so the units' sum is at most the city's change
    assert 0 <= sum(u["covered_change"] for u in clinic) <= table["clinic-walk"]["covered_change"] + 0.5


def test_city_without_units_or_doctors_says_so(bare):
    assert bare.post("/scenarios", json={"name": "b"}).status_code == 201
    assert bare.get("/workbench/city").json()["levels"] == []
    assert {k: v["covered"] for k, v in bare.get("/workbench/scenarios/b/coverage").json()["standards"].items()} == _coverage_api(bare)
    rules = bare.get("/workbench/scenarios/b/ratios").json()["rules"]
    assert rules and all(r["units"] == {} for r in rules)
    beds = next(r for r in rules if r["id"] == "elderly-beds-zhuhai")
    assert "needs subdistrict boundaries" in beds["error"] and "--units" in beds["error"]
    r = bare.get("/workbench/compare/units", params={"a": "b"})
    assert r.status_code == 422 and "no unit boundaries" in r.json()["detail"]
    assert bare.get("/scenarios/compare", params={"a": "b"}).status_code == 200  # per standard still works
    # E2SFCA doctors without a doctors column: refused with the field named, not a 500
    tile = bare.get("/workbench/scenarios/b/tiles/doctors-access/15/0/0.png", params={"mode": "access"})
    assert tile.status_code == 422 and "doctors" in tile.json()["detail"]


# ------------------------------------------------------------------ the page


@pytest.fixture(scope="module")
def driver():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium and chromium-driver are not installed")
    with chromium() as drv:
        yield drv


def _shown(driver) -> dict[str, float]:
    return driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('#numbers tbody tr'))"
        ".map(tr => [tr.dataset.standard, Number(tr.querySelector('.covered').dataset.value)]))")


def _errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


@needs_browser
def test_page_on_the_folder_city_shows_the_apis_numbers_after_a_click(cities, driver):
    from selenium.webdriver.common.action_chains import ActionChains

    with served(_app(cities["full"])) as port:
        base = f"http://127.0.0.1:{port}"
        open_workbench(driver, base, "own-page", KEY)
        assert _errors(driver) == []
        with httpx.Client(base_url=base, headers=HEADERS) as api:
            assert _shown(driver) == {k: v for k, v in _coverage_api(api).items()}
            driver.execute_script("document.getElementById('kind').value = 'health_station'")
            lon, lat = _uncovered_spot(cities["full"])
            x, y, w, h = driver.execute_script(
                f"const m = window.lcWorkbench.map, p = m.latLngToContainerPoint([{lat}, {lon}]), s = m.getSize();"
                "return [p.x, p.y, s.x, s.y]")
            ActionChains(driver).move_to_element_with_offset(driver.find_element("id", "map"), round(x - w / 2),
                                                             round(y - h / 2)).click().perform()
            wait_for(driver, "window.lcWorkbench.version == 2 && !window.lcWorkbench.busy")
            live = api.get("/workbench/scenarios/own-page/coverage").json()["standards"]
            table = api.get("/scenarios/compare", params={"a": "own-page"}).json()["table"]
        assert _shown(driver) == {k: v["covered"] for k, v in live.items()}
        assert _shown(driver) == pytest.approx({t["standard"]: t["covered_after"] for t in table})
        assert _errors(driver) == []


@needs_browser
def test_page_on_a_city_without_units_compares_and_explains(cities, driver):
    with served(_app(cities["bare"])) as port:
        base = f"http://127.0.0.1:{port}"
        open_workbench(driver, base, "bare-page", KEY)
        driver.get_log("browser")
        assert driver.find_element("id", "nounits").is_displayed()
        assert not driver.find_element("id", "levelbox").is_displayed()
        driver.find_element("id", "comparego").click()
        wait_for(driver, "document.querySelectorAll('#deltas tbody tr').length > 0")
        msg = driver.find_element("id", "msg")  # no error: the per-unit figures are not asked for
        assert msg.get_attribute("hidden") or msg.get_attribute("class") != "error", msg.text
        assert _errors(driver) == []
        # the unit-rule list names why each rule is not drawn
        from selenium.webdriver.support.ui import Select

        wait_for(driver, "document.getElementById('unitrule').options.length > 1")
        Select(driver.find_element("id", "unitrule")).select_by_value("elderly-beds-zhuhai")
        assert "needs subdistrict boundaries" in wait_for(driver, "document.getElementById('unitlegend').textContent")
        # E2SFCA doctors on facilities listed without doctors: the reason in the message box, not a blank map
        driver.execute_script("const m = document.getElementById('mode'); m.value = 'access'; "
                              "document.getElementById('access').value = 'doctors-access'; m.dispatchEvent(new Event('change'))")
        # an error message, not the info left from opening the plan
        text = wait_for(driver, "(m => !m.hidden && !m.classList.contains('info') && m.textContent)(document.getElementById('msg'))")
        assert "cannot draw" in text and "doctors" in text


@needs_browser
def test_page_follows_the_jobs_of_compare_and_export(cities, driver):
    """With the in-request limit below this city's size, compare and export answer 202: the page follows the jobs."""
    with served(_app(cities["full"], limits={"sync_max_cell_standards": 10})) as port:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers=HEADERS) as api:  # a plan that changes something
            assert api.post("/scenarios", json={"name": "jobs-page"}).status_code == 201
            lon, lat = _uncovered_spot(cities["full"])
            edit = {"op": "add", "id": "J1", "kind": "health_station", "lon": lon, "lat": lat}
            assert api.post("/scenarios/jobs-page/edits", json=edit, headers={"If-Match": '"1"'}).status_code == 201
        open_workbench(driver, base, "jobs-page", KEY)
        driver.get_log("browser")
        driver.execute_script("document.getElementById('standard').value = 'clinic-walk'")
        driver.find_element("id", "comparego").click()
        wait_for(driver, "document.querySelectorAll('#unitdeltas tbody tr').length > 0", timeout=120)
        with httpx.Client(base_url=base, headers=HEADERS) as api:
            table = {r["standard"]: r["covered_change"] for r in api.get("/scenarios/compare", params={"a": "jobs-page"}).json()["table"]}
            level = driver.execute_script("return document.getElementById('level').value")
            units = api.get("/workbench/compare/units", params={"a": "jobs-page", "level": level}).json()["units"]
        shown = driver.execute_script("return Object.fromEntries(Array.from(document.querySelectorAll('#deltas tbody tr'))"
                                      ".map(tr => [tr.dataset.standard, Number(tr.querySelector('.delta').dataset.value)]))")
        assert shown == table and table["clinic-walk"] > 0
        per_unit = driver.execute_script("return Object.fromEntries(Array.from(document.querySelectorAll('#unitdeltas tbody tr'))"
                                         ".map(tr => [tr.dataset.unit, Number(tr.querySelector('.delta').dataset.value)]))")
        assert per_unit == {u["unit_id"]: u["covered_change"] for u in units if u["standard"] == "clinic-walk"}
        driver.execute_script("window.lcWorkbench.lastExport = null")
        driver.find_element("id", "exportpng").click()
        done = wait_for(driver, "window.lcWorkbench.lastExport", timeout=120)
        assert done["status"] == 200 and done["type"] == "image/png" and done["size"] > 1000, done
        jobs = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name).filter(u => u.includes('/jobs/'))")
        assert jobs  # the page polled the jobs
        assert _errors(driver) == []
