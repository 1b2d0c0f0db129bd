"""Tag rules: which OSM ways are walkable, and which features are which facility.

:func:`is_walkable` is the one walkability rule of both file formats.
:class:`TagMapping` (read from ``layers/osm_tags.toml``, data with a reason
for every rule) maps a feature's tags to a facility kind and capacities.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from layers.kinds import CAPACITY_FIELDS, KINDS
from layers.osm.errors import OsmError

__all__ = [
    "EXCLUDED_HIGHWAY",
    "FOOTWAY_HIGHWAY",
    "WALK_KEYS",
    "TagMapping",
    "facility_capacities",
    "facility_kind",
    "has_footways",
    "is_walkable",
    "load_tag_mapping",
]

_TAG_FILE = Path(__file__).parent.with_name("osm_tags.toml")  # layers/osm_tags.toml


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


def has_footways(highways: pd.Series) -> bool:
    """Whether any of these ``highway`` values is a pedestrian way (:data:`FOOTWAY_HIGHWAY`)."""
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
    caps = capacity_rules(data.get("capacity", []), source, check_kinds=True)
    if not rules:
        raise OsmError(source, "the tag mapping has no [[rule]] entries")
    return TagMapping(tuple(rules), tuple(caps), source)


def capacity_rules(entries: list, source: str, *, check_kinds: bool) -> tuple[_CapacityRule, ...]:
    """``[[capacity]]`` entries of a mapping file (kinds checked against the active ones when asked)."""
    caps = []
    for i, entry in enumerate(entries, start=1):
        field = entry.get("field")
        if field not in CAPACITY_FIELDS:
            raise OsmError(source, f"unknown capacity field {field!r}; expected one of {list(CAPACITY_FIELDS)}", field="field", row=i)
        kinds = entry.get("kinds")
        if check_kinds and kinds is not None and not set(kinds) <= set(KINDS):
            raise OsmError(source, f"unknown kinds {sorted(set(kinds) - set(KINDS))}", field="kinds", row=i)
        caps.append(_CapacityRule(field, tuple(entry.get("tags", [])), None if kinds is None else frozenset(kinds)))
    return tuple(caps)


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
