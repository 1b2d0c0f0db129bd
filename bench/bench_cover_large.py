"""``lifecircle cover`` end to end on the Guangzhou-sized generated city.

Run::

    PYTHONPATH=. python bench/bench_cover_large.py                 # ~1M nodes, 750k cells, 2,000 facilities
    PYTHONPATH=. python bench/bench_cover_large.py --scale 0.05    # quick look

Steps:

1. build the city with :func:`layers.cities.generator.generate_city_of_size`
   (or load it from the layers disk cache, keyed on its parameters and the
   generator's source);
2. write it as a user would hand it over into ``bench/_work/<city>/``
   (git-ignored): cells as GeoPackage (or GeoParquet), facilities as a CSV
   with lon/lat in WGS84, the network with :func:`layers.network_io.save_network`;
3. time :func:`scenarios.evaluate.evaluate` on the in-memory city, per
   standard, with snapping (cached on the City) timed apart;
4. run ``lifecircle cover --grid ... --facilities ... --network net.npz
   --out ...`` in a subprocess, report its wall time, its peak RSS
   (``RUSAGE_CHILDREN``) and the phase breakdown it writes with ``--timings``.

There is no peer tool that does the whole ``cover`` run; the figures are
absolute, against the targets of the issue (evaluate < 5 s, cover < 60 s,
peak memory < 8 GB). The machine is shared: the load average is printed with
every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "_work"
GUANGZHOU_POPULATION = 18_700_000


def load_avg() -> str:
    """The 1-minute load average, for the record beside every timing."""
    return f"load {os.getloadavg()[0]:.1f}"


def big_city(scale: float, facilities: int):
    """The generated city at ``scale`` times Guangzhou's counts, cached on disk."""
    from layers.cache import cache_key, cached_city
    from layers.cities.generator import GENERATOR_VERSION, generate_city_of_size

    params = {
        "n_nodes": int(1_000_000 * scale),
        "n_cells": int(750_000 * scale),
        "n_facilities": max(int(facilities * scale), 20),
        "target_population": GUANGZHOU_POPULATION * scale,
    }
    key = cache_key("bench-cover", GENERATOR_VERSION, params, sources=("layers.cities.generator",))
    t = time.perf_counter()
    city = cached_city("bench-cover", key, lambda: generate_city_of_size(**params))
    print(f"city             {time.perf_counter() - t:7.1f} s  built or loaded ({load_avg()})")
    return city, key


def write_inputs(city, key: str, grid_format: str, grid_crs: str) -> dict[str, Path]:
    """The city as user files; reused when already written for this city key."""
    from layers.network_io import save_network

    folder = WORK / f"{city.name}-{grid_crs}"
    folder.mkdir(parents=True, exist_ok=True)
    grid = folder / ("cells.gpkg" if grid_format == "gpkg" else "cells.parquet")
    paths = {"grid": grid, "facilities": folder / "facilities.csv", "network": folder / "net.npz"}
    stamp = folder / "key.txt"
    if stamp.exists() and stamp.read_text() == key and all(p.exists() for p in paths.values()):
        return paths
    t = time.perf_counter()
    cells = city.cells[["cell_id", "population", "elderly", "geometry"]]
    if grid_crs == "wgs84":
        cells = cells.to_crs(4326)
    if grid_format == "gpkg":
        cells.to_file(grid, driver="GPKG", engine="pyogrio", use_arrow=True)
    else:
        cells.to_parquet(grid)
    fac = city.facilities.to_crs(4326)
    pd.DataFrame(
        {"id": fac["id"], "name": fac["name"], "kind": fac["kind"], "beds": fac["beds"],
         "lon": fac.geometry.x.round(7), "lat": fac.geometry.y.round(7)}
    ).to_csv(paths["facilities"], index=False)  # fmt: skip
    save_network(city.network, paths["network"])
    stamp.write_text(key)
    print(f"inputs written   {time.perf_counter() - t:7.1f} s  to {folder} ({load_avg()})")
    return paths


