"""Pieces shared by the interactive maps: cells drawn once as GeoJSON or as images.

:mod:`maps.interactive`, :mod:`maps.ratio_layers` and :mod:`maps.compare` all put
per-cell layers and GeoJSON overlays on a folium map; the helpers they share
live here rather than as private names of one of them.
"""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template

from geo.crs import WGS84
from maps.content import Classes
from maps.raster import CellRaster, class_png, png_data_uri
from maps.style import rgba_bytes

__all__ = ["FILL_OPACITY", "MERCATOR", "CellLayers", "cells_document", "collection", "image_layer", "wgs84"]

FILL_OPACITY = 0.7
"""Opacity of filled cell layers."""

MERCATOR = "EPSG:3857"
"""The web map's projection, in which cell images are drawn."""


def wgs84(geoms, crs, simplify_m: float = 0.0) -> np.ndarray:
    """Geometries in WGS84, optionally simplified first (in metres), rounded to ~0.1 m.

    Parameters
    ----------
    geoms : array_like of shapely geometries
    crs : pyproj.CRS or str
        Their CRS.
    simplify_m : float, default 0
        Douglas-Peucker tolerance in metres (topology preserved); 0 keeps every vertex.

    Returns
    -------
    numpy.ndarray of shapely geometries
    """
    geoms = np.asarray(geoms, dtype=object)
    if simplify_m > 0:
        geoms = shapely.simplify(geoms, simplify_m, preserve_topology=True)
    out = gpd.GeoSeries(geoms, crs=crs).to_crs(WGS84).values
    # six decimals of a degree is ~0.1 m: plenty for a map, halves the JSON
    return shapely.transform(np.asarray(out, dtype=object), lambda c: np.round(c, 6))


def collection(geoms: np.ndarray, props: pd.DataFrame) -> dict:
    """A GeoJSON FeatureCollection dict (feature ids 0..n-1, needed for styling).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
        In WGS84 (see :func:`wgs84`).
    props : pandas.DataFrame
        One row of properties per geometry.

    Returns
    -------
    dict
    """
    frame = gpd.GeoDataFrame(props.reset_index(drop=True), geometry=list(geoms), crs=WGS84)
    return frame.to_geo_dict(drop_id=False)


class CellLayers(MacroElement):
    """Per-cell polygon layers that share one copy of the cells.

    folium's GeoJson would embed every cell's geometry and details once per
    layer; here the cells are one GeoJSON document (``#lc-cells``) and each
    layer is only a class per cell, built in the browser when first shown.
    """

    _template = Template(
        """{% macro html(this, kwargs) %}{% if this.doc %}<script type="application/json" id="{{ this.doc_id }}">{{ this.doc }}</script>{% endif %}{% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var cells = JSON.parse(document.getElementById({{ this.doc_id|tojson }}).textContent);
            var specs = {{ this.specs|tojson }};
            var groups = [{% for g in this.groups %}{{ g.get_name() }}{{ "," if not loop.last }}{% endfor %}];
            var renderer = L.canvas({padding: 0.5});
            function tooltip(props, spec, cls) {
                var rows = spec.fields.map(function (f, i) {
                    return "<tr><th>" + spec.aliases[i] + "</th><td>" + props[f] + "</td></tr>";
                });
                return "<table>" + rows.join("") + "</table><b>" + spec.labels[cls] + "</b>";
            }
            specs.forEach(function (spec, k) {
                var group = groups[k];
                function build() {
                    L.geoJSON(cells, {
                        renderer: renderer,
                        filter: function (f) { return spec.cls[f.id] >= 0; },
                        style: function (f) {
                            var c = spec.colours[spec.cls[f.id]];
                            return {fillColor: c, color: c, weight: 0.3, fillOpacity: {{ this.opacity }}};
                        },
                        onEachFeature: function (f, layer) {
                            layer.bindTooltip(function () { return tooltip(f.properties, spec, spec.cls[f.id]); });
                        }
                    }).addTo(group);
                }
                if (map.hasLayer(group)) { build(); } else { group.once("add", build); }
            });
        })();
        {% endmacro %}"""
    )

    def __init__(self, groups: list, specs: list[dict], opacity: float = FILL_OPACITY, doc_id: str = "lc-cells",
                 doc: str | None = None):
        super().__init__()
        self._name = "CellLayers"
        self.groups = groups
        self.specs = specs
        self.opacity = opacity
        # another set of cell layers (e.g. maps.ratio_layers) may carry its own document
        self.doc_id = doc_id
        self.doc = doc


def cells_document(geoms: np.ndarray, details: pd.DataFrame) -> str:
    """The cells as a GeoJSON FeatureCollection (ids are cell positions), safe inside <script>."""
    doc = collection(geoms, details)
    for f in doc["features"]:
        f["id"] = int(f["id"])
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def image_layer(group: folium.FeatureGroup, raster: CellRaster, classes: Classes, latlon_bounds) -> None:
    """Add one cell layer to ``group`` as a palette PNG over ``latlon_bounds``."""
    png = class_png(raster, classes.cell_class, rgba_bytes(classes.colours))
    folium.raster_layers.ImageOverlay(
        image=png_data_uri(png), bounds=latlon_bounds, opacity=FILL_OPACITY, pixelated=True, control=False
    ).add_to(group)
