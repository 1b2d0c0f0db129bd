"""OpenStreetMap input: walking network, facilities, buildings and whole cities.

Two file formats are read, each with the library that reads it best:

* ``.osm.pbf`` with pyrosm (fast, C-backed parsing into GeoDataFrames; the
  network arrays are built straight from pyrosm's node and edge frames),
* ``.osm`` / ``.osm.xml`` with osmnx (OSM XML, e.g. an Overpass export).

Both go through the same walkability rule (:func:`is_walkable`), the same
geodesic edge lengths and the same projection to one metric CRS, so a city read
from either format gives the same network. :func:`download_network` fetches a
place online through osmnx for interactive use.

The facility tag mapping lives in ``osm_tags.toml`` beside this module, as
data with a reason for every rule.
"""

from __future__ import annotations

import json
import re
import tomllib
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod
from shapely.ops import substring

from geo.crs import WGS84, from_wgs84, metric_crs, project_geometry, to_wgs84
from geo.network import WalkNetwork
from layers.city import City
from layers.errors import LayerError
from layers.kinds import CAPACITY_FIELDS, KINDS
from layers.population import (
    BUILDING_KEYS,
    HELSINKI,
    SOURCES,
    PopulationParams,
    estimate_building_population,
    population_grid,
)

__all__ = [
    "ATTRIBUTION",
    "OsmError",
    "TagMapping",
    "city_from_osm",
    "download_network",
    "facility_capacities",
    "facility_kind",
    "is_walkable",
    "load_osm_buildings",
    "load_osm_facilities",
    "load_osm_landuse",
    "load_osm_network",
    "load_tag_mapping",
    "network_from_osmnx_graph",
]

ATTRIBUTION = "© OpenStreetMap contributors"
"""Credit required by the ODbL wherever OSM data or anything derived is shown."""

Progress = Callable[[str, float], None]

_GEOD = Geod(ellps="WGS84")
_TAG_FILE = Path(__file__).with_name("osm_tags.toml")


class OsmError(LayerError):
    """An OpenStreetMap file that cannot be read or yields nothing usable."""


# =============================================================== walkability
EXCLUDED_HIGHWAY: frozenset[str] = frozenset(
    {
        # Not (yet, or any more) a way anyone can use; osmnx "walk" drops these.
        "abandoned", "construction", "no", "planned", "platform", "proposed",
        "raceway", "razed", "rest_area", "services",
        # Not for pedestrians: guided busways, bus-only roads, cycle tracks
        # (osmnx "walk" drops cycleways too; busway is newer than its filter).
        "bus_guideway", "busway", "cycleway",
        # Motorways and trunk roads: grade-separated, pedestrians banned or
        # unprotected. osmnx "walk" keeps trunk roads; the life-circle
        # standards measure walks along ordinary streets, so we do not.
        "motorway", "motorway_link", "trunk", "trunk_link",
    }
)
"""``highway`` values that are never part of the walking network."""

FOOTWAY_HIGHWAY: frozenset[str] = frozenset({"footway", "path", "pedestrian", "steps"})
"""Values that show a file maps pedestrian ways (see ``drop_separate_sidewalks``)."""

_CLOSED_ACCESS = frozenset({"no", "private"})
_SIDEWALK_KEYS = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")
WALK_KEYS: tuple[str, ...] = ("highway", "area", "access", "foot", "service", "motorroad", *_SIDEWALK_KEYS)
"""The way tags :func:`is_walkable` looks at."""


