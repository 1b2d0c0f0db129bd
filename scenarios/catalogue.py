"""Catalogues: facility kinds, distance standards, ratio rules and life circles as a planner's data.

A catalogue is one TOML or YAML file::

    [catalogue]
    id = "my-district"
    title_en = "..."; title_zh = "..."
    extends = "seeds"            # optional: a built-in catalogue or a file, whose entries come first

    [speeds]                     # optional (default: the seeds' residents_mps, elderly_mps); any NAME_mps
    [[kind]]      id, en, zh, symbol, colour, capacity, geometry, edge_spacing_m, source
    [[standard]]  id, title_en, title_zh, kinds, mode, threshold_m | threshold_min, speed, weight,
                  bands_min, range_m, source, note
    [[rule]]      a geo.unit_ratios.RatioRule table (see ratio_rules.toml)
    [[accessibility]]  an E2SFCA standard (see ratio_rules.toml)
    [[circle]]    id, title_en, title_zh, walk_m, range_m, population, standards, source, note
    [[catchment]] id, title_en, title_zh, standard, kinds, min_population, max_population, source
    [[grid_rule]] id, title_en, title_zh, standards, min_share, source

Every entry must cite its ``source``. :func:`check_catalogue` returns every
problem, each naming the entry and the field; :func:`load_catalogue` raises
:class:`CatalogueError` with all of them. Built-in catalogues: ``seeds`` (the
four standards and seven rules of the project's source documents, the
default), ``seeds-full`` (seeds plus the documents' remaining rules) and
``gb50180`` (GB 50180-2018's life circles).

:func:`use_catalogue` makes a catalogue the active one (kinds, standards and
rules every command looks up).
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from geo.errors import LifecircleError
from geo.unit_ratios import RatioRule, RuleError
from layers.kinds import CAPACITY_FIELDS, SEED_KINDS, Kind, set_active_kinds, use_kinds

__all__ = [
    "BUILTIN",
    "Catalogue",
    "CatalogueError",
    "CatchmentRule",
    "Circle",
    "GridRule",
    "active_catalogue",
    "builtin_catalogue",
    "check_catalogue",
    "load_catalogue",
    "set_active_catalogue",
    "use_catalogue",
]

BUILTIN: dict[str, str] = {"seeds": "seeds.toml", "seeds-full": "seeds-full.toml", "gb50180": "gb50180.toml"}
"""Built-in catalogue names and their files in ``scenarios/catalogues/``."""

_SECTIONS = {"catalogue", "speeds", "kind", "standard", "rule", "accessibility", "circle", "catchment", "grid_rule"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_SYMBOLS = ("o", "s", "D", "P", "^", "v", "*", "h", "p", "X", "d", "<", ">")


class CatalogueError(LifecircleError):
    """A catalogue file that cannot be used; the message lists every problem (entry and field)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        head = f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Circle:
    """One life-circle level: the standards (facility types with their reach) a complete circle needs."""

    id: str
    title_en: str
    title_zh: str
    walk_m: float
    standards: tuple[str, ...]
    range_m: tuple[float, float] | None = None
    population: tuple[float, float] | None = None
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class CatchmentRule:
    """Population in each facility's catchment (cells whose nearest facility of ``kinds`` it is) within a range."""

    id: str
    title_en: str
    title_zh: str
    kinds: tuple[str, ...]
    min_population: float
    max_population: float | None = None
    mode: str = "network"
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class GridRule:
    """Standards every cell of a planner's management grid must meet (网格化全覆盖), reported grid cell by grid cell."""

    id: str
    title_en: str
    title_zh: str
    standards: tuple[str, ...]
    min_share: float = 1.0
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class Catalogue:
    """A validated catalogue (see the module docstring for the file format)."""

    id: str
    title_en: str
    title_zh: str
    speeds: dict[str, Any]
    kinds: dict[str, Kind]
    standards: dict[str, Any]  # id -> scenarios.standards.Standard
    rules: dict[str, RatioRule]
    access: dict[str, Any]  # id -> scenarios.ratio_standards.AccessStandard
    circles: dict[str, Circle] = field(default_factory=dict)
    catchments: dict[str, CatchmentRule] = field(default_factory=dict)
    grid_rules: dict[str, GridRule] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    source: str = ""
    note: str = ""
    text: str = ""
    """The file's text (what a city folder keeps as ``catalogue.toml``); resolved, without ``extends``."""

    @property
    def digest(self) -> str:
        """SHA-256 of :attr:`text`."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the API's ``GET /catalogue``)."""
        from dataclasses import asdict

        return {
            "id": self.id,
            "title_en": self.title_en,
            "title_zh": self.title_zh,
            "source": self.source,
            "note": self.note,
            "speeds": dict(self.speeds),
            "kinds": [asdict(k) | {"capacity": list(k.capacity)} for k in self.kinds.values()],
            "standards": [s.to_dict() | ({"range_m": list(self.ranges[s.id])} if s.id in self.ranges else {})
                          for s in self.standards.values()],
            "rules": [r.to_dict() for r in self.rules.values()],
            "accessibility": [a.to_dict() for a in self.access.values()],
            "circles": [_plain(asdict(c)) for c in self.circles.values()],
            "catchments": [_plain(asdict(c)) for c in self.catchments.values()],
            "grid_rules": [_plain(asdict(g)) for g in self.grid_rules.values()],
        }


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


