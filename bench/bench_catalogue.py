"""The gb50180 catalogue (all life-circle levels, every facility type) on the Guangzhou-sized generated city:
all standards in one evaluation against one standard at a time, time and peak memory.

    python bench/bench_catalogue.py                  # scale 1.0 = Guangzhou's counts (bench_cover_large.big_city)
    python bench/bench_catalogue.py --scale 0.1

"Together" is one ``scenarios.evaluate.evaluate`` call over the catalogue's 26
standards: cells and facilities are snapped once and the standards run in one
thread pool. "One at a time" is what a user running each standard separately
pays: a fresh city (nothing cached) and one ``evaluate`` per standard. Each
mode runs in its own child process, so the peak resident memory
(``ru_maxrss``) is its own. The generated city's facilities are relabelled
round-robin over the catalogue's kinds, so every type has facilities.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _city(scale: float, facilities: int):
    from bench_cover_large import big_city

    from layers.city import City
    from scenarios.catalogue import builtin_catalogue

    city, _ = big_city(scale, facilities)
    kinds = list(builtin_catalogue("gb50180").kinds)
    fac = city.facilities.copy()
    fac["kind"] = [kinds[i % len(kinds)] for i in range(len(fac))]
    return City(name=city.name, crs=city.crs, cells=city.cells, facilities=fac, network=city.network,
                units=city.units, max_snap_m=city.max_snap_m)


def child(mode: str, scale: float, facilities: int) -> None:
    """Run one mode and print its figures as one JSON line."""
    from scenarios.catalogue import use_catalogue
    from scenarios.completeness import completeness, evaluate_circles
    from scenarios.evaluate import evaluate
    from scenarios.standards import resolve_standards

    with use_catalogue("gb50180"):
        city = _city(scale, facilities)
        standards = resolve_standards()
        if mode == "together":
            t = time.perf_counter()
            result, circles = evaluate_circles(city)
            completeness(result, circles)
            seconds = time.perf_counter() - t
        else:  # a fresh city per standard (nothing cached); only the evaluations are timed
            seconds = 0.0
            for k, s in enumerate(standards):
                fresh = city if k == 0 else _city(scale, facilities)
                t = time.perf_counter()
                evaluate(fresh, [s])
                seconds += time.perf_counter() - t
    print(json.dumps({"mode": mode, "seconds": round(seconds, 2), "standards": len(standards),
                      "cells": len(city.cells), "facilities": len(city.facilities),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--facilities", type=int, default=8000)
    ap.add_argument("--child", choices=["together", "each"])
    a = ap.parse_args()
    if a.child:
        child(a.child, a.scale, a.facilities)
        return
    rows = {}
    for mode in ("together", "each"):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--scale", str(a.scale),
                              "--facilities", str(a.facilities)], capture_output=True, text=True, check=True)
        rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{mode:9} {rows[mode]}")
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"one at a time / together: {rows['each']['seconds'] / rows['together']['seconds']:.2f}x time; "
          f"load average {load}")


if __name__ == "__main__":
    main()
