"""Proposed sites on the map: the sites, their service areas and the cells they newly cover.

:func:`siting_layers` makes the three layers as folium feature groups, to pass
as ``extra_layers`` to :func:`maps.interactive.coverage_map`;
:func:`siting_map` writes the whole page: the standard's coverage before the
new sites (after any closures), with the proposal drawn on top.
:func:`siting_figure` draws the same on a static page (PNG, PDF or SVG).
"""

from __future__ import annotations

import dataclasses
import os
from html import escape
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from geo.crs import WGS84
from layers.atomic import atomic_path
from maps.content import standard_classes
from maps.errors import MapError
from maps.labels import check_lang, map_title, standard_short
from scenarios.evaluate import CoverageResult
from scenarios.siting import CitySiting

__all__ = ["NEWLY_COVERED_COLOUR", "SITE_COLOUR", "siting_figure", "siting_layers", "siting_map"]

SITE_COLOUR = "#0050b5"
"""Proposed sites and their service areas."""

NEWLY_COVERED_COLOUR = "#00a6d6"
"""Cells the proposed sites bring within reach."""


_TEXT = {
    "sites": {"en": "Proposed sites", "zh": "建议选址"},
    "areas": {"en": "Service areas of proposed sites", "zh": "建议选址服务范围"},
    "newly": {"en": "Newly covered cells", "zh": "新增覆盖网格"},
    "rank": {"en": "Rank", "zh": "排序"},
    "site": {"en": "Site", "zh": "选址"},
    "candidate": {"en": "Candidate", "zh": "候选点"},
    "gain": {"en": "Newly covered", "zh": "新增覆盖"},
    "cumulative": {"en": "Covered after", "zh": "累计覆盖"},
    "cell": {"en": "Cell", "zh": "网格"},
    "weight": {"en": "Weight", "zh": "人口"},
    "dist": {"en": "Distance (m)", "zh": "距离（米）"},
    "title": {"en": "Siting", "zh": "选址"},
    "before": {"en": "before", "zh": "选址前"},
    "after": {"en": "after", "zh": "选址后"},
}


def _t(key: str, lang: str) -> str:
    return _TEXT[key][lang]


def _geojson(frame: gpd.GeoDataFrame, props: pd.DataFrame) -> dict:
    out = gpd.GeoDataFrame(props.reset_index(drop=True), geometry=list(frame.to_crs(WGS84).geometry.values), crs=WGS84)
    return out.to_geo_dict(drop_id=True)


def _site_markers(siting: CitySiting, lang: str) -> folium.FeatureGroup:
    sites = siting.sites
    group = folium.FeatureGroup(name=f"{_t('sites', lang)} ({len(sites)})", show=True)
    for row in sites.itertuples():
        tip = (
            f"<b>{escape(_t('site', lang))} {row.rank}</b> ({escape(str(row.site_id))})<br>"
            f"{escape(_t('candidate', lang))}: {escape(str(row.candidate_id))}<br>"
            f"{escape(_t('gain', lang))}: {row.newly_covered:,.0f}<br>"
            f"{escape(_t('cumulative', lang))}: {row.cumulative_covered:,.0f}<br>"
            f"{row.lon:.6f}, {row.lat:.6f}"
        )
        # a numbered disc drawn in HTML: the page needs no marker images
        icon = folium.DivIcon(
            html=f'<div class="lc-site" style="width:22px;height:22px;border-radius:11px;background:{SITE_COLOUR};'
            f'color:#fff;border:2px solid #fff;font:bold 12px/22px sans-serif;text-align:center;'
            f'box-shadow:0 0 3px #000">{row.rank}</div>',
            icon_size=(26, 26),
            icon_anchor=(13, 13),
            class_name="lc-icon",
        )
        folium.Marker([row.lat, row.lon], icon=icon, tooltip=tip).add_to(group)
    return group


def siting_layers(siting: CitySiting, lang: str = "en", service_areas: bool = True) -> list[folium.FeatureGroup]:
    """Folium layers of a siting result: newly covered cells, service areas, sites.

    Parameters
    ----------
    siting : CitySiting
    lang : {"en", "zh"}
    service_areas : bool, default True
        Include the service areas of the proposed sites.

    Returns
    -------
    list of folium.FeatureGroup
        In drawing order; pass as ``extra_layers`` to
        :func:`maps.interactive.coverage_map`.
    """
    check_lang(lang)
    layers = []
    cells = siting.newly_covered_cells
    if len(cells):
        props = pd.DataFrame(
            {
                "cell": cells["cell_id"].astype(str).map(escape).to_numpy(),
                "weight": [f"{v:,.0f}" for v in cells["weight"]],
                "site": cells["site_rank"].astype(int).to_numpy(),
                "dist": np.round(cells["dist_m"].to_numpy(dtype=float)).astype(int),
            }
        )
        group = folium.FeatureGroup(name=f"{_t('newly', lang)} ({len(cells)})", show=True)
        folium.GeoJson(
            _geojson(cells, props),
            style_function=lambda f: {"color": NEWLY_COVERED_COLOUR, "weight": 0.5, "fillColor": NEWLY_COVERED_COLOUR, "fillOpacity": 0.75},
            tooltip=folium.GeoJsonTooltip(
                fields=["cell", "weight", "site", "dist"],
                aliases=[_t("cell", lang), _t("weight", lang), _t("site", lang), _t("dist", lang)],
            ),
            control=False,
        ).add_to(group)
        layers.append(group)
    if service_areas and len(siting.sites):
        areas = siting.service_areas
        props = pd.DataFrame({"site": areas["site_rank"].astype(int).to_numpy(), "standard": standard_short(siting.standard, lang)})
        group = folium.FeatureGroup(name=_t("areas", lang), show=True)
        folium.GeoJson(
            _geojson(areas, props),
            style_function=lambda f: {"color": SITE_COLOUR, "weight": 2, "dashArray": "5 4", "fillColor": SITE_COLOUR, "fillOpacity": 0.05},
            tooltip=folium.GeoJsonTooltip(fields=["site", "standard"], aliases=[_t("site", lang), "Standard"]),
            control=False,
        ).add_to(group)
        layers.append(group)
    if len(siting.sites):
        layers.append(_site_markers(siting, lang))
    return layers


