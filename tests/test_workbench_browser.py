"""The workbench page (``/app``) in a real headless Chromium against a real server on the demo city.

Every number the page shows is checked against the API answering the same
question; skipped cleanly when chromium and chromium-driver are absent
(``.ci/chromium.sh`` installs them).
"""

from __future__ import annotations

import functools

import httpx
import numpy as np
import pytest

from scenarios.run import LiveScenario
from scenarios.standards import resolve_standards
from tests.test_api_helpers import HEADERS, KEY, cell_lonlat, demo_city, make_app
from tests.workbench_helpers import CHROMEDRIVER, CHROMIUM, chromium, open_workbench, served, wait_for

pytestmark = pytest.mark.browser

if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("chromium and chromium-driver are not installed (run .ci/chromium.sh)", allow_module_level=True)
pytest.importorskip("selenium.webdriver")


@pytest.fixture(scope="module")
def base():
    with served(make_app()) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def driver():
    with chromium() as drv:
        yield drv


def _api(base: str, path: str) -> httpx.Response:
    r = httpx.get(base + path, headers=HEADERS)
    assert r.status_code == 200, r.text
    return r


def _shown_covered(driver) -> dict[str, float]:
    return driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('#numbers tbody tr'))"
        ".map(tr => [tr.dataset.standard, Number(tr.querySelector('.covered').dataset.value)]))"
    )


def _click_map(driver, dx: int, dy: int) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).move_to_element_with_offset(driver.find_element("id", "map"), dx, dy).click().perform()


def _click_lonlat(driver, lon: float, lat: float) -> None:
    """Click the map at a WGS84 point (offsets are from the map element's centre)."""
    x, y, w, h = driver.execute_script(
        f"const p = window.lcWorkbench.map.latLngToContainerPoint([{lat}, {lon}]); const s = window.lcWorkbench.map.getSize();"
        "return [p.x, p.y, s.x, s.y]"
    )
    _click_map(driver, round(x - w / 2), round(y - h / 2))


@functools.lru_cache(maxsize=1)
def _uncovered_clinic_spot() -> tuple[float, float]:
    """lon/lat of the most populous demo cell no clinic reaches now (computed by the library, not the page)."""
    city = demo_city()
    result = LiveScenario(city, resolve_standards(["clinic-walk"])).standard_result("clinic-walk")
    pop = np.where(result.covered, -1.0, result.weight)
    lon, lat = cell_lonlat(city, [int(np.argmax(pop))])
    return float(lon[0]), float(lat[0])


def test_app_loads_without_errors_or_outside_requests(base, driver):
    open_workbench(driver, base, "wb-load", KEY)
    assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")] == []
    wait_for(driver, "document.querySelectorAll('.leaflet-tile-container img').length > 0")
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(base + "/") or u.startswith(("blob:", "data:")) for u in urls), urls
    # the base layer is the city's own network on a canvas, and every facility has a marker
    assert driver.execute_script("return document.querySelectorAll('canvas').length") >= 1
    n_fac = len(_api(base, "/workbench/scenarios/wb-load/facilities").json()["features"])
    assert driver.execute_script("return document.querySelectorAll('.lc-fac').length") == n_fac > 0


def test_click_adds_a_facility_and_numbers_equal_the_api(base, driver):
    open_workbench(driver, base, "wb-click", KEY)
    driver.execute_script("document.getElementById('kind').value = 'health_station'")
    before = _shown_covered(driver)
    n = driver.execute_script("return window.lcWorkbench.facilities.size")
    _click_lonlat(driver, *_uncovered_clinic_spot())
    wait_for(driver, "window.lcWorkbench.version == 2 && !window.lcWorkbench.busy")
    assert driver.execute_script("return window.lcWorkbench.facilities.size") == n + 1
    api = _api(base, "/workbench/scenarios/wb-click/coverage").json()
    assert api["version"] == 2
    shown = _shown_covered(driver)
    assert shown == {sid: s["covered"] for sid, s in api["standards"].items()}
    assert shown["clinic-walk"] > before["clinic-walk"]  # a new clinic where there was none
    added = _api(base, "/scenarios/wb-click").json()["edits"]
    assert [e["op"] for e in added] == ["add"] and added[0]["kind"] == "health_station"


