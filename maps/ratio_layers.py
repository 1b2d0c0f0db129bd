"""Ratio standards and supply-aware accessibility on maps and in summary tables.

From a :class:`scenarios.ratio_standards.RatioReport`:

* one map layer per ratio rule: its units coloured pass / fail / no demand,
  the shortfall in the tooltip ("needs 84 more beds");
* per accessibility standard, two cell layers: the accessibility value
  (e.g. beds per 1,000 elderly) in classes around the standard's
  ``min_value``, and uncovered / covered but under-served / served;
* rows for the summary table (:func:`summary_rows`, used by
  :func:`maps.tables.summary_table`) and the ratio table of the print export
  (:func:`draw_ratio_table`).

The HTML layers are folium elements for :func:`maps.interactive.coverage_map`'s
``extra_layers``; :func:`ratio_map` puts the two together.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from html import escape
from itertools import pairwise
from pathlib import Path

import folium
import numpy as np
import pandas as pd
from branca.element import MacroElement
from pyproj import Transformer

from geo.crs import WGS84
from maps.cell_layers import MERCATOR, CellLayers, cells_document, collection, image_layer, wgs84
from maps.content import Classes
from maps.errors import MapError
from maps.interactive import VECTOR_MAX_CELLS, coverage_map
from maps.labels import check_lang, kind_text, text, unit_text
from maps.raster import rasterize_cells
from scenarios.evaluate import CoverageResult
from scenarios.ratio_standards import AccessResult, AccessStandard, RatioReport

__all__ = [
    "RATIO_COLUMNS",
    "STATUS_COLOURS",
    "access_classes",
    "access_unit",
    "draw_ratio_table",
    "ratio_layers",
    "ratio_map",
    "rule_message",
    "rule_target",
    "service_classes",
    "summary_rows",
]


RATIO_COLUMNS = ("units_fail", "shortfall", "under_served_pop", "level_value")
"""Column keys :func:`summary_rows` adds to the summary table's columns."""

STATUS_COLOURS = {"pass": "#1a9850", "fail": "#d73027", "no demand": "#bdbdbd"}
"""Fill of a unit by its status under a ratio rule."""

# accessibility classes: out of reach, two below the standard, three at or above it
_NO_REACH_COLOUR = "#969696"
_VALUE_COLOURS = ["#d73027", "#fc8d59", "#d9ef8b", "#91cf60", "#1a9850"]
_SERVICE_COLOURS = [_NO_REACH_COLOUR, "#fdae61", "#1a9850"]
# breaks as multiples of the standard: < 0.5x, 0.5-1x, 1-1.5x, 1.5-2x, >= 2x
_BREAK_FACTORS = (0.5, 1.0, 1.5, 2.0)
# the same tolerance as geo.fca.classify_service: a value equal to the
# standard up to rounding meets it
_RTOL = 1e-12

_SUPPLY_WORDS = {
    "en": {"beds": ("bed", "beds"), "doctors": ("doctor", "doctors"), "count": ("facility", "facilities")},
    "zh": {"beds": ("张床位", "张床位"), "doctors": ("名医生", "名医生"), "count": ("处设施", "处设施")},
}
_SUPPLY_UNIT_ZH = {"beds": "张", "doctors": "名", "count": "处"}
_DEMAND_ZH = {"population": "居民", "elderly": "老人"}
_PER_ZH = {1000.0: "千", 10000.0: "万"}


def _level_word(level: str, lang: str) -> str:
    """A unit level in the singular ("subdistrict", "街道")."""
    return unit_text(level, lang) if lang == "zh" else level


def _per_unit(supply: str, demand: str, per: float, lang: str) -> str:
    """"beds per 1,000 elderly" / "张/千名老人"."""
    if lang == "zh":
        per_zh = _PER_ZH.get(float(per), f"{per:,.0f}")
        return f"{_SUPPLY_UNIT_ZH.get(supply, '')}/{per_zh}名{_DEMAND_ZH.get(demand, demand)}"
    demand_en = "residents" if demand == "population" else demand
    return f"{supply} per {per:,.0f} {demand_en}"


def access_unit(standard: AccessStandard, lang: str = "en") -> str:
    """The unit of an accessibility standard's values ("beds per 1,000 elderly")."""
    if lang == "en" and standard.unit:
        return standard.unit
    return _per_unit(standard.supply, standard.demand, standard.per, check_lang(lang))


