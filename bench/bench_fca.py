"""Benchmark: our 2SFCA / E2SFCA against PySAL ``access`` on one big instance.

Both tools get the same walking distances (``geo.paths.pair_distances``,
timed separately as the shared step: ``access`` cannot route on a network).
``access`` needs them as a long-format cost DataFrame, whose construction is
counted in its time; ours needs the sparse matrix (``Pairs.to_csr``), which is
counted in ours. Results are compared cell by cell.

Run::

    PYTHONPATH=. python bench/bench_fca.py                 # ~1M nodes, 750k cells, 2,000 facilities
    PYTHONPATH=. python bench/bench_fca.py --scale 0.1     # quick look

The instance is the generated Guangzhou-sized city
(``layers.cities.generator.generate_city_of_size``), or with ``--source grid``
a jittered street grid with the same counts.

``--end-to-end`` times the whole pipeline from the same in-memory inputs
(node coordinates, edge list with lengths, cell and facility points,
capacities) on both sides: ours builds the ``WalkNetwork``, snaps onto edges,
runs ``pair_distances`` and the FCA; the peer builds the cost matrix the way
``access`` users do at city scale, with pandana (contraction-hierarchy
network, ``get_node_ids`` for cells and facilities, ``nearest_pois`` up to
the catchment), then runs ``access``. Pandana snaps to the nearest node, so
the two matrices differ slightly; agreement on one shared matrix is the
default mode's check (and the test suite's).
"""

from __future__ import annotations

import argparse
import gc
import logging
import time
import warnings

import numpy as np
import pandas as pd

from geo.fca import StepDecay, two_step_fca
from geo.network import WalkNetwork
from geo.paths import pair_distances
from geo.snap import snap, snap_in_threads

SPEED_MPS = 1.2  # residents' walking speed of the standards catalogue


def grid_instance(n_nodes: int, n_cells: int, n_fac: int, seed: int = 1, spacing: float = 70.0):
    """A jittered street grid (10% of streets removed), random cells and facilities."""
    rng = np.random.default_rng(seed)
    side = round(np.sqrt(n_nodes))
    gx, gy = np.meshgrid(np.arange(side, dtype=float), np.arange(side, dtype=float))
    x = gx.ravel() * spacing + rng.normal(0, spacing * 0.15, side * side)
    y = gy.ravel() * spacing + rng.normal(0, spacing * 0.15, side * side)
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    keep = rng.random(u.size) > 0.10
    net = WalkNetwork.from_edges(x, y, u[keep], v[keep])
    span = (side - 1) * spacing
    cxy = rng.uniform(0, span, (2, n_cells))
    fxy = rng.uniform(0, span, (2, n_fac))
    population = np.round(rng.lognormal(4.5, 0.8, n_cells))
    elderly = np.round(population * rng.uniform(0.08, 0.25, n_cells))
    beds = rng.integers(10, 200, n_fac).astype(float)
    return net, cxy, fxy, elderly, beds, f"jittered grid {side}x{side}"


def city_instance(scale: float):
    """The generated Guangzhou-sized city (``scale`` times its counts)."""
    from layers.cities.generator import generate_city_of_size

    city = generate_city_of_size(
        n_nodes=int(1_000_000 * scale), n_cells=int(750_000 * scale), n_facilities=max(int(2000 * scale), 10)
    )
    # every facility with beds supplies; the rest count 0 (still in the matrix)
    beds = city.facilities["beds"].fillna(0.0).to_numpy(float)
    cxy = np.vstack(city.cell_xy)
    fxy = np.vstack(city.facility_xy)
    what = f"generated city '{city.name}' ({int((beds > 0).sum()):,} facilities with beds)"
    return city.network, cxy, fxy, city.cells["elderly"].to_numpy(float), beds, what


CPU: dict[str, float] = {}
"""Best process CPU time per label: steadier than wall time on a shared machine."""


def timed(label: str, fn, *args, repeat: int = 1, **kw):
    """Run ``fn`` ``repeat`` times; print and return the best wall time (and keep the best CPU time)."""
    best, best_cpu = np.inf, np.inf
    for _ in range(repeat):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    CPU[label] = best_cpu
    note = f" (best of {repeat})" if repeat > 1 else ""
    print(f"  {label:<42s} wall {best:8.3f} s  cpu {best_cpu:8.3f} s{note}", flush=True)
    return out, best


def run_access(pairs, elderly: np.ndarray, beds: np.ndarray, limit: float, weight_fn=None):
    """PySAL access 2SFCA from our pairs: long cost DataFrame + Access + two_stage_fca."""
    cost = pd.DataFrame({"origin": pairs.target, "dest": pairs.source, "cost": pairs.dist})
    return run_access_cost(cost, elderly, beds, limit, weight_fn)