def _values(value) -> list[str]:
    """The ``;``-separated values of a tag (empty for missing/NaN)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, (list, tuple)):  # osmnx merges tags of simplified ways into lists
        return [p for v in value for p in _values(v)]
    return [p.strip() for p in str(value).split(";") if p.strip()]


def is_walkable(tags: Mapping[str, object], drop_separate_sidewalks: bool = True) -> bool:
    """Whether an OSM way with these tags belongs to the walking network.

    The rule follows osmnx's ``"walk"`` network type (and pyrosm's
    ``"walking"``), with the differences marked *:

    * the way has a ``highway`` tag whose value is not in
      :data:`EXCLUDED_HIGHWAY` (*motorways and trunk roads and their links,
      busways, cycleways, platforms, ways under construction, ...);
    * it is not an area (``area=yes``);
    * *it is not a motor road (``motorroad=yes`` bans pedestrians);
    * pedestrians may use it: the ``foot`` tag decides when present, else
      ``access``; ``no`` or ``private`` (also as one of several
      ``;``-separated values) closes the way;
    * it is not a private service road (``service=private``);
    * when ``drop_separate_sidewalks`` is true, its sidewalks are not mapped
      as separate ways (``sidewalk[:both|:left|:right]=separate``), so that a
      street is not counted next to its own sidewalks. *Pass false for files
      without pedestrian ways (e.g. road-only extracts), where the street is
      the only way to represent the walk along it.

    Parameters
    ----------
    tags : mapping of str to str
        The way's tags. List values (merged ways) match when any value does.
    drop_separate_sidewalks : bool, default True
        See above.

    Returns
    -------
    bool
    """
    highway = _values(tags.get("highway"))
    if not highway or any(h in EXCLUDED_HIGHWAY for h in highway):
        return False
    if "yes" in _values(tags.get("area")) or "yes" in _values(tags.get("motorroad")):
        return False
    foot = _values(tags.get("foot"))
    rule = foot if foot else _values(tags.get("access"))
    if any(v in _CLOSED_ACCESS for v in rule):
        return False
    if "private" in _values(tags.get("service")):
        return False
    return not (drop_separate_sidewalks and any("separate" in _values(tags.get(k)) for k in _SIDEWALK_KEYS))


def _has_footways(highways: pd.Series) -> bool:
    return any(v in FOOTWAY_HIGHWAY for h in highways for v in _values(h))


# ================================================================ tag mapping
_Condition = tuple[str, frozenset[str] | None]  # (key, accepted values); None = any value


def _holds(cond: _Condition, tags: Mapping[str, object]) -> bool:
    key, accepted = cond
    values = _values(tags.get(key))
    return bool(values) and (accepted is None or any(v in accepted for v in values))


@dataclass(frozen=True)
class _KindRule:
    kind: str
    match: tuple[_Condition, ...]
    unless: tuple[_Condition, ...] = ()

    def matches(self, tags: Mapping[str, object]) -> bool:
        return all(_holds(c, tags) for c in self.match) and not any(_holds(c, tags) for c in self.unless)


@dataclass(frozen=True)
class _CapacityRule:
    field: str
    tags: tuple[str, ...]
    kinds: frozenset[str] | None


@dataclass(frozen=True)
class TagMapping:
    """OSM tags to facility kinds and capacities, as read from a TOML file.

    Use :func:`load_tag_mapping` to read one; :func:`facility_kind` and
    :func:`facility_capacities` apply it.
    """

    rules: tuple[_KindRule, ...]
    capacities: tuple[_CapacityRule, ...]
    source: str

    def prefilter(self) -> dict[str, list[str] | bool]:
        """Key -> values that pre-select candidate features when reading a file.

        Built from the first condition of every rule (``True`` = any value).
        """
        out: dict[str, set[str] | bool] = {}
        for rule in self.rules:
            key, accepted = rule.match[0]
            if accepted is None or out.get(key) is True:
                out[key] = True
            else:
                out.setdefault(key, set()).update(accepted)  # type: ignore[union-attr]
        return {k: (True if v is True else sorted(v)) for k, v in out.items()}


def load_tag_mapping(path: str | Path | None = None) -> TagMapping:
    """Read a tag-to-kind mapping (default: ``layers/osm_tags.toml``).

    Parameters
    ----------
    path : str or Path, optional
        A TOML file with ``[[rule]]`` entries (``kind``, ``match``) and
        ``[[capacity]]`` entries (``field``, ``tags``, optional ``kinds``).

    Returns
    -------
    TagMapping

    Raises
    ------
    OsmError
        If the file cannot be parsed, names an unknown kind or capacity field,
        or a rule has no conditions.
    """
    if path is None:
        return _default_mapping()
    return _read_mapping(Path(path))


@lru_cache(maxsize=1)
def _default_mapping() -> TagMapping:
    return _read_mapping(_TAG_FILE)


def _read_mapping(path: Path) -> TagMapping:
    source = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise OsmError(source, f"cannot read the tag mapping: {exc}") from exc
    rules = []
    for i, entry in enumerate(data.get("rule", []), start=1):
        kind, match = entry.get("kind"), entry.get("match")
        if kind not in KINDS:
            raise OsmError(source, f"unknown kind {kind!r}; expected one of {sorted(KINDS)}", field="kind", row=i)
        if not isinstance(match, dict) or not match:
            raise OsmError(source, "a rule needs at least one condition", field="match", row=i)
        rules.append(
            _KindRule(kind, _conditions(match, source, "match", i), _conditions(entry.get("unless", {}), source, "unless", i))
        )
    caps = []
    for i, entry in enumerate(data.get("capacity", []), start=1):
        field = entry.get("field")
        if field not in CAPACITY_FIELDS:
            raise OsmError(source, f"unknown capacity field {field!r}; expected one of {list(CAPACITY_FIELDS)}", field="field", row=i)
        kinds = entry.get("kinds")
        if kinds is not None and not set(kinds) <= set(KINDS):
            raise OsmError(source, f"unknown kinds {sorted(set(kinds) - set(KINDS))}", field="kinds", row=i)
        caps.append(_CapacityRule(field, tuple(entry.get("tags", [])), None if kinds is None else frozenset(kinds)))
    if not rules:
        raise OsmError(source, "the tag mapping has no [[rule]] entries")
    return TagMapping(tuple(rules), tuple(caps), source)


def _conditions(table: dict, source: str, field: str, row: int) -> tuple[_Condition, ...]:
    conds = []
    for key, accepted in table.items():
        if not isinstance(accepted, list) or not all(isinstance(a, str) for a in accepted):
            raise OsmError(source, f"condition {key!r} must be a list of strings", field=field, row=row)
        conds.append((key, None if "*" in accepted else frozenset(accepted)))
    return tuple(conds)


def facility_kind(tags: Mapping[str, object], mapping: TagMapping | None = None) -> str | None:
    """The facility kind an OSM feature's tags describe, or ``None``.

    Parameters
    ----------
    tags : mapping of str to str
        All tags of one node, way or relation.
    mapping : TagMapping, optional
        Defaults to ``layers/osm_tags.toml``.

    Returns
    -------
    str or None
        A key of :data:`layers.kinds.KINDS`, from the first matching rule.

    Examples
    --------
    >>> facility_kind({"amenity": "social_facility", "social_facility:for": "senior"})
    'elderly_care'
    >>> facility_kind({"amenity": "dentist"}) is None
    True
    """
    mapping = mapping or _default_mapping()
    for rule in mapping.rules:
        if rule.matches(tags):
            return rule.kind
    return None


_NUMBER = re.compile(r"^\s*~?\s*(\d+(?:\.\d+)?)")


def _number(value) -> float:
    """Leading number of a tag value (``"~120 beds"`` -> 120), NaN otherwise."""
    for part in _values(value)[:1]:
        m = _NUMBER.match(part)
        if m:
            return float(m.group(1))
    return float("nan")


def facility_capacities(tags: Mapping[str, object], kind: str, mapping: TagMapping | None = None) -> dict[str, float]:
    """Capacity fields (beds, doctors, floor area) read from a feature's tags.

    Parameters
    ----------
    tags : mapping of str to str
    kind : str
        The feature's facility kind (some tags count only for some kinds).
    mapping : TagMapping, optional

    Returns
    -------
    dict
        Every field of :data:`layers.kinds.CAPACITY_FIELDS`, NaN when unknown.
    """
    mapping = mapping or _default_mapping()
    out = {f: float("nan") for f in CAPACITY_FIELDS}
    for rule in mapping.capacities:
        if not np.isnan(out[rule.field]) or (rule.kinds is not None and kind not in rule.kinds):
            continue
        for tag in rule.tags:
            value = _number(tags.get(tag))
            if not np.isnan(value):
                out[rule.field] = value
                break
    return out


# ================================================================ file access
def _file_format(path: str | Path) -> tuple[Path, str]:
    """Check the file exists and say whether it is ``"pbf"`` or ``"xml"``."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".pbf"):
        fmt = "pbf"
    elif name.endswith((".osm", ".osm.xml", ".xml")):
        fmt = "xml"
    else:
        raise OsmError(p.name, "not an OpenStreetMap file: expected a name ending in .osm.pbf, .osm or .osm.xml")
    if not p.is_file():
        raise OsmError(str(p), "file not found")
    return p, fmt


