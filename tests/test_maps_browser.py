"""Open the HTML maps in a real headless Chromium: no JavaScript errors, a map on screen.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/chromium.sh``
installs them); skipped cleanly when they are absent. Pages are served from a
localhost HTTP server started here; Chromium runs with a fresh profile and
every background service off, and the maps use no basemap, so nothing leaves
the machine.
"""

from __future__ import annotations

import functools
import http.server
import io
import threading

import numpy as np
import pytest

from maps.interactive import coverage_map
from tests.test_maps_city import make_result
from tests.workbench_helpers import CHROMEDRIVER, CHROMIUM, chromium

pytestmark = pytest.mark.browser

if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("chromium and chromium-driver are not installed (run .ci/chromium.sh)", allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")
Image = pytest.importorskip("PIL.Image")



@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Maps written to a folder served on localhost; yields (folder, base URL)."""
    root = tmp_path_factory.mktemp("site")
    result = make_result()
    coverage_map(result, root / "vector.html", basemap="none")
    coverage_map(result, root / "image_zh.html", basemap="none", lang="zh", max_vector_cells=10)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def driver():
    # the workbench tests' browser: headless, fresh profile, background services off
    with chromium() as drv:
        yield drv


def _open(driver, url: str) -> list[dict]:
    driver.get(url)
    # wait until Leaflet has drawn: the layer control exists and the canvas/images are in
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.querySelectorAll('.leaflet-control-layers-overlays label').length") > 0
    )
    return driver.get_log("browser")


def _errors(log: list[dict]) -> list[dict]:
    return [e for e in log if e["level"] in ("SEVERE", "ERROR")]


def _screenshot_colours(driver) -> int:
    img = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    arr = np.asarray(img).reshape(-1, 3)
    return len(np.unique(arr, axis=0))


def test_vector_map_opens_without_errors_and_draws(site, driver):
    _, base = site
    log = _open(driver, f"{base}/vector.html")
    assert _errors(log) == []
    # the layer control lists the data layers and the cell canvas is drawn
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label')).map(e => e.textContent.trim())"
    )
    assert "Residents per cell" in labels
    assert any(lab.startswith("Community health facility") for lab in labels)
    assert driver.execute_script("return document.querySelectorAll('canvas.leaflet-zoom-animated').length") >= 1
    # facilities drawn as our SVG icons, controls present
    assert driver.execute_script("return document.querySelectorAll('.lc-icon svg').length") == 6
    for css in (".leaflet-control-scale", ".leaflet-control-measure", ".leaflet-control-zoom-fullscreen", "#lc-legend"):
        assert driver.execute_script(f"return document.querySelectorAll('{css}').length") == 1, css
    # a page with a drawn map has many colours; a blank or failed page has a handful
    assert _screenshot_colours(driver) > 200


def test_hidden_layer_builds_when_switched_on(site, driver):
    _, base = site
    _open(driver, f"{base}/vector.html")
    count = "let n = 0; map.eachLayer(l => { if (l.feature && l.feature.geometry.type === 'Polygon') n++; }); return n;"
    # find the map variable folium created
    setup = "window.map = Object.values(window).find(v => v instanceof L.Map);"
    driver.execute_script(setup)
    before = driver.execute_script(count)
    # switch on the elderly-circle layer (hidden at load)
    driver.execute_script(
        "Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".find(e => e.textContent.includes('10-minute elderly')).querySelector('input').click();"
    )
    after = driver.execute_script(count)
    assert after > before
    assert _errors(driver.get_log("browser")) == []


def test_chinese_image_map_opens_without_errors(site, driver):
    _, base = site
    log = _open(driver, f"{base}/image_zh.html")
    assert _errors(log) == []
    title = driver.execute_script("return document.getElementById('lc-title').textContent")
    assert "生成的示例城区，并非真实地点" in title
    assert driver.execute_script("return document.title") == title
    # grid layers are images in this mode
    assert driver.execute_script("return document.querySelectorAll('img.leaflet-image-layer').length") == 1  # the shown standard
    assert _screenshot_colours(driver) > 200