# ------------------------------------------------------------------ reading
def _parse_text(text: str, source: str, suffix: str) -> dict[str, Any]:
    try:
        if suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise CatalogueError(source, [f"not valid {'YAML' if suffix in ('.yaml', '.yml') else 'TOML'}: {exc}"]) from None
    if not isinstance(data, dict):
        raise CatalogueError(source, ["the file must hold a table of sections (catalogue, kind, standard, ...)"])
    return data


def _builtin_path(name: str):
    return resources.files("scenarios").joinpath("catalogues", BUILTIN[name])


def _read_raw(ref: str | Path, seen: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
    """A catalogue's data with ``extends`` resolved (parents' entries first), and its source name."""
    ref_s = str(ref)
    if ref_s in BUILTIN:
        text = _builtin_path(ref_s).read_text(encoding="utf-8")
        data, source, base = _parse_text(text, f"catalogue '{ref_s}'", ".toml"), f"catalogue '{ref_s}'", None
    else:
        path = Path(ref)
        if not path.is_file():
            raise CatalogueError(ref_s, [f"no such file; give a catalogue file or one of {', '.join(BUILTIN)}"])
        data = _parse_text(path.read_text(encoding="utf-8"), str(path), path.suffix.lower())
        source, base = str(path), path.parent
    head = data.get("catalogue", {})
    parent = head.get("extends") if isinstance(head, dict) else None
    data = _with_includes(data, ref_s)
    if parent is None:
        return data, source
    if not isinstance(parent, str):
        raise CatalogueError(source, [f"[catalogue] field 'extends': must be a built-in name or a file, got {parent!r}"])
    if parent in seen or parent == ref_s:
        raise CatalogueError(source, [f"[catalogue] field 'extends': '{parent}' extends itself"])
    parent_ref = parent if parent in BUILTIN or base is None else str((base / parent))
    pdata, _ = _read_raw(parent_ref, seen + (ref_s,))
    merged: dict[str, Any] = {"catalogue": data.get("catalogue", {}), "speeds": {**pdata.get("speeds", {}), **data.get("speeds", {})}}
    for section in _SECTIONS - {"catalogue", "speeds"}:
        mine = data.get(section, [])
        ids = {e.get("id") for e in mine if isinstance(e, dict)} if isinstance(mine, list) else set()
        # an entry with a parent's id replaces it (a planner's own threshold for clinic-walk)
        theirs = [e for e in pdata.get(section, []) if not (isinstance(e, dict) and e.get("id") in ids)]
        merged[section] = theirs + (mine if isinstance(mine, list) else [mine])
    for key in set(data) - _SECTIONS:
        merged[key] = data[key]
    return merged, source


def _with_includes(data: dict[str, Any], ref: str) -> dict[str, Any]:
    """Built-in ``seeds`` keeps its kinds, standards and rules in three older files: merge them in."""
    if ref != "seeds":
        return data
    out = dict(data)
    texts = [resources.files("layers").joinpath("kinds.toml").read_text(encoding="utf-8")]
    texts += [resources.files("scenarios").joinpath(n).read_text(encoding="utf-8") for n in ("standards.toml", "ratio_rules.toml")]
    for text in texts:
        inc = tomllib.loads(text)
        for section, value in inc.items():
            if section == "speeds":
                out["speeds"] = {**value, **out.get("speeds", {})}
            else:
                out[section] = list(out.get(section, [])) + list(value)
    return out


# ------------------------------------------------------------------ checking
class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, fld: str | None, problem: str) -> None:
        self.items.append(f"{where}: field '{fld}': {problem}" if fld else f"{where}: {problem}")