_PYROSM_META = frozenset({"id", "osm_type", "geometry", "tags", "lon", "lat", "visible", "version", "timestamp", "changeset", "u", "v", "length"})
_OSMNX_META = frozenset({"geometry", "nodes", "ways", "element", "id"})


def _tag_records(frame: pd.DataFrame, meta: frozenset[str], keys: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    """One dict of OSM tags per row (all tags, or only ``keys``).

    pyrosm keeps common keys as columns and the rest as a JSON string in
    ``tags``; osmnx keeps every key as a column. Both end up here as plain dicts.
    Restricting to ``keys`` keeps the per-row work small on big networks.
    """
    cols = [c for c in frame.columns if c not in meta and (keys is None or c in keys)]
    values = frame[cols].to_numpy(dtype=object)
    extra = frame["tags"].to_numpy(dtype=object) if "tags" in frame.columns else [None] * len(frame)
    wanted = None if keys is None else [k for k in keys if k not in cols]
    records = []
    for row, more in zip(values, extra, strict=True):
        rec = {k: str(v) for k, v in zip(cols, row, strict=True) if isinstance(v, str) or (v is not None and not pd.isna(v))}
        # Parse the JSON only when it may hold a wanted key (cheap substring test).
        if isinstance(more, str) and more and (wanted is None or any(f'"{k}"' in more for k in wanted)):
            try:
                parsed = json.loads(more)
            except json.JSONDecodeError:
                parsed = {}
            for k, v in parsed.items():
                if wanted is None or k in wanted:
                    rec.setdefault(k, str(v))
        records.append(rec)
    return records


def _pyrosm(path: Path):
    import pyrosm  # imported lazily: only the .pbf route needs it

    return pyrosm.OSM(str(path))


@contextmanager
def _osmnx_way_tags(keys: tuple[str, ...]) -> Iterator[None]:
    """Make osmnx keep ``keys`` on graph edges (it keeps a short list by default)."""
    import osmnx as ox

    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = list(dict.fromkeys(saved + list(keys)))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = saved


# ==================================================================== network
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
    p, fmt = _file_format(path)
    if fmt == "pbf":
        return _pbf_network(p, crs, drop_separate_sidewalks)
    return _xml_network(p, crs, drop_separate_sidewalks)


def _pbf_network(path: Path, crs, drop_separate_sidewalks: bool | None) -> WalkNetwork:
    try:
        got = _pyrosm(path).get_network(network_type="walking", nodes=True)
    except Exception as exc:  # pyrosm raises assorted errors on damaged files
        raise OsmError(path.name, f"cannot read the walking network: {exc}") from exc
    if got is None or got[1] is None or len(got[1]) == 0:
        raise OsmError(path.name, "no walkable ways found")
    nodes, edges = got
    records = _tag_records(edges, _PYROSM_META, WALK_KEYS)
    if drop_separate_sidewalks is None:
        drop_separate_sidewalks = _has_footways(edges["highway"])
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
        drop_separate_sidewalks = _has_footways(pd.Series([d.get("highway") for _, _, d in G.edges(data=True)]))
    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not is_walkable(d, drop_separate_sidewalks)]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n, deg in dict(G.degree()).items() if deg == 0])
    if G.number_of_edges() == 0:
        raise OsmError(source, "no walkable ways found")
    return G