def _supply_amount(supply: str, n: float, lang: str) -> str:
    """"103 beds" / "103张床位"."""
    one, many = _SUPPLY_WORDS[lang][supply]
    word = one if n == 1 else many
    return f"{n:,.0f}{word}" if lang == "zh" else f"{n:,.0f} {word}"


def _title(obj, lang: str) -> str:
    return (obj.title_zh if lang == "zh" else obj.title_en) or obj.title_en or obj.id


# --- ratio rules -------------------------------------------------------------


def rule_target(rule, lang: str = "en") -> str:
    """What a ratio rule asks for, without the unit level ("≥ 30 beds per 1,000 elderly")."""
    if rule.kind == "per_demand":
        unit = _per_unit(rule.supply, rule.demand, rule.per, lang)
        if rule.max_value is not None:
            return text("target_range", lang, v=rule.min_value, w=rule.max_value, unit=unit)
        return text("target_min", lang, v=rule.min_value, unit=unit)
    if rule.kind == "count_per_demand_range":
        demand = text(f"weight_{rule.demand}", lang)
        return text("target_count_range", lang, v=rule.min_value, w=rule.max_value or math.inf, demand=demand)
    return text("target_count_unit", lang, v=rule.min_value, what="facility" if rule.min_value == 1 else "facilities")


def rule_message(rule, status: str, shortfall: float, n_facilities: int, lang: str = "en") -> str:
    """A unit's result under a rule in words ("needs 84 more beds (no elderly_care facility)").

    The English wording is :mod:`geo.unit_ratios`'s own, so the map says what the
    report says.
    """
    if status == "no demand":
        return text("no_demand_msg", lang, demand=text(f"weight_{rule.demand}", lang))
    if status == "pass":
        return text("meets", lang)
    n = int(shortfall)
    words = _SUPPLY_WORDS[lang][rule.supply]
    what = (words[0] if n == 1 else words[1]) if lang == "en" else words[1]
    msg = text("needs", lang, n=n, what=what)
    if n_facilities == 0:
        kinds = "/".join(rule.kinds) if lang == "en" else "/".join(kind_text(k, lang) for k in rule.kinds)
        msg += text("no_facility", lang, kinds=kinds)
    return msg


def _fmt(v: float, digits: int = 1) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:,.{digits}f}"


def _rule_text(rule, row: pd.Series, lang: str) -> str:
    """A unit's ratio in words: supply per demand, or demand per facility."""
    if rule.kind == "per_demand":
        return f"{_fmt(row['ratio'])} {_per_unit(rule.supply, rule.demand, rule.per, lang)}"
    if rule.kind == "count_per_demand_range":
        return f"{_fmt(row['ratio'], 0)} {text(f'weight_{rule.demand}', lang)} / 1"
    return _supply_amount("count", row["facilities"], lang)


def _rule_units(report: RatioReport, rid: str, lang: str):
    """The rule's units (city CRS) with display columns, in the units' order."""
    r = report.rules[rid]
    rule = r.rule
    units = report.city.units[rule.level]
    table = r.table.assign(unit_id=r.table["unit_id"].astype(str)).set_index("unit_id")
    table = table.reindex(units["unit_id"].astype(str).to_numpy())
    status = table["status"].fillna("no demand").to_numpy()
    messages = [
        msg if lang == "en" and isinstance(msg, str) else rule_message(rule, st, sf, nf, lang)
        for msg, st, sf, nf in zip(table["message"], status, table["shortfall"].fillna(0), table["facilities"].fillna(0))
    ]
    over = table["over"].fillna(False).to_numpy(dtype=bool) if "over" in table else np.zeros(len(table), bool)
    props = pd.DataFrame(
        {
            "name": units["name"].fillna("").astype(str).map(escape).to_numpy(),
            "status_key": status,
            "status": [text("over" if o and st == "pass" else st, lang) for st, o in zip(status, over)],
            "message": [escape(m) for m in messages],
            "supply": [_supply_amount(rule.supply, v, lang) for v in table["supply"].fillna(0)],
            "required": [
                "–" if st == "no demand" else f"≥ {_supply_amount(rule.supply, math.ceil(v - 1e-9), lang)}"
                for st, v in zip(status, table["required"].fillna(0))
            ],
            "ratio": [_rule_text(rule, row, lang) for _, row in table.iterrows()],
        }
    )
    return units, props