def test_drag_moves_a_facility_and_undo_restores_it(base, driver):
    from selenium.webdriver.common.action_chains import ActionChains

    open_workbench(driver, base, "wb-drag", KEY)
    fid = "HS0001"
    start = next(f for f in _api(base, "/workbench/scenarios/wb-drag/facilities").json()["features"] if f["id"] == fid)
    marker = driver.find_element("css selector", f".lc-fac[title='{fid}']")
    ActionChains(driver).click_and_hold(marker).move_by_offset(20, 10).move_by_offset(40, 20).release().perform()
    wait_for(driver, "window.lcWorkbench.version == 2 && !window.lcWorkbench.busy")
    moved = next(f for f in _api(base, "/workbench/scenarios/wb-drag/facilities").json()["features"] if f["id"] == fid)
    assert moved["geometry"]["coordinates"] != start["geometry"]["coordinates"]
    assert moved["geometry"]["coordinates"][0] > start["geometry"]["coordinates"][0]  # dragged east
    driver.find_element("id", "undo").click()
    wait_for(driver, "window.lcWorkbench.version == 3 && !window.lcWorkbench.busy")
    back = next(f for f in _api(base, "/workbench/scenarios/wb-drag/facilities").json()["features"] if f["id"] == fid)
    assert back["geometry"]["coordinates"] == pytest.approx(start["geometry"]["coordinates"], abs=1e-6)
    assert _shown_covered(driver) == {sid: s["covered"] for sid, s in _api(base, "/workbench/scenarios/wb-drag/coverage").json()["standards"].items()}
    # redo moves it again
    driver.find_element("id", "redo").click()
    wait_for(driver, "window.lcWorkbench.version == 4 && !window.lcWorkbench.busy")
    again = next(f for f in _api(base, "/workbench/scenarios/wb-drag/facilities").json()["features"] if f["id"] == fid)
    assert again["geometry"]["coordinates"] == pytest.approx(moved["geometry"]["coordinates"], abs=1e-6)


def test_second_session_gets_the_conflict_message(base, driver):
    open_workbench(driver, base, "wb-conflict", KEY)
    with chromium() as other:
        open_workbench(other, base, "wb-conflict", KEY)
        _click_map(other, -60, 20)  # the other planner saves version 2 first
        wait_for(other, "window.lcWorkbench.version == 2 && !window.lcWorkbench.busy")
    _click_map(driver, 60, -20)  # this page still holds version 1
    # wait for an error message: the box may still show the info "Scenario created." from opening the plan
    text = wait_for(driver, "(m => !m.hidden && !m.classList.contains('info') && m.textContent)(document.getElementById('msg'))")
    assert "Conflict" in text and "version 2" in text
    driver.find_element("id", "lang").click()  # the message follows the language
    assert "冲突" in driver.find_element("id", "msg").text
    driver.find_element("id", "lang").click()
    assert _api(base, "/scenarios/wb-conflict").json()["version"] == 2  # nothing overwritten
    assert driver.execute_script("return window.lcWorkbench.version") == 1
    # reloading takes the other planner's edit, after which editing works again
    driver.find_element("css selector", "#msg button").click()
    wait_for(driver, "window.lcWorkbench.version == 2")
    _click_map(driver, 60, -20)
    wait_for(driver, "window.lcWorkbench.version == 3 && !window.lcWorkbench.busy")


def test_compare_view_shows_the_deltas(base, driver):
    open_workbench(driver, base, "wb-compare", KEY)
    driver.execute_script("document.getElementById('kind').value = 'health_station'")
    _click_lonlat(driver, *_uncovered_clinic_spot())
    wait_for(driver, "window.lcWorkbench.version == 2 && !window.lcWorkbench.busy")
    driver.find_element("id", "comparego").click()  # against the current facilities
    wait_for(driver, "document.querySelectorAll('#deltas tbody tr').length > 0")
    shown = driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('#deltas tbody tr'))"
        ".map(tr => [tr.dataset.standard, Number(tr.querySelector('.delta').dataset.value)]))"
    )
    table = {row["standard"]: row["covered_change"] for row in _api(base, "/scenarios/compare?a=wb-compare").json()["table"]}
    assert shown == table
    assert shown["clinic-walk"] > 0


