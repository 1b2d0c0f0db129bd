"""Map of life-circle completeness: cells by number of missing types, the missing list in the tooltip."""

from __future__ import annotations

from pathlib import Path

import folium
import geopandas as gpd

__all__ = ["completeness_layers", "completeness_map"]

# 0 missing is green; each further missing type a warmer colour
_COLOURS = ["#1a9850", "#fee08b", "#fdae61", "#f46d43", "#d73027", "#a50026"]


def completeness_layers(cells: gpd.GeoDataFrame, circles: list[str], lang: str = "en", show_all: bool = False) -> list:
    """One folium layer per circle: cells coloured by ``{circle}_missing_n``, the missing list in the tooltip.

    For :func:`completeness_map`, and for ``extra_layers`` of
    :func:`maps.interactive.coverage_map` (``lifecircle map`` when the catalogue has circles).
    Only the first circle's layer is shown when the map opens unless ``show_all``.
    """
    wgs = cells.to_crs(4326)
    layers = []
    for i, cid in enumerate(circles):
        p = cid.replace("-", "_")
        layer = wgs[[f"{p}_missing_n", f"{p}_missing", "population", wgs.geometry.name]].copy()
        layers.append(folium.GeoJson(
            layer,
            name=("缺项数：" if lang == "zh" else "missing types: ") + cid,
            show=show_all or i == 0,
            style_function=lambda f, p=p: {
                "fillColor": _COLOURS[min(int(f["properties"][f"{p}_missing_n"]), len(_COLOURS) - 1)],
                "color": "#555555", "weight": 0.3, "fillOpacity": 0.6},
            tooltip=folium.GeoJsonTooltip(fields=[f"{p}_missing_n", f"{p}_missing", "population"],
                                          aliases=(["缺项数", "缺少", "人口"] if lang == "zh"
                                                   else ["missing types", "missing", "residents"])),
        ))
    return layers


def completeness_map(cells: gpd.GeoDataFrame, circles: list[str], path: str | Path, lang: str = "en") -> Path:
    """Write an HTML map with one layer per circle (cells coloured by ``{circle}_missing_n``).

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        From :func:`scenarios.completeness.completeness_cells`.
    circles : list of str
        Circle ids whose columns to draw.
    path : str or pathlib.Path
    lang : {"en", "zh"}
    """
    wgs = cells.to_crs(4326)
    minx, miny, maxx, maxy = wgs.total_bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=14, tiles=None)
    for layer in completeness_layers(cells, circles, lang, show_all=True):
        layer.add_to(m)
    folium.LayerControl().add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    m.save(str(path))
    return path
