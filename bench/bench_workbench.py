"""The workbench page in a real browser: first load, click-to-repaint, and tile time.

    PYTHONPATH=. python bench/bench_workbench.py [--clicks 10] [--cells 750000] [--big | --big-only]

Demo city, served by uvicorn on localhost, headless Chromium (Debian's
chromium + chromedriver):

- first load: navigation start until the page is ready (city, base layer,
  scenario, facilities and numbers in) and every cell tile in view is drawn;
- click-to-repaint: from a click on the map that adds a facility to the new
  numbers shown and the cell tiles in view redrawn (the page's own timer,
  ``lcBench.edits``, started in the click handler); the edit's API round trip
  is printed apart. Timed twice in one run: the page's way (only the tiles
  whose colours changed are fetched again, ``/tiles/.../changed``) and the
  earlier way (every tile in view fetched again, ``lcBench.fullRepaint``);
- ``--big``: the same first load and clicks on the Guangzhou-sized generated
  city (``bench_cover_large.big_city(1.0, 2000)``, cached under
  ~/.cache/lifecircle);
- tiles over HTTP on the demo (a fresh tile, the same tile again from the cache).

Tile time at the Guangzhou size: :class:`maps.tiles.CellTiler` on a regular
100 m grid of ``--cells`` cells (the cell index is what grows with the city;
colouring is a gather), rendered fresh at zooms 12-17 over the grid's middle, then recoloured
(the repaint after an edit: the pixel-to-cell index is kept).
No peer: no open-source tile server renders per-cell coverage of these standards;
the figure is against the issue's 50 ms.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from scipy.spatial import cKDTree

from maps.tiles import CellTiler, tile_bounds
from tests.test_api_helpers import HEADERS, KEY, make_app
from tests.workbench_helpers import chromium, open_workbench, served, wait_for


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values):.0f} ms, max {max(values):.0f} ms (n={len(values)})"


def _clicks(driver, clicks: int, seed: int) -> list[dict]:
    """Click ``clicks`` random points of the map (each adds a facility); the page's timings of the edits."""
    from selenium.webdriver.common.action_chains import ActionChains

    el = driver.find_element("id", "map")
    rng = np.random.default_rng(seed)
    start = len(driver.execute_script("return window.lcBench.edits"))
    for _ in range(clicks):
        dx, dy = (int(v) for v in rng.integers(-250, 250, 2))
        ActionChains(driver).move_to_element_with_offset(el, dx, dy).click().perform()
        time.sleep(0.05)
        wait_for(driver, "!window.lcWorkbench.busy", timeout=120)  # a click on a marker selects it: not timed
        time.sleep(0.3)
    return driver.execute_script("return window.lcBench.edits")[start:]


def bench_page(app, label: str, clicks: int) -> str:
    """First load and click-to-repaint (changed tiles only, then every tile) of ``app`` in Chromium; the base URL."""
    with served(app) as port, chromium() as driver:
        base = f"http://127.0.0.1:{port}"
        open_workbench(driver, base, "bench-warm", KEY)  # server caches (city, base layer) warm, as in use
        loads = []
        for i in range(3):
            driver.get(f"{base}/app/?scenario=bench-warm")
            wait_for(driver, "document.body.dataset.ready", timeout=300)
            wait_for(driver, "document.querySelectorAll('.leaflet-tile-loaded').length > 0 && "
                             "document.querySelectorAll('.leaflet-tile:not(.leaflet-tile-loaded)').length == 0", timeout=300)
            loads.append(driver.execute_script("return performance.now()"))
        print(f"first load of /app ({label}, warm server, browser cache as after one visit): {_ms(loads)}")
        open_workbench(driver, base, "bench-click", KEY)
        in_view = driver.execute_script("return document.querySelectorAll('.leaflet-tile-loaded').length")
        changed = _clicks(driver, clicks, 1)
        driver.execute_script("window.lcBench.fullRepaint = true")
        full = _clicks(driver, clicks, 2)
        driver.execute_script("window.lcBench.fullRepaint = false")
        print(f"click-to-repaint (add, {label}), changed tiles only: {_ms([e['total_ms'] for e in changed])}; "
              f"tiles fetched again per edit: median {statistics.median([e.get('tiles') or 0 for e in changed]):.0f} of {in_view} in view")
        print(f"click-to-repaint (add, {label}), every tile in view: {_ms([e['total_ms'] for e in full])}")
        print(f"  edit API round trip: {_ms([e['api_ms'] for e in changed + full])}")
        client = httpx.Client(base_url=base, headers=HEADERS, timeout=300)
        scen = "bench-click"
        x0, y0 = driver.execute_script(
            "const m = window.lcWorkbench.map, c = m.getCenter(), z = 15, p = m.project(c, z).divideBy(256).floor(); return [p.x, p.y]")
        fresh, cached = [], []
        for x in range(x0 - 5, x0 + 5):
            for dst in (fresh, cached):
                t0 = time.perf_counter()
                assert client.get(f"/workbench/scenarios/{scen}/tiles/clinic-walk/15/{x}/{y0}.png").status_code == 200
                dst.append((time.perf_counter() - t0) * 1000)
        print(f"{label} tile over HTTP (z15, live scenario): fresh {_ms(fresh)}, cached {_ms(cached)}")
        return base


