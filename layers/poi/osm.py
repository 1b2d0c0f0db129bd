"""OpenStreetMap points of interest to facilities, by the table ``layers/poi_tables/osm.toml``.

The table has the format of ``layers/osm_tags.toml`` (``[[rule]]`` with
``kind``, ``match``, optional ``unless``; ``[[capacity]]``), plus:

* ``keys``: the tag keys that make a feature a point of interest
  (``amenity``, ``leisure``, ``healthcare``, ``shop``, ...). Every feature
  with one of them is read; one that no rule maps is reported under its
  first such ``key=value`` (``amenity=restaurant``), never dropped silently.
* a rule's ``kind`` may be a list in order of preference
  (``["nursing_home", "elderly_care"]``): the first the active catalogue has.

Features of polygon kinds (parks) keep their outline, so ``city build``
measures reach from their edge; others become a point inside them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import shapely

from geo.crs import WGS84
from layers.kinds import KINDS
from layers.osm.errors import OsmError
from layers.osm.facilities import _merge_nodes_into_areas
from layers.osm.files import file_format, read_features
from layers.osm.tags import TagMapping, _conditions, _holds, _values, capacity_rules, facility_capacities
from layers.poi.result import FACILITY_COLUMNS, PoiImport, build_report, empty_facilities
from layers.poi.tables import DEFAULT_TABLES, choose_kind, split_kinds

__all__ = ["OsmPoiTable", "import_osm_pois", "load_osm_poi_table"]


@dataclass(frozen=True)
class _Rule:
    kinds: tuple[str, ...]
    match: tuple
    unless: tuple = ()

    def matches(self, tags) -> bool:
        return all(_holds(c, tags) for c in self.match) and not any(_holds(c, tags) for c in self.unless)


@dataclass(frozen=True)
class OsmPoiTable:
    """An OSM POI table: the keys that make a POI, rules to kinds, capacity tags."""

    keys: tuple[str, ...]
    rules: tuple[_Rule, ...]
    capacities: TagMapping
    source: str

    def kinds_of(self, tags) -> tuple[str, ...] | None:
        """The kinds (in preference order) of the first rule matching ``tags``, else ``None``."""
        return next((r.kinds for r in self.rules if r.matches(tags)), None)

    def poi_type(self, tags) -> str:
        """The feature's first ``key=value`` among :attr:`keys` (how an unmapped POI is listed)."""
        for key in self.keys:
            values = _values(tags.get(key))
            if values:
                return f"{key}={values[0]}"
        return "?"


def load_osm_poi_table(path: str | Path | None = None) -> OsmPoiTable:
    """Read an OSM POI table (default ``layers/poi_tables/osm.toml``).

    Raises
    ------
    OsmError
        Naming the file, the rule (row) and the field: unparsable TOML, no
        ``keys``, a rule without kind or conditions, a capacity field unknown.
    """
    path = Path(path) if path is not None else DEFAULT_TABLES["osm"]
    source = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise OsmError(source, f"cannot read the POI table: {exc}") from exc
    keys = data.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise OsmError(source, "needs keys = [\"amenity\", ...]: the tag keys that make a feature a POI", field="keys")
    rules = []
    for i, entry in enumerate(data.get("rule", []), start=1):
        kinds = split_kinds(entry.get("kind", ""))
        if not kinds:
            raise OsmError(source, "a rule needs a kind (or a list of kinds)", field="kind", row=i)
        match = entry.get("match")
        if not isinstance(match, dict) or not match:
            raise OsmError(source, "a rule needs at least one condition", field="match", row=i)
        rules.append(_Rule(kinds, _conditions(match, source, "match", i), _conditions(entry.get("unless", {}), source, "unless", i)))
    # kinds of a capacity entry are not checked: the table serves catalogues without them
    caps = capacity_rules(data.get("capacity", []), source, check_kinds=False)
    return OsmPoiTable(tuple(keys), tuple(rules), TagMapping((), caps, source), str(path))


def import_osm_pois(path: str | Path, table: str | Path | OsmPoiTable | None = None, *, kinds=None) -> PoiImport:
    """Read facilities from an OpenStreetMap file by a POI table.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.osm.pbf``, ``.osm`` or ``.osm.xml`` (the network's own file).
    table : path or OsmPoiTable, optional
        Default ``layers/poi_tables/osm.toml``.
    kinds : mapping, optional
        The kinds in force (default: the active catalogue's).

    Returns
    -------
    PoiImport
        Facilities (WGS84; ids ``node/1``, ``way/2``; a node restating an area
        of the same kind and name is merged into it) and the report.

    Raises
    ------
    OsmError
        An unreadable file or table.
    """
    p, fmt = file_format(path)
    if not isinstance(table, OsmPoiTable):
        table = load_osm_poi_table(table)
    kinds = KINDS if kinds is None else kinds
    ids, records, geoms = read_features(p, fmt, {k: True for k in table.keys}, "pois")
    seen, report, rows = set(), [], []
    for fid, tags, geom in zip(ids, records, geoms):
        if fid in seen:
            continue
        seen.add(fid)
        poi_type = table.poi_type(tags)
        if geom is None or shapely.is_empty(geom):
            report.append((poi_type, tags.get("name", ""), "no location", ""))
            continue
        wanted = table.kinds_of(tags)
        if wanted is None:
            report.append((poi_type, "", "unmapped", ""))
            continue
        kind = choose_kind(wanted, kinds)
        if kind is None:
            report.append((poi_type, "", "kind not in catalogue", "|".join(wanted)))
            continue
        report.append((poi_type, "", "mapped", kind))
        rows.append({"id": fid, "name": tags.get("name", ""), "kind": kind,
                     **facility_capacities(tags, kind, table.capacities), "source_type": poi_type, "geometry": geom})
    if not rows:
        return PoiImport(empty_facilities(), build_report(report), str(p), table.source)
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
    before = set(frame["id"])
    frame = _merge_nodes_into_areas(frame)
    merged = before - set(frame["id"])
    if merged:  # a node restating its building is one facility, not two: say so in the report
        for fid in sorted(merged):
            rec = next(x for x in rows if x["id"] == fid)
            report.remove((rec["source_type"], "", "mapped", rec["kind"]))
            report.append((rec["source_type"], "", "merged into its area", rec["kind"]))
    areal = {k for k, v in kinds.items() if getattr(v, "geometry", "point") == "polygon"}
    is_area = shapely.get_dimensions(frame.geometry.values) == 2
    keep_outline = is_area & frame["kind"].isin(areal).to_numpy()
    geoms = frame.geometry.values.copy()
    geoms[~keep_outline] = shapely.point_on_surface(geoms[~keep_outline])
    frame = frame.set_geometry(gpd.GeoSeries(geoms, crs=WGS84, index=frame.index))
    facilities = frame[FACILITY_COLUMNS + ["geometry"]].reset_index(drop=True)
    return PoiImport(facilities, build_report(report), str(p), table.source)
