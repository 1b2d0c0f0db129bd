"""Reach-query latency: the precomputed index vs. per-query shortest paths.

Runs in one process on the same city and the same random addresses:

* ``lifecircle`` - ``POST /reach`` through the whole FastAPI stack (TestClient:
  validation, datum shift, projection, snapping, per-kind lookups, JSON), and
  the bare index (:class:`api.reach.ReachIndex`) alone;
* ``per-query scipy`` - what a naive endpoint would do: snap, then one
  ``geo.paths.nearest_source`` Dijkstra per facility kind;
* ``networkx`` - the peer tool: ``networkx.multi_source_dijkstra_path_length``
  per kind on the same graph (node-to-node, so a little less work than ours).

Usage::

    PYTHONPATH=. python bench/bench_api.py [--city demo] [--queries 500]
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np
from fastapi.testclient import TestClient

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
    http_ms, ok = [], 0
    for a, b in zip(lon, lat):
        t = time.perf_counter()
        r = client.post("/reach", json={"lon": float(a), "lat": float(b)})
        http_ms.append((time.perf_counter() - t) * 1000)
        ok += r.status_code == 200
    print(f"POST /reach (HTTP stack, {len(http_ms)} queries, {ok} answered 200): {percentiles(http_ms)}")

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

    net = city.network
    g = nx.Graph()
    for u, v, w in zip(net.u, net.v, net.length):
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:
            g.add_edge(int(u), int(v), weight=float(w))
    fac_node = {}
    sf = city.snapped_facilities
    for kind in KINDS:
        pos = city.facilities_of([kind])
        e = sf.edge[pos]
        fac_node[kind] = {int(net.u[i]) for i in e[e >= 0]}
    nx_ms = []
    for a, b in zip(qx[:n], qy[:n]):
        t = time.perf_counter()
        q = snap(city.network, np.array([a]), np.array([b]), max_dist=city.max_snap_m)
        node = int(net.u[q.edge[0]])
        for kind in KINDS:
            if fac_node[kind]:
                nx.multi_source_dijkstra_path_length(g, fac_node[kind], weight="weight").get(node)
        nx_ms.append((time.perf_counter() - t) * 1000)
    print(f"networkx per-query Dijkstra ({n} queries):       {percentiles(nx_ms)}")
    p95 = np.percentile(http_ms, 95)
    print(f"ratio (p50): scipy per-query / HTTP = {np.median(naive_ms) / np.median(http_ms):.1f}x, "
          f"networkx / HTTP = {np.median(nx_ms) / np.median(http_ms):.1f}x; reach p95 target 50 ms: {'met' if p95 < 50 else 'MISSED'} ({p95:.2f} ms)")


if __name__ == "__main__":
    main()