def bench_browser(clicks: int) -> None:
    bench_page(make_app(), "demo", clicks)


def bench_big_city(clicks: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_cover_large import big_city

    from api.app import create_app
    from api.config import ApiConfig

    t0 = time.perf_counter()
    city, _ = big_city(1.0, 2000)
    print(f"Guangzhou-sized city: {len(city.cells):,} cells, {len(city.network.u):,} edges, loaded in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    app = create_app(ApiConfig(api_keys=[KEY], data_dir=tempfile.mkdtemp(prefix="lifecircle-bench-")), city=city)
    print(f"  server state built in {time.perf_counter() - t0:.0f} s")
    bench_page(app, "Guangzhou-sized", clicks)


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Start a new peak-memory window (Linux: ``5`` to clear_refs resets VmHWM to the current RSS)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _timed(client, path: str, **kw) -> tuple[float, float, object]:
    """Seconds and peak-memory growth (MB) of one request; the response. A 202 is followed to its result."""
    _reset_peak()
    rss0 = _peak_mb()
    t0 = time.perf_counter()
    r = client.get(path, **kw)
    print(f"    answered {r.status_code} in {time.perf_counter() - t0:.2f} s")
    if r.status_code == 202:
        url = r.headers["Location"]
        while (job := client.get(url).json())["state"] not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.2)
        assert job["state"] == "succeeded", job
        r = client.get(job["result"])
    assert r.status_code == 200, r.text[:500]
    return time.perf_counter() - t0, _peak_mb() - rss0, r


def bench_big_views() -> None:
    """The per-unit compare and the view export, done in the request, on the Guangzhou-sized city (in process)."""
    from fastapi.testclient import TestClient

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_cover_large import big_city

    from api.app import create_app
    from api.config import ApiConfig
    from geo.crs import to_wgs84

    city, _ = big_city(1.0, 2000)
    print(f"Guangzhou-sized city: {len(city.cells):,} cells, {len(city.units or {})} unit levels "
          f"({', '.join(f'{k} {len(v)}' for k, v in (city.units or {}).items())}); load {open('/proc/loadavg').read().strip()}")
    app = create_app(ApiConfig(api_keys=[KEY], data_dir=tempfile.mkdtemp(prefix="lifecircle-bench-")), city=city)
    with TestClient(app, headers=HEADERS) as client:
        assert client.post("/scenarios", json={"name": "views"}).status_code == 201
        x, y = city.cell_xy
        lon, lat = to_wgs84(np.array([np.median(x)]), np.array([np.median(y)]), city.crs)
        edit = {"op": "add", "id": "V1", "kind": "health_station", "lon": float(lon[0]), "lat": float(lat[0])}
        assert client.post("/scenarios/views/edits", json=edit, headers={"If-Match": '"1"'}).status_code == 201
        for what in ("first (two full runs)", "again (runs kept)"):
            s, mb, r = _timed(client, "/workbench/compare/units?a=views")
            print(f"  /workbench/compare/units, {what}: {s:.1f} s, peak memory +{mb:,.0f} MB, {len(r.json()['units']):,} rows "
                  f"(load {open('/proc/loadavg').read().strip()})")
        x0, y0, x1, y1 = city.cells.total_bounds
        wlon, wlat = to_wgs84(np.array([x0, x1]), np.array([y0, y1]), city.crs)
        cx, cy = float(lon[0]), float(lat[0])
        views = {"whole city": (wlon[0], wlat[0], wlon[1], wlat[1]), "3 km view": (cx - 0.015, cy - 0.0135, cx + 0.015, cy + 0.0135)}
        for label, box in views.items():
            for fmt in ("png", "pdf"):
                bbox = ",".join(f"{v:.6f}" for v in box)
                s, mb, r = _timed(client, f"/workbench/scenarios/views/export.{fmt}?standard=clinic-walk&bbox={bbox}")
                print(f"  /workbench/scenarios/.../export.{fmt}, {label}: {s:.1f} s, peak memory +{mb:,.0f} MB, "
                      f"{len(r.content) / 1e6:.1f} MB file (load {open('/proc/loadavg').read().strip()})")


def bench_city_tiles(n_cells: int) -> None:
    side = int(math.sqrt(n_cells))
    # a regular 100 m grid around Guangzhou (23.1 N) in Web Mercator metres (x1.087 at that latitude)
    x0, y0, scale = 12_613_000.0, 2_642_000.0, 1 / math.cos(math.radians(23.1))
    gx, gy = np.meshgrid(np.arange(side) * 100.0 * scale + x0, np.arange(side) * 100.0 * scale + y0)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    t0 = time.perf_counter()
    radius = 100.0 * scale * 0.5 * 1.03
    tiler = CellTiler(cKDTree(pts), (x0 - radius, y0 - radius, pts[:, 0].max() + radius, pts[:, 1].max() + radius), radius)
    build = time.perf_counter() - t0
    classes = (np.arange(len(pts)) % 7 == 0).astype(np.int64)
    rgba = np.array([[26, 152, 80, 191], [215, 48, 39, 191]], np.uint8)
    cx, cy = pts.mean(axis=0)
    print(f"Guangzhou-sized tiles: {len(pts):,} cells, index built in {build:.2f} s")
    for z in (12, 13, 14, 15, 16, 17):
        n = 1 << z
        tx = int((cx + math.pi * 6378137) / (2 * math.pi * 6378137) * n)
        ty = int((math.pi * 6378137 - cy) / (2 * math.pi * 6378137) * n)
        times, recolour = [], []
        for dx in range(4):
            assert tile_bounds(z, tx + dx, ty)[0] < pts[:, 0].max()
            t0 = time.perf_counter()
            tiler.render(z, tx + dx, ty, classes, rgba)
            times.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()  # after an edit: same cells, new colours
            tiler.render(z, tx + dx, ty, 1 - classes, rgba)
            recolour.append((time.perf_counter() - t0) * 1000)
        print(f"  z{z}: fresh {_ms(times)}; recoloured {_ms(recolour)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clicks", type=int, default=10)
    ap.add_argument("--cells", type=int, default=750_000)
    ap.add_argument("--big", action="store_true", help="also the page on the Guangzhou-sized city (minutes)")
    ap.add_argument("--big-only", action="store_true", help="only the page on the Guangzhou-sized city")
    ap.add_argument("--big-views", action="store_true", help="only the per-unit compare and the export on the Guangzhou-sized city")
    args = ap.parse_args()
    print(f"load average before: {open('/proc/loadavg').read().strip()} ({os.cpu_count()} cores)")
    if args.big_views:
        bench_big_views()
        return
    if not args.big_only:
        bench_browser(args.clicks)
        bench_city_tiles(args.cells)
    if args.big or args.big_only:
        print(f"load average: {open('/proc/loadavg').read().strip()}")
        bench_big_city(args.clicks)
    print(f"load average after: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
