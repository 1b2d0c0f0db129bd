"""HTML map of a Guangzhou-sized city: file size, build time, browser load time.

    PYTHONPATH=. python bench/bench_map.py [--cells 750000] [--nodes 1000000] [--peer-cells 20000]

Ours: :func:`maps.interactive.coverage_map` on the generated city (750,000
cells, grid drawn as images). Peer, on the same data in the same run:
geopandas ``GeoDataFrame.explore`` (folium GeoJSON, one polygon per cell),
which is what one would write without the image path: one ``explore`` call,
coloured by the first standard's band, with every column in its tooltip (the
headline), and, as a secondary row, one ``explore`` layer per column (the peer
of the first versions of this benchmark, which repeats the geometry per
layer). The peer runs on the first ``--peer-cells`` cells, because at city
scale its page is hundreds of MB. ``--peer-only`` skips the city-sized image
map and the browser, for a quick run on a city of ``--cells`` cells.
Our vector path (shared GeoJSON, up to 20,000 cells) is timed on the same
subset. Browser load: headless Chromium (Debian's chromium + chromedriver),
page served from localhost, time from navigation start until the load event
plus until every map image is decoded. The peer page is not opened: it loads
Leaflet from CDNs, which a machine without internet cannot reach.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from layers.cities.generator.build import generate_city_of_size
from layers.city import City
from maps.interactive import coverage_map
from scenarios.evaluate import evaluate

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
         "--window-size=1280,900"]


def _subset(city: City, n: int) -> City:
    cells = city.cells.iloc[:n].reset_index(drop=True)
    return City(name=city.name, crs=city.crs, cells=cells, facilities=city.facilities, network=city.network,
                units=city.units, attribution=city.attribution, generated=city.generated)


def _browser_load(folder: Path, names: list[str]) -> dict[str, float]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp()
    opts = Options()
    opts.binary_location = shutil.which("chromium")
    for f in FLAGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(f)
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(600)
    out = {}
    try:
        for name in names:
            driver.get(f"http://127.0.0.1:{server.server_address[1]}/{name}")
            # wait for images to decode, then read the navigation timing
            driver.execute_script(
                "return Promise.all(Array.from(document.images).map(i => i.decode ? i.decode().catch(() => 0) : 0));"
            )
            nav = driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0]; return [n.loadEventEnd, performance.now()];"
            )
            out[name] = (nav[0] / 1000, nav[1] / 1000)
    finally:
        driver.quit()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=750_000)
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--facilities", type=int, default=2000)
    ap.add_argument("--peer-cells", type=int, default=20_000)
    ap.add_argument("--peer-only", action="store_true", help="only the vector-path comparison with the peer")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="lc-bench-map-"))

    t = time.perf_counter()
    city = generate_city_of_size(n_nodes=args.nodes, n_cells=args.cells, n_facilities=args.facilities,
                                 target_population=18_676_605)
    print(f"city: {len(city.cells):,} cells, {city.network.n_nodes:,} nodes, {len(city.facilities):,} facilities "
          f"({time.perf_counter() - t:.1f} s)")
    t = time.perf_counter()
    result = evaluate(city)
    print(f"evaluate: {time.perf_counter() - t:.1f} s")

    if not args.peer_only:
        t = time.perf_counter()
        big = coverage_map(result, folder / "city.html", service_areas=False)
        t_big = time.perf_counter() - t
        print(f"ours, {len(city.cells):,} cells (images): {big.stat().st_size / 1e6:.1f} MB in {t_big:.1f} s")

    sub = _subset(city, args.peer_cells)
    sub_result = evaluate(sub)
    t = time.perf_counter()
    ours = coverage_map(sub_result, folder / "ours_sub.html", service_areas=False)
    t_ours = time.perf_counter() - t
    cells = sub_result.cells_frame()
    keep = ["cell_id", "population", "elderly"] + [c for c in cells.columns if c.endswith(("_time_min", "_dist_m", "_band", "_covered"))]
    cells = cells[keep + ["geometry"]]
    # headline peer: one explore call, coloured by the first standard's band, every column in its tooltip
    colour = next(c for c in cells.columns if c.endswith("_band"))
    t = time.perf_counter()
    cells.explore(column=colour, tooltip=keep, name="cells", tiles="OpenStreetMap").save(folder / "peer_one.html")
    t_peer = time.perf_counter() - t
    # secondary: one explore layer per column (the peer of the first versions of this benchmark)
    t = time.perf_counter()
    m = None
    for col in [c for c in cells.columns if c.endswith(("_band", "_covered"))] + ["population"]:
        m = cells.explore(column=col, m=m, name=col, tiles=None if m is not None else "OpenStreetMap", show=False)
    import folium

    folium.LayerControl().add_to(m)
    m.save(folder / "peer_layers.html")
    t_layers = time.perf_counter() - t
    s_ours = ours.stat().st_size / 1e6
    s_peer, s_layers = ((folder / f).stat().st_size / 1e6 for f in ("peer_one.html", "peer_layers.html"))
    print(f"{len(cells):,} cells: ours (vector) {s_ours:.1f} MB in {t_ours:.1f} s; HEADLINE geopandas.explore, one call, "
          f"{len(keep)} columns in the tooltip: {s_peer:.1f} MB in {t_peer:.1f} s; size ratio {s_peer / s_ours:.1f}x, "
          f"time ratio {t_peer / t_ours:.1f}x (load {os.getloadavg()[0]:.1f})")
    print(f"(secondary) geopandas.explore, one layer per column: {s_layers:.1f} MB in {t_layers:.1f} s; "
          f"size ratio {s_layers / s_ours:.1f}x, time ratio {t_layers / t_ours:.1f}x")

    if not args.peer_only and shutil.which("chromium") and shutil.which("chromedriver"):
        # the peer page links Leaflet from CDNs, which this machine cannot reach: its load time would
        # measure failed requests, so only our two pages are opened
        loads = _browser_load(folder, ["city.html", "ours_sub.html"])
        for name, (load, drawn) in loads.items():
            print(f"browser {name}: load event {load:.2f} s, images decoded {drawn:.2f} s")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