def time_evaluate(city, repeat: int) -> None:
    """Snapping, then every standard of the catalogue, on the in-memory city."""
    import dataclasses

    from scenarios.evaluate import evaluate, evaluate_standard
    from scenarios.standards import resolve_standards

    # a fresh City without cached snapping or spatial trees
    city = dataclasses.replace(city, network=dataclasses.replace(city.network))
    t = time.perf_counter()
    _ = city.network.csr, city.network.edge_tree
    print(f"network index    {time.perf_counter() - t:7.2f} s  (CSR graph + edge STRtree, {load_avg()})")
    t, c = time.perf_counter(), time.process_time()
    _ = city.snapped_cells
    print(f"snap cells       {time.perf_counter() - t:7.2f} s  [CPU {time.process_time() - c:.2f} s] "
          f"({len(city.cells):,} cells, in threads, {load_avg()})")  # fmt: skip
    t = time.perf_counter()
    _ = city.snapped_facilities
    print(f"snap facilities  {time.perf_counter() - t:7.2f} s  ({load_avg()})")
    total = total_cpu = 0.0
    for s in resolve_standards():
        best = best_cpu = float("inf")
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            evaluate_standard(city, s)
            best, best_cpu = min(best, time.perf_counter() - t), min(best_cpu, time.process_time() - c)
        total, total_cpu = total + best, total_cpu + best_cpu
        print(f"  {s.id:<15}{best:7.2f} s  [CPU {best_cpu:.2f} s] ({s.mode}, {s.threshold_m:g} m, {load_avg()})")
    print(f"one by one       {total:7.2f} s  [CPU {total_cpu:.2f} s]")
    best = best_cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        evaluate(city)
        best, best_cpu = min(best, time.perf_counter() - t), min(best_cpu, time.process_time() - c)
    print(f"evaluate()       {best:7.2f} s  [CPU {best_cpu:.2f} s] (4 standards in threads, snapping done; "
          f"target < 5 s, {load_avg()})")  # fmt: skip


def time_cover(paths: dict[str, Path], service_areas: bool | None) -> None:
    """``lifecircle cover`` in a subprocess: wall time, peak RSS, phases."""
    out = paths["grid"].parent / "out"
    timings = paths["grid"].parent / "timings.json"
    cmd = [
        sys.executable, "-m", "api.cli", "cover",
        "--grid", str(paths["grid"]), "--facilities", str(paths["facilities"]),
        "--network", str(paths["network"]), "--out", str(out), "--no-map",
        "--timings", str(timings),
    ]  # fmt: skip
    if service_areas is not None:
        cmd.append("--service-areas" if service_areas else "--no-service-areas")
    print("command          " + " ".join(Path(c).name if i < 3 else c for i, c in enumerate(cmd)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = usage.ru_maxrss / 1024
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
        raise SystemExit(f"cover failed with exit code {proc.returncode}")
    print(f"cover wall       {wall:7.1f} s  (load {before:.1f} before, {load_avg()} after; target < 60 s)")
    print(f"cover CPU        {usage.ru_utime + usage.ru_stime:7.1f} s  (user + system, all threads)")
    print(f"cover peak RSS   {peak:7.0f} MB (target < 8 GB)")
    for phase, seconds in json.loads(timings.read_text()).items():
        print(f"  {phase:<30}{seconds:7.2f} s")
    gpkg = out / "coverage.gpkg"
    print(f"coverage.gpkg    {gpkg.stat().st_size / 1e6:7.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of Guangzhou's counts (default 1)")
    ap.add_argument("--facilities", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=1, help="best of this many evaluate runs per standard")
    ap.add_argument("--grid-format", choices=("gpkg", "parquet"), default="gpkg")
    ap.add_argument("--grid-crs", choices=("wgs84", "metric"), default="wgs84",
                    help="write the cells in WGS84 (as a user would) or in the city's metric CRS")  # fmt: skip
    ap.add_argument("--service-areas", action=argparse.BooleanOptionalAction, default=None,
                    help="pass --service-areas / --no-service-areas to cover (default: cover's own default)")  # fmt: skip
    ap.add_argument("--skip-evaluate", action="store_true")
    ap.add_argument("--skip-cover", action="store_true")
    args = ap.parse_args()

    from geo.threads import CORES

    print(f"machine          {CORES} usable cores of {os.cpu_count()}, {load_avg()}")
    city, key = big_city(args.scale, args.facilities)
    net = city.network
    print(f"size             {net.n_nodes:,} nodes, {net.n_edges:,} edges, {len(city.cells):,} cells, "
          f"{len(city.facilities):,} facilities, {city.cells['population'].sum():,.0f} residents")  # fmt: skip
    paths = write_inputs(city, key, args.grid_format, args.grid_crs)
    if not args.skip_evaluate:
        time_evaluate(city, args.repeat)
    del city
    if not args.skip_cover:
        time_cover(paths, args.service_areas)


if __name__ == "__main__":
    main()