def test_zh_toggle_switches_every_label(base, driver):
    open_workbench(driver, base, "wb-zh", KEY)
    labels = driver.execute_script("return import('/app/i18n.js').then(m => m.LABELS)")
    wait_for(driver, "true")
    driver.find_element("id", "lang").click()
    pairs = driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-i18n]')).map(e => [e.dataset.i18n, e.textContent])"
    )
    assert len(pairs) > 30
    for key, text in pairs:
        assert text == labels["zh"][key], key
        assert text != labels["en"][key] or key == "lang", key
    city = _api(base, "/workbench/city").json()
    options = driver.execute_script("return Array.from(document.getElementById('standard').options).map(o => o.text)")
    assert options == [s["zh"] for s in city["standards"]]
    assert driver.execute_script("return document.title") == labels["zh"]["title"]
    assert driver.execute_script("return document.getElementById('version').textContent").startswith("版本")
    driver.find_element("id", "lang").click()  # and back
    assert driver.execute_script("return document.getElementById('undo').textContent") == "Undo"


def test_suggested_site_is_accepted_into_the_scenario(base, driver):
    open_workbench(driver, base, "wb-suggest", KEY)
    driver.execute_script("document.getElementById('standard').value = 'clinic-walk'; document.getElementById('nsites').value = 1")
    driver.find_element("id", "suggestgo").click()
    wait_for(driver, "document.querySelectorAll('#proposals li.proposal').length == 1", timeout=300)
    site = driver.execute_script("return window.lcWorkbench.siting.sites.features[0]")
    text = driver.find_element("css selector", "#proposals li.proposal").text
    assert f"{round(site['properties']['newly_covered']):,}" in text
    assert driver.execute_script("return document.getElementById('progress').value") == 100
    driver.find_element("css selector", "#proposals li.proposal button").click()  # accept
    wait_for(driver, "window.lcWorkbench.version == 2 && !window.lcWorkbench.busy")
    edits = _api(base, "/scenarios/wb-suggest").json()["edits"]
    assert [(e["op"], e["kind"]) for e in edits] == [("add", site["properties"]["kind"])]
    assert [edits[0]["lon"], edits[0]["lat"]] == pytest.approx(site["geometry"]["coordinates"], abs=1e-6)
    assert driver.execute_script("return document.querySelectorAll('#proposals li').length") == 0


# ------------------------------------------------------------------ layers, compare, report (the rest of issue 16)


def test_unit_layer_shows_each_units_ratio_status_from_the_api(base, driver):
    open_workbench(driver, base, "wb-units", KEY)
    rule = "elderly-beds-zhuhai"
    wait_for(driver, f"Array.from(document.getElementById('unitrule').options).some(o => o.value == '{rule}')")
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "unitrule")).select_by_value(rule)
    wait_for(driver, "document.querySelectorAll('path.lc-unit.lc-pass, path.lc-unit.lc-fail').length > 0")
    shown = driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('path.lc-unit'))"
        ".filter(p => p.dataset.status).map(p => [p.dataset.unit, [p.dataset.status, p.getAttribute('class')]]))"
    )
    # the ratio API's own per-unit answer on the city (no edit yet)
    level = next(r["level"] for r in _api(base, "/workbench/scenarios/wb-units/ratios").json()["rules"] if r["id"] == rule)
    units = _api(base, f"/ratios/units/{level}").json()["features"]
    expected = {f["properties"]["unit_id"]: f["properties"][rule.replace("-", "_") + "_status"] for f in units}
    assert {u: st for u, (st, _) in shown.items()} == expected
    assert {"pass", "fail"} <= set(expected.values())
    for unit, (status, classes) in shown.items():
        assert f"lc-{status.replace(' ', '-')}" in classes.split(), unit