def _xml_network(path: Path, crs, drop_separate_sidewalks: bool | None) -> WalkNetwork:
    import osmnx as ox

    try:
        with _osmnx_way_tags(WALK_KEYS), warnings.catch_warnings():
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
        with _osmnx_way_tags(WALK_KEYS):
            G = ox.graph_from_place(place, network_type="walk", simplify=False, retain_all=True)
    except Exception as exc:  # geocoding and HTTP errors
        raise OsmError(place, f"cannot download the walking network: {exc}") from exc
    G.graph["name"] = place
    return network_from_osmnx_graph(_keep_walkable(G, True, place), crs)


# ================================================================= facilities
_FACILITY_COLUMNS = ["id", "name", "kind", *CAPACITY_FIELDS]


def _read_features(path: Path, fmt: str, tags: dict[str, list[str] | bool], what: str) -> tuple[list[str], list[dict[str, str]], np.ndarray]:
    """Features matching ``tags`` as (``"node/1"``-style ids, tag dicts, WGS84 geometries)."""
    try:
        if fmt == "pbf":
            frame = _pyrosm(path).get_pois(custom_filter=tags) if what == "pois" else _pbf_layer(path, what)
            if frame is None or len(frame) == 0:
                return [], [], np.empty(0, dtype=object)
            ids = [f"{t}/{i}" for t, i in zip(frame["osm_type"], frame["id"])]
            return ids, _tag_records(frame, _PYROSM_META), frame.geometry.to_numpy()
        import osmnx as ox

        try:
            frame = ox.features_from_xml(path, tags=tags)
        except ox._errors.InsufficientResponseError:
            return [], [], np.empty(0, dtype=object)
        ids = [f"{t}/{i}" for t, i in frame.index]
        return ids, _tag_records(frame, _OSMNX_META), frame.geometry.to_numpy()
    except OsmError:
        raise
    except Exception as exc:
        raise OsmError(path.name, f"cannot read {what}: {exc}") from exc


