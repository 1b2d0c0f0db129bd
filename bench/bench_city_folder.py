"""City folders on the Guangzhou-sized generated city: write, load, and the files a planner hands over.

Run::

    PYTHONPATH=. python bench/bench_city_folder.py                # ~1M nodes, 750k cells, 2,000 facilities
    PYTHONPATH=. python bench/bench_city_folder.py --scale 0.05   # quick look

Steps, in one process run:

1. the city from :func:`bench_cover_large.big_city` (the layers disk cache);
   :func:`layers.city_folder.save_city_folder` and
   :func:`layers.city_folder.load_city_folder` (best of ``--repeat``) against
   the pickle cache's :func:`layers.cache.store_city` and
   :func:`layers.cache.load_cached` on the same city (written to a private
   cache folder under ``bench/_work``); then each load once more in a fresh
   child process for its peak RSS (``ru_maxrss`` of that child alone);
2. the city as a planner's files in ``bench/_work/<city>-4547/``: cells as a
   GeoPackage projected to EPSG:4547 (CGCS2000 3-degree Gauss-Kruger, CM
   114E, Guangzhou's zone), facilities as CSV in WGS84, the network with
   :func:`layers.network_io.save_network`; reading that GeoPackage with
   :func:`layers.readers.read_layer` + :func:`layers.validate.validate_grid`
   is timed against the peer ``geopandas.read_file(path, engine="pyogrio",
   use_arrow=True)`` (best of ``--repeat`` each, the ratio printed);
3. ``lifecircle city build`` on those files in a child process (wall time,
   CPU, peak RSS), then ``lifecircle city info DIR``, which loads the folder.

Peak RSS of a child is its own ``VmHWM`` (``/proc/self/status``), written at
exit by a small wrapper: ``ru_maxrss`` from ``RUSAGE_CHILDREN`` or
:func:`os.wait4` reports this 2.6 GB parent's peak for every child, because
Linux carries the pre-``exec`` high-water mark of the forked process over.
The machine is shared: the load average is printed beside every figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_cover_large, when run as a script
from bench_cover_large import big_city, load_avg  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "_work"
GRID_EPSG = 4547
"""CGCS2000 / 3-degree Gauss-Kruger CM 114E: the projected CRS a Guangzhou planner's grid comes in."""


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Best wall time of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None  # free the previous result before the next call, so two never coexist
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:,.0f} MB"


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


