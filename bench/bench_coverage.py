"""Coverage: our pipeline vs the OSMnx-style pipeline, end to end on the same city.

Peer (the OSMnx recipe as a good engineer writes it), starting from a
networkx graph of the streets already in memory (as ``osmnx.graph_from_*``
returns it): ``osmnx.distance.nearest_nodes`` for the cells' and the
facilities' points (one call for all of them), then **one**
``networkx.multi_source_dijkstra_path_length(G, sources, cutoff=threshold,
weight="length")`` per standard, and a cell counted as covered when its
nearest node was reached. Radius standards: geopandas
``sjoin(predicate="dwithin", distance=radius)`` of the cell points against
the facility points. This is the headline peer.

Secondary rows, printed separately and never folded into the headline:
the same pipeline written directly on scipy (``scipy.spatial.cKDTree`` for
the nearest node of every point, one ``scipy.sparse.csgraph.dijkstra(csr,
indices=facility nodes, limit=threshold, min_only=True)`` per walking
standard on the same CSR matrix, a ``cKDTree`` query with
``distance_upper_bound`` per radius standard: the "scipy-direct" row, with
its covered cells asserted equal to the networkx peer's), the per-facility
variant of the networkx peer (one
``single_source_dijkstra_path_length(cutoff=threshold)`` per facility node,
union of the reached nodes: the recipe the first versions of this benchmark
used), and building the graph from the node and edge arrays on both sides
(ours ``WalkNetwork`` + CSR, the peer a ``networkx.MultiGraph``), with the
"including the graph" totals.

Ours, starting from the :class:`WalkNetwork` with its CSR matrix in memory
and the same cell and facility points as the peer: edge snapping with access
legs (:func:`geo.snap.snap`, segment grid built inside the timing), one
multi-source bounded Dijkstra per standard (:func:`geo.paths.nearest_source`),
k-d trees for the radius standards (:func:`geo.euclid.nearest_euclidean`).
Snapping runs as ``City`` runs it (cells in threads); until session 3 it ran
through ``City.snapped_cells`` on a fresh ``City``, which also charged ours
(not the peer) with computing the cells' centres (0.05-0.07 s at 1M). ``scenarios.evaluate.evaluate`` (the full ``cover``
evaluation: distances to twice the threshold, bands, gap clusters, loads) is
timed last on a fresh copy of the city, snapping included. We also run ours with node snapping
and no access legs (a :class:`Snapped` sitting on a node of an incident edge),
which must reproduce the peer exactly, and report how much edge snapping
changes the covered population.

Run::

    PYTHONPATH=. python bench/bench_coverage.py                      # demo helsinki gen100k gen1m
    PYTHONPATH=. python bench/bench_coverage.py demo helsinki        # any subset
    PYTHONPATH=. python bench/bench_coverage.py --repeat 5           # best of 5 (default 3), both sides

``gen100k`` / ``gen1m`` are :func:`layers.cities.generator.generate_city_of_size`
cities (100k nodes, 75k cells, 200 facilities; 1M nodes, 750k cells, 2,000
facilities), cached on disk like ``bench_cover_large``. The load average is
printed with every city: the machine is shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from geo.euclid import nearest_euclidean
from geo.network import WalkNetwork
from geo.paths import nearest_source
from geo.snap import Snapped, snap, snap_in_threads
from geo.threads import CORES
from layers.city import City
from scenarios.evaluate import evaluate
from scenarios.standards import resolve_standards

GENERATED = {"gen100k": 0.1, "gen1m": 1.0}
GUANGZHOU_POPULATION = 18_700_000


def load(name: str) -> City:
    """A built-in city, or a generated one at a fraction of Guangzhou's counts (disk-cached)."""
    if name not in GENERATED:
        from layers.cities import load_city

        return load_city(name)
    from layers.cache import cache_key, cached_city
    from layers.cities.generator import GENERATOR_VERSION, generate_city_of_size

    scale = GENERATED[name]
    params = {  # the same key as bench_cover_large, so the two share the cache
        "n_nodes": int(1_000_000 * scale),
        "n_cells": int(750_000 * scale),
        "n_facilities": max(int(2000 * scale), 20),
        "target_population": GUANGZHOU_POPULATION * scale,
    }
    key = cache_key("bench-cover", GENERATOR_VERSION, params, sources=("layers.cities.generator",))
    return cached_city("bench-cover", key, lambda: generate_city_of_size(**params))


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> "Clock":
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c

    def __str__(self) -> str:
        return f"{self.wall:7.3f} s [{self.cpu:6.3f} CPU]"


