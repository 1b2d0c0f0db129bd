"""``lifecircle batch`` on Dask: scaling, overhead, tiles of the 1M-node city, a simulated province.

Run::

    PYTHONPATH=. python bench/bench_batch.py districts            # 16 districts: loop vs Dask 1 and 2 workers
    PYTHONPATH=. python bench/bench_batch.py tiles --tiles 4 16   # the 1M-node city whole vs in tiles, equality
    PYTHONPATH=. python bench/bench_batch.py province --districts 3 --tiles 16
    PYTHONPATH=. python bench/bench_batch.py province --districts 4 --tiles 4 --scale 0.25   # 250k-node districts

Parts:

1. ``districts``: 16 generated districts (about 20k nodes, 15k cells each) as city
   folders. The plain loop (the same task function called in one process,
   no Dask) against ``run_batch`` on a LocalCluster of 1 and of 2 worker
   processes. Scaling efficiency is ``T(1 worker) / (2 x T(2 workers))``;
   overhead is ``T(1 worker) / T(loop)``.
2. ``tiles``: the 1M-node, 750k-cell generated city (a city folder) run
   whole in one worker, then cut into 4 and 16 tiles (the cut in its own
   worker) and the tiles run on fresh workers that never load the whole
   city. Time and each worker's peak resident memory (``ru_maxrss``, which
   includes the ~0.3 GB of imports); the tiled cells are compared with the
   whole-city cells bit for bit.
3. ``province``: N districts of ``--scale`` x 1M nodes (copies of one
   generated city under other names: generating new ones takes minutes
   each), each in tiles.

The machine is shared by several agents: the load average is printed beside
every figure, and ratios are taken within one process run.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "_work" / "batch"
sys.path.insert(0, str(ROOT))


def load() -> str:
    """The load averages, for the record beside every timing."""
    return "load " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def client(workers: int):
    from scenarios.batch import open_client

    return open_client(workers=workers, processes=True, dashboard=False)


def warm(c) -> None:
    """Import the task code on every worker before timing (a cluster's start is not the batch's work)."""
    c.run(lambda: __import__("scenarios.batch.tasks") and None)


# ---------------------------------------------------------------- districts
def districts(n: int = 16) -> list[Path]:
    from dataclasses import replace

    from layers.cities.generator import generate_city_of_size
    from layers.city_folder import save_city_folder

    out = []
    for i in range(n):
        folder = WORK / "districts-20k" / f"d{i:02d}"
        if not (folder / "manifest.json").is_file():
            city = generate_city_of_size(n_nodes=20_000, n_cells=15_000, n_facilities=60, seed=500 + i)
            save_city_folder(replace(city, name=f"d{i:02d}"), folder)
        out.append(folder)
    return out


def bench_districts() -> None:
    from scenarios.batch import plan_from_dict, run_batch
    from scenarios.batch.runner import plan_jobs
    from scenarios.batch.tasks import run_cells

    folders = districts()
    plan = plan_from_dict({"cities": [str(f) for f in folders]}, "bench", WORK)
    from layers.cities import load_city

    nodes = [load_city(f).network.n_nodes for f in folders[:1]]
    print(f"16 districts of ~{nodes[0]:,} nodes, every standard ({load()})")
    loop_out = WORK / "out-loop"
    shutil.rmtree(loop_out, ignore_errors=True)
    t = time.perf_counter()
    for job, _, _ in plan_jobs(plan).cells:  # the same work without Dask, in this one process
        assert run_cells(job, str(loop_out)).ok
    t_loop = time.perf_counter() - t
    print(f"  loop, no Dask       {t_loop:7.1f} s  ({load()})")
    times = {}
    for w in (1, 2):
        out = WORK / f"out-dask-{w}"
        shutil.rmtree(out, ignore_errors=True)
        with client(w) as c:
            warm(c)
            t = time.perf_counter()
            report = run_batch(plan, out, c)
            times[w] = time.perf_counter() - t
        assert report.ok
        print(f"  Dask, {w} worker(s)   {times[w]:7.1f} s  ({load()})")
    print(f"  scaling efficiency T1/(2 T2) = {times[1] / (2 * times[2]):.2f}; "
          f"overhead T1/T(loop) = {times[1] / t_loop:.2f}")


# ---------------------------------------------------------------- the 1M city
def city_1m(scale: float = 1.0) -> Path:
    """The generated city of ``scale`` x 1M nodes as a city folder (the 1M one copied from
    bench_city_folder's when there, else built)."""
    folder = WORK / ("city-1m" if scale == 1.0 else f"city-{int(1_000_000 * scale)}n")
    if (folder / "manifest.json").is_file():
        return folder
    source = ROOT / "bench" / "_work" / "city-folder" / "full"
    if scale == 1.0 and (source / "manifest.json").is_file():
        shutil.copytree(source, folder)
        return folder
    from bench.bench_cover_large import big_city
    from layers.city_folder import save_city_folder

    city, _ = big_city(scale, 2000)
    save_city_folder(city, folder)
    return folder


def _submit_all(c, jobs, out: Path, cut_files=None) -> tuple[float, list]:
    from distributed import wait

    from scenarios.batch.tasks import run_cells

    t = time.perf_counter()
    futs = [c.submit(run_cells, job, str(out), cut_files, pure=False) for job in jobs]
    wait(futs)
    outcomes = [f.result() for f in futs]
    bad = [o.error for o in outcomes if not o.ok]
    assert not bad, bad
    return time.perf_counter() - t, outcomes


def _read(out: Path, files: list[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pd.concat([pq.read_table(out / f).drop(["geometry"]).to_pandas() for f in files], ignore_index=True)


def _equal(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Number of columns that differ (floats compared bit for bit)."""
    a = a.sort_values("cell_id", ignore_index=True)
    b = b.sort_values("cell_id", ignore_index=True)
    bad = 0
    for col in a.columns:
        if col in ("tile",):
            continue
        x, y = a[col], b[col]
        if not (x.isna().to_numpy() == y.isna().to_numpy()).all():
            bad += 1
            continue
        xv, yv = x[x.notna()].to_numpy(), y[y.notna()].to_numpy()
        same = np.array_equal(xv.astype(np.float64).view(np.int64), yv.astype(np.float64).view(np.int64)) \
            if x.dtype.kind == "f" else bool((xv == yv).all())
        bad += not same
    return bad


def run_tiled(folder: Path, n_tiles: int, workers: int, out: Path) -> dict:
    """Cut in one worker, then the tiles on fresh workers; returns the figures."""
    from scenarios.batch import plan_from_dict
    from scenarios.batch.runner import plan_jobs
    from scenarios.batch.tasks import cut_city

    plan = plan_from_dict({"cities": [str(folder)], "tiles": n_tiles}, "bench", WORK)
    jobs = plan_jobs(plan)
    shutil.rmtree(out, ignore_errors=True)
    with client(1) as c:
        warm(c)
        t = time.perf_counter()
        cut = c.submit(cut_city, jobs.cuts[0][0], str(out), pure=False).result()
        t_cut = time.perf_counter() - t
    assert cut.ok, cut.error
    with client(workers) as c:
        warm(c)
        t_tiles, outcomes = _submit_all(c, [j for j, _, _ in jobs.cells], out, cut.value)
    per = [o.info["seconds"] for o in outcomes]
    return {"cut_s": t_cut, "cut_peak_mb": cut.info["peak_mb"], "tiles_s": t_tiles, "tile_s_mean": float(np.mean(per)),
            "tile_s_max": float(np.max(per)), "tile_peak_mb": max(o.info["peak_mb"] for o in outcomes),
            "files": [f for o in outcomes for f in o.files], "cells_per_tile": cut.info["cells_per_tile"]}


def bench_tiles(tile_counts: list[int], workers: int) -> None:
    from scenarios.batch import plan_from_dict
    from scenarios.batch.runner import plan_jobs

    folder = city_1m()
    print(f"1M-node city {folder} ({load()})")
    whole_out = WORK / "out-1m-whole"
    shutil.rmtree(whole_out, ignore_errors=True)
    plan = plan_from_dict({"cities": [str(folder)]}, "bench", WORK)
    with client(1) as c:
        warm(c)
        t_whole, outcomes = _submit_all(c, [j for j, _, _ in plan_jobs(plan).cells], whole_out)
    info = outcomes[0].info
    print(f"  whole, 1 worker       {t_whole:7.1f} s  task {info['seconds']:.1f} s  peak {info['peak_mb']:7.0f} MB ({load()})")
    whole = _read(whole_out, outcomes[0].files)
    for n in tile_counts:
        r = run_tiled(folder, n, workers, WORK / f"out-1m-t{n}")
        diff = _equal(_read(WORK / f"out-1m-t{n}", r["files"]), whole)
        print(f"  {n:2d} tiles, {workers} workers  cut {r['cut_s']:6.1f} s (peak {r['cut_peak_mb']:.0f} MB); "
              f"tiles {r['tiles_s']:6.1f} s, per tile mean {r['tile_s_mean']:.1f} s max {r['tile_s_max']:.1f} s, "
              f"peak per tile worker {r['tile_peak_mb']:.0f} MB; cells per tile {min(r['cells_per_tile'])}-"
              f"{max(r['cells_per_tile'])}; columns differing from whole: {diff} ({load()})")


def bench_province(n: int, n_tiles: int, workers: int, scale: float = 1.0) -> None:
    folder = city_1m(scale)
    names = []
    for i in range(n):
        d = WORK / f"province-{folder.name}" / f"district-{i:02d}"
        if not d.exists():
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(folder, d)
        names.append(d)
    print(f"province of {n} districts x {scale:g}M nodes ({folder.name}), {n_tiles} tiles each, {workers} workers "
          f"({load()})")
    t = time.perf_counter()
    peaks, cuts = [], 0.0
    for d in names:
        r = run_tiled(d, n_tiles, workers, WORK / "out-province" / d.name)
        peaks.append(r["tile_peak_mb"])
        cuts += r["cut_s"]
        print(f"  {d.name}: cut {r['cut_s']:.1f} s (peak {r['cut_peak_mb']:.0f} MB), tiles {r['tiles_s']:.1f} s, "
              f"per tile mean {r['tile_s_mean']:.1f} s max {r['tile_s_max']:.1f} s, cells per tile "
              f"{min(r['cells_per_tile'])}-{max(r['cells_per_tile'])}, peak per tile worker "
              f"{r['tile_peak_mb']:.0f} MB ({load()})")
    print(f"  total {time.perf_counter() - t:.1f} s (cuts {cuts:.1f} s), peak per tile worker {max(peaks):.0f} MB")


def main() -> None:
    logging.getLogger("distributed").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["districts", "tiles", "province"])
    ap.add_argument("--tiles", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--districts", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0, help="province: district size, x 1M nodes")
    a = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if a.part == "districts":
        bench_districts()
    elif a.part == "tiles":
        bench_tiles(a.tiles, a.workers)
    else:
        bench_province(a.districts, a.tiles[-1], a.workers, a.scale)


if __name__ == "__main__":
    main()