def run_access_cost(cost: pd.DataFrame, elderly: np.ndarray, beds: np.ndarray, limit: float, weight_fn=None):
    """PySAL access 2SFCA on a long cost DataFrame (origin = cell, dest = facility)."""
    import access

    demand = pd.DataFrame({"cell": np.arange(elderly.size), "elderly": elderly})
    supply = pd.DataFrame({"fac": np.arange(beds.size), "beds": beds})
    a = access.Access(
        demand_df=demand, demand_index="cell", demand_value="elderly",
        supply_df=supply, supply_index="fac", supply_value=["beds"],
        cost_df=cost, cost_origin="origin", cost_dest="dest", cost_name="cost",
    )
    out = a.two_stage_fca(name="fca", max_cost=limit, weight_fn=weight_fn)
    return out["fca_beds"].reindex(np.arange(elderly.size)).fillna(0.0).to_numpy()


def peer_end_to_end(net: WalkNetwork, cxy, fxy, elderly, beds, limit: float, timings: dict) -> np.ndarray:
    """The peer pipeline: pandana cost matrix (node snapping) + access 2SFCA.

    ``timings`` receives the wall time of each step.
    """
    import pandana  # imported (and warmed) by end_to_end before any timing
    from scipy.spatial import cKDTree

    t = time.perf_counter()
    nodes = pd.DataFrame({"x": net.x, "y": net.y})
    pnet = pandana.Network(nodes["x"], nodes["y"], pd.Series(net.u), pd.Series(net.v),
                           pd.DataFrame({"length": net.length}), twoway=True)
    timings["network (pandana CH build)"] = time.perf_counter() - t

    t = time.perf_counter()
    cell_node = pnet.get_node_ids(pd.Series(cxy[0]), pd.Series(cxy[1])).to_numpy()
    fac_node = pnet.get_node_ids(pd.Series(fxy[0]), pd.Series(fxy[1])).to_numpy()
    timings["snap (get_node_ids, nearest node)"] = time.perf_counter() - t

    t = time.perf_counter()
    # num_pois must bound the facilities any node reaches: the straight-line count
    # around each facility node is such a bound (a walk is never shorter)
    fac_tree = cKDTree(np.column_stack([net.x[fac_node], net.y[fac_node]]))
    k = int(max(1, max(map(len, fac_tree.query_ball_point(np.column_stack([net.x, net.y]), limit)))))
    pnet.set_pois("fac", limit, k, pd.Series(net.x[fac_node]), pd.Series(net.y[fac_node]))
    near = pnet.nearest_pois(limit, "fac", num_pois=k, include_poi_ids=True)
    dist = near[list(range(1, k + 1))].to_numpy()[cell_node]
    poi = near[[f"poi{i}" for i in range(1, k + 1)]].to_numpy()[cell_node]
    ok = ~np.isnan(poi) & (dist <= limit)
    cell_idx = np.broadcast_to(np.arange(cell_node.size)[:, None], ok.shape)[ok]
    cost = pd.DataFrame({"origin": cell_idx, "dest": poi[ok].astype(np.int64), "cost": dist[ok]})
    timings[f"cost matrix (nearest_pois, num_pois={k})"] = time.perf_counter() - t
    timings["pairs"] = len(cost)

    t = time.perf_counter()
    res = run_access_cost(cost, elderly, beds, limit)
    timings["access two_stage_fca"] = time.perf_counter() - t
    return res


def peer_networkx_end_to_end(net: WalkNetwork, cxy, fxy, elderly, beds, limit: float, timings: dict) -> np.ndarray:
    """The peer pipeline with networkx: graph, nearest nodes, one cut-off Dijkstra per facility, access.

    A ``MultiGraph`` keeps parallel edges (Dijkstra takes the shortest); nodes
    are placed with a k-d tree, as ``osmnx.distance.nearest_nodes`` does for a
    projected graph.
    """
    import networkx as nx
    from scipy.spatial import cKDTree

    t = time.perf_counter()
    g = nx.MultiGraph()
    g.add_nodes_from(range(net.n_nodes))
    g.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.length.tolist()), weight="length")
    timings["network (networkx MultiGraph)"] = time.perf_counter() - t

    t = time.perf_counter()
    tree = cKDTree(np.column_stack([net.x, net.y]))
    cell_node = tree.query(np.column_stack(cxy))[1]
    fac_node = tree.query(np.column_stack(fxy))[1]
    timings["snap (k-d tree, nearest node)"] = time.perf_counter() - t

    t = time.perf_counter()
    parts = []
    for f, node in enumerate(fac_node.tolist()):
        reached = nx.single_source_dijkstra_path_length(g, node, cutoff=limit, weight="length")
        parts.append(pd.DataFrame({"node": np.fromiter(reached.keys(), np.int64, len(reached)),
                                   "cost": np.fromiter(reached.values(), float, len(reached)), "dest": f}))
    reach = pd.concat(parts, ignore_index=True)
    cells = pd.DataFrame({"origin": np.arange(cell_node.size), "node": cell_node})
    cost = cells.merge(reach, on="node")[["origin", "dest", "cost"]]
    timings["cost matrix (single_source_dijkstra_path_length)"] = time.perf_counter() - t
    timings["pairs"] = len(cost)

    t = time.perf_counter()
    res = run_access_cost(cost, elderly, beds, limit)
    timings["access two_stage_fca"] = time.perf_counter() - t
    return res


