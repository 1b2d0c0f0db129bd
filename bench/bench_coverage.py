"""Coverage: our pipeline vs the OSMnx-style pipeline, on the same city.

Peer (the usual OSMnx notebook recipe): a networkx graph of the streets,
facilities and cells snapped to their nearest *node*, one
``single_source_dijkstra_path_length(cutoff=threshold)`` per facility, and a
cell counted as covered when its nearest node was reached.

Ours: edge snapping with access legs, one multi-source bounded Dijkstra
(``scenarios.evaluate``). We also run ours with node snapping and no access
legs (a :class:`Snapped` sitting on a node of an incident edge) to show that
the two pipelines then agree exactly, and report how much edge snapping
changes the covered population.

Run: ``PYTHONPATH=. python bench/bench_coverage.py [city ...]`` (default: demo).
"""

from __future__ import annotations

import sys
import time

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

from geo.network import WalkNetwork
from geo.paths import nearest_source
from geo.snap import Snapped
from layers.cities import load_city
from scenarios.evaluate import evaluate_standard
from scenarios.standards import resolve_standards


def node_snapped(net: WalkNetwork, x: np.ndarray, y: np.ndarray) -> tuple[Snapped, np.ndarray]:
    """Points placed on their nearest node (of an edge), with no access leg."""
    has_edge = np.zeros(net.n_nodes, dtype=bool)
    has_edge[net.u] = has_edge[net.v] = True
    nodes = np.flatnonzero(has_edge)
    _, k = cKDTree(np.column_stack([net.x[nodes], net.y[nodes]])).query(np.column_stack([x, y]))
    node = nodes[k]
    # one incident edge per node, and which end the node is
    edge_of = np.full(net.n_nodes, -1, dtype=np.int64)
    edge_of[net.v] = np.arange(net.n_edges)
    edge_of[net.u] = np.arange(net.n_edges)
    e = edge_of[node]
    at_u = net.u[e] == node
    length = net.length[e]
    to_u = np.where(at_u, 0.0, length)
    s = Snapped(e, to_u, length - to_u, np.zeros(node.size), net.x[node], net.y[node])
    return s, node


def peer_covered(net: WalkNetwork, fac_node: np.ndarray, cell_node: np.ndarray, threshold: float) -> np.ndarray:
    g = nx.Graph()
    g.add_nodes_from(range(net.n_nodes))
    for a, b, w in zip(net.u.tolist(), net.v.tolist(), net.length.tolist()):
        if not g.has_edge(a, b) or g[a][b]["length"] > w:
            g.add_edge(a, b, length=w)
    t = time.perf_counter()
    reached: set[int] = set()
    for f in np.unique(fac_node).tolist():
        reached.update(nx.single_source_dijkstra_path_length(g, f, cutoff=threshold, weight="length"))
    covered = np.isin(cell_node, np.fromiter(reached, dtype=np.int64, count=len(reached)))
    return covered, time.perf_counter() - t


def main(names: list[str]) -> None:
    for name in names:
        city = load_city(name)
        net = city.network
        print(f"\n== {name}: {len(city.cells):,} cells, {len(city.facilities):,} facilities, {net.n_nodes:,} nodes")
        cells_n, cell_node = node_snapped(net, *city.cell_xy)
        for s in resolve_standards():
            if s.mode != "network":
                continue
            pos = city.facilities_of(s.kinds)
            w = city.cells[s.weight].to_numpy(dtype=float)
            t = time.perf_counter()
            ours = evaluate_standard(city, s)
            t_ours = time.perf_counter() - t
            fx, fy = city.facility_xy
            fac_n, fac_node = node_snapped(net, fx[pos], fy[pos])
            t = time.perf_counter()
            ours_node = nearest_source(net, fac_n, cells_n, limit=s.threshold_m).dist <= s.threshold_m
            t_node = time.perf_counter() - t
            peer, t_peer = peer_covered(net, fac_node, cell_node, s.threshold_m)
            agree = int(np.count_nonzero(peer != ours_node))
            total = w.sum()
            print(f"{s.id} ({len(pos)} facilities, {s.threshold_m:.0f} m): ours (edge snap) {t_ours:.3f} s, "
                  f"ours (node snap) {t_node:.3f} s, peer {t_peer:.3f} s, ratio peer/ours-node {t_peer / t_node:.1f}x")
            print(f"   node-snap ours vs peer: {agree} cells differ; covered share: peer {w[peer].sum() / total:.4f}, "
                  f"ours node snap {w[ours_node].sum() / total:.4f}, ours edge snap {w[ours.covered].sum() / total:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["demo"])