def _entries(data: dict[str, Any], section: str, probs: _Problems) -> list[tuple[str, dict[str, Any]]]:
    raw = data.get(section, [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        probs.add(f"[[{section}]]", None, "must be a list of tables")
        return []
    out, seen = [], set()
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            probs.add(f"{section} #{i + 1}", None, "must be a table")
            continue
        eid = e.get("id")
        where = f"{section} '{eid}'" if isinstance(eid, str) and eid else f"{section} #{i + 1}"
        if not isinstance(eid, str) or not _ID.match(eid):
            probs.add(where, "id", f"must be a name of letters, digits, '-', '_' or '.', got {eid!r}")
            continue
        if eid in seen:
            probs.add(where, "id", "is used by more than one entry")
            continue
        seen.add(eid)
        out.append((where, e))
    return out


def _keys(where: str, e: dict[str, Any], required: set[str], optional: set[str], probs: _Problems) -> bool:
    ok = True
    for k in sorted(required - set(e)):
        probs.add(where, k, "is missing")
        ok = False
    for k in sorted(set(e) - required - optional):
        probs.add(where, k, f"is not a field of this entry; valid fields are {sorted(required | optional)}")
        ok = False
    return ok


def _text(where, e, name, probs, required=True) -> bool:
    v = e.get(name)
    if v is None and not required:
        return True
    if not isinstance(v, str) or not v.strip():
        probs.add(where, name, f"must be non-empty text, got {v!r}")
        return False
    return True


def _number(where, e, name, probs, *, positive=True, required=True) -> float | None:
    v = e.get(name)
    if v is None:
        if required:
            probs.add(where, name, "is missing")
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0):
        probs.add(where, name, f"must be a {'positive ' if positive else ''}number, got {v!r}")
        return None
    return float(v)


def _pair(where, e, name, probs) -> tuple[float, float] | None:
    v = e.get(name)
    if v is None:
        return None
    if (not isinstance(v, list) or len(v) != 2 or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v)
            or not 0 < v[0] <= v[1]):
        probs.add(where, name, f"must be [low, high] with 0 < low <= high, got {v!r}")
        return None
    return float(v[0]), float(v[1])


def _id_list(where, e, name, probs, valid: dict | set, what: str) -> tuple[str, ...] | None:
    v = e.get(name)
    if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
        probs.add(where, name, f"must be a non-empty list of {what} ids, got {v!r}")
        return None
    bad = [x for x in v if x not in valid]
    if bad:
        probs.add(where, name, f"unknown {what}(s) {bad}; valid are {sorted(valid)}")
        return None
    return tuple(v)