def _pbf_layer(path: Path, what: str):
    osm = _pyrosm(path)
    return osm.get_buildings() if what == "buildings" else osm.get_landuse()


def load_osm_facilities(path: str | Path, mapping: TagMapping | None = None) -> gpd.GeoDataFrame:
    """Read public-service facilities from an OpenStreetMap file.

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf``, ``.osm`` or ``.osm.xml``.
    mapping : TagMapping, optional
        Tag-to-kind rules; default ``layers/osm_tags.toml``.

    Returns
    -------
    geopandas.GeoDataFrame
        WGS84 points, index ``0..k-1``, columns ``id`` (``"node/123"``,
        ``"way/45"``, ...), ``name`` (``""`` when untagged), ``kind``,
        ``beds``, ``doctors``, ``floor_area_m2`` (NaN when unknown). Buildings
        and areas are represented by a point inside them. A node inside an
        area of the same kind, with the same name or no name on one of the
        two, is taken as a duplicate of the area and dropped (its name and
        capacities fill gaps in the area's).

    Raises
    ------
    OsmError
        If the file is missing or unreadable.
    """
    p, fmt = _file_format(path)
    mapping = mapping or _default_mapping()
    ids, records, geoms = _read_features(p, fmt, mapping.prefilter(), "pois")
    rows = []
    for fid, tags, geom in zip(ids, records, geoms):
        kind = facility_kind(tags, mapping)
        if kind is None or geom is None or shapely.is_empty(geom):
            continue
        rows.append({"id": fid, "name": tags.get("name", ""), "kind": kind, **facility_capacities(tags, kind, mapping), "geometry": geom})
    if not rows:
        return gpd.GeoDataFrame({c: pd.Series(dtype=float if c in CAPACITY_FIELDS else object) for c in _FACILITY_COLUMNS}, geometry=gpd.GeoSeries([], crs=WGS84))
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
    frame = frame.drop_duplicates("id")
    frame = _merge_nodes_into_areas(frame)
    frame["geometry"] = shapely.point_on_surface(frame.geometry.values)
    return frame[_FACILITY_COLUMNS + ["geometry"]].reset_index(drop=True)


def _merge_nodes_into_areas(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop nodes that restate an area (building, site) of the same facility."""
    is_area = shapely.get_dimensions(frame.geometry.values) == 2
    is_node = frame["id"].str.startswith("node/").to_numpy()
    if not is_area.any() or not is_node.any():
        return frame
    areas, nodes = frame[is_area], frame[is_node]
    ni, ai = shapely.STRtree(areas.geometry.values).query(nodes.geometry.values, predicate="within")
    drop = []
    for n, a in zip(ni, ai):
        node_row, area_label = nodes.iloc[n], areas.index[a]
        area_name = frame.at[area_label, "name"]
        if node_row["kind"] != frame.at[area_label, "kind"]:
            continue
        if node_row["name"] and area_name and node_row["name"].casefold() != area_name.casefold():
            continue  # two different facilities in one building
        if not area_name:
            frame.at[area_label, "name"] = node_row["name"]
        for f in CAPACITY_FIELDS:
            if np.isnan(frame.at[area_label, f]):
                frame.at[area_label, f] = node_row[f]
        drop.append(nodes.index[n])
    return frame.drop(index=drop)


# ======================================================== buildings, land use
def load_osm_buildings(path: str | Path, keys: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Read building footprints with the tags a population estimate needs.

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf``, ``.osm`` or ``.osm.xml``.
    keys : tuple of str
        OSM keys to return as columns (e.g.
        :data:`layers.population.BUILDING_KEYS`); missing tags are NaN.

    Returns
    -------
    geopandas.GeoDataFrame
        WGS84 polygons, columns ``id`` and ``keys``; ways and multipolygon
        relations tagged ``building=*``. Non-polygon features are dropped.

    Raises
    ------
    OsmError
        If the file is missing or unreadable.
    """
    return _polygons_with_keys(path, {"building": True}, "buildings", keys)


def load_osm_landuse(path: str | Path) -> gpd.GeoDataFrame:
    """Read land-use areas (``landuse=*`` polygons) as WGS84 ``id, landuse, geometry``."""
    return _polygons_with_keys(path, {"landuse": True}, "landuse", ("landuse",))


def _polygons_with_keys(path, tags: dict, what: str, keys: tuple[str, ...]) -> gpd.GeoDataFrame:
    p, fmt = _file_format(path)
    ids, records, geoms = _read_features(p, fmt, tags, what)
    data = {"id": ids, **{k: [r.get(k, np.nan) for r in records] for k in keys}}
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(list(geoms), crs=WGS84))
    polygonal = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    return frame[polygonal].reset_index(drop=True)