def _before(siting: CitySiting):
    """The standard before the new sites, as covered / not covered.

    Walk-time bands are dropped: a siting run may use a stricter threshold
    than the bands, and covered or not under that threshold is what the
    sites change.
    """
    standard = dataclasses.replace(siting.standard, bands_min=())
    return dataclasses.replace(siting.before, band=None, standard=standard)


def _before_result(siting: CitySiting) -> CoverageResult:
    """The standard on the city after closures, before the new sites: the map's base."""
    return CoverageResult(city=siting.before_city, results={siting.standard.id: _before(siting)})


def _title(siting: CitySiting, lang: str) -> str:
    s = siting.summary()
    share = "" if s["share_before"] is None else f": {s['share_before']:.1%} → {s['share_after']:.1%}"
    return f"{_t('title', lang)} – {standard_short(siting.standard, lang)}{share}"


def siting_map(
    siting: CitySiting,
    path: str | os.PathLike,
    *,
    lang: str = "en",
    basemap: str | None = None,
    service_areas: bool = True,
) -> Path:
    """Write an HTML map of a siting result.

    The base is :func:`maps.interactive.coverage_map` of the standard before
    the new sites (after any closures), so the gaps show; the proposed sites,
    their service areas and the cells they newly cover are drawn on top.

    Parameters
    ----------
    siting : CitySiting
    path : path-like
        HTML file to write.
    lang : {"en", "zh"}
    basemap : {"osm", "light", "none"}, optional
        See :func:`maps.interactive.coverage_map`.
    service_areas : bool, default True

    Returns
    -------
    pathlib.Path
    """
    from maps.interactive import coverage_map

    return coverage_map(
        _before_result(siting),
        path,
        lang=lang,
        basemap=basemap,
        title=_title(siting, lang),
        extra_layers=siting_layers(siting, lang, service_areas=service_areas),
        service_areas=False,  # the existing facilities' areas would hide the new ones
    )


def siting_figure(siting: CitySiting, path: str | os.PathLike, *, lang: str = "en", dpi: int = 200) -> Path:
    """A static page of a siting result: PNG, PDF or SVG (from the suffix).

    The standard's classes before the new sites, newly covered cells in
    :data:`NEWLY_COVERED_COLOUR`, the new sites' service areas outlined and
    the sites numbered by rank.

    Parameters
    ----------
    siting : CitySiting
    path : path-like
        ``.png``, ``.pdf`` or ``.svg``.
    lang : {"en", "zh"}
    dpi : int, default 200
        PNG resolution.

    Returns
    -------
    pathlib.Path
    """
    check_lang(lang)
    out = Path(path)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in ("png", "pdf", "svg"):
        raise MapError(f"{out}: siting figures are written as .png, .pdf or .svg, not '{out.suffix}'")
    city = siting.before_city
    classes = standard_classes(_before(siting), lang)
    fig = Figure(figsize=(8.27, 8.27))
    ax = fig.add_axes([0.03, 0.12, 0.94, 0.8])
    drawn = classes.cell_class >= 0
    colours = np.asarray(classes.colours, dtype=object)[classes.cell_class[drawn]]
    city.cells.geometry[drawn].plot(ax=ax, color=list(colours), linewidth=0, alpha=0.6)
    handles = [Patch(facecolor=c, alpha=0.6, label=lab) for c, lab in zip(classes.colours, classes.labels, strict=True)]
    if len(siting.newly_covered_cells):
        siting.newly_covered_cells.plot(ax=ax, color=NEWLY_COVERED_COLOUR, linewidth=0, alpha=0.9)
        handles.append(Patch(facecolor=NEWLY_COVERED_COLOUR, label=_t("newly", lang)))
    if len(siting.sites):
        siting.service_areas.boundary.plot(ax=ax, color=SITE_COLOUR, linewidth=1.2, linestyle=(0, (4, 3)))
        ax.scatter(siting.sites["x"], siting.sites["y"], s=160, c=SITE_COLOUR, edgecolors="white", linewidths=1.2, zorder=5)
        for row in siting.sites.itertuples():
            ax.annotate(str(row.rank), (row.x, row.y), ha="center", va="center", color="white", fontsize=7, fontweight="bold", zorder=6)
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=9, markerfacecolor=SITE_COLOUR,
                              markeredgecolor="white", label=_t("sites", lang)))
    x0, y0, x1, y1 = city.cells.total_bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    fig.suptitle(map_title(city.name, city.generated, lang, _title(siting, lang)), fontsize=11)
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return out