def _check_kinds(data, probs) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    opt = {"symbol", "colour", "capacity", "geometry", "edge_spacing_m", "note"}
    for where, e in _entries(data, "kind", probs):
        if not _keys(where, e, {"id", "en", "zh", "source"}, opt, probs):
            continue
        ok = all([_text(where, e, "en", probs), _text(where, e, "zh", probs), _text(where, e, "source", probs)])
        symbol = e.get("symbol", "o")
        if symbol not in _SYMBOLS:
            probs.add(where, "symbol", f"must be one of {list(_SYMBOLS)}, got {symbol!r}")
            ok = False
        colour = e.get("colour", "#555555")
        if not isinstance(colour, str) or not _COLOUR.match(colour):
            probs.add(where, "colour", f"must be a colour like '#1f4e9c', got {colour!r}")
            ok = False
        cap = e.get("capacity", [])
        if not isinstance(cap, list) or not all(isinstance(c, str) and _ID.match(c) for c in cap):
            probs.add(where, "capacity", f"must be a list of field names, got {cap!r}")
            ok = False
        geometry = e.get("geometry", "point")
        if geometry not in ("point", "polygon"):
            probs.add(where, "geometry", f"must be 'point' or 'polygon', got {geometry!r}")
            ok = False
        spacing = _number(where, e, "edge_spacing_m", probs, required=False)
        if ok and ("edge_spacing_m" not in e or spacing is not None):
            kinds[e["id"]] = Kind(e["id"], e["en"], e["zh"], symbol, colour, tuple(cap), geometry,
                                  spacing if spacing is not None else 25.0, e["source"], e.get("note", ""))
    return kinds


def _check_speeds(data, probs) -> dict[str, Any]:
    speeds = data.get("speeds", {})
    if not isinstance(speeds, dict):
        probs.add("[speeds]", None, "must be a table")
        return {}
    for k, v in speeds.items():
        if k.endswith("_mps"):
            _number("[speeds]", speeds, k, probs)
        elif not k.endswith("_source"):
            probs.add("[speeds]", k, "is not a speed; use NAME_mps (metres per second) and NAME_source")
    return speeds


def _check_standards(data, probs, kinds, speeds):
    from scenarios.standards import Standard

    out, ranges = {}, {}
    req = {"id", "title_en", "title_zh", "kinds", "mode", "source"}
    opt = {"threshold_m", "threshold_min", "speed", "weight", "bands_min", "note", "range_m"}
    for where, e in _entries(data, "standard", probs):
        if not _keys(where, e, req, opt, probs):
            continue
        ok = all([_text(where, e, f, probs) for f in ("title_en", "title_zh", "source")])
        ks = _id_list(where, e, "kinds", probs, kinds, "kind")
        mode = e.get("mode")
        if mode not in ("euclidean", "network"):
            probs.add(where, "mode", f"must be 'euclidean' or 'network', got {mode!r}")
            ok = False
        if ("threshold_m" in e) == ("threshold_min" in e):
            probs.add(where, "threshold_m", "give exactly one of threshold_m and threshold_min")
            ok = False
        t_m = _number(where, e, "threshold_m", probs, required=False)
        t_min = _number(where, e, "threshold_min", probs, required=False)
        if mode == "euclidean" and "threshold_min" in e:
            probs.add(where, "threshold_min", "a straight-line standard is measured in metres: use threshold_m")
            ok = False
        speed_key = e.get("speed", "residents")
        if f"{speed_key}_mps" not in speeds:
            valid = sorted(k[:-4] for k in speeds if k.endswith("_mps"))
            probs.add(where, "speed", f"unknown speed {speed_key!r}; valid are {valid}")
            ok = False
        weight = e.get("weight", "population")
        if weight not in ("population", "elderly"):
            probs.add(where, "weight", f"must be 'population' or 'elderly', got {weight!r}")
            ok = False
        bands = e.get("bands_min", [])
        if not isinstance(bands, list) or any(isinstance(b, bool) or not isinstance(b, (int, float)) or b <= 0 for b in bands) \
                or list(bands) != sorted(bands):
            probs.add(where, "bands_min", f"must be increasing positive minutes, got {bands!r}")
            ok = False
        rng = _pair(where, e, "range_m", probs)
        if "range_m" in e and rng is None:
            ok = False
        if not ok or ks is None or (t_m is None and t_min is None):
            continue
        speed = float(speeds[f"{speed_key}_mps"])
        threshold_m = t_m if t_m is not None else t_min * 60.0 * speed
        if rng is not None and not rng[0] <= threshold_m <= rng[1]:
            probs.add(where, "threshold_m", f"{threshold_m:g} m lies outside the stated range_m {list(rng)}")
            continue
        out[e["id"]] = Standard(
            id=e["id"], title_en=e["title_en"], title_zh=e["title_zh"], kinds=ks, mode=mode,
            threshold_m=float(threshold_m), speed_mps=speed, weight=weight, threshold_min=t_min,
            bands_min=tuple(float(b) for b in bands), source=e["source"],
            speed_source=speeds.get(f"{speed_key}_source", ""), note=e.get("note", ""),
        )
        if rng is not None:
            ranges[e["id"]] = rng
    return out, ranges