def ours_end_to_end(net: WalkNetwork, cxy, fxy, elderly, beds, limit: float, timings: dict):
    """Our pipeline from the same inputs: network, edge snapping, pair distances, 2SFCA."""
    t = time.perf_counter()
    own = WalkNetwork.from_edges(net.x, net.y, net.u, net.v, net.length, geometry=net.geometry)
    own.csr  # built once per network, as in a City
    timings["network (WalkNetwork + CSR)"] = time.perf_counter() - t
    t = time.perf_counter()
    cells = snap_in_threads(own, cxy[0], cxy[1])  # as City.snapped_cells does
    fac = snap(own, fxy[0], fxy[1])
    timings["snap (onto edges, access legs)"] = time.perf_counter() - t
    t = time.perf_counter()
    pairs = pair_distances(own, fac, cells, limit)
    timings["cost matrix (pair_distances)"] = time.perf_counter() - t
    timings["pairs"] = len(pairs)
    t = time.perf_counter()
    res = two_step_fca(pairs.to_csr(beds.size, elderly.size), beds, elderly, limit, scale=1000.0)
    timings["2SFCA"] = time.perf_counter() - t
    return res


def end_to_end(net, cxy, fxy, elderly, beds, limit: float, repeat: int) -> None:
    """Time both whole pipelines (best of ``repeat``) and print the steps and the ratio."""
    import access  # noqa: F401  (imports outside the timings)
    import networkx  # noqa: F401
    import pandana  # noqa: F401

    rows = {}
    peers = (("networkx + access", peer_networkx_end_to_end), ("pandana + access", peer_end_to_end))
    for name, fn in (("lifecircle", ours_end_to_end), *peers):
        best, best_cpu, steps = np.inf, np.inf, {}
        for _ in range(repeat):
            gc.collect()
            timings: dict = {}
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn(net, cxy, fxy, elderly, beds, limit, timings)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if wall < best:
                best, steps = wall, timings
            best_cpu = min(best_cpu, cpu)
        rows[name] = (best, best_cpu, steps, out)
        print(f"{name}: end to end wall {best:.2f} s, cpu {best_cpu:.2f} s (best of {repeat})")
        for label, value in steps.items():
            print(f"    {label:<44s} {value:>12,}" if label == "pairs" else f"    {label:<44s} {value:8.2f} s")
    t_ours, c_ours, _, res = rows["lifecircle"]
    for name, _ in peers:
        t_peer, c_peer, _, theirs = rows[name]
        a, b = res.accessibility, theirs * 1000.0
        close = np.isclose(a, b, rtol=0.05, atol=1e-9)
        print(f"{name}: ratio (peer / ours) wall {t_peer / t_ours:.1f}x, cpu {c_peer / c_ours:.1f}x; "
              f"ours edge-snapped vs peer node-snapped: {close.mean():.1%} of cells within 5 %, "
              f"mean {a.mean():.3f} vs {b.mean():.3f} beds per 1,000 elderly")
    a, b = rows["networkx + access"][3], rows["pandana + access"][3]
    print(f"the two peers agree: max difference {np.abs(a - b).max() * 1000:.2e} beds per 1,000 elderly")


