"""A map layer of the cells a planner should look at before trusting a result.

Cells whose walk to the nearest facility is more than three times the
straight line, cells far from any street, and cells on network pieces with
no facility of a standard's kinds (from :mod:`scenarios.diagnostics`). Only
flagged cells are drawn, worst first, so the layer stays light at city scale.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from maps.cell_layers import collection, wgs84
from maps.labels import check_lang

__all__ = ["DIAGNOSTIC_COLOURS", "MAX_FLAGGED_CELLS", "diagnostics_layer"]

MAX_FLAGGED_CELLS = 20_000
"""At most this many flagged cells are drawn (the most populated first); the legend says when more exist."""

DIAGNOSTIC_COLOURS = {"detour": "#d95f02", "far": "#7570b3", "unreachable": "#222222"}

_LABELS = {
    "layer": {"en": "Check before trusting: detours, far from streets", "zh": "结果可信度检查：绕行、远离道路"},
    "detour": {"en": "Walk > {flag:g}x the straight line", "zh": "步行距离超过直线距离{flag:g}倍"},
    "far": {"en": "More than {far:g} m from a street", "zh": "距道路超过{far:g}米"},
    "unreachable": {"en": "No street within {snap:g} m (unreachable)", "zh": "{snap:g}米内无道路（不可达）"},
    "reason": {"en": "Reason", "zh": "原因"},
    "detour_value": {"en": "Worst detour ratio", "zh": "最大绕行系数"},
    "street_m": {"en": "Distance to street (m)", "zh": "距道路（米）"},
    "population": {"en": "Residents", "zh": "人口"},
    "note": {"en": "{shown:,} of {flagged:,} flagged cells drawn", "zh": "共{flagged:,}个需检查网格，显示{shown:,}个"},
}


def _t(key: str, lang: str, **values) -> str:
    return _LABELS[key][lang].format(**values)


def diagnostics_layer(
    cells: gpd.GeoDataFrame, *, flag: float, far_m: float, max_snap_m: float, lang: str = "en", show: bool = False
) -> folium.FeatureGroup | None:
    """The flagged cells as one folium layer with its legend section.

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        From :func:`scenarios.diagnostics.diagnostic_cells`.
    flag : float
        Detour ratio above which a cell is flagged.
    far_m, max_snap_m : float
        The distances behind ``far_from_street`` and ``piece == -1``.
    lang : {"en", "zh"}
    show : bool
        Whether the layer is on when the map opens.

    Returns
    -------
    folium.FeatureGroup or None
        None when no cell is flagged.
    """
    check_lang(lang)
    detour_cols = [c for c in cells.columns if c.endswith("_detour")]
    worst = cells[detour_cols].max(axis=1, skipna=True).to_numpy() if detour_cols else np.full(len(cells), np.nan)
    unreachable = cells["piece"].to_numpy() < 0
    far = cells["far_from_street"].to_numpy(dtype=bool) & ~unreachable
    detour = np.nan_to_num(worst, nan=0.0) > flag
    reason = np.select([unreachable, far, detour], ["unreachable", "far", "detour"], default="")
    flagged = np.flatnonzero(reason != "")
    if flagged.size == 0:
        return None
    order = flagged[np.argsort(-cells["population"].to_numpy()[flagged], kind="stable")][:MAX_FLAGGED_CELLS]
    labels = {
        "detour": _t("detour", lang, flag=flag),
        "far": _t("far", lang, far=far_m),
        "unreachable": _t("unreachable", lang, snap=max_snap_m),
    }
    props = pd.DataFrame({
        "key": reason[order],
        "reason": [labels[k] for k in reason[order]],
        "detour": [f"{v:.2f}" if np.isfinite(v) else "" for v in worst[order]],
        "street_m": [f"{v:,.0f}" if np.isfinite(v) else "" for v in cells["street_m"].to_numpy()[order]],
        "population": [f"{v:,.0f}" for v in cells["population"].to_numpy()[order]],
    })
    group = folium.FeatureGroup(name=_t("layer", lang), show=show)
    folium.GeoJson(
        collection(wgs84(cells.geometry.values[order], cells.crs), props),
        style_function=lambda f: {"fillColor": DIAGNOSTIC_COLOURS[f["properties"]["key"]], "color": "none",
                                  "fillOpacity": 0.7},
        tooltip=folium.GeoJsonTooltip(
            fields=["reason", "detour", "street_m", "population"],
            aliases=[_t(k, lang) for k in ("reason", "detour_value", "street_m", "population")],
        ),
        control=False,
    ).add_to(group)
    counts = pd.Series(reason[flagged]).value_counts()
    group.lc_legend = {
        "layer": _t("layer", lang),
        "shown": show,
        "entries": [{"label": labels[k], "colour": DIAGNOSTIC_COLOURS[k], "total": int(counts.get(k, 0))}
                    for k in DIAGNOSTIC_COLOURS if counts.get(k, 0)],
        "note": _t("note", lang, shown=len(order), flagged=flagged.size),
    }
    return group