def best_of(repeat: int, fn, setup=None):
    """Run ``fn`` (on a fresh ``setup()`` each time, untimed) ``repeat`` times; last result, fastest clock."""
    fastest = None
    for _ in range(repeat):
        arg = setup() if setup is not None else None
        with Clock() as c:
            out = fn(arg) if setup is not None else fn()
        if fastest is None or c.wall < fastest.wall:
            fastest = c
    return out, fastest


def streets_graph(net: WalkNetwork, crs) -> tuple[nx.Graph, np.ndarray]:
    """The network as OSMnx would hand it over: nodes with x/y, edges with length, a CRS.

    Only nodes with an edge (an OSMnx graph has no isolated nodes), added in
    index order; parallel edges reduced to the shortest. Returns the graph
    and its node indices.
    """
    has_edge = np.zeros(net.n_nodes, dtype=bool)
    has_edge[net.u] = has_edge[net.v] = True
    nodes = np.flatnonzero(has_edge)
    g = nx.Graph(crs=crs)
    g.add_nodes_from((int(i), {"x": float(net.x[i]), "y": float(net.y[i])}) for i in nodes)
    for a, b, w in zip(net.u.tolist(), net.v.tolist(), net.length.tolist()):
        if not g.has_edge(a, b) or g[a][b]["length"] > w:
            g.add_edge(a, b, length=w)
    return g, nodes


def peer_graph(net: WalkNetwork, crs) -> nx.MultiGraph:
    """The quickest graph the peer's recipe accepts, from the network's arrays.

    Nodes carry ``x``/``y`` (for ``osmnx.distance.nearest_nodes``), edges
    ``length``, the graph its CRS; parallel edges are kept, as in an OSMnx
    ``MultiDiGraph``, since Dijkstra takes the shortest.
    """
    g = nx.MultiGraph(crs=crs)
    g.add_nodes_from(
        (i, {"x": x, "y": y}) for i, (x, y) in enumerate(zip(net.x.tolist(), net.y.tolist()))
    )
    g.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.length.tolist()), weight="length")
    return g