def _rule_layer(report: RatioReport, rid: str, lang: str, show: bool) -> folium.FeatureGroup:
    """One ratio rule: its units coloured by status, with the shortfall on hover."""
    r = report.rules[rid]
    rule = r.rule
    units, props = _rule_units(report, rid, lang)
    name = text("rule_layer", lang, level=unit_text(rule.level, lang), title=_title(rule, lang))
    group = folium.FeatureGroup(name=name, show=show)

    def style(feature):
        st = feature["properties"]["status_key"]
        return {
            "fillColor": STATUS_COLOURS[st],
            "color": "#555555" if st == "no demand" else STATUS_COLOURS[st],
            "weight": 1.5,
            "fillOpacity": 0.15 if st == "no demand" else 0.45,
            # "no demand" is drawn distinctly: pale fill, dashed grey outline
            "dashArray": "2 4" if st == "no demand" else None,
        }

    fields = ["name", "status", "message", "supply", "required", "ratio"]
    aliases = [text("name", lang), text("status", lang), text("shortfall_msg", lang),
               text("supply", lang), text("required", lang), text("ratio", lang)]
    folium.GeoJson(
        collection(wgs84(units.geometry.values, report.city.crs, simplify_m=5.0), props),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=fields[:3], aliases=aliases[:3]),
        popup=folium.GeoJsonPopup(fields=fields, aliases=aliases),
        control=False,
    ).add_to(group)
    counts = props["status_key"].value_counts()
    entries = [
        {"label": text(st, lang), "colour": STATUS_COLOURS[st], "total": int(counts.get(st, 0))}
        for st in STATUS_COLOURS
        if st != "no demand" or counts.get(st, 0)
    ]
    shortfall = float(r.table["shortfall"].sum())
    note = text("total_shortfall", lang, v=_supply_amount(rule.supply, shortfall, lang))
    group.lc_legend = {
        "layer": name,
        "shown": show,
        "entries": entries,
        "note": f"{rule_target(rule, lang)}. {note}. {text('rule_note', lang, source=rule.source)}",
    }
    return group


# --- accessibility -----------------------------------------------------------


def _undrawn(ar: AccessResult) -> np.ndarray:
    """Cells without demand: nobody there to be served or left out, so not drawn."""
    return ~(ar.demand > 0)


def access_classes(ar: AccessResult, lang: str = "en") -> Classes:
    """Cells classed by accessibility, with breaks at 0.5, 1, 1.5 and 2 times the standard.

    Class 0 is "no facility within the catchment"; classes 1-2 are below
    the standard's ``min_value``, 3-5 at or above it, so the colour changes
    from red to green exactly where the standard is met. Cells without
    demand are not drawn (``-1``). Totals are the demand (e.g. elderly) per
    class.
    """
    std = ar.standard
    unit = access_unit(std, lang)
    breaks = np.array([f * std.min_value for f in _BREAK_FACTORS])
    value = ar.fca.accessibility
    cls = 1 + np.searchsorted(breaks * (1 - _RTOL), value, side="right")
    cls = np.where(ar.fca.covered, cls, 0).astype(np.int64)
    cls[_undrawn(ar)] = -1
    labels = [text("no_reach", lang, m=std.catchment_min), text("below", lang, a=breaks[0], unit=unit)]
    labels += [text("between", lang, a=a, b=b, unit=unit) for a, b in pairwise(breaks)]
    labels.append(text("above", lang, a=breaks[-1], unit=unit))
    drawn = cls >= 0
    totals = np.bincount(cls[drawn], weights=ar.demand[drawn], minlength=len(labels))
    return Classes(cls, labels, [_NO_REACH_COLOUR, *_VALUE_COLOURS], totals)


def service_classes(ar: AccessResult, lang: str = "en") -> Classes:
    """Cells classed out of reach / within reach but under-served / served (``geo.fca`` codes)."""
    std = ar.standard
    unit = access_unit(std, lang)
    cls = ar.classes.code.astype(np.int64)
    cls[_undrawn(ar)] = -1
    labels = [
        text("no_reach", lang, m=std.catchment_min),
        text("under_served", lang, v=std.min_value, unit=unit),
        text("served", lang, v=std.min_value, unit=unit),
    ]
    drawn = cls >= 0
    totals = np.bincount(cls[drawn], weights=ar.demand[drawn], minlength=3)
    return Classes(cls, labels, list(_SERVICE_COLOURS), totals)