def _check_rules(data, probs, kinds) -> dict[str, RatioRule]:
    out = {}
    for where, e in _entries(data, "rule", probs):
        if not _text(where, e, "source", probs):
            continue
        try:
            rule = RatioRule.from_dict(dict(e))
        except (RuleError, TypeError) as exc:
            probs.add(where, None, str(exc).replace(f"ratio rule '{e['id']}': ", ""))
            continue
        if _id_list(where, e, "kinds", probs, kinds, "kind") is None:
            continue
        if rule.supply != "count":
            holders = [k for k in rule.kinds if rule.supply not in CAPACITY_FIELDS and rule.supply not in kinds[k].capacity]
            if holders:
                probs.add(where, "supply", f"'{rule.supply}' is not a capacity field of kind(s) {holders}")
                continue
        out[rule.id] = rule
    return out


def _check_access(data, probs, kinds, speeds):
    from scenarios.ratio_standards import AccessStandard

    out = {}
    req = {"id", "title_en", "title_zh", "supply", "kinds", "demand", "per", "min_value", "catchment_min", "source"}
    for where, e in _entries(data, "accessibility", probs):
        if not _keys(where, e, req, {"speed", "unit", "note"}, probs):
            continue
        ks = _id_list(where, e, "kinds", probs, kinds, "kind")
        nums = [_number(where, e, f, probs) for f in ("per", "min_value", "catchment_min")]
        speed_key = e.get("speed", "residents")
        if f"{speed_key}_mps" not in speeds:
            probs.add(where, "speed", f"unknown speed {speed_key!r}")
            continue
        if e.get("demand") not in ("population", "elderly"):
            probs.add(where, "demand", f"must be 'population' or 'elderly', got {e.get('demand')!r}")
            continue
        if ks is None or None in nums:
            continue
        out[e["id"]] = AccessStandard(
            id=e["id"], title_en=e["title_en"], title_zh=e["title_zh"], supply=e["supply"], kinds=ks,
            demand=e["demand"], per=nums[0], min_value=nums[1], catchment_min=nums[2],
            speed_mps=float(speeds[f"{speed_key}_mps"]), unit=e.get("unit", ""), source=e["source"],
        )
    return out


def _check_circles(data, probs, standards) -> dict[str, Circle]:
    out = {}
    req = {"id", "title_en", "title_zh", "walk_m", "standards", "source"}
    for where, e in _entries(data, "circle", probs):
        if not _keys(where, e, req, {"range_m", "population", "note"}, probs):
            continue
        walk = _number(where, e, "walk_m", probs)
        sids = _id_list(where, e, "standards", probs, standards, "standard")
        rng, pop = _pair(where, e, "range_m", probs), _pair(where, e, "population", probs)
        ok = _text(where, e, "source", probs) and walk is not None and sids is not None
        if rng is not None and walk is not None and not rng[0] <= walk <= rng[1]:
            probs.add(where, "walk_m", f"{walk:g} lies outside the stated range_m {list(rng)}")
            ok = False
        if ok:
            out[e["id"]] = Circle(e["id"], e["title_en"], e["title_zh"], walk, sids, rng, pop, e["source"], e.get("note", ""))
    return out