def node_snapped(net: WalkNetwork, nodes: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[Snapped, np.ndarray]:
    """Points placed on their nearest node (among ``nodes``), with no access leg; and that node."""
    _, k = cKDTree(np.column_stack([net.x[nodes], net.y[nodes]])).query(np.column_stack([x, y]))
    node = nodes[k]
    edge_of = np.full(net.n_nodes, -1, dtype=np.int64)  # one incident edge per node
    edge_of[net.v] = np.arange(net.n_edges)
    edge_of[net.u] = np.arange(net.n_edges)
    e = edge_of[node]
    length = net.length[e]
    to_u = np.where(net.u[e] == node, 0.0, length)
    return Snapped(e, to_u, length - to_u, np.zeros(node.size), net.x[node], net.y[node]), node


def _covered(cell_node: np.ndarray, reached) -> np.ndarray:
    """Cells whose nearest node is among the ``reached`` nodes."""
    return np.isin(cell_node, np.fromiter(reached, dtype=np.int64, count=len(reached)))


def peer_reached(g: nx.Graph, fac_node: np.ndarray, cell_node: np.ndarray, threshold: float) -> np.ndarray:
    """Cells whose nearest node some facility reaches within ``threshold``: one multi-source search."""
    if fac_node.size == 0:
        return np.zeros(cell_node.size, dtype=bool)
    sources = set(fac_node.tolist())
    return _covered(cell_node, nx.multi_source_dijkstra_path_length(g, sources, cutoff=threshold, weight="length"))


def peer_reached_each(g: nx.Graph, fac_node: np.ndarray, cell_node: np.ndarray, threshold: float) -> np.ndarray:
    """The same cells from one single-source search per facility node (secondary peer)."""
    reached: set[int] = set()
    for f in np.unique(fac_node).tolist():
        reached.update(nx.single_source_dijkstra_path_length(g, f, cutoff=threshold, weight="length"))
    return _covered(cell_node, reached)


def peer_radius(cells: gpd.GeoDataFrame, fac: gpd.GeoDataFrame, radius: float) -> np.ndarray:
    """Cells within ``radius`` of a facility, by a geopandas spatial join."""
    hit = gpd.sjoin(cells, fac, predicate="dwithin", distance=radius)
    covered = np.zeros(len(cells), dtype=bool)
    covered[np.unique(hit.index.to_numpy())] = True
    return covered


def scipy_place(net: WalkNetwork, nodes: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """scipy-direct: the nearest node (among ``nodes``, those with an edge) of every point, by a k-d tree."""
    tree = cKDTree(np.column_stack([net.x[nodes], net.y[nodes]]))
    return nodes[tree.query(np.column_stack([x, y]), workers=CORES)[1]]


def scipy_reached(csr, fac_node: np.ndarray, cell_node: np.ndarray, threshold: float) -> np.ndarray:
    """scipy-direct: cells whose nearest node some facility node reaches within ``threshold``.

    One bounded multi-source Dijkstra on the network's CSR matrix. The
    matrix is symmetric, so ``directed=True`` gives the undirected distances
    without scipy adding the transpose (what a careful engineer writes).
    """
    if fac_node.size == 0:
        return np.zeros(cell_node.size, dtype=bool)
    d = csgraph.dijkstra(csr, directed=True, indices=np.unique(fac_node), limit=threshold, min_only=True)
    return d[cell_node] <= threshold


def scipy_radius(fx: np.ndarray, fy: np.ndarray, cx: np.ndarray, cy: np.ndarray, radius: float) -> np.ndarray:
    """scipy-direct: cells within ``radius`` (inclusive) of a facility, by a k-d tree of the facilities."""
    if fx.size == 0:
        return np.zeros(cx.size, dtype=bool)
    # the bound is exclusive in cKDTree; the next float up includes points exactly at ``radius``,
    # as geopandas' dwithin and our nearest_euclidean do
    d, _ = cKDTree(np.column_stack([fx, fy])).query(
        np.column_stack([cx, cy]), distance_upper_bound=np.nextafter(radius, np.inf), workers=CORES)
    return d <= radius


def fresh(city: City) -> City:
    """The same city with nothing derived cached: no snapping, no segment grid, CSR built."""
    net = dataclasses.replace(city.network)
    _ = net.csr  # the graph itself: in memory on both sides before the timing
    return dataclasses.replace(city, network=net)


def run_city(name: str, repeat: int) -> None:
    city = fresh(load(name))
    net = city.network
    cx, cy = city.cell_xy
    fx, fy = city.facility_xy
    crs = city.crs
    print(f"\n== {name}: {len(cx):,} cells, {len(fx):,} facilities, {net.n_nodes:,} nodes, "
          f"{net.n_edges:,} edges (load {os.getloadavg()[0]:.1f})")  # fmt: skip

    with Clock() as t_graph:
        g, nodes = streets_graph(net, crs)
    print(f"   (not timed) peer networkx graph for the searches built in {t_graph}")
    # building the graph from the same node and edge arrays, timed on both sides for the
    # "including the graph" total: ours the WalkNetwork and its CSR matrix, the peer the
    # quickest graph osmnx accepts (a MultiGraph: Dijkstra takes the shortest parallel edge)
    _, t_build = best_of(repeat, lambda: WalkNetwork.from_edges(
        net.x, net.y, net.u, net.v, net.length, geometry=net.geometry, crs=crs).csr)
    _, t_peer_build = best_of(repeat, lambda: peer_graph(net, crs))
    print(f"   build the graph from the arrays: ours {t_build}, peer {t_peer_build}")

    # shared step: place the cells (and facilities) on the network, as City does (cells in threads)
    # Both sides start from the same cell and facility points (cx, cy), (fx, fy): ours snaps
    # them as City.snapped_cells / snapped_facilities do, on a network with no segment grid yet.
    def place(network: WalkNetwork) -> tuple[Snapped, Snapped]:
        return snap_in_threads(network, cx, cy, city.max_snap_m), snap(network, fx, fy, city.max_snap_m)

    (cells, facs), t_snap = best_of(repeat, place, lambda: fresh(city).network)
    (cells_n, our_cell_node, facs_n), t_nsnap = best_of(
        repeat, lambda: (*node_snapped(net, nodes, cx, cy), node_snapped(net, nodes, fx, fy)[0])
    )
    near, t_nn = best_of(repeat, lambda: ox.distance.nearest_nodes(g, np.concatenate([cx, fx]), np.concatenate([cy, fy])))
    cell_node, fac_node = near[: cx.size], near[cx.size :]
    near_sp, t_sp_place = best_of(repeat, lambda: scipy_place(net, nodes, np.concatenate([cx, fx]), np.concatenate([cy, fy])))
    assert np.array_equal(near_sp, near), "the scipy-direct nearest nodes differ from osmnx.nearest_nodes"
    kinds = city.facilities["kind"].to_numpy()
    (cell_pts, fac_pts), t_gdf = best_of(repeat, lambda: (
        gpd.GeoDataFrame(geometry=gpd.points_from_xy(cx, cy), crs=crs),
        gpd.GeoDataFrame({"kind": kinds}, geometry=gpd.points_from_xy(fx, fy), crs=crs),
    ))
    assert np.array_equal(cell_node, our_cell_node), "our node snapping differs from osmnx.nearest_nodes"
    print(f"   place points: ours edge snap {t_snap}, ours node snap {t_nsnap}, "
          f"peer nearest_nodes {t_nn}, peer point frames {t_gdf}, scipy-direct k-d tree {t_sp_place}")  # fmt: skip

    tot = {"ours": t_snap.wall, "ours_cpu": t_snap.cpu, "node": t_nsnap.wall, "peer": t_nn.wall + t_gdf.wall,
           "peer_cpu": t_nn.cpu + t_gdf.cpu, "each": t_nn.wall + t_gdf.wall,
           "sp": t_sp_place.wall, "sp_cpu": t_sp_place.cpu, "sp_search": 0.0, "sp_search_cpu": 0.0,
           "search": 0.0, "search_cpu": 0.0}  # fmt: skip
    pop_total = {}
    for s in resolve_standards():
        pos = city.facilities_of(s.kinds)
        w = city.cells[s.weight].to_numpy(dtype=float)
        pop_total[s.id] = w.sum()
        lim = s.threshold_m
        if s.mode == "network":
            ours, t_ours = best_of(repeat, lambda: nearest_source(net, facs.take(pos), cells, limit=lim).dist <= lim)
            ours_n, t_node = best_of(repeat, lambda: nearest_source(net, facs_n.take(pos), cells_n, limit=lim).dist <= lim)
            peer, t_peer = best_of(repeat, lambda: peer_reached(g, fac_node[pos], cell_node, lim))
            each, t_each = best_of(repeat, lambda: peer_reached_each(g, fac_node[pos], cell_node, lim))
            assert np.array_equal(each, peer), "multi-source and per-facility peers disagree"
            sp, t_sp = best_of(repeat, lambda: scipy_reached(net.csr, fac_node[pos], cell_node, lim))
        else:
            ours, t_ours = best_of(repeat, lambda: nearest_euclidean(fx[pos], fy[pos], cx, cy, limit=lim)[0] <= lim)
            t_node, ours_n = t_ours, ours
            peer, t_peer = best_of(repeat, lambda: peer_radius(cell_pts, fac_pts.iloc[pos], lim))
            t_each = t_peer
            sp, t_sp = best_of(repeat, lambda: scipy_radius(fx[pos], fy[pos], cx, cy, lim))
        assert np.array_equal(sp, peer), f"scipy-direct and the networkx peer disagree on {s.id}"
        tot["sp"] += t_sp.wall
        tot["sp_cpu"] += t_sp.cpu
        tot["sp_search"] += t_sp.wall
        tot["sp_search_cpu"] += t_sp.cpu
        tot["search"] += t_node.wall
        tot["search_cpu"] += t_node.cpu
        tot["ours"] += t_ours.wall
        tot["each"] += t_each.wall
        tot["best"] = tot.get("best", t_nn.wall + t_gdf.wall) + min(t_peer.wall, t_each.wall)
        tot["ours_cpu"] += t_ours.cpu
        tot["node"] += t_node.wall
        tot["peer"] += t_peer.wall
        tot["peer_cpu"] += t_peer.cpu
        differ = int(np.count_nonzero(peer != ours_n))
        share = lambda m: w[m].sum() / w.sum()
        print(f"   {s.id:15s} {s.mode:9s} {len(pos):5d} fac {s.threshold_m:6.0f} m | ours edge {t_ours} | "
              f"ours node {t_node} | peer {t_peer} | peer/ours-edge {t_peer.wall / t_ours.wall:6.1f}x | "
              f"scipy-direct {t_sp} | scipy/ours-node {t_sp.wall / t_node.wall:5.2f}x")
        if s.mode == "network":
            print(f"   {'':15s} (secondary) peer one search per facility {t_each} | "
                  f"per-facility/ours-edge {t_each.wall / t_ours.wall:6.1f}x | "
                  f"per-facility/multi-source {t_each.wall / t_peer.wall:4.1f}x")
        print(f"   {'':15s} cells differing ours-node vs peer: {differ} of {len(cx):,}; covered share "
              f"peer {share(peer):.4f} / ours node {share(ours_n):.4f} / ours edge {share(ours):.4f} "
              f"(edge - node {100 * (share(ours) - share(ours_n)):+.2f} points)")
    print(f"   HEADLINE all four, graph in memory: ours edge snap {tot['ours']:.3f} s [{tot['ours_cpu']:.3f} CPU], "
          f"peer multi-source {tot['peer']:.3f} s [{tot['peer_cpu']:.3f} CPU]; "
          f"peer/ours {tot['peer'] / tot['ours']:.1f}x wall, {tot['peer_cpu'] / tot['ours_cpu']:.1f}x CPU; "
          f"ours node snap {tot['node']:.3f} s, peer/ours-node {tot['peer'] / tot['node']:.1f}x "
          f"(load {os.getloadavg()[0]:.1f})")
    print(f"   HEADLINE all four vs scipy-direct (k-d tree nearest node + csgraph.dijkstra min_only + k-d tree "
          f"radius): ours edge snap {tot['ours']:.3f} s [{tot['ours_cpu']:.3f} CPU], scipy-direct "
          f"{tot['sp']:.3f} s [{tot['sp_cpu']:.3f} CPU]; scipy/ours {tot['sp'] / tot['ours']:.2f}x wall, "
          f"{tot['sp_cpu'] / tot['ours_cpu']:.2f}x CPU (load {os.getloadavg()[0]:.1f})")
    print(f"   (secondary) searches alone, points already on the same nearest nodes: ours "
          f"{tot['search']:.3f} s [{tot['search_cpu']:.3f} CPU], scipy-direct {tot['sp_search']:.3f} s "
          f"[{tot['sp_search_cpu']:.3f} CPU]; scipy/ours {tot['sp_search'] / tot['search']:.2f}x wall, "
          f"{tot['sp_search_cpu'] / tot['search_cpu']:.2f}x CPU")
    print(f"   (secondary) all four with the per-facility peer: {tot['each']:.3f} s, "
          f"peer/ours {tot['each'] / tot['ours']:.1f}x")
    print(f"   (secondary) all four with the faster peer variant per standard: {tot['best']:.3f} s, "
          f"peer/ours {tot['best'] / tot['ours']:.1f}x")
    print(f"   (secondary) graph build alone: ours {t_build.wall:.3f} s, peer {t_peer_build.wall:.3f} s")
    ours_all, peer_all = tot["ours"] + t_build.wall, tot["peer"] + t_peer_build.wall
    print(f"   (secondary) all four including building the graph: ours {ours_all:.3f} s, "
          f"peer multi-source {peer_all:.3f} s, peer/ours {peer_all / ours_all:.1f}x")
    _, t_eval = best_of(repeat, evaluate, lambda: fresh(city))
    print(f"   scenarios.evaluate (all four, distances to 2x threshold, bands, gap clusters, loads; "
          f"snapping and segment grid included): {t_eval}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cities", nargs="*", default=["demo", "helsinki", "gen100k", "gen1m"])
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs, every step, both sides")
    args = ap.parse_args()
    for name in args.cities:
        run_city(name, args.repeat)


if __name__ == "__main__":
    main()