_PEAK = """
import atexit, runpy, sys
def _peak(path=sys.argv[1]):
    with open("/proc/self/status") as f:
        kb = next(line.split()[1] for line in f if line.startswith("VmHWM"))
    with open(path, "w") as f:
        f.write(kb)
atexit.register(_peak)
sys.argv = sys.argv[2:]
if sys.argv[0] == "-c":
    sys.argv = sys.argv[1:]
    exec(compile(sys.argv[0], "<child>", "exec"), {"__name__": "__main__"})
else:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def run_child(args: list[str], label: str) -> tuple[float, float, float, str]:
    """Run ``python <args>`` (``-m module ...`` or ``-c code ...``); wall s, CPU s, peak RSS MB, output.

    Raises
    ------
    SystemExit
        If the command fails (its output is printed).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160"}
    log, peak = WORK / f".{label}.log", WORK / f".{label}.peak"
    peak.unlink(missing_ok=True)
    cmd = [sys.executable, "-c", _PEAK, str(peak), *(args[1:] if args[0] == "-m" else args)]
    with log.open("w+") as out:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # CPU of this child alone
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        print(text)
        raise SystemExit(f"{label} failed with exit code {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, int(peak.read_text()) / 1024, text


# ------------------------------------------------------------------ 1. folder vs pickle
_CHILD_LOAD = """
import sys, time
kind, target = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if kind == "folder":
    from layers.city_folder import load_city_folder as load
else:
    import os; os.environ["LIFECIRCLE_CACHE"] = sys.argv[3]
    from layers.cache import load_cached
    load = lambda name: load_cached(name, sys.argv[4])
t1 = time.perf_counter()
base = int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM"))) / 1024
city = load(target)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {base:.0f}")
"""


def time_folder_vs_pickle(city, key: str, repeat: int) -> Path:
    """Write and load the city as a folder and as a pickle; returns the folder."""
    from layers import cache
    from layers.city_folder import load_city_folder, save_city_folder

    folder = WORK / "city-folder" / city.name
    pickles = WORK / "city-folder" / "pickle-cache"
    shutil.rmtree(folder, ignore_errors=True)
    pickles.mkdir(parents=True, exist_ok=True)
    os.environ[cache.CACHE_ENV] = str(pickles)  # never touch the real cache
    name = "bench-city-folder"

    t = time.perf_counter()
    save_city_folder(city, folder)
    save = time.perf_counter() - t
    print(f"folder write     {save:7.2f} s  {mb(folder_size(folder))} ({load_avg()})")
    t = time.perf_counter()
    path = cache.store_city(name, key, city)
    store = time.perf_counter() - t
    print(f"pickle write     {store:7.2f} s  {mb(path.stat().st_size)} ({load_avg()})")

    folder_load, loaded = best_of(lambda: load_city_folder(folder), repeat)
    assert len(loaded.cells) == len(city.cells) and loaded.network.n_nodes == city.network.n_nodes
    del loaded
    print(f"folder load      {folder_load:7.2f} s  best of {repeat} (target < 3 s, {load_avg()})")
    pickle_load, loaded = best_of(lambda: cache.load_cached(name, key), repeat)
    assert loaded is not None and len(loaded.cells) == len(city.cells)
    del loaded
    print(f"pickle load      {pickle_load:7.2f} s  best of {repeat} ({load_avg()})")
    print(f"  pickle / folder load   {pickle_load / folder_load:5.1f}x;  write {store / save:4.2f}x")

    for kind, args in (("folder", [str(folder)]), ("pickle", [name, str(pickles), key])):
        wall, cpu, peak, text = run_child(["-c", _CHILD_LOAD, kind, *args], f"load-{kind}")
        imports, load, base = text.split()
        print(f"  fresh process, {kind:<6} load {float(load):6.2f} s (imports {float(imports):.2f} s), peak RSS "
              f"{peak:,.0f} MB ({base} MB after imports; {load_avg()})")  # fmt: skip
    path.unlink()
    return folder


# ------------------------------------------------------------------ 2. projected GeoPackage
def write_inputs(city, key: str) -> dict[str, Path]:
    """The city as a planner's files, cells in EPSG:4547; reused when written for this city key."""
    from layers.network_io import save_network

    folder = WORK / f"{city.name}-{GRID_EPSG}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"grid": folder / "cells.gpkg", "facilities": folder / "facilities.csv", "network": folder / "net.npz"}
    stamp = folder / "key.txt"
    if stamp.exists() and stamp.read_text() == key and all(p.exists() for p in paths.values()):
        return paths
    t = time.perf_counter()
    cells = city.cells[["cell_id", "population", "elderly", "subdistrict", "community", "geometry"]].to_crs(GRID_EPSG)
    cells.to_file(paths["grid"], driver="GPKG", engine="pyogrio", use_arrow=True)
    fac = city.facilities.to_crs(4326)  # a CSV of sites comes with lon/lat in WGS84
    table = pd.DataFrame(fac[["id", "name", "kind", "beds"]]).assign(lon=fac.geometry.x.round(7), lat=fac.geometry.y.round(7))
    table.to_csv(paths["facilities"], index=False)
    save_network(city.network, paths["network"])  # compressed, as a planner would keep it
    stamp.write_text(key)
    print(f"inputs written   {time.perf_counter() - t:7.1f} s  to {folder} ({load_avg()})")
    return paths


def describe_location(city) -> None:
    """Where the generated city lies, and whether EPSG:4547's zone (112.5-115.5 E) covers it."""
    from geo.crs import to_wgs84

    minx, miny, maxx, maxy = city.cells.total_bounds
    lon, lat = to_wgs84([minx, maxx], [miny, maxy], city.crs)
    inside = 112.5 <= lon[0] and lon[1] <= 115.5
    print(f"location         lon {lon[0]:.2f} to {lon[1]:.2f}, lat {lat[0]:.2f} to {lat[1]:.2f} in {city.crs.name}; "
          f"EPSG:{GRID_EPSG} zone 112.5-115.5 E {'covers it' if inside else 'does not cover it (reprojected anyway)'}")


def time_gpkg_read(grid: Path, repeat: int) -> None:
    """Our reader + grid validation against geopandas/pyogrio's Arrow read of the same GeoPackage."""
    import geopandas as gpd

    from layers.readers import read_layer
    from layers.validate import validate_grid

    print(f"cells.gpkg       {mb(grid.stat().st_size)}, EPSG:{GRID_EPSG}")
    peer, gdf = best_of(lambda: gpd.read_file(grid, engine="pyogrio", use_arrow=True), repeat)
    n = len(gdf)
    del gdf
    print(f"peer read_file   {peer:7.2f} s  best of {repeat}, {n:,} cells (pyogrio, use_arrow; {load_avg()})")
    read, gdf = best_of(lambda: read_layer(grid), repeat)
    print(f"ours read_layer  {read:7.2f} s  best of {repeat} ({read / peer:.2f}x the peer; {load_avg()})")
    validate, cells = best_of(lambda g=gdf: validate_grid(g, grid.name), repeat)
    assert len(cells) == n
    del gdf, cells
    ours = read + validate
    print(f"ours validate    {validate:7.2f} s  best of {repeat} ({load_avg()})")
    print(f"  ours read + validate {ours:6.2f} s = {ours / peer:.2f}x the peer's read")


# ------------------------------------------------------------------ 3. the CLI
def time_cli(paths: dict[str, Path], folder: Path) -> None:
    """``lifecircle city build`` then ``lifecircle city info`` in child processes."""
    shutil.rmtree(folder, ignore_errors=True)
    cmd = [
        "-m", "api.cli", "city", "build", "--grid", str(paths["grid"]),
        "--facilities", str(paths["facilities"]), "--network", str(paths["network"]), "--out", str(folder),
    ]  # fmt: skip
    print("command          lifecircle " + " ".join(str(Path(c).relative_to(ROOT)) if c.startswith(str(ROOT)) else c
                                                    for c in cmd[2:]))  # fmt: skip
    before = load_avg()
    wall, cpu, peak, _ = run_child(cmd, "city-build")
    print(f"city build       {wall:7.1f} s  CPU {cpu:.1f} s, peak RSS {peak:,.0f} MB ({before} before, {load_avg()} after)")
    cmd = ["-m", "api.cli", "city", "info", str(folder)]
    print(f"command          lifecircle city info {folder.relative_to(ROOT)}")
    before = load_avg()
    wall, cpu, peak, text = run_child(cmd, "city-info")
    print(f"city info        {wall:7.1f} s  CPU {cpu:.1f} s, peak RSS {peak:,.0f} MB ({before} before, {load_avg()} after)")
    for line in text.splitlines():
        if "cells" in line and "residents" in line or "network" in line and "nodes" in line:
            print("  " + line.strip(" │|"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of Guangzhou's counts (default 1)")
    ap.add_argument("--facilities", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs per in-process timing")
    ap.add_argument("--skip-pickle", action="store_true", help="skip step 1 (folder vs pickle)")
    ap.add_argument("--skip-gpkg", action="store_true", help="skip step 2's timing (the files are still written)")
    ap.add_argument("--skip-cli", action="store_true", help="skip step 3 (city build, city info)")
    args = ap.parse_args()

    print(f"machine          {os.cpu_count()} cores, {load_avg()}")
    city, key = big_city(args.scale, args.facilities)
    net = city.network
    print(f"size             {net.n_nodes:,} nodes, {net.n_edges:,} edges, {len(city.cells):,} cells, "
          f"{len(city.facilities):,} facilities")  # fmt: skip
    describe_location(city)
    folder = WORK / "city-folder" / city.name
    if not args.skip_pickle:
        time_folder_vs_pickle(city, key, args.repeat)
    paths = write_inputs(city, key)
    del city
    if not args.skip_gpkg:
        time_gpkg_read(paths["grid"], args.repeat)
    if not args.skip_cli:
        time_cli(paths, WORK / "city-folder" / f"{folder.name}-built")
    print(f"peak RSS (this process) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
