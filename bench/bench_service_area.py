"""Service areas: ours vs the OSMnx-style isochrone recipe, on the same network.

Peer (the OSMnx isochrone example): networkx ``ego_graph`` from the nearest
node with ``radius=budget`` over edge lengths, then the reached edges
buffered and dissolved. It needs a networkx graph (built outside the timing)
and is run on a sample of the facilities; the per-facility times are
compared. Ours runs on all facilities (edge snapping, exact cuts at the
budget).

Run::

    PYTHONPATH=. python bench/bench_service_area.py --city gen1m          # Guangzhou-sized generated city, its 2,001 facilities
    PYTHONPATH=. python bench/bench_service_area.py --side 1000 --facilities 2000   # 1,000,000-node dense street grid

``--method vector`` (exact union of buffers, the default of
:func:`geo.service_area_geometry.service_areas`), ``raster`` (traced outlines) or
``both``; with ``both`` the raster areas are compared with the vector ones.
The load average is printed beside the timings: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import time

import networkx as nx
import numpy as np
import shapely

from geo.network import WalkNetwork
from geo.service_area_geometry import service_areas
from geo.snap import snap


def grid_network(side: int, spacing: float = 50.0, seed: int = 0) -> WalkNetwork:
    """A jittered street grid, 20 % of links removed, each link drawn with a bend."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(side), np.arange(side))
    x = gx.ravel() * spacing + rng.uniform(-10, 10, side * side)
    y = gy.ravel() * spacing + rng.uniform(-10, 10, side * side)
    node = np.arange(side * side).reshape(side, side)
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    keep = rng.random(u.size) > 0.2
    u, v = u[keep], v[keep]
    mid = np.column_stack([(x[u] + x[v]) / 2 + rng.uniform(-5, 5, u.size), (y[u] + y[v]) / 2 + rng.uniform(-5, 5, u.size)])
    lines = shapely.linestrings(np.stack([np.column_stack([x[u], y[u]]), mid, np.column_stack([x[v], y[v]])], axis=1))
    return WalkNetwork.from_edges(x, y, u, v, geometry=lines)


def peer_isochrones(net: WalkNetwork, fx: np.ndarray, fy: np.ndarray, budget: float, buffer_m: float) -> list:
    """OSMnx-style: nearest node, ego_graph by length, buffered reached edges."""
    g = nx.Graph()
    g.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.length.tolist()), weight="length")
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([net.x, net.y]))
    lines = net.edge_lines
    edge_of = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(net.u, net.v))}
    t0 = time.perf_counter()
    out = []
    for x, y in zip(fx, fy):
        _, node = tree.query([x, y])
        sub = nx.ego_graph(g, int(node), radius=budget, distance="length")
        ids = [edge_of.get((a, b), edge_of.get((b, a))) for a, b in sub.edges()]
        out.append(shapely.union_all(shapely.buffer(lines[[i for i in ids if i is not None]], buffer_m, quad_segs=2)))
    return out, time.perf_counter() - t0


def city_network(name: str) -> tuple[WalkNetwork, np.ndarray, np.ndarray]:
    """A generated city's network and facility coordinates (see bench_coverage)."""
    from bench_coverage import load

    city = load(name)
    fx, fy = city.facility_xy
    return city.network, fx, fy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=1000)
    ap.add_argument("--city", help="gen100k or gen1m: a generated city instead of the grid")
    ap.add_argument("--facilities", type=int, default=2000)
    ap.add_argument("--peer-sample", type=int, default=40)
    ap.add_argument("--budget", type=float, default=1080.0)
    ap.add_argument("--method", choices=["vector", "raster", "both"], default="both")
    args = ap.parse_args()

    t = time.perf_counter()
    if args.city:
        net, fx, fy = city_network(args.city)
        fx, fy = fx[: args.facilities], fy[: args.facilities]
    else:
        net = grid_network(args.side)
        rng = np.random.default_rng(1)
        span = (args.side - 1) * 50.0
        fx, fy = rng.uniform(0.05 * span, 0.95 * span, (2, args.facilities))
    _ = net.csr
    print(f"network: {net.n_nodes:,} nodes, {net.n_edges:,} edges, ready in {time.perf_counter() - t:.1f} s")
    src = snap(net, fx, fy)
    n = fx.size

    areas, walls = {}, {}
    methods = ["vector", "raster"] if args.method == "both" else [args.method]
    for method in methods:
        load_before = os.getloadavg()[0]
        w, c = time.perf_counter(), time.process_time()
        areas[method] = service_areas(net, src, args.budget, method=method)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        walls[method] = wall
        print(f"ours ({method}): {n} service areas at {args.budget:.0f} m: {wall:.1f} s wall, {cpu:.1f} s CPU "
              f"({1000 * wall / n:.1f} ms wall per area); mean area {np.mean(shapely.area(areas[method])) / 1e6:.2f} km² "
              f"(load {load_before:.1f} -> {os.getloadavg()[0]:.1f})")
    if len(areas) == 2:
        a, b = areas["raster"], areas["vector"]
        ok = ~shapely.is_empty(b)
        ratio = shapely.area(a[ok]) / shapely.area(b[ok])
        off = shapely.area(shapely.symmetric_difference(a[ok], b[ok])) / shapely.area(b[ok])
        print(f"raster vs vector: area ratio median {np.median(ratio):.4f} [{ratio.min():.4f}, {ratio.max():.4f}], "
              f"symmetric difference / area median {np.median(off):.4f}, max {off.max():.4f}")

    k = min(args.peer_sample, n)
    if k:
        peer, peer_wall = peer_isochrones(net, fx[:k], fy[:k], args.budget, 25.0)
        per_peer = peer_wall / k
        print(f"peer (networkx ego_graph + buffer), {k} facilities: {peer_wall:.1f} s ({1000 * per_peer:.1f} ms per facility)")
        for method in methods:
            print(f"ratio peer/ours-{method} per facility: {per_peer / (walls[method] / n):.1f}x")
        ours = areas[methods[0]]
        ratio = np.array(shapely.area(peer)) / np.array(shapely.area(ours[:k]))
        print(f"area peer/ours-{methods[0]} (node snapping, whole edges only vs exact cuts): median {np.median(ratio):.3f}")


if __name__ == "__main__":
    main()
