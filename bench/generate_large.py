"""Build the Guangzhou-sized generated city and report time, size and peak memory.

    PYTHONPATH=. python bench/generate_large.py [--nodes 1000000] [--cells 750000] [--facilities 2000]

Also times writing the city to the disk cache and reading it back (what a
second ``load_city`` of a generated city of this size costs). There is no peer
tool for generating a city; the figures are absolute.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

from layers.cache import cache_key, load_cached, store_city
from layers.cities.generator import generate_city_of_size

GUANGZHOU_POPULATION = 18_676_605  # 2020 census, used only to scale residents


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--cells", type=int, default=750_000)
    ap.add_argument("--facilities", type=int, default=2000)
    ap.add_argument("--no-cache", action="store_true", help="skip the cache write/read timing")
    args = ap.parse_args()

    t0 = time.perf_counter()
    marks: list[tuple[str, float]] = []
    city = generate_city_of_size(
        n_nodes=args.nodes,
        n_cells=args.cells,
        n_facilities=args.facilities,
        target_population=GUANGZHOU_POPULATION,
        progress=lambda step, fraction: marks.append((step, time.perf_counter() - t0)),
    )
    total = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    net = city.network
    p = city.meta["params"]
    print(f"extent           {p['width_m'] / 1000:.1f} km x {p['height_m'] / 1000:.1f} km "
          f"(footpath spacing {p['path_spacing_m']:.0f} m)")  # fmt: skip
    print(f"nodes            {net.n_nodes:,} (asked {args.nodes:,})")
    print(f"edges            {net.n_edges:,}")
    print(f"cells            {len(city.cells):,} (asked {args.cells:,})")
    print(f"facilities       {len(city.facilities):,} (asked {args.facilities:,})")
    print(f"compounds        {city.meta['counts']['compounds']:,}; components {net.n_components}")
    print(f"build time       {total:.1f} s")
    # Each progress mark starts a step; the calibration on pilot districts runs before the first.
    starts = [("calibrating on pilot districts", 0.0)] + marks
    for (step, t), (_, t_next) in zip(starts, starts[1:] + [("", total)]):
        print(f"  {t_next - t:6.1f} s  {step}")
    print(f"peak RSS         {peak_mb:,.0f} MB")
    if not args.no_cache:
        import os

        with tempfile.TemporaryDirectory() as tmp:
            os.environ["LIFECIRCLE_CACHE"] = tmp
            key = cache_key(city.name, "bench", p)
            t = time.perf_counter()
            path = store_city(city.name, key, city)
            t_write = time.perf_counter() - t
            t = time.perf_counter()
            again = load_cached(city.name, key)
            t_read = time.perf_counter() - t
            assert again is not None and again.network.n_nodes == net.n_nodes
            print(f"cache write      {t_write:.1f} s ({path.stat().st_size / 1e6:,.0f} MB)")
            print(f"cache read       {t_read:.1f} s")
        print(f"peak RSS (all)   {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
