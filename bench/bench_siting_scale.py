"""Siting speed and memory at scale: p-median on the demo city and on the Guangzhou-sized city.

Run::

    cd /work/main && PYTHONPATH=. python -u bench/bench_siting_scale.py            # demo + big city
    cd /work/main && PYTHONPATH=. python -u bench/bench_siting_scale.py --only demo
    cd /work/main && PYTHONPATH=. python -u bench/bench_siting_scale.py --only big --p 20 --candidates 20000

**demo**: the planner's call from issue 15, ``site(demo, "elderly-circle",
"p-median", p=3, remove EC0008, min_spacing_m=500)`` end to end (9,884
generated candidates, distances, solve, re-evaluation), with the time limit
of the CLI (60 s). Peak memory is the process's ``ru_maxrss`` before and
after the call (the imports and the city come first).

**big**: the Guangzhou-sized generated city (1,018,676 nodes, 750,880
populated cells; the layers disk cache shared with ``bench_cover_large``),
candidates every 250 m along the streets, a seeded random ``--candidates`` of
them, residents as weights, the 15-minute clinic walk (1,080 m), the
existing clinics kept (their per-cell distances as ``existing_dist``).
p-median with ``--p`` sites; the time limit bounds the solve, the matrix is
timed apart. There is no peer: spopt needs the dense cells x candidates cost
matrix (120 GB of float64 at 750,880 x 20,000).

Both print the reach pairs and the exact model's nonzeros, so that memory
can be checked against the sparse reach, and the load average beside every
figure (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_cover_large, when run as a script

from geo.siting import ModelOptions, SitingInput, candidate_matrix, candidates_on_network, p_median  # noqa: E402

CLINIC_REACH = 1080.0


def load() -> str:
    """The 1-minute load average, printed beside timings."""
    return f"load {os.getloadavg()[0]:.1f}"


def rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def demo(time_limit_s: float) -> None:
    """The issue's p-median on the demo city, end to end through ``site()``."""
    from layers.cities import load_city
    from scenarios.siting import PlannerChoices, site

    city = load_city("demo")
    before = rss_mb()
    steps: list[tuple[str, float]] = []
    t = time.perf_counter()
    r = site(city, "elderly-circle", "p-median", p=3, options=PlannerChoices(remove=["EC0008"], min_spacing_m=500),
             time_limit_s=time_limit_s, progress=lambda m, f: steps.append((m, time.perf_counter() - t)))
    total = time.perf_counter() - t
    s = r.summary()
    print(f"demo: site() p-median p=3, {s['candidates']:,} candidates: {total:.2f} s ({load()}); "
          f"objective {s['objective']:,.1f} bound {s['bound']:,.1f} gap {s['gap']:.3%} {s['solver']}/{s['status']}; "
          f"peak RSS {before:.0f} -> {rss_mb():.0f} MB; cells disagreeing {s['cells_disagreeing']}", flush=True)
    seen: dict[str, float] = {}
    for m, at in steps:
        seen.setdefault(m.split(":")[0], at)
    marks = sorted(seen.items(), key=lambda kv: kv[1])
    for (m, at), (_, nxt) in zip(marks, marks[1:] + [("", total)], strict=True):
        print(f"  {nxt - at:6.2f} s  {m}")
    for n in s["notes"]:
        print(f"  note: {n}")


def big(n_candidates: int, p: int, time_limit_s: float, gap: float) -> None:
    """p-median on the Guangzhou-sized city: matrix, then the solve within its time limit."""
    from bench_cover_large import big_city

    from geo.paths import nearest_source

    t = time.perf_counter()
    city, _ = big_city(1.0, 2000)
    net, cells = city.network, city.snapped_cells
    print(f"big: city {net.x.size:,} nodes, {len(city.cells):,} cells, loaded and snapped in "
          f"{time.perf_counter() - t:.1f} s ({load()}); peak RSS {rss_mb():.0f} MB", flush=True)
    t = time.perf_counter()
    cands = candidates_on_network(net, 250.0)
    pick = np.sort(np.random.default_rng(0).choice(len(cands), size=n_candidates, replace=False))
    t_cand = time.perf_counter() - t
    t = time.perf_counter()
    mat = candidate_matrix(net, cands.snapped.take(pick), cells, CLINIC_REACH)
    t_mat = time.perf_counter() - t
    health = city.facilities_of(["health_centre", "health_station"])
    ex = nearest_source(net, city.snapped_facilities.take(health), cells, limit=CLINIC_REACH).dist
    print(f"big: {n_candidates:,} of {len(cands):,} candidates in {t_cand:.1f} s; matrix {n_candidates:,} x "
          f"{len(city.cells):,}: {mat.nnz:,} pairs in {t_mat:.1f} s ({load()}); peak RSS {rss_mb():.0f} MB", flush=True)
    w = city.cells["population"].to_numpy(dtype=np.float64)
    inp = SitingInput(mat, w, CLINIC_REACH, existing_dist=ex, candidate_xy=cands.xy[pick])
    before = rss_mb()
    t = time.perf_counter()
    last = [""]

    def show(message: str, fraction: float) -> None:
        step = message.split(":")[0].split(" round")[0]
        if step != last[0]:
            print(f"  {time.perf_counter() - t:7.2f} s  {step} (peak RSS {rss_mb():.0f} MB)", flush=True)
            last[0] = step

    r = p_median(inp, p, ModelOptions(method="auto", mip_rel_gap=gap, time_limit_s=time_limit_s, progress=show))
    t_solve = time.perf_counter() - t
    print(f"big: p-median p={p} ({health.size} existing clinics kept), mip_rel_gap {gap:g}, limit {time_limit_s:g} s: "
          f"objective {r.objective:,.0f} bound {r.bound:,.0f} gap {r.gap:.4%} {r.solver}/{r.status} in "
          f"{t_solve:.1f} s ({load()}); matrix + solve {t_mat + t_solve:.1f} s; peak RSS {before:.0f} -> "
          f"{rss_mb():.0f} MB", flush=True)
    for n in r.notes:
        print(f"  note: {n}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("demo", "big"), help="run one of the two")
    ap.add_argument("--candidates", type=int, default=20_000)
    ap.add_argument("--p", type=int, default=20)
    ap.add_argument("--time-limit", type=float, default=100.0, help="big: limit of the solve, seconds")
    ap.add_argument("--gap", type=float, default=1e-4, help="big: mip_rel_gap (default the library's)")
    ap.add_argument("--demo-time-limit", type=float, default=60.0)
    args = ap.parse_args()
    if args.only in (None, "demo"):
        demo(args.demo_time_limit)
    if args.only in (None, "big"):
        big(args.candidates, args.p, args.time_limit, args.gap)


if __name__ == "__main__":
    main()
