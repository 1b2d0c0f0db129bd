"""Change maps for scenario comparisons: who gains or loses coverage, whose load shifts.

:func:`change_map` draws a :class:`scenarios.compare.Comparison` on the
coverage map of its second ("after") run: per standard, the newly covered
and newly uncovered cells (only those: unchanged cells are left to the
coverage layers), and the facilities whose served population changes most,
sized by the change. Every layer carries its legend section with the counts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from html import escape
from pathlib import Path

import folium
import numpy as np
import pandas as pd

from maps.cell_layers import collection, wgs84
from maps.errors import MapError
from maps.interactive import coverage_map
from maps.labels import check_lang, kind_text, standard_short, text
from scenarios.compare import CHANGES, Comparison

__all__ = ["CHANGE_COLOURS", "change_layers", "change_map"]

CHANGE_TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "{city}: {a} → {b}", "zh": "{city}：{a} → {b}"},
    "cells_layer": {"en": "Coverage change: {std}", "zh": "覆盖变化：{std}"},
    "loads_layer": {"en": "Largest load changes: {std}", "zh": "服务人口变化最大的设施：{std}"},
    "newly_covered": {"en": "Newly covered", "zh": "新增覆盖"},
    "newly_uncovered": {"en": "No longer covered", "zh": "失去覆盖"},
    "n_cells": {"en": "{label}: {n:,} cells", "zh": "{label}：{n:,}个网格"},
    "change": {"en": "Change", "zh": "变化"},
    "before": {"en": "Before ({name})", "zh": "之前（{name}）"},
    "after": {"en": "After ({name})", "zh": "之后（{name}）"},
    "not_reached": {"en": "beyond the search", "zh": "超出搜索范围"},
    "gain": {"en": "Serves more", "zh": "服务人口增加"},
    "loss": {"en": "Serves fewer", "zh": "服务人口减少"},
    "status": {"en": "Status", "zh": "状态"},
    "opened": {"en": "opened", "zh": "新增"},
    "closed": {"en": "closed", "zh": "关闭"},
    "moved": {"en": "moved", "zh": "迁址"},
    "same": {"en": "unchanged", "zh": "不变"},
    "load": {"en": "Serves", "zh": "服务人口"},
    "load_change": {"en": "{before:,.0f} → {after:,.0f} ({change:+,.0f} {unit})",
                    "zh": "{before:,.0f} → {after:,.0f}（{change:+,.0f} {unit}）"},
    "loads_note": {"en": "The {n} facilities whose served {unit} change most; circle area ∝ change",
                   "zh": "服务{unit}变化最大的{n}处设施；圆面积与变化量成正比"},
}
"""Labels of the change map, English and Chinese (as :data:`maps.labels.TEXT`)."""

# not the green / red of the coverage layers underneath, so changed cells stand out
CHANGE_COLOURS = {"newly_covered": "#2166ac", "newly_uncovered": "#c51b7d", "gain": "#01665e", "loss": "#b35806"}
"""Colours of newly covered / uncovered cells and of facilities that gain / lose load."""

# largest load-change circle, in screen pixels
_MAX_RADIUS = 18.0
_MIN_RADIUS = 4.0


def _t(key: str, lang: str, **values) -> str:
    return CHANGE_TEXT[key][check_lang(lang)].format(**values)


def _distance(v: float, lang: str) -> str:
    return _t("not_reached", lang) if not np.isfinite(v) else text("metres", lang, v=v)


def _cells_layer(comparison: Comparison, sid: str, lang: str, show: bool) -> folium.FeatureGroup:
    """Newly covered and newly uncovered cells of one standard."""
    ch = comparison.changes[sid]
    std = ch.after.standard
    layer = comparison.change_layer(sid, changed_only=True)
    unit = text(f"weight_{std.weight}", lang)
    name = _t("cells_layer", lang, std=standard_short(std, lang))
    props = pd.DataFrame(
        {
            "change": layer["change"].to_numpy(),  # the raw value, for styling (and readers of the page)
            "change_label": [_t(c, lang) for c in layer["change"]],
            "cell": [escape(str(v)) for v in layer["cell_id"]],
            "weight": [f"{v:,.0f} {unit}" for v in layer["weight"]],
            "before": [_distance(v, lang) for v in layer["dist_before_m"]],
            "after": [_distance(v, lang) for v in layer["dist_after_m"]],
        }
    )
    group = folium.FeatureGroup(name=name, show=show)
    if len(layer):
        folium.GeoJson(
            collection(wgs84(layer.geometry.values, layer.crs), props),
            style_function=lambda f: {
                "fillColor": CHANGE_COLOURS[f["properties"]["change"]],
                "color": CHANGE_COLOURS[f["properties"]["change"]],
                "weight": 2,
                "fillOpacity": 0.85,
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["change_label", "cell", "weight", "before", "after"],
                aliases=[_t("change", lang), text("cell", lang), text("weight", lang),
                         _t("before", lang, name=escape(comparison.name_a)),
                         _t("after", lang, name=escape(comparison.name_b))],
            ),
            control=False,
        ).add_to(group)
    entries = []
    for which in CHANGES[:2]:
        cells = ch.newly_covered if which == "newly_covered" else ch.newly_uncovered
        entries.append(
            {
                "label": _t("n_cells", lang, label=_t(which, lang), n=int(cells.size)),
                "colour": CHANGE_COLOURS[which],
                "total": ch.population(which),
                "unit": unit,
                "cells": int(cells.size),
                "change": which,
            }
        )
    group.lc_legend = {"layer": name, "shown": show, "entries": entries, "note": ""}
    return group


def _facility_positions(comparison: Comparison, ids: Sequence[str]) -> np.ndarray:
    """Points of facilities by id: where they are after, or where they were (closed ones)."""
    geoms = []
    for res in (comparison.result_b, comparison.result_a):
        fac = res.city.facilities
        geoms.append(pd.Series(fac.geometry.values, index=fac["id"].astype(str)))
    after, before = geoms
    return np.array([after.get(i, before.get(i)) for i in ids], dtype=object)


def _loads_layer(comparison: Comparison, sid: str, lang: str, top: int, show: bool) -> folium.FeatureGroup | None:
    """The facilities of one standard whose served population changes most (non-zero changes only)."""
    std = comparison.changes[sid].after.standard
    loads = comparison.load_changes(sid, top=None)
    loads = loads[loads["load_change"] != 0].head(top)
    if not len(loads):
        return None
    unit = text(f"weight_{std.weight}", lang)
    name = _t("loads_layer", lang, std=standard_short(std, lang))
    group = folium.FeatureGroup(name=name, show=show)
    points = wgs84(_facility_positions(comparison, loads["id"].tolist()), comparison.result_b.city.crs)
    biggest = float(loads["load_change"].abs().max())
    for row, pt in zip(loads.to_dict("records"), points):
        sign = "gain" if row["load_change"] > 0 else "loss"
        # circle area proportional to the change
        radius = max(_MIN_RADIUS, _MAX_RADIUS * np.sqrt(abs(row["load_change"]) / biggest))
        tip = (
            f"<b>{escape(str(row['name']))}</b> ({escape(str(row['id']))})<br>{escape(kind_text(row['kind'], lang))}<br>"
            f"{_t('status', lang)}: {_t(row['status'], lang)}<br>{_t('load', lang)}: "
            + _t("load_change", lang, before=row["load_before"], after=row["load_after"], change=row["load_change"], unit=unit)
        )
        folium.CircleMarker(
            location=[pt.y, pt.x], radius=float(radius), color=CHANGE_COLOURS[sign], weight=2,
            fill=True, fill_color=CHANGE_COLOURS[sign], fill_opacity=0.45, tooltip=tip,
        ).add_to(group)
    counts = (loads["load_change"] > 0).value_counts()
    group.lc_legend = {
        "layer": name,
        "shown": show,
        "entries": [
            {"label": _t(sign, lang), "colour": CHANGE_COLOURS[sign], "total": int(counts.get(sign == "gain", 0))}
            for sign in ("gain", "loss")
        ],
        "note": _t("loads_note", lang, n=len(loads), unit=unit),
    }
    return group


def change_layers(
    comparison: Comparison,
    lang: str = "en",
    *,
    standards: Sequence[str] | None = None,
    top_facilities: int = 10,
) -> list[folium.FeatureGroup]:
    """Layers of a comparison, for :func:`maps.interactive.coverage_map`'s ``extra_layers``.

    Per standard: the newly covered / newly uncovered cells, and the
    ``top_facilities`` facilities whose served population changes most
    (teal: serves more, brown: serves fewer; circle area proportional to the
    change). Standards with any change come first; the first one's layers
    are shown when the map opens, the others start hidden.

    Raises
    ------
    MapError
        For an unknown language or a standard not in the comparison.
    """
    check_lang(lang)
    ids = list(comparison.changes) if standards is None else list(standards)
    missing = [s for s in ids if s not in comparison.changes]
    if missing:
        raise MapError(f"standard(s) {missing} not in this comparison; compared standards: {', '.join(comparison.changes)}")
    # standards with changes first (stable), so the layers shown are ones where something changed
    ids.sort(key=lambda sid: not _changed(comparison, sid))
    shown = ids[0] if ids else None
    layers = []
    for sid in ids:
        layers.append(_cells_layer(comparison, sid, lang, show=sid == shown))
        loads = _loads_layer(comparison, sid, lang, top_facilities, show=sid == shown)
        if loads is not None:
            layers.append(loads)
    return layers


def _changed(comparison: Comparison, sid: str) -> bool:
    """Whether any cell's coverage or any facility's load changes under a standard."""
    ch = comparison.changes[sid]
    if ch.newly_covered.size or ch.newly_uncovered.size:
        return True
    return bool((comparison.load_changes(sid, top=1)["load_change"] != 0).any())


def change_map(
    comparison: Comparison,
    path: str | os.PathLike,
    *,
    lang: str = "en",
    basemap: str | None = None,
    standards: Sequence[str] | None = None,
    top_facilities: int = 10,
    title: str | None = None,
    **options,
) -> Path:
    """Write an HTML map of a scenario comparison.

    The page is the coverage map of the second ("after") run, without
    service areas, with :func:`change_layers` on top; the title names both
    runs ("Demo: baseline → new clinic").

    Parameters
    ----------
    comparison : Comparison
        From :func:`scenarios.compare.compare`.
    path : path-like
    lang : {"en", "zh"}
    basemap : {"osm", "light", "none"}, optional
    standards : sequence of str, optional
        Standards to draw (all compared ones by default).
    top_facilities : int, default 10
        Facilities per standard in the load-change layer.
    title : str, optional
    **options
        More :func:`maps.interactive.coverage_map` options (``max_vector_cells``...).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    MapError
        For an unknown language, basemap or standard.
    """
    check_lang(lang)
    layers = change_layers(comparison, lang, standards=standards, top_facilities=top_facilities)
    ids = list(comparison.changes) if standards is None else list(standards)
    # in change_layers' order, so the coverage layer shown is the one the shown changes are about
    ids.sort(key=lambda sid: not _changed(comparison, sid))
    city = comparison.result_b.city
    title = title or _t("title", lang, city=city.name, a=comparison.name_a, b=comparison.name_b)
    options.setdefault("service_areas", False)
    return coverage_map(comparison.result_b, path, lang=lang, basemap=basemap, standards=ids, title=title,
                        extra_layers=layers, **options)