def _access_details(report: RatioReport, lang: str) -> pd.DataFrame:
    """Per cell tooltip values: id, residents, elderly, and each standard's value and class."""
    cells = report.city.cells
    out = pd.DataFrame(
        {
            "cell": [escape(v) for v in cells["cell_id"].astype(str)],
            "population": [f"{v:,.0f}" for v in cells["population"].to_numpy(dtype=float)],
            "elderly": [f"{v:,.0f}" for v in cells["elderly"].to_numpy(dtype=float)],
        }
    )
    for j, ar in enumerate(report.access.values()):
        unit = access_unit(ar.standard, lang)
        out[f"a{j}"] = [f"{v:,.1f} {unit}" for v in ar.fca.accessibility]
    return out


def _access_layers(report: RatioReport, lang: str, max_vector_cells: int) -> list[MacroElement]:
    """Two layers per accessibility standard (value classes; service classes), hidden at first."""
    city = report.city
    vector = len(city.cells) <= max_vector_cells
    if vector:
        details = _access_details(report, lang)
    else:
        raster = rasterize_cells(city.cells.geometry.values, city.crs, MERCATOR)
        latlon = _raster_latlon(raster)
    groups, specs = [], []
    base_alias = [text("cell", lang)]
    for j, ar in enumerate(report.access.values()):
        std = ar.standard
        title = _title(std, lang)
        note = text("access_note", lang, m=std.catchment_min, v=std.min_value, unit=access_unit(std, lang),
                          source=std.source)
        weight_unit = text(f"weight_{std.demand}", lang)
        for key, classes in (("access_layer", access_classes(ar, lang)), ("service_layer", service_classes(ar, lang))):
            name = text(key, lang, title=title)
            group = folium.FeatureGroup(name=name, show=False)
            if vector:
                specs.append(
                    {
                        "cls": classes.cell_class.tolist(),
                        "colours": classes.colours,
                        "labels": [escape(lab) for lab in classes.labels],
                        "fields": ["cell", std.demand, f"a{j}"],
                        "aliases": [escape(a) for a in
                                    (*base_alias, text(std.demand, lang), text("access_value", lang))],
                    }
                )
            else:
                image_layer(group, raster, classes, latlon)
            group.lc_legend = {
                "layer": name,
                "shown": False,
                "entries": [
                    {"label": lab, "colour": col, "total": float(tot), "unit": weight_unit}
                    for lab, col, tot in zip(classes.labels, classes.colours, classes.totals)
                ],
                "note": note,
            }
            groups.append(group)
    layers: list[MacroElement] = list(groups)
    if vector and groups:
        doc = cells_document(wgs84(city.cells.geometry.values, city.crs), details)
        # the cells travel once, in their own document; each layer is a class per cell
        layers.append(CellLayers(groups, specs, doc_id="lc-ratio-cells", doc=doc))
    return layers


def _raster_latlon(raster) -> list[list[float]]:
    """[[south, west], [north, east]] of a Web Mercator cell raster."""
    to_ll = Transformer.from_crs(MERCATOR, WGS84, always_xy=True)
    w, s = to_ll.transform(raster.bounds[0], raster.bounds[1])
    e, n = to_ll.transform(raster.bounds[2], raster.bounds[3])
    return [[s, w], [n, e]]