def subset_pairs(pairs, keep_cells: np.ndarray):
    """Pairs whose cell is in ``keep_cells`` (a boolean mask)."""
    m = keep_cells[pairs.target]
    return type(pairs)(pairs.source[m], pairs.target[m], pairs.dist[m])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=["auto", "city", "grid"], default="auto")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (nodes, cells, facilities)")
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--access-cells", type=int, default=0,
                    help="run access on this many cells only (0 = all) and extrapolate")
    ap.add_argument("--skip-e2sfca", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs for the 2SFCA steps")
    ap.add_argument("--end-to-end", action="store_true",
                    help="time both whole pipelines from the same inputs (peer: pandana matrix + access)")
    args = ap.parse_args()
    logging.getLogger("access").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="access")

    limit = args.minutes * 60.0 * SPEED_MPS
    print(f"2SFCA benchmark: {args.minutes:g}-minute catchment = {limit:.0f} m at {SPEED_MPS} m/s")
    inst = None
    if args.source in ("auto", "city"):
        try:
            inst = city_instance(args.scale)
        except ImportError as e:
            if args.source == "city":
                raise
            print(f"  (generated city not available: {e}; using a grid with the same counts)")
    if inst is None:
        s = args.scale
        inst = grid_instance(int(1_000_000 * s), int(750_000 * s), max(int(2000 * s), 10))
    net, cxy, fxy, elderly, beds, what = inst
    print(f"instance: {what}: {net.n_nodes:,} nodes, {len(net.u):,} edges, "
          f"{elderly.size:,} cells, {beds.size:,} facilities")

    if args.end_to_end:
        end_to_end(net, cxy, fxy, elderly, beds, limit, args.repeat)
        return

    print("shared steps (both tools need walking distances):")
    cells, _ = timed("snap cells", snap, net, cxy[0], cxy[1])
    fac, _ = timed("snap facilities", snap, net, fxy[0], fxy[1])
    pairs, t_pairs = timed("pair_distances (bounded Dijkstra)", pair_distances, net, fac, cells, limit)
    print(f"  pairs within {limit:.0f} m: {len(pairs):,}")
    k, m = beds.size, elderly.size

    print("ours (geo.fca.two_step_fca, incl. Pairs.to_csr):")

    def ours(decay):
        return two_step_fca(pairs.to_csr(k, m), beds, elderly, decay, scale=1000.0)

    res, t_ours = timed("2SFCA", ours, limit, repeat=args.repeat)
    zones = StepDecay.from_minutes(
        (args.minutes / 3, 2 * args.minutes / 3, args.minutes), (1.0, 0.68, 0.22), SPEED_MPS
    )
    res_e, t_ours_e = (None, np.nan) if args.skip_e2sfca else timed("E2SFCA (Luo & Qi zones)", ours, zones, repeat=args.repeat)

    print("PySAL access (incl. building the long cost DataFrame):")
    mask = np.ones(m, dtype=bool)
    frac = 1.0
    if args.access_cells and args.access_cells < m:
        # a contiguous subset would bias catchments; take every n-th cell instead
        mask[:] = False
        mask[np.linspace(0, m - 1, args.access_cells).astype(np.int64)] = True
        frac = mask.mean()
        print(f"  on {mask.sum():,} of {m:,} cells ({frac:.1%}); times extrapolated linearly")
    sub = subset_pairs(pairs, mask) if frac < 1 else pairs
    theirs, t_acc = timed("access two_stage_fca", run_access, sub, elderly, beds, limit, repeat=args.repeat)
    t_acc_full = t_acc / frac
    if frac == 1.0:
        diff = np.abs(theirs * 1000.0 - res.accessibility).max()
        print(f"  max |ours - access| 2SFCA: {diff:.3e} beds per 1,000 elderly "
              f"(max value {res.accessibility.max():.3g})")
    t_acc_e_full = np.nan
    if not args.skip_e2sfca:
        import access

        fn = access.weights.step_fn(dict(zip(zones.upper_m, zones.weights)))
        theirs_e, t_acc_e = timed(
            "access enhanced_two_stage_fca (step_fn)", run_access, sub, elderly, beds, limit, fn, repeat=args.repeat
        )
        t_acc_e_full = t_acc_e / frac
        if frac == 1.0:
            diff = np.abs(theirs_e * 1000.0 - res_e.accessibility).max()
            print(f"  max |ours - access| E2SFCA: {diff:.3e}")

    print("summary (wall, best of runs; cpu in brackets):")
    est = "" if frac == 1.0 else " (extrapolated)"
    c_ours, c_acc = CPU["2SFCA"], CPU["access two_stage_fca"] / frac
    print(f"  2SFCA   ours {t_ours:.3f} s [{c_ours:.3f}]   access {t_acc_full:.3f} s [{c_acc:.3f}]{est}   "
          f"ratio {t_acc_full / t_ours:,.0f}x [{c_acc / c_ours:,.0f}x]")
    if not args.skip_e2sfca:
        ce_ours, ce_acc = CPU["E2SFCA (Luo & Qi zones)"], CPU["access enhanced_two_stage_fca (step_fn)"] / frac
        print(f"  E2SFCA  ours {t_ours_e:.3f} s [{ce_ours:.3f}]   access {t_acc_e_full:.3f} s [{ce_acc:.3f}]{est}   "
              f"ratio {t_acc_e_full / t_ours_e:,.0f}x [{ce_acc / ce_ours:,.0f}x]")
    print(f"  with the shared distance step ({t_pairs:.1f} s) on both sides, 2SFCA end to end: "
          f"ours {t_pairs + t_ours:.1f} s, access {t_pairs + t_acc_full:.1f} s, "
          f"ratio {(t_pairs + t_acc_full) / (t_pairs + t_ours):.2f}x")

if __name__ == "__main__":
    main()