def _check_catchments(data, probs, kinds) -> dict[str, CatchmentRule]:
    out = {}
    req = {"id", "title_en", "title_zh", "kinds", "min_population", "source"}
    for where, e in _entries(data, "catchment", probs):
        if not _keys(where, e, req, {"max_population", "mode", "note"}, probs):
            continue
        ks = _id_list(where, e, "kinds", probs, kinds, "kind")
        lo = _number(where, e, "min_population", probs)
        hi = _number(where, e, "max_population", probs, required=False)
        mode = e.get("mode", "network")
        if mode not in ("euclidean", "network"):
            probs.add(where, "mode", f"must be 'euclidean' or 'network', got {mode!r}")
            continue
        if lo is not None and hi is not None and hi < lo:
            probs.add(where, "max_population", f"{hi:g} is below min_population {lo:g}")
            continue
        if ks is not None and lo is not None and ("max_population" not in e or hi is not None):
            out[e["id"]] = CatchmentRule(e["id"], e["title_en"], e["title_zh"], ks, lo, hi, mode, e["source"], e.get("note", ""))
    return out


def _check_grid_rules(data, probs, standards) -> dict[str, GridRule]:
    out = {}
    for where, e in _entries(data, "grid_rule", probs):
        if not _keys(where, e, {"id", "title_en", "title_zh", "standards", "source"}, {"min_share", "note"}, probs):
            continue
        sids = _id_list(where, e, "standards", probs, standards, "standard")
        share = e.get("min_share", 1.0)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            probs.add(where, "min_share", f"must be a share in (0, 1], got {share!r}")
            continue
        if sids is not None:
            out[e["id"]] = GridRule(e["id"], e["title_en"], e["title_zh"], sids, float(share), e["source"], e.get("note", ""))
    return out


def _default_speeds() -> dict[str, Any]:
    return dict(tomllib.loads(resources.files("scenarios").joinpath("standards.toml").read_text(encoding="utf-8"))["speeds"])


def _build(data: dict[str, Any], source: str, text: str) -> tuple[Catalogue | None, list[str]]:
    probs = _Problems()
    if "speeds" not in data:  # the seeds' documented walking speeds unless the catalogue sets its own
        data = {**data, "speeds": _default_speeds()}
    for key in sorted(set(data) - _SECTIONS):
        probs.add(f"[{key}]", None, f"is not a catalogue section; valid sections are {sorted(_SECTIONS)}")
    head = data.get("catalogue", {})
    if not isinstance(head, dict):
        probs.add("[catalogue]", None, "must be a table")
        head = {}
    for k in sorted(set(head) - {"id", "title_en", "title_zh", "extends", "source", "note"}):
        probs.add("[catalogue]", k, "is not a field of [catalogue]; valid are extends, id, note, source, title_en, title_zh")
    if not isinstance(head.get("id"), str) or not _ID.match(head.get("id", "")):
        probs.add("[catalogue]", "id", f"must be a name of letters, digits, '-', '_' or '.', got {head.get('id')!r}")
    speeds = _check_speeds(data, probs)
    kinds = _check_kinds(data, probs)
    if not data.get("kind"):
        probs.add("[[kind]]", None, "a catalogue needs at least one facility kind (or extends = \"seeds\")")
    standards, ranges = _check_standards(data, probs, kinds, speeds)
    rules = _check_rules(data, probs, kinds)
    access = _check_access(data, probs, kinds, speeds)
    circles = _check_circles(data, probs, standards)
    catchments = _check_catchments(data, probs, kinds)
    grid_rules = _check_grid_rules(data, probs, standards)
    if probs.items:
        return None, probs.items
    cat = Catalogue(
        id=head["id"], title_en=head.get("title_en", head["id"]), title_zh=head.get("title_zh", head["id"]),
        speeds=speeds, kinds=kinds, standards=standards, rules=rules, access=access, circles=circles,
        catchments=catchments, grid_rules=grid_rules, ranges=ranges, source=head.get("source", ""),
        note=head.get("note", ""), text=text,
    )
    return cat, []


