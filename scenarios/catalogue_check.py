"""Checking a catalogue's data entry by entry, and building the :class:`Catalogue`.

Every problem is collected (not only the first), each naming the entry and
the field, so that a planner fixes a file in one pass.
"""

from __future__ import annotations

import math
import re
import tomllib
from importlib import resources
from typing import Any

from geo.unit_ratios import RatioRule, RuleError
from layers.kinds import CAPACITY_FIELDS, Kind
from scenarios.catalogue_entries import Catalogue, CatchmentRule, Circle, GridRule
from scenarios.catalogue_read import SECTIONS

__all__ = ["build_catalogue"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_SYMBOLS = ("o", "s", "D", "P", "^", "v", "*", "h", "p", "X", "d", "<", ">")


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


def build_catalogue(data: dict[str, Any], source: str, text: str) -> tuple[Catalogue | None, list[str]]:
    """Check every entry of a catalogue's data and build the catalogue.

    Parameters
    ----------
    data : dict
        From :func:`scenarios.catalogue_read.read_catalogue_data`.
    source : str
        The name problems cite.
    text : str
        Kept as :attr:`Catalogue.text`.

    Returns
    -------
    (Catalogue or None, list of str)
        The catalogue and no problems, or ``None`` and every problem, each
        naming the entry and the field.
    """
    probs = _Problems()
    if "speeds" not in data:  # the seeds' documented walking speeds unless the catalogue sets its own
        data = {**data, "speeds": _default_speeds()}
    for key in sorted(set(data) - SECTIONS):
        probs.add(f"[{key}]", None, f"is not a catalogue section; valid sections are {sorted(SECTIONS)}")
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