def ratio_layers(
    report: RatioReport,
    lang: str = "en",
    *,
    rules: Sequence[str] | None = None,
    show_first: bool = False,
    max_vector_cells: int = VECTOR_MAX_CELLS,
) -> list[MacroElement]:
    """Map layers of a RatioReport, for :func:`maps.interactive.coverage_map`'s ``extra_layers``.

    One layer per ratio rule (units coloured pass / fail / no demand, the
    shortfall in the tooltip), grouped by unit level; then two cell layers
    per accessibility standard (value classes in the standard's unit with
    breaks around its ``min_value``; out of reach / under-served / served).
    Each layer carries its legend section. The layers are new folium
    elements: build them once per map.

    Parameters
    ----------
    report : RatioReport
        From :func:`scenarios.ratio_standards.run_ratios`.
    lang : {"en", "zh"}
    rules : sequence of str, optional
        Rule ids to draw (all of the report's by default).
    show_first : bool, default False
        Show the first rule's layer when the map opens (the others start hidden).
    max_vector_cells : int
        Above this many cells the accessibility layers are images.

    Returns
    -------
    list of folium elements

    Raises
    ------
    MapError
        For an unknown language or a rule id not in the report.
    """
    check_lang(lang)
    ids = list(report.rules) if rules is None else list(rules)
    missing = [r for r in ids if r not in report.rules]
    if missing:
        raise MapError(f"ratio rule(s) {missing} not in this report; its rules are: {', '.join(report.rules) or 'none'}")
    levels = list(report.city.units)
    ids.sort(key=lambda rid: levels.index(report.rules[rid].rule.level))  # grouped by level, stable within
    layers: list[MacroElement] = [_rule_layer(report, rid, lang, show_first and k == 0) for k, rid in enumerate(ids)]
    return layers + _access_layers(report, lang, max_vector_cells)


def ratio_map(
    result: CoverageResult,
    report: RatioReport,
    path: str | os.PathLike,
    *,
    lang: str = "en",
    basemap: str | None = None,
    **options,
) -> Path:
    """Write the coverage map of ``result`` with the ratio layers of ``report``.

    The first ratio rule is shown when the page opens. ``options`` go to
    :func:`maps.interactive.coverage_map` (``standards``, ``title``,
    ``extra_layers``, ...).

    Raises
    ------
    MapError
        If the report and the result are not on the same cells.
    """
    a, b = result.city.cells, report.city.cells
    if len(a) != len(b) or not np.array_equal(a["cell_id"].astype(str).to_numpy(), b["cell_id"].astype(str).to_numpy()):
        raise MapError(
            f"the ratio report ({report.city.name}, {len(b):,} cells) is not on the cells of the coverage result "
            f"({result.city.name}, {len(a):,} cells)"
        )
    extra = list(options.pop("extra_layers", None) or [])
    layers = ratio_layers(report, lang, show_first=True,
                          max_vector_cells=options.get("max_vector_cells", VECTOR_MAX_CELLS))
    return coverage_map(result, path, lang=lang, basemap=basemap, extra_layers=layers + extra, **options)


# --- tables ------------------------------------------------------------------


def _rule_row(report: RatioReport, rid: str, lang: str, gaps: int) -> dict:
    r = report.rules[rid]
    rule, t, table = r.rule, r.totals, r.table
    failing = table[table["status"] == "fail"].sort_values(["shortfall", "unit_id"], ascending=[False, True])
    listed = [f"{name} {_supply_amount(rule.supply, sf, lang)}"
              for name, sf in zip(failing["name"].fillna(failing["unit_id"]).astype(str), failing["shortfall"])]
    checked = int(t.get("units", len(table))) - int(t.get("units_no_demand", 0))
    level_value = "–"
    if rule.kind == "per_demand" and t.get("ratio") is not None and np.isfinite(t["ratio"]):
        level_value = f"{t['ratio']:,.1f} {_per_unit(rule.supply, rule.demand, rule.per, lang)}"
    return {
        "standard": _title(rule, lang),
        "threshold": text("in_each", lang, target=rule_target(rule, lang), level=_level_word(rule.level, lang)),
        "facility_count": int(t.get("facilities", 0)),
        "weight": text(f"weight_{rule.demand}", lang),
        "total_pop": round(float(t.get("demand", 0.0))),
        "covered_pop": float("nan"),
        "share": float("nan"),
        "uncovered_pop": float("nan"),
        "gaps": "; ".join(listed[:gaps]) if listed else "–",
        "units_fail": f"{int(t.get('units_fail', 0))} / {checked}",
        "shortfall": _supply_amount(rule.supply, float(t.get("shortfall", 0)), lang),
        "under_served_pop": float("nan"),
        "level_value": level_value,
    }