def test_compare_view_shows_per_unit_deltas_equal_to_the_api(base, driver):
    open_workbench(driver, base, "wb-units-cmp", KEY)
    driver.execute_script("document.getElementById('kind').value = 'health_station'; document.getElementById('standard').value = 'clinic-walk'")
    _click_lonlat(driver, *_uncovered_clinic_spot())
    wait_for(driver, "window.lcWorkbench.version == 2 && !window.lcWorkbench.busy")
    driver.find_element("id", "comparego").click()
    wait_for(driver, "document.querySelectorAll('#unitdeltas tbody tr').length > 0")
    shown = driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('#unitdeltas tbody tr'))"
        ".map(tr => [tr.dataset.unit, Number(tr.querySelector('.delta').dataset.value)]))"
    )
    level = driver.execute_script("return document.getElementById('level').value")
    api = _api(base, f"/workbench/compare/units?a=wb-units-cmp&level={level}").json()["units"]
    assert shown == {u["unit_id"]: u["covered_change"] for u in api if u["standard"] == "clinic-walk"}
    assert any(v > 0 for v in shown.values())
    # the swipe view lays the other side's tiles (the city's own facilities here) in a clipped pane
    driver.find_element("id", "swipe").click()
    wait_for(driver, "document.querySelectorAll('.leaflet-swipe-pane img.leaflet-tile-loaded').length > 0")
    assert driver.execute_script("return window.lcWorkbench.swipe.of") == "base"
    assert driver.execute_script("return window.lcWorkbench.map.getPane('swipe').style.clip").startswith("rect(")
    driver.find_element("id", "swipe").click()


def test_export_button_downloads_the_views_png_and_pdf(base, driver):
    open_workbench(driver, base, "wb-export", KEY)
    driver.get_log("browser")  # earlier tests' entries (a 412 is what the conflict test wants)
    for fmt, media in (("png", "image/png"), ("pdf", "application/pdf")):
        driver.execute_script("window.lcWorkbench.lastExport = null")
        driver.find_element("id", f"export{fmt}").click()
        done = wait_for(driver, "window.lcWorkbench.lastExport", timeout=120)
        assert done["status"] == 200 and done["type"] == media and done["size"] > 1000, done
    asked = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name).filter(u => u.includes('/export.'))")
    assert any("standard=" in u and "bbox=" in u for u in asked), asked
    assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")] == []


def test_e2sfca_mode_draws_accessibility_tiles(base, driver):
    open_workbench(driver, base, "wb-access", KEY)
    driver.get_log("browser")
    driver.execute_script("const m = document.getElementById('mode'); m.value = 'access'; m.dispatchEvent(new Event('change'))")
    wait_for(driver, "!document.getElementById('accessbox').hidden")
    access = driver.execute_script("return document.getElementById('access').value")
    assert access in {a["id"] for a in _api(base, "/workbench/city").json()["access"]}
    wait_for(driver, "performance.getEntriesByType('resource').some(e => e.name.includes('mode=access'))"
                     " && document.querySelectorAll('.leaflet-tile-loaded').length > 0"
                     " && document.querySelectorAll('.leaflet-tile:not(.leaflet-tile-loaded)').length == 0")
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name).filter(u => u.includes('mode=access'))")
    assert all(f"/tiles/{access}/" in u for u in urls)
    r = httpx.get(urls[0], headers=HEADERS)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    legend = driver.find_element("id", "legend").text
    assert "under-served" in legend and "out of reach" in legend
    assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")] == []


def test_reader_without_a_key_sees_an_existing_plan_read_only(base, driver):
    # a planner made a plan; a reader with no key asks for one that does not exist
    r = httpx.post(base + "/scenarios", json={"name": "wb-readable", "description": "for readers"}, headers=HEADERS)
    assert r.status_code in (200, 201), r.text
    driver.get(f"{base}/app/")
    driver.execute_script("sessionStorage.clear()")
    driver.get(f"{base}/app/?scenario=wb-nobody")
    assert wait_for(driver, "document.body.dataset.ready") == "1"
    shown_name = driver.execute_script("return window.lcWorkbench.name")
    listed = [s["name"] for s in _api(base, "/scenarios").json()]
    assert shown_name in listed and "wb-nobody" not in listed  # nothing was created without a key
    api = _api(base, f"/workbench/scenarios/{shown_name}/coverage").json()
    assert _shown_covered(driver) == {sid: s["covered"] for sid, s in api["standards"].items()}
    text = driver.find_element("id", "msg").text
    assert "wb-nobody" in text and shown_name in text and "read only" in text