# ======================================================================= city
def _report(progress: Progress | None, step: str, fraction: float) -> None:
    if progress is not None:
        progress(step, fraction)


def city_from_osm(
    path: str | Path,
    name: str,
    *,
    crs: CRS | str | int | None = None,
    population: PopulationParams | None = None,
    cell_size: float = 100.0,
    progress: Progress | None = None,
) -> City:
    """Build a whole :class:`~layers.city.City` from one OpenStreetMap file.

    The walking network, facilities (``osm_tags.toml``) and a population grid
    estimated from building floor area (:mod:`layers.population`).

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf``, ``.osm`` or ``.osm.xml``.
    name : str
        The city's short name.
    crs : pyproj.CRS or str or int, optional
        Metric CRS; default the UTM zone of the data.
    population : PopulationParams, optional
        Defaults to :data:`layers.population.HELSINKI`.
    cell_size : float, default 100
        Population grid cell side in metres.
    progress : callable, optional
        ``progress(step, fraction)`` with fraction in [0, 1].

    Returns
    -------
    City
        ``population_estimated=True``; ``meta`` records the method, parameters,
        sources and counts, and under ``"notes"`` any facility kind the file
        has none of (nothing is invented to fill the gap).

    Raises
    ------
    OsmError
        If the file is unreadable, has no walkable ways, or no building
        yields residents.
    """
    params = population or HELSINKI
    p, _ = _file_format(path)
    _report(progress, "walking network", 0.0)
    network = load_osm_network(p, crs)
    crs = network.crs
    _report(progress, "facilities", 0.4)
    facilities = load_osm_facilities(p).to_crs(crs)
    _report(progress, "buildings", 0.55)
    buildings = load_osm_buildings(p, BUILDING_KEYS).to_crs(crs)
    landuse = load_osm_landuse(p).to_crs(crs)
    _report(progress, "population estimate", 0.75)
    housed = estimate_building_population(buildings, landuse, params)
    cells = population_grid(housed, cell_size, source_name=p.name)
    if len(cells) == 0:
        raise OsmError(p.name, f"none of the {len(buildings)} buildings was counted as housing, so there is no population to analyse")
    _report(progress, "assembling", 0.95)

    counts = {k: int((facilities["kind"] == k).sum()) for k in KINDS}
    notes = [
        f"no {k} facility ({KINDS[k]['en']}) is mapped in {p.name}; analyses of it will show no coverage rather than invented facilities"
        for k, n in counts.items()
        if n == 0
    ]
    meta = {
        "source": p.name,
        "source_format": "OpenStreetMap",
        "network": {
            "rule": "layers.osm.is_walkable (osmnx 'walk' without motorway, trunk, busway or motorroad)",
            "nodes": network.n_nodes,
            "edges": network.n_edges,
            "length_km": round(network.total_length_m / 1000, 3),
            "components": network.n_components,
        },
        "facilities": {"mapping": "layers/osm_tags.toml", "counts": counts},
        "population": {
            "method": "building footprint x floors x residential share / gross floor area per person, "
            f"areal-weighted onto a {cell_size:g} m grid (layers.population)",
            "parameters": {**params.as_dict(), "default_levels_used": housed.attrs["default_levels"]},
            "buildings": len(buildings),
            "buildings_housing": int((housed["population"] > 0).sum()),
            "total": round(float(cells["population"].sum()), 1),
            "elderly": round(float(cells["elderly"].sum()), 1),
            "sources": SOURCES,
        },
        "notes": notes,
    }
    city = City(
        name=name,
        crs=crs,
        cells=cells,
        facilities=facilities.reset_index(drop=True),
        network=network,
        boundary=shapely.convex_hull(shapely.multipoints(np.column_stack([network.x, network.y]))),
        attribution=ATTRIBUTION,
        generated=False,
        population_estimated=True,
        meta=meta,
    )
    _report(progress, "done", 1.0)
    return city