def _access_row(report: RatioReport, ar: AccessResult, lang: str) -> dict:
    std = ar.standard
    pop = np.bincount(ar.classes.code, weights=ar.demand, minlength=3)  # out of reach, under-served, served
    total = float(ar.demand.sum())
    mean = float((ar.fca.accessibility * ar.demand).sum() / total) if total > 0 else float("nan")
    target = text("target_min", lang, v=std.min_value, unit=access_unit(std, lang))
    return {
        "standard": _title(std, lang),
        "threshold": text("within_walk", lang, target=target, m=std.catchment_min),
        "facility_count": int(report.city.facilities_of(std.kinds).size),
        "weight": text(f"weight_{std.demand}", lang),
        "total_pop": round(total),
        "covered_pop": round(float(pop[2])),
        "share": pop[2] / total if total > 0 else float("nan"),
        "uncovered_pop": round(float(pop[0])),
        "gaps": "–",
        "units_fail": "–",
        "shortfall": "–",
        "under_served_pop": round(float(pop[1])),
        "level_value": "–" if not np.isfinite(mean) else f"{mean:,.1f} {access_unit(std, lang)}",
    }


def summary_rows(report: RatioReport, lang: str = "en", gaps: int = 3) -> pd.DataFrame:
    """Summary-table rows of the ratio rules and accessibility standards (column keys, not labels).

    Ratio-rule rows: the rule, its target in each unit, the facilities and
    demand counted, the failing units with their shortfall (``gaps`` of them,
    largest first), ``units_fail`` ("2 / 6": failing of the units with
    demand), the total ``shortfall`` and the city-wide ratio. Coverage
    columns stay empty (NaN): a rule is met by units, not by residents.

    Accessibility rows: ``covered_pop`` is the demand in served cells (at or
    above the standard), ``under_served_pop`` in cells within reach but
    below it, ``uncovered_pop`` out of reach; ``share`` is the served share
    and ``level_value`` the demand-weighted mean accessibility.
    """
    check_lang(lang)
    rows = [_rule_row(report, rid, lang, gaps) for rid in report.rules]
    rows += [_access_row(report, ar, lang) for ar in report.access.values()]
    return pd.DataFrame(rows)


def draw_ratio_table(ax, report: RatioReport, lang: str = "en", fontsize: float = 6.0) -> None:
    """Draw the ratio rules and accessibility standards as a table on a matplotlib axes.

    Columns: rule, target, units failing (for accessibility: the served /
    under-served / out-of-reach demand), total shortfall and city-wide level.
    Rows are as tall as their wrapped text and the table is fitted into the axes.
    """
    ax.axis("off")
    rows = summary_rows(report, lang)
    header = [text("standard", lang), text("threshold", lang), text("units_fail", lang),
              text("shortfall", lang), text("level_value", lang)]
    widths = [0.29, 0.29, 0.17, 0.10, 0.15]
    # characters per line of each column, from its printed width (a character is ~0.6 em wide;
    # CJK characters are ~1 em, so Chinese lines hold about half as many)
    width_pt = ax.figure.get_size_inches()[0] * ax.get_position().width * 72
    em = fontsize * (1.0 if lang == "zh" else 0.6)
    chars = [max(6, int(width_pt * w / em) - 3) for w in widths]
    cells = []
    for r in rows.to_dict("records"):
        result = r["units_fail"]
        if result == "–":  # an accessibility row: who is served
            result = text("reached", lang, s=f"{r['covered_pop']:,.0f}", u=f"{r['under_served_pop']:,.0f}",
                                o=f"{r['uncovered_pop']:,.0f}")
        values = [r["standard"], r["threshold"], result, r["shortfall"], r["level_value"]]
        # Chinese has no spaces: it may break anywhere; English only between words
        cells.append(["\n".join(textwrap.wrap(str(v), n, break_long_words=lang == "zh")) or "–"
                      for v, n in zip(values, chars)])
    ax.set_title(text("ratio_table_title", lang), fontsize=fontsize + 2.5, loc="left", fontweight="bold")
    if not cells:
        return
    tab = ax.table(cellText=cells, colLabels=header, loc="upper center", cellLoc="left", colLoc="left",
                   colWidths=widths)
    tab.auto_set_font_size(False)
    tab.set_fontsize(fontsize)
    lines = [1] + [max(c.count("\n") + 1 for c in row) for row in cells]
    # one text line plus padding, in axes fractions; shrunk if the rows would overflow the axes
    fig_h = ax.figure.get_size_inches()[1] * ax.get_position().height
    unit = fontsize * 1.3 / 72 / fig_h
    pad = unit * 0.5
    scale = min(1.0, 1.0 / sum(n * unit + pad for n in lines))
    for (row, _), cell in tab.get_celld().items():
        cell.set_height((lines[row] * unit + pad) * scale)
