"""Population allocation onto a square grid: lifecircle vs tobler.area_interpolate.

Both run in this one process on the same synthetic data (Voronoi "census units"
clipped to a rectangle, random counts) and must agree; the script prints both
times and the ratio. Also times building a 750,000-cell grid and allocating
onto it (ours only; tobler at that size takes minutes).

    PYTHONPATH=. python bench/bench_grid.py [--width-km 30 --height-km 25 --units 5000]
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import shapely

from layers.grid import allocate_population, square_grid


def census_units(width: float, height: float, n: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    area = shapely.box(0, 0, width, height)
    seeds = shapely.multipoints(np.column_stack([rng.uniform(0, width, n), rng.uniform(0, height, n)]))
    polys = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=area)), area)
    return gpd.GeoDataFrame(
        {"population": rng.uniform(0, 5000, polys.size), "elderly": rng.uniform(0, 800, polys.size)},
        geometry=polys,
        crs=32650,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width-km", type=float, default=30.0)
    ap.add_argument("--height-km", type=float, default=25.0)
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--big", action=argparse.BooleanOptionalAction, default=True, help="also time the 750,000-cell city")
    args = ap.parse_args()
    from tobler.area_weighted import area_interpolate

    w, h = args.width_km * 1000, args.height_km * 1000
    src = census_units(w, h, args.units)
    grid = square_grid((0, 0, w, h), 100.0, crs=32650)
    print(f"{len(grid):,} cells of 100 m, {len(src):,} source polygons")

    t0 = time.perf_counter()
    ours = allocate_population(grid, src, keep_empty=True)
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    theirs = area_interpolate(src, grid, extensive_variables=["population", "elderly"], allocate_total=True)
    t_tobler = time.perf_counter() - t0

    diff = max(np.abs(ours.population.to_numpy() - theirs.population.to_numpy()).max(),
               np.abs(ours.elderly.to_numpy() - theirs.elderly.to_numpy()).max())
    print(f"lifecircle allocate_population: {t_ours:8.2f} s")
    print(f"tobler area_interpolate:        {t_tobler:8.2f} s")
    print(f"speed-up: {t_tobler / t_ours:.1f}x; max |difference| per cell: {diff:.2e} residents")

    if args.big:
        t0 = time.perf_counter()
        big = square_grid((0, 0, 100_000, 75_000), 100.0, crs=32650)
        t_grid = time.perf_counter() - t0
        src_big = census_units(100_000, 75_000, 20_000, seed=1)
        t0 = time.perf_counter()
        out = allocate_population(big, src_big)
        t_alloc = time.perf_counter() - t0
        print(f"750,000-cell grid: square_grid {t_grid:.2f} s, allocate from 20,000 polygons {t_alloc:.2f} s "
              f"(total kept {out.population.sum():,.0f} of {src_big.population.sum():,.0f})")


if __name__ == "__main__":
    main()
