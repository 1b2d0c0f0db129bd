"""The walking network from an OpenStreetMap file, an osmnx graph or a download.

Both file formats go through the same walkability rule
(:func:`layers.osm.tags.is_walkable`), the same geodesic edge lengths and the
same projection to one metric CRS, so a city read from either format gives
the same network.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod
from shapely.ops import substring

from geo.crs import WGS84, from_wgs84, metric_crs, project_geometry, to_wgs84
from geo.network import WalkNetwork
from layers.osm.errors import OsmError
from layers.osm.files import PYROSM_META, file_format, open_pbf, osmnx_way_tags, tag_records
from layers.osm.tags import WALK_KEYS, has_footways, is_walkable

__all__ = ["download_network", "load_osm_network", "network_from_osmnx_graph"]

_GEOD = Geod(ellps="WGS84")


def _geodesic_lengths(lines: np.ndarray) -> np.ndarray:
    """Length in metres of WGS84 LineStrings on the WGS84 ellipsoid."""
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    same = idx[1:] == idx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    _, _, d = _GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    return np.bincount(idx[:-1][same], weights=np.abs(d), minlength=len(lines))


def _split_loops(node_ids, lon, lat, u_ids, v_ids, lines):
    """Split every closed edge (``u == v``) in two at its midpoint.

    Simplification turns a loop street (a cul-de-sac ring, a path round a
    pond) into an edge from a node to itself, which a shortest-path graph
    drops; split, its two halves stay walkable and snappable. The new middle
    nodes get negative ids (-1, -2, ...), which OSM never uses.
    """
    u_ids, v_ids = np.asarray(u_ids), np.asarray(v_ids)
    loop = np.flatnonzero(u_ids == v_ids)
    if loop.size == 0:
        return node_ids, lon, lat, u_ids, v_ids, lines
    mids = shapely.line_interpolate_point(lines[loop], 0.5, normalized=True)
    # A two-way loop arrives twice (once per direction): keep one copy.
    key = pd.DataFrame({"u": u_ids[loop], "mx": np.round(shapely.get_x(mids), 7), "my": np.round(shapely.get_y(mids), 7)})
    copy = key.duplicated().to_numpy()
    if copy.any():
        keep = np.ones(u_ids.size, dtype=bool)
        keep[loop[copy]] = False
        u_ids, v_ids, lines = u_ids[keep], v_ids[keep], lines[keep]
        loop, mids = np.flatnonzero(u_ids == v_ids), mids[~copy]
    new_ids = -np.arange(1, loop.size + 1, dtype=np.int64)
    firsts = [substring(line, 0.0, 0.5, normalized=True) for line in lines[loop]]
    seconds = [substring(line, 0.5, 1.0, normalized=True) for line in lines[loop]]
    u_ids, v_ids = u_ids.copy(), v_ids.copy()
    ends = v_ids[loop]
    v_ids[loop] = new_ids
    lines = lines.copy()
    lines[loop] = firsts
    return (
        np.concatenate([np.asarray(node_ids), new_ids]),
        np.concatenate([np.asarray(lon, dtype=float), shapely.get_x(mids)]),
        np.concatenate([np.asarray(lat, dtype=float), shapely.get_y(mids)]),
        np.concatenate([u_ids, new_ids]),
        np.concatenate([v_ids, ends]),
        np.concatenate([lines, np.array(seconds, dtype=object)]),
    )


def _network_from_arrays(
    node_ids: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    u_ids: np.ndarray,
    v_ids: np.ndarray,
    lines: np.ndarray,
    crs,
    source: str,
) -> WalkNetwork:
    """Build a :class:`WalkNetwork` from OSM node/edge arrays in WGS84.

    Edge ``i`` runs from node ``u_ids[i]`` to ``v_ids[i]`` along ``lines[i]``.
    Both directions of a two-way street, and identical copies of one
    segment, collapse to one edge; distinct parallel ways between the same
    nodes are kept (WalkNetwork routes over the shortest). Nodes no edge uses
    are dropped.
    """
    if len(u_ids) == 0:
        raise OsmError(source, "no walkable ways found")
    lines = np.asarray(lines, dtype=object)
    node_ids, lon, lat, u_ids, v_ids, lines = _split_loops(node_ids, lon, lat, u_ids, v_ids, lines)
    index = pd.Index(node_ids)
    if not index.is_unique:
        index = index.drop_duplicates()
        keep_first = ~pd.Index(node_ids).duplicated()
        lon, lat = lon[keep_first], lat[keep_first]
    u = index.get_indexer(u_ids)
    v = index.get_indexer(v_ids)
    if (u < 0).any() or (v < 0).any():
        missing = np.concatenate([np.asarray(u_ids)[u < 0], np.asarray(v_ids)[v < 0]])
        raise OsmError(source, f"{missing.size} way ends refer to nodes missing from the file (e.g. node {missing[0]})")
    length = _geodesic_lengths(lines)

    # One edge per (node pair, course on the ground): a street's two directions
    # and duplicate segments share both end nodes, the same length and midpoint.
    mid = shapely.line_interpolate_point(lines, 0.5, normalized=True)
    key = pd.DataFrame(
        {
            "a": np.minimum(u, v),
            "b": np.maximum(u, v),
            "len": np.round(length, 2),
            "mx": np.round(shapely.get_x(mid), 7),
            "my": np.round(shapely.get_y(mid), 7),
        }
    )
    first = ~key.duplicated().to_numpy()
    u, v, length, lines = u[first], v[first], length[first], lines[first]

    used, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    u, v = inverse[: u.size], inverse[u.size :]
    lon, lat = np.asarray(lon, dtype=float)[used], np.asarray(lat, dtype=float)[used]
    target = metric_crs((lon.min(), lat.min(), lon.max(), lat.max()), crs)
    x, y = from_wgs84(lon, lat, target)
    return WalkNetwork.from_edges(
        x, y, u, v, length=length, geometry=project_geometry(lines, WGS84, target), crs=target, node_id=index.to_numpy()[used]
    )


def load_osm_network(
    path: str | Path,
    crs: CRS | str | int | None = None,
    drop_separate_sidewalks: bool | None = None,
) -> WalkNetwork:
    """Read the walking network from an OpenStreetMap file.

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf`` (read with pyrosm) or ``.osm`` / ``.osm.xml`` (osmnx).
    crs : pyproj.CRS or str or int, optional
        Metric CRS for the result; default the UTM zone of the data's centre.
    drop_separate_sidewalks : bool, optional
        See :func:`is_walkable`. Default: true when the file maps footways,
        paths, pedestrian streets or steps, false for road-only files (where
        dropping streets whose sidewalks are "separate" would cut the network
        because those sidewalks are not in the file).

    Returns
    -------
    WalkNetwork
        Undirected, lengths in metres measured on the WGS84 ellipsoid, edge
        geometries projected to ``crs``, OSM node ids in ``node_id``. Not
        topologically simplified: every segment between two consecutive
        nodes of a walkable way is one edge, in both formats (merging chains
        of degree-2 nodes with osmnx took longer than every later analysis
        step, and the CSR graph does not need it).

    Raises
    ------
    OsmError
        If the file is missing, of an unknown type, unreadable, or has no
        walkable ways.
    """
    p, fmt = file_format(path)
    if fmt == "pbf":
        return _pbf_network(p, crs, drop_separate_sidewalks)
    return _xml_network(p, crs, drop_separate_sidewalks)


def _pbf_network(path: Path, crs, drop_separate_sidewalks: bool | None) -> WalkNetwork:
    try:
        got = open_pbf(path).get_network(network_type="walking", nodes=True)
    except Exception as exc:  # pyrosm raises assorted errors on damaged files
        raise OsmError(path.name, f"cannot read the walking network: {exc}") from exc
    if got is None or got[1] is None or len(got[1]) == 0:
        raise OsmError(path.name, "no walkable ways found")
    nodes, edges = got
    records = tag_records(edges, PYROSM_META, WALK_KEYS)
    if drop_separate_sidewalks is None:
        drop_separate_sidewalks = has_footways(edges["highway"])
    keep = np.fromiter((is_walkable(t, drop_separate_sidewalks) for t in records), dtype=bool, count=len(records))
    edges = edges[keep]
    return _network_from_arrays(
        nodes["id"].to_numpy(),
        nodes["lon"].to_numpy(dtype=float),
        nodes["lat"].to_numpy(dtype=float),
        edges["u"].to_numpy(),
        edges["v"].to_numpy(),
        edges.geometry.to_numpy(),
        crs,
        path.name,
    )


def _keep_walkable(G: nx.MultiDiGraph, drop_separate_sidewalks: bool | None, source: str) -> nx.MultiDiGraph:
    """Remove, in place, the edges of an unsimplified osmnx graph that are not walkable.

    The graph must be unsimplified so that every edge carries the tags of one
    OSM way (a simplified edge may merge a street with the motorway link it
    runs into). Nodes left without edges are removed too.
    """
    if drop_separate_sidewalks is None:
        drop_separate_sidewalks = has_footways(pd.Series([d.get("highway") for _, _, d in G.edges(data=True)]))
    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not is_walkable(d, drop_separate_sidewalks)]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n, deg in dict(G.degree()).items() if deg == 0])
    if G.number_of_edges() == 0:
        raise OsmError(source, "no walkable ways found")
    return G


def _xml_network(path: Path, crs, drop_separate_sidewalks: bool | None) -> WalkNetwork:
    import osmnx as ox

    try:
        with osmnx_way_tags(WALK_KEYS), warnings.catch_warnings():
            # osmnx warns about XML files that osmnx itself wrote; they read fine.
            warnings.filterwarnings("ignore", message=".*generated by OSMnx.*")
            # Every way in both directions (walking ignores oneway). Not
            # simplified, like the .pbf route: every OSM segment is an edge,
            # so both formats give the same network.
            G = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
    except Exception as exc:  # XML syntax errors, empty files, ...
        raise OsmError(path.name, f"cannot read the OSM XML: {exc}") from exc
    return network_from_osmnx_graph(_keep_walkable(G, drop_separate_sidewalks, path.name), crs)


def network_from_osmnx_graph(G: nx.MultiDiGraph, crs: CRS | str | int | None = None) -> WalkNetwork:
    """Convert an osmnx graph into a :class:`WalkNetwork`.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        An osmnx graph in any CRS (``G.graph["crs"]``), simplified or not, one-
        or two-directional: every edge is treated as walkable both ways and
        the two directions of a street become one edge. Edges without a
        ``geometry`` attribute are straight lines between their nodes.
    crs : pyproj.CRS or str or int, optional
        Metric CRS of the result; default the UTM zone of the graph's centre.

    Returns
    -------
    WalkNetwork
        Lengths are recomputed on the WGS84 ellipsoid from the edge geometry.

    Raises
    ------
    OsmError
        If the graph has no edges.
    """
    source = str(G.graph.get("name", "osmnx graph"))
    if G.number_of_edges() == 0:
        raise OsmError(source, "no walkable ways found")
    node_ids = np.array(list(G.nodes))
    x = np.fromiter((d["x"] for _, d in G.nodes(data=True)), dtype=float, count=node_ids.size)
    y = np.fromiter((d["y"] for _, d in G.nodes(data=True)), dtype=float, count=node_ids.size)
    u_ids, v_ids, drawn = [], [], []
    for u, v, d in G.edges(data=True):
        u_ids.append(u)
        v_ids.append(v)
        drawn.append(d.get("geometry"))
    u_ids, v_ids = np.array(u_ids), np.array(v_ids)
    lines = np.array(drawn, dtype=object)
    straight = np.array([g is None for g in drawn], dtype=bool)
    if straight.any():
        pos = pd.Index(node_ids)
        a, b = pos.get_indexer(u_ids[straight]), pos.get_indexer(v_ids[straight])
        lines[straight] = shapely.linestrings(np.stack([np.column_stack([x[a], y[a]]), np.column_stack([x[b], y[b]])], axis=1))
    graph_crs = CRS.from_user_input(G.graph.get("crs", WGS84))
    if not graph_crs.is_geographic or not graph_crs.equals(WGS84):
        x, y = to_wgs84(x, y, graph_crs)
        lines = project_geometry(lines, graph_crs, WGS84)
    return _network_from_arrays(node_ids, x, y, u_ids, v_ids, lines, crs, source)


def download_network(place: str, crs: CRS | str | int | None = None) -> WalkNetwork:
    """Download a place's walking network from OpenStreetMap (needs internet).

    Parameters
    ----------
    place : str
        A place name osmnx can geocode, e.g. ``"Futian District, Shenzhen"``.
    crs : pyproj.CRS or str or int, optional
        Metric CRS of the result; default the UTM zone of the place.

    Returns
    -------
    WalkNetwork
        The same walkability rule as for files (:func:`is_walkable`).

    Raises
    ------
    OsmError
        If the place cannot be found or downloaded.
    """
    import osmnx as ox

    try:
        with osmnx_way_tags(WALK_KEYS):
            G = ox.graph_from_place(place, network_type="walk", simplify=False, retain_all=True)
    except Exception as exc:  # geocoding and HTTP errors
        raise OsmError(place, f"cannot download the walking network: {exc}") from exc
    G.graph["name"] = place
    return network_from_osmnx_graph(_keep_walkable(G, True, place), crs)
