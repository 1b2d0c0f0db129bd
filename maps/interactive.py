"""Interactive coverage maps: one self-contained HTML file per analysis (folium).

Layers (each switchable): residents per cell, one layer per standard
(covered / not covered, or walk-time bands), administrative units, service
areas, the largest uncovered clusters, and facilities by kind. Up to
:data:`VECTOR_MAX_CELLS` cells are drawn as polygons with per-cell tooltips;
larger grids are drawn as images (see :mod:`maps.raster`) so a city of
750,000 cells stays a few MB and opens in seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.plugins import Fullscreen, MarkerCluster, MeasureControl
from jinja2 import Template
from pyproj import Transformer

from geo.crs import WGS84
from layers.atomic import write_atomic
from maps.assets import inline_libraries
from maps.cell_layers import MERCATOR, CellLayers, cells_document, collection, image_layer, wgs84
from maps.content import (
    cell_aliases,
    cell_details,
    facility_aliases,
    facility_details,
    population_classes,
    select_standards,
    standard_classes,
)
from maps.errors import MapError
from maps.labels import check_lang, kind_text, map_title, standard_short, text, unit_text
from maps.raster import rasterize_cells
from maps.style import CLUSTER_COLOUR, UNIT_COLOUR, kind_style, kind_svg
from scenarios.evaluate import CoverageResult, StandardResult

__all__ = ["coverage_map", "BASEMAPS", "VECTOR_MAX_CELLS"]

BASEMAPS = {"osm": "OpenStreetMap", "light": "CartoDB positron", "none": None}
"""Basemap choices: name -> folium tile set (``None``: no tiles, works offline)."""

VECTOR_MAX_CELLS = 20_000
"""Above this many cells the grid layers are drawn as images, not polygons."""

CLUSTER_MARKERS_OVER = 50
"""A facility kind with more markers than this is clustered (MarkerCluster)."""


_CSS = """
.lc-title {position: fixed; top: 10px; left: 50%; transform: translateX(-50%); z-index: 1000;
  background: rgba(255,255,255,0.92); padding: 6px 14px; border-radius: 4px; font: 600 16px/1.3 sans-serif;
  box-shadow: 0 1px 4px rgba(0,0,0,0.3); max-width: 60vw; text-align: center;}
.lc-legend {position: fixed; bottom: 30px; left: 10px; z-index: 1000; background: rgba(255,255,255,0.94);
  padding: 8px 10px; border-radius: 4px; font: 12px/1.4 sans-serif; max-height: 60vh; overflow-y: auto;
  box-shadow: 0 1px 4px rgba(0,0,0,0.3); max-width: 320px;}