def _resolved_text(data: dict[str, Any]) -> str:
    """The catalogue as one self-contained TOML text (what a city folder keeps)."""
    from scenarios.catalogue_toml import dumps

    head = {k: v for k, v in data.get("catalogue", {}).items() if k != "extends"}
    out = {"catalogue": head, **{k: v for k, v in data.items() if k != "catalogue" and v not in ([], {})}}
    return dumps(out)


def check_catalogue(ref: str | Path) -> list[str]:
    """Every problem of a catalogue file (or built-in name), each naming the entry and field; empty when usable."""
    try:
        data, source = _read_raw(ref)
    except CatalogueError as exc:
        return exc.problems
    return _build(data, source, "")[1]


def load_catalogue(ref: str | Path) -> Catalogue:
    """Read and validate a catalogue file or a built-in catalogue name.

    Parameters
    ----------
    ref : str or pathlib.Path
        ``seeds``, ``seeds-full``, ``gb50180``, or a ``.toml`` / ``.yaml`` file.

    Raises
    ------
    CatalogueError
        Listing every problem, each naming the entry and field.
    """
    if str(ref) in BUILTIN:
        return builtin_catalogue(str(ref))
    data, source = _read_raw(ref)
    cat, problems = _build(data, source, "")
    if problems:
        raise CatalogueError(source, problems)
    return _with_text(cat, data)


def _with_text(cat: Catalogue, data: dict[str, Any]) -> Catalogue:
    from dataclasses import replace

    return replace(cat, text=_resolved_text(data))


@lru_cache(maxsize=None)
def builtin_catalogue(name: str) -> Catalogue:
    """A built-in catalogue (``seeds``, ``seeds-full``, ``gb50180``), read once."""
    if name not in BUILTIN:
        raise CatalogueError(name, [f"no built-in catalogue '{name}'; built-in are {', '.join(BUILTIN)}"])
    data, source = _read_raw(name)
    cat, problems = _build(data, source, "")
    if problems:  # a broken built-in is a bug: fail loudly
        raise CatalogueError(source, problems)
    return _with_text(cat, data)


# ------------------------------------------------------------------ the active catalogue
_active: Catalogue | None = None


def active_catalogue() -> Catalogue:
    """The catalogue commands look kinds, standards and rules up in (``seeds`` unless one is in use)."""
    return _active if _active is not None else builtin_catalogue("seeds")


@contextmanager
def use_catalogue(cat: Catalogue | str | Path | None) -> Iterator[Catalogue]:
    """Make ``cat`` the active catalogue (and its kinds the active kinds) inside the block.

    ``None`` keeps the active one. Process-wide, not per thread: evaluation
    runs in thread pools, and a command works on one catalogue.
    """
    global _active
    if cat is None:
        yield active_catalogue()
        return
    if not isinstance(cat, Catalogue):
        cat = load_catalogue(cat)
    before, _active = _active, cat
    try:
        with use_kinds(cat.kinds):
            yield cat
    finally:
        _active = before


def set_active_catalogue(cat: Catalogue) -> None:
    """Make ``cat`` the active catalogue for the rest of the process (a server's city)."""
    global _active
    _active = cat
    set_active_kinds(cat.kinds)


def seed_kinds_table() -> list[dict[str, Any]]:
    """The seeds' kinds as catalogue entries (what ``seeds.toml`` holds), for tests and docs."""
    return [{"id": k.id, "en": k.en, "zh": k.zh, "symbol": k.symbol, "colour": k.colour,
             "capacity": list(k.capacity)} for k in SEED_KINDS.values()]
