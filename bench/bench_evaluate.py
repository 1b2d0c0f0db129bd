"""``scenarios.evaluate`` (four standards, gap clusters included) on the Guangzhou-sized city.

Run::

    PYTHONPATH=. python bench/bench_evaluate.py                  # all the cores this process may use
    PYTHONPATH=. taskset -c 0 python bench/bench_evaluate.py     # one core
    PYTHONPATH=. python bench/bench_evaluate.py --scale 0.05     # quick look

The city comes from the layers disk cache (built by ``bench/bench_cover_large.py``
or here on first use, about a minute). The per-city inputs that
:func:`scenarios.evaluate.evaluate` shares between standards (the CSR graph,
cells and facilities snapped onto the network, cell centres, the cells' grid
lattice) are cached on the City; they are built and timed once, apart, and
``evaluate`` is then timed over ``--repeat`` runs (best, median) with its CPU
time. Then one standard at a time, and for the gap clusters alone the GEOS
union path against the lattice path, in this process.

The walking standards' nearest-facility search runs :mod:`geo.dijkstra`'s
GIL-free kernel. ``evaluate`` is also timed with that search swapped back to
``scipy.sparse.csgraph.dijkstra`` (which holds the GIL), alternating run by
run in this process, and the search alone is timed both ways on one thread.

There is no peer for the whole step; the figures are absolute, against the
issue's target (< 0.6 s on 2 cores). The machine is shared: the load average
is printed beside every figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cover_large import big_city, load_avg  # noqa: E402


def usable_cores() -> str:
    """Cores this process may run on, as the code under test sees them."""
    try:
        from geo.threads import usable_cpu_count

        n = usable_cpu_count()
    except ImportError:  # an older tree
        n = len(os.sched_getaffinity(0))
    return f"{n} usable (affinity {sorted(os.sched_getaffinity(0))}, os.cpu_count() {os.cpu_count()})"


def timed(fn, repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``repeat`` calls of ``fn``."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def scipy_seeded(graph, seed_node, seed_dist, seed_source, limit=np.inf):
    """:func:`geo.dijkstra.seeded_dijkstra` done as before: scipy from virtual nodes (GIL held)."""
    from scipy import sparse
    from scipy.sparse import csgraph

    n, k = graph.shape[0], seed_node.size
    indptr = np.concatenate([graph.indptr, graph.indptr[-1] + np.arange(1, k + 1)])
    g = sparse.csr_matrix(
        (np.concatenate([graph.data, seed_dist]), np.concatenate([graph.indices, seed_node]), indptr),
        shape=(n + k, n + k),
    )
    d, _, src = csgraph.dijkstra(g, directed=True, indices=np.arange(n, n + k), limit=limit,
                                 min_only=True, return_predecessors=True)  # fmt: skip
    return d[:n], np.where(src[:n] >= 0, seed_source[np.maximum(src[:n] - n, 0)], -1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of Guangzhou's counts (default 1)")
    ap.add_argument("--facilities", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from geo.clusters import uncovered_clusters
    from scenarios.evaluate import SEARCH_FACTOR, evaluate, evaluate_standard, nearest_for_standard
    from scenarios.standards import resolve_standards

    print(f"machine          {usable_cores()}, {load_avg()}")
    city, _ = big_city(args.scale, args.facilities)
    print(f"size             {city.network.n_nodes:,} nodes, {len(city.cells):,} cells, {len(city.facilities):,} facilities")
    shared = ["network.csr", "snapped_cells", "snapped_facilities", "cell_xy"]
    if hasattr(type(city), "cell_topology"):
        shared.append("cell_topology")
    for name in shared:
        t = time.perf_counter()
        obj = city
        for part in name.split("."):
            obj = getattr(obj, part)
        print(f"  {name:<22}{time.perf_counter() - t:7.3f} s  (per city, cached; {load_avg()})")

    standards = resolve_standards()
    evaluate(city, standards)  # warm: numba kernels loaded, pools started
    wall, cpu = timed(lambda: evaluate(city, standards), args.repeat)
    print(f"evaluate()       best {min(wall):6.3f} s  median {statistics.median(wall):6.3f} s  "
          f"[CPU best {min(cpu):.3f} s]  ({len(standards)} standards, {load_avg()}; target < 0.6 s on 2 cores)")  # fmt: skip
    for s in standards:
        wall, cpu = timed(lambda: evaluate_standard(city, s), max(1, args.repeat // 2))
        print(f"  {s.id:<15} best {min(wall):6.3f} s  [CPU {min(cpu):.3f} s]  ({s.mode}, {load_avg()})")

    # before/after: the search swapped back to scipy, alternating runs in this process
    import geo.paths
    from geo.dijkstra import seeded_dijkstra
    from geo.virtual_sources import source_arcs

    searches = {"scipy dijkstra": scipy_seeded, "geo.dijkstra": seeded_dijkstra}
    times = {label: ([], []) for label in searches}
    for _ in range(args.repeat):
        for label, fn in searches.items():
            geo.paths.seeded_dijkstra = fn
            w, c = timed(lambda: evaluate(city, standards), 1)
            times[label][0].extend(w)
            times[label][1].extend(c)
    geo.paths.seeded_dijkstra = seeded_dijkstra
    for label, (w, c) in times.items():
        print(f"evaluate, search by {label:<15} best {min(w):6.3f} s  median {statistics.median(w):6.3f} s  "
              f"[CPU best {min(c):.3f} s]  ({load_avg()})")  # fmt: skip
    # the search alone on one thread: numba binary heap against scipy's Fibonacci heap
    for s in standards:
        if s.mode != "network":
            continue
        arcs = source_arcs(city.network, city.snapped_facilities.take(city.facilities_of(s.kinds)))
        limit = s.threshold_m * SEARCH_FACTOR
        best = {}
        for label, fn in searches.items():
            wall, cpu = timed(lambda: fn(city.network.csr, *arcs, limit), args.repeat)
            best[label] = min(wall)
            print(f"  search {s.id:<15} {label:<15} best {min(wall):6.3f} s  [CPU {min(cpu):.3f} s]  ({load_avg()})")
        print(f"  search {s.id:<15} scipy / ours     {best['scipy dijkstra'] / best['geo.dijkstra']:.2f}x")

    # the gap clusters alone: GEOS union of the cells against the lattice path (if this tree has one)
    s = standards[0]
    dist, _, _ = nearest_for_standard(city, s)
    weight = city.cells[s.weight].to_numpy(dtype=np.float64)
    mask = ~(dist <= s.threshold_m) & (weight > 0)
    geoms = city.cells.geometry
    runs = {"GEOS union": {}}
    if hasattr(type(city), "cell_topology"):
        runs["GEOS union"] = {"topology": None}
        runs["lattice"] = {"topology": city.cell_topology}
    best = {}
    for label, kw in runs.items():
        wall, _ = timed(lambda: uncovered_clusters(geoms, mask, weight, **kw), max(1, args.repeat // 2))
        best[label] = min(wall)
        print(f"clusters {label:<11} {min(wall):6.3f} s  ({s.id}, {int(mask.sum()):,} cells, {load_avg()})")
    if len(best) == 2:
        print(f"clusters ratio   {best['GEOS union'] / best['lattice']:.1f}x")


if __name__ == "__main__":
    main()