.lc-legend summary {font-weight: 600; cursor: pointer; margin-top: 4px;}
.lc-legend .lc-row {display: flex; align-items: center; gap: 6px; margin: 2px 0;}
.lc-legend .lc-swatch {width: 14px; height: 14px; border: 1px solid #777; flex: none;}
.lc-legend .lc-note {color: #555; font-size: 11px; margin-top: 4px;}
.lc-icon {background: none; border: none;}
"""


class _Attribution(MacroElement):
    """Adds a data credit to the map's attribution control."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, attribution: str):
        super().__init__()
        self._name = "Attribution"
        self.text = attribution


# --- layers -----------------------------------------------------------------


def _standard_name(sr: StandardResult, lang: str) -> str:
    return sr.standard.title(lang)


def _grid_layers(m, result, results, lang, max_vector_cells, classification, legend) -> str:
    """Population and per-standard layers; returns the rendering used ("vector" or "image")."""
    city = result.city
    pop = population_classes(city.cells["population"].to_numpy(dtype=float), scheme=classification)
    layer_classes = [(text("population_grid", lang), pop, None)]
    layer_classes += [(_standard_name(sr, lang), standard_classes(sr, lang), sr) for sr in results]

    vector = len(city.cells) <= max_vector_cells
    if vector:
        geoms = wgs84(city.cells.geometry.values, city.crs)
        details = cell_details(result, results, lang)
        aliases = cell_aliases(results, lang)
        base = ["cell", "population", "elderly"]
    else:
        raster = rasterize_cells(city.cells.geometry.values, city.crs, MERCATOR)
        to_ll = Transformer.from_crs(MERCATOR, WGS84, always_xy=True)
        w, s = to_ll.transform(raster.bounds[0], raster.bounds[1])
        e, n = to_ll.transform(raster.bounds[2], raster.bounds[3])
        latlon = [[s, w], [n, e]]

    groups, specs = [], []
    for i, (name, classes, sr) in enumerate(layer_classes):
        shown = i == 1 or (i == 0 and not results)
        group = folium.FeatureGroup(name=name, show=shown)
        if vector:
            # the population layer carries every standard in its tooltip
            js = list(range(len(results))) if sr is None else [results.index(sr)]
            specs.append(
                {
                    "cls": classes.cell_class.tolist(),
                    "colours": classes.colours,
                    "labels": [escape(lab) for lab in classes.labels],
                    "fields": base + [f"s{j}" for j in js],
                    "aliases": [escape(a) for a in aliases[:3] + [aliases[3 + j] for j in js]],
                }
            )
            groups.append(group)
        else:
            image_layer(group, raster, classes, latlon)
        group.add_to(m)
        unit = text("weight_elderly" if sr is not None and sr.standard.weight == "elderly" else "weight_population", lang)
        legend.append(
            {
                "layer": name,
                "shown": shown,
                "entries": [
                    {"label": lab, "colour": col, "total": float(tot), "unit": unit}
                    for lab, col, tot in zip(classes.labels, classes.colours, classes.totals)
                ],
                "note": "" if sr is None else f"{text('source', lang)}: {sr.standard.source}",
            }
        )
    if vector:
        doc = cells_document(geoms, details)
        m.get_root().html.add_child(Element(f'<script type="application/json" id="lc-cells">{doc}</script>'), name="lc_cells")
        m.add_child(CellLayers(groups, specs))
    return "vector" if vector else "image"


def _unit_layers(m, city, lang) -> None:
    for i, (level, units) in enumerate(city.units.items()):
        if not len(units):
            continue
        props = pd.DataFrame({"name": units["name"].fillna("").astype(str).map(escape).to_numpy()})
        group = folium.FeatureGroup(name=unit_text(level, lang), show=i == 0)
        folium.GeoJson(
            collection(wgs84(units.geometry.values, city.crs, simplify_m=5.0), props),
            style_function=lambda f: {"color": UNIT_COLOUR, "weight": 1.5, "fillOpacity": 0.0, "dashArray": "4 3"},
            tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=[text("name", lang)]),
            control=False,
        ).add_to(group)
        group.add_to(m)


def _service_area_layers(m, result, results, lang) -> None:
    from scenarios.service_area_layer import standard_service_areas

    areas = standard_service_areas(result.city, [sr.standard for sr in results])
    for sr in results:
        sel = areas[areas["standard"] == sr.standard.id]
        if not len(sel):
            continue
        colour = kind_style(sr.standard.kinds[0])["colour"]
        props = pd.DataFrame(
            {"facility": sel["facility_id"].astype(str).map(escape).to_numpy(), "standard": standard_short(sr.standard, lang)}
        )
        group = folium.FeatureGroup(name=f"{text('service_areas', lang)}: {standard_short(sr.standard, lang)}", show=False)
        folium.GeoJson(
            collection(wgs84(sel.geometry.values, result.city.crs, simplify_m=5.0), props),
            style_function=lambda f, c=colour: {"color": c, "weight": 1, "fillColor": c, "fillOpacity": 0.08},
            tooltip=folium.GeoJsonTooltip(fields=["facility", "standard"], aliases=[text("facility", lang), text("standard", lang)]),
            control=False,
        ).add_to(group)
        group.add_to(m)


def _cluster_layers(m, result, results, lang, legend) -> None:
    """One layer per standard of its largest uncovered clusters; the first standard's shown."""
    frame = result.clusters_frame()
    name = text("clusters", lang)
    added = False
    for k, sr in enumerate(results):
        sel = frame[frame["standard"] == sr.standard.id] if len(frame) else frame
        if not len(sel):
            continue
        props = pd.DataFrame(
            {
                "standard": standard_short(sr.standard, lang),
                "rank": sel["rank"].astype(int).to_numpy(),
                "population": [f"{v:,.0f}" for v in sel["population"]],
                "n_cells": sel["n_cells"].astype(int).to_numpy(),
            }
        )
        group = folium.FeatureGroup(name=f"{name}: {standard_short(sr.standard, lang)}", show=k == 0)
        folium.GeoJson(
            collection(wgs84(sel.geometry.values, result.city.crs, simplify_m=2.0), props),
            style_function=lambda f: {"color": CLUSTER_COLOUR, "weight": 3, "dashArray": "6 4", "fillOpacity": 0.0},
            tooltip=folium.GeoJsonTooltip(
                fields=["standard", "rank", "population", "n_cells"],
                aliases=[text("standard", lang), text("rank", lang), text("population", lang), text("cells", lang)],
            ),
            control=False,
        ).add_to(group)
        group.add_to(m)
        added = True
    if added:
        legend.append(
            {"layer": name, "shown": True, "entries": [{"label": name, "colour": CLUSTER_COLOUR, "outline": True}], "note": ""}
        )


def _facility_layers(m, result, results, lang, legend) -> list:
    """One layer per facility kind; returns the MarkerClusters (their CDN links must go)."""
    fac = result.city.facilities
    if not len(fac):
        return []
    details = facility_details(result, results, lang)
    geoms = wgs84(fac.geometry.values, result.city.crs)
    fields = list(details.columns)
    aliases = facility_aliases(lang)
    clusters, entries = [], []
    for kind in pd.unique(fac["kind"]):
        pos = np.flatnonzero(fac["kind"].to_numpy() == kind)
        name = f"{kind_text(kind, lang)} ({pos.size})"
        if pos.size > CLUSTER_MARKERS_OVER:
            group = MarkerCluster(name=name, show=True)
            clusters.append(group)
        else:
            group = folium.FeatureGroup(name=name, show=True)
        icon = folium.DivIcon(html=kind_svg(kind, 22), icon_size=(22, 22), icon_anchor=(11, 11), class_name="lc-icon")
        folium.GeoJson(
            collection(geoms[pos], details.iloc[pos]),
            marker=folium.Marker(icon=icon),
            tooltip=folium.GeoJsonTooltip(fields=["name", "kind"], aliases=[text("name", lang), text("kind", lang)]),
            popup=folium.GeoJsonPopup(fields=fields, aliases=aliases),
            control=False,
        ).add_to(group)
        group.add_to(m)
        entries.append({"label": kind_text(kind, lang), "colour": kind_style(kind)["colour"], "icon": kind, "total": int(pos.size)})
    legend.append({"layer": text("facilities", lang), "shown": True, "entries": entries, "note": ""})
    return clusters


def _extra_layers(m, extra_layers, crs, legend: list[dict]) -> None:
    """Add the caller's layers; a folium element's ``lc_legend`` section (a dict) joins the legend."""
    if extra_layers is None:
        return
    items = extra_layers.items() if isinstance(extra_layers, Mapping) else [(None, el) for el in extra_layers]
    for name, layer in items:
        if isinstance(layer, gpd.GeoDataFrame):
            frame = layer if layer.crs is not None else layer.set_crs(crs)
            cols = [c for c in frame.columns if c != frame.geometry.name][:8]
            props = frame[cols].astype(str).map(escape) if cols else pd.DataFrame(index=frame.index)
            group = folium.FeatureGroup(name=str(name or "layer"), show=True)
            folium.GeoJson(
                collection(wgs84(frame.geometry.values, frame.crs), props),
                tooltip=folium.GeoJsonTooltip(fields=cols) if cols else None,
                control=False,
            ).add_to(group)
            group.add_to(m)
        elif isinstance(layer, MacroElement):
            layer.add_to(m)
            if getattr(layer, "lc_legend", None):
                legend.append(layer.lc_legend)
        else:
            raise MapError(f"extra layer {name!r}: expected a GeoDataFrame or a folium element, got {type(layer).__name__}")


# --- page furniture ---------------------------------------------------------


def _legend_html(legend: list[dict], lang: str, note: str) -> str:
    parts = [f'<div class="lc-legend" id="lc-legend"><b>{escape(text("legend", lang))}</b>']
    for section in legend:
        parts.append(f'<details{" open" if section["shown"] else ""} data-layer="{escape(section["layer"])}"><summary>{escape(section["layer"])}</summary>')
        for e in section["entries"]:
            if "icon" in e:
                swatch = kind_svg(e["icon"], 14)
            elif e.get("outline"):
                swatch = f'<span class="lc-swatch" style="border:2px dashed {e["colour"]};background:none"></span>'
            else:
                swatch = f'<span class="lc-swatch" style="background:{e["colour"]}"></span>'
            total = ""
            if "unit" in e:
                total = f" ({e['total']:,.0f} {escape(e['unit'])})"
            elif "total" in e:
                total = f" ({e['total']:,})"
            parts.append(f'<div class="lc-row">{swatch}<span class="lc-label">{escape(e["label"])}{total}</span></div>')
        if section.get("note"):
            parts.append(f'<div class="lc-note">{escape(section["note"])}</div>')
        parts.append("</details>")
    if note:
        parts.append(f'<div class="lc-note">{escape(note)}</div>')
    parts.append("</div>")
    return "".join(parts)


def _resolve_basemap(basemap: str | None, generated: bool) -> str:
    if basemap is None:
        return "none" if generated else "osm"
    if basemap not in BASEMAPS:
        raise MapError(f"basemap={basemap!r} is not known; use one of {', '.join(BASEMAPS)}")
    return basemap


def coverage_map(
    result: CoverageResult,
    path: str | os.PathLike,
    *,
    lang: str = "en",
    basemap: str | None = None,
    standards: Sequence[str] | None = None,
    title: str | None = None,
    extra_layers: Mapping | Sequence | None = None,
    service_areas: bool = True,
    max_vector_cells: int = VECTOR_MAX_CELLS,
    classification: str = "quantiles",
) -> Path:
    """Write an interactive HTML map of a coverage run.

    Parameters
    ----------
    result : CoverageResult
        From :func:`scenarios.evaluate.evaluate`.
    path : path-like
        The HTML file to write (parent folders are created).
    lang : {"en", "zh"}
        Label language.
    basemap : {"osm", "light", "none"}, optional
        OpenStreetMap tiles, CartoDB Positron, or none (offline; the data
        layers still show). Defaults to "none" for generated cities and
        "osm" otherwise.
    standards : sequence of str, optional
        Standard ids to show (all evaluated ones by default).
    title : str, optional
        Map title; generated cities get "Generated district, not a real
        place" appended whatever the title.
    extra_layers : mapping of name to GeoDataFrame, or sequence of folium layers, optional
        More layers to show (any CRS; GeoDataFrames without CRS are taken
        to be in the city's CRS). A folium element with an ``lc_legend``
        attribute (a legend section, as :func:`maps.ratio_layers.ratio_layers`
        makes) adds that section to the legend.
    service_areas : bool, default True
        Add service-area layers (circles for radius standards, walking
        service areas for walking standards; hidden until switched on).
    max_vector_cells : int, default :data:`VECTOR_MAX_CELLS`
        Above this many cells, grid layers are drawn as images.
    classification : {"quantiles", "natural_breaks"}
        Classes of the population layer.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    MapError
        For an unknown language, basemap, classification or standard.
    """
    check_lang(lang)
    city = result.city
    results = select_standards(result, standards)
    basemap = _resolve_basemap(basemap, city.generated)
    page_title = map_title(city.name, city.generated, lang, title)

    fig = Figure(title=page_title)
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True, zoom_start=13)
    fig.add_child(m)
    fig.header.add_child(Element('<meta charset="utf-8">'), name="lc_charset")
    # an empty icon: the page asks for nothing it does not carry
    fig.header.add_child(Element('<link rel="icon" href="data:,">'), name="lc_icon")
    if BASEMAPS[basemap]:
        folium.TileLayer(BASEMAPS[basemap], name=basemap, control=False).add_to(m)

    legend: list[dict] = []
    rendering = _grid_layers(m, result, results, lang, max_vector_cells, classification, legend)
    _unit_layers(m, city, lang)
    if service_areas:
        _service_area_layers(m, result, results, lang)
    _cluster_layers(m, result, results, lang, legend)
    clusters = _facility_layers(m, result, results, lang, legend)
    _extra_layers(m, extra_layers, city.crs, legend)

    fullscreen = Fullscreen(position="topright")
    measure = MeasureControl(position="topright", primary_length_unit="meters", secondary_length_unit="kilometers",
                             primary_area_unit="sqmeters", secondary_area_unit="hectares")
    for ctl in (fullscreen, measure):
        ctl.add_to(m)
    # Collapsed: with a layer per standard, rule and service area the open list
    # would cover most of the map; it opens on hover or tap.
    folium.LayerControl(collapsed=True).add_to(m)
    if city.attribution:
        m.add_child(_Attribution(city.attribution))

    w, s, e, n = gpd.GeoSeries([shapely.box(*city.cells.total_bounds)], crs=city.crs).to_crs(WGS84).total_bounds
    m.fit_bounds([[s, w], [n, e]])

    note = text("raster_note", lang, n=len(city.cells)) if rendering == "image" else ""
    meta = {
        "title": page_title,
        "lang": lang,
        "city": city.name,
        "generated": bool(city.generated),
        "basemap": basemap,
        "rendering": rendering,
        "standards": [sr.standard.id for sr in results],
        "legend": legend,
    }
    fig.header.add_child(Element(f"<style>{_CSS}</style>"), name="lc_css")
    fig.html.add_child(Element(f'<div class="lc-title" id="lc-title">{escape(page_title)}</div>'), name="lc_title")
    fig.html.add_child(Element(_legend_html(legend, lang, note)), name="lc_legend")
    meta_json = json.dumps(meta, ensure_ascii=False).replace("</", "<\\/")
    fig.html.add_child(Element(f'<script type="application/json" id="lc-map-meta">{meta_json}</script>'), name="lc_meta")

    inline_libraries(m, [fullscreen, measure, *clusters], ["leaflet", "markercluster", "fullscreen", "measure"])
    out = Path(path)
    write_atomic(out, fig.render())
    return out
