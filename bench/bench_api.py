"""Reach-query latency: the precomputed index vs. per-query shortest paths.

Runs in one process on the same city and the same random addresses:

* ``lifecircle`` - ``POST /reach`` through the whole FastAPI stack (TestClient:
  validation, datum shift, projection, snapping, per-kind lookups, JSON), and
  the bare index (:class:`api.reach.ReachIndex`) alone;
* ``per-query scipy`` - what a naive endpoint would do: snap, then one
  ``geo.paths.nearest_source`` Dijkstra per facility kind;
* ``networkx`` - the peer tool with the same precomputation as our index: at
  startup one ``networkx.multi_source_dijkstra_path_length`` per kind over the
  whole graph into a distance array (plus k-d trees of the street nodes and of
  each kind's facilities); per query the nearest node (k-d tree) and, per kind,
  an array lookup and a straight-line query. Node-to-node, so a little less
  work than ours (no snapping onto the edge, no access legs). This is the
  headline peer. As a secondary row, the same networkx search run per query
  (no precomputation), the peer of the first versions of this benchmark.

Usage::

    PYTHONPATH=. python bench/bench_api.py [--city demo] [--queries 500]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

import networkx as nx
import numpy as np
from fastapi.testclient import TestClient
from scipy.spatial import cKDTree

from api.app import create_app
from api.config import ApiConfig
from geo.crs import to_wgs84
from geo.paths import nearest_source
from geo.snap import snap
from layers.cities import load_city
from layers.kinds import KINDS


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"p50 {np.percentile(a, 50):7.2f} ms  p95 {np.percentile(a, 95):7.2f} ms  p99 {np.percentile(a, 99):7.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default="demo")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--peer-queries", type=int, default=30)
    args = ap.parse_args()

    city = load_city(args.city)
    t0 = time.perf_counter()
    app = create_app(ApiConfig(city=args.city), city=city)
    print(f"city {city.name}: {len(city.cells):,} cells, {len(city.facilities):,} facilities, {city.network.n_nodes:,} nodes")
    print(f"create_app (index for {len(KINDS)} kinds included): {time.perf_counter() - t0:.2f} s")
    client = TestClient(app)
    index = app.state.lifecircle.reach

    rng = np.random.default_rng(1)
    rows = rng.choice(np.flatnonzero(city.snapped_cells.ok), args.queries)
    x, y = city.cell_xy
    qx, qy = x[rows] + rng.uniform(-40, 40, rows.size), y[rows] + rng.uniform(-40, 40, rows.size)
    lon, lat = to_wgs84(qx, qy, city.crs)

    for i in range(20):  # warm-up
        client.post("/reach", json={"lon": float(lon[i]), "lat": float(lat[i])})
    http_ms, statuses = [], Counter()
    for a, b in zip(lon, lat):
        t = time.perf_counter()
        r = client.post("/reach", json={"lon": float(a), "lat": float(b)})
        http_ms.append((time.perf_counter() - t) * 1000)
        statuses[r.status_code] += 1
    print(f"POST /reach (HTTP stack, {len(http_ms)} queries, statuses {dict(statuses)}): {percentiles(http_ms)}")

    core_ms = []
    for a, b in zip(qx, qy):
        t = time.perf_counter()
        try:
            q = index.locate(a, b)
            index.kind_answers(a, b, q)
        except ValueError:
            pass
        core_ms.append((time.perf_counter() - t) * 1000)
    print(f"ReachIndex alone:                              {percentiles(core_ms)}")

    n = min(args.peer_queries, rows.size)
    naive_ms = []
    for a, b in zip(qx[:n], qy[:n]):
        t = time.perf_counter()
        q = snap(city.network, np.array([a]), np.array([b]), max_dist=city.max_snap_m)
        for kind in KINDS:
            pos = city.facilities_of([kind])
            nearest_source(city.network, city.snapped_facilities.take(pos), q)
        naive_ms.append((time.perf_counter() - t) * 1000)
    print(f"per-query scipy Dijkstra ({n} queries):          {percentiles(naive_ms)}")

    # networkx peer, given the same precomputation as our index: per kind, one
    # multi-source Dijkstra over the whole graph at startup into a distance array,
    # a k-d tree of the street nodes and one of each kind's facilities; per query
    # the nearest node and, per kind, an array lookup and a straight-line query
    net = city.network
    t = time.perf_counter()
    g = nx.Graph()
    for u, v, w in zip(net.u.tolist(), net.v.tolist(), net.length.tolist()):
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:
            g.add_edge(u, v, weight=w)
    t_graph = time.perf_counter() - t
    t = time.perf_counter()
    sf = city.snapped_facilities
    fx, fy = city.facility_xy
    peer_dist, peer_tree = {}, {}
    for kind in KINDS:
        pos = city.facilities_of([kind])
        e = sf.edge[pos]
        sources = {int(net.u[i]) for i in e[e >= 0]}
        d = np.full(net.n_nodes, np.inf)
        if sources:
            reached = nx.multi_source_dijkstra_path_length(g, sources, weight="weight")
            d[np.fromiter(reached.keys(), np.int64, len(reached))] = np.fromiter(reached.values(), float, len(reached))
        peer_dist[kind] = d
        peer_tree[kind] = cKDTree(np.column_stack([fx[pos], fy[pos]])) if pos.size else None
    in_graph = np.fromiter(g.nodes, np.int64, g.number_of_nodes())
    node_tree = cKDTree(np.column_stack([net.x[in_graph], net.y[in_graph]]))
    t_pre = time.perf_counter() - t
    print(f"networkx peer precomputation: graph {t_graph:.2f} s, {len(KINDS)} per-kind distance arrays "
          f"+ k-d trees {t_pre:.2f} s")

    def peer_query(a: float, b: float) -> list[tuple[float, float]]:
        _, i = node_tree.query([a, b])
        node = in_graph[i]
        out = []
        for kind in KINDS:
            tree = peer_tree[kind]
            straight = tree.query([a, b])[0] if tree is not None else np.inf
            out.append((float(peer_dist[kind][node]), float(straight)))
        return out

    for a, b in zip(qx[:20], qy[:20]):  # warm-up, as for ours
        peer_query(a, b)
    nx_ms = []
    for a, b in zip(qx, qy):
        t = time.perf_counter()
        peer_query(a, b)
        nx_ms.append((time.perf_counter() - t) * 1000)
    print(f"networkx precomputed, per-query lookups ({len(nx_ms)} queries): {percentiles(nx_ms)}")
    nx_live_ms = []
    for a, b in zip(qx[:n], qy[:n]):
        t = time.perf_counter()
        q = snap(city.network, np.array([a]), np.array([b]), max_dist=city.max_snap_m)
        node = int(net.u[q.edge[0]])
        for kind in KINDS:
            e = sf.edge[city.facilities_of([kind])]
            sources = {int(net.u[i]) for i in e[e >= 0]}
            if sources:
                nx.multi_source_dijkstra_path_length(g, sources, weight="weight").get(node)
        nx_live_ms.append((time.perf_counter() - t) * 1000)
    print(f"(secondary) networkx per-query Dijkstra ({n} queries): {percentiles(nx_live_ms)}")
    p95 = np.percentile(http_ms, 95)
    print(f"HEADLINE (p50, same precomputation on both sides): networkx lookups / ReachIndex = "
          f"{np.median(nx_ms) / np.median(core_ms):.2f}x; networkx lookups / HTTP = {np.median(nx_ms) / np.median(http_ms):.2f}x")
    print(f"(secondary, p50) per-query scipy / HTTP = {np.median(naive_ms) / np.median(http_ms):.1f}x, "
          f"per-query networkx / HTTP = {np.median(nx_live_ms) / np.median(http_ms):.1f}x; "
          f"reach p95 target 50 ms: {'met' if p95 < 50 else 'MISSED'} ({p95:.2f} ms); load {os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
    main()
