"""Print-ready maps for reports: PNG (300 dpi), vector PDF and SVG (matplotlib).

One page per export: title, the map of one standard (walk-time bands or
covered / not covered, the qualifying facilities, the largest gaps,
administrative units), legend, scale bar, north arrow, data credit, a
caption with the standard and its source clause, and the summary table of
every standard beside the map. Text stays text in PDF (TrueType, Type 42)
and SVG, so it can be searched, copied and edited.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from layers.atomic import atomic_path
from maps.content import Classes, select_standards, standard_classes
from maps.errors import MapError
from maps.fonts import find_cjk_font, resolve_font
from maps.interactive import VECTOR_MAX_CELLS
from maps.labels import check_lang, kind_text, map_title, text
from maps.raster import class_rgba, rasterize_cells
from maps.ratio_layers import draw_ratio_table
from maps.style import CLUSTER_COLOUR, UNIT_COLOUR, kind_style, rgba_bytes
from maps.tables import summary_table
from scenarios.evaluate import CoverageResult, StandardResult
from scenarios.ratio_standards import RatioReport

__all__ = ["export_map", "PAPERS", "FORMATS"]

PAPERS = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
"""Paper sizes, portrait, in millimetres."""

FORMATS = ("png", "pdf", "svg")
_MM_PER_INCH = 25.4
_FILL_ALPHA = 0.85

# Figure-fraction boxes [left, bottom, width, height] of the page parts.
_LAYOUT = {
    "portrait": {
        "map": [0.06, 0.37, 0.88, 0.55],
        "legend": [0.06, 0.215, 0.88, 0.145],
        "table": [0.06, 0.075, 0.88, 0.13],
        "title_y": 0.975,
        "caption_y": 0.045,
        "wrap": 110,
    },
    "landscape": {
        "map": [0.03, 0.10, 0.58, 0.80],
        "legend": [0.64, 0.52, 0.34, 0.38],
        "table": [0.64, 0.16, 0.34, 0.33],
        "title_y": 0.965,
        "caption_y": 0.055,
        "wrap": 150,
    },
}

# With a RatioReport the page makes room for the ratio table below the coverage table.
_RATIO_LAYOUT = {
    "portrait": {
        "map": [0.06, 0.535, 0.88, 0.40],
        "legend": [0.06, 0.44, 0.88, 0.09],
        "table": [0.06, 0.325, 0.88, 0.10],
        "ratios": [0.06, 0.065, 0.88, 0.20],
    },
    "landscape": {
        "map": [0.03, 0.10, 0.50, 0.80],
        "legend": [0.56, 0.68, 0.42, 0.23],
        "table": [0.56, 0.47, 0.42, 0.18],
        "ratios": [0.56, 0.12, 0.42, 0.31],
    },
}


def _page_inches(paper: str, orientation: str, fmt: str, dpi: int) -> tuple[float, float]:
    if paper not in PAPERS:
        raise MapError(f"paper={paper!r} is not known; use one of {', '.join(PAPERS)}")
    if orientation not in _LAYOUT:
        raise MapError(f"orientation={orientation!r} is not known; use portrait or landscape")
    w, h = PAPERS[paper]
    if orientation == "landscape":
        w, h = h, w
    w_in, h_in = w / _MM_PER_INCH, h / _MM_PER_INCH
    if fmt == "png":
        # whole pixels: A4 at 300 dpi is exactly 2480 x 3508, as printers expect;
        # the nudge keeps matplotlib's truncation from losing the last pixel
        w_in = (round(w_in * dpi) + 1e-3) / dpi
        h_in = (round(h_in * dpi) + 1e-3) / dpi
    return w_in, h_in


def _default_standard(result: CoverageResult) -> StandardResult:
    """The first standard with walk-time bands, else the first one."""
    results = list(result.results.values())
    if not results:
        raise MapError("the result holds no evaluated standard")
    return next((r for r in results if r.band is not None), results[0])


def _nice_length(span_m: float) -> float:
    """A round scale-bar length near a fifth of the map width."""
    target = span_m / 5
    base = 10 ** np.floor(np.log10(target))
    return float(max(m * base for m in (1, 2, 5) if m * base <= target))


def _draw_cells(ax, result: CoverageResult, classes: Classes, max_vector_cells: int) -> None:
    cells = result.city.cells
    drawn = classes.cell_class >= 0
    if len(cells) <= max_vector_cells:
        colours = np.asarray(classes.colours, dtype=object)[classes.cell_class[drawn]]
        cells.geometry[drawn].plot(ax=ax, color=list(colours), linewidth=0, alpha=_FILL_ALPHA)
        return
    raster = rasterize_cells(cells.geometry.values, result.city.crs)
    img = class_rgba(raster, classes.cell_class, rgba_bytes(classes.colours, _FILL_ALPHA))
    x0, y0, x1, y1 = raster.bounds
    ax.imshow(img, extent=(x0, x1, y0, y1), origin="upper", interpolation="nearest", zorder=1)


def _draw_map(ax, result: CoverageResult, sr: StandardResult, classes: Classes, lang: str, max_vector_cells: int,
              bbox: tuple[float, float, float, float] | None = None) -> list:
    """Draw the standard's map; returns legend handles for facilities and gaps."""
    city = result.city
    _draw_cells(ax, result, classes, max_vector_cells)
    for units in list(city.units.values())[:1]:
        units.boundary.plot(ax=ax, color=UNIT_COLOUR, linewidth=0.6, linestyle=(0, (4, 2)), zorder=3)
    handles = []
    if len(sr.clusters):
        sr.clusters.boundary.plot(ax=ax, color=CLUSTER_COLOUR, linewidth=1.4, linestyle=(0, (3, 2)), zorder=4)
        handles.append(Patch(facecolor="none", edgecolor=CLUSTER_COLOUR, linestyle="--", label=text("clusters", lang)))
    fac = city.facilities
    fx, fy = city.facility_xy
    for kind in sr.standard.kinds:
        pos = np.flatnonzero(fac["kind"].to_numpy() == kind)
        st = kind_style(kind)
        if pos.size:
            ax.scatter(fx[pos], fy[pos], s=70, marker=st["marker"], c=st["colour"], edgecolors="white", linewidths=0.8, zorder=5)
        handles.append(
            Line2D([], [], linestyle="none", marker=st["marker"], markersize=7, markerfacecolor=st["colour"],
                   markeredgecolor="white", label=f"{kind_text(kind, lang)} ({pos.size})")
        )
    x0, y0, x1, y1 = city.cells.total_bounds if bbox is None else bbox
    pad = 0.02 * max(x1 - x0, y1 - y0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")  # geopandas labels the axes with the CRS units: not wanted on a print map
    ax.set_ylabel("")
    length = _nice_length(x1 - x0)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.add_artist(AnchoredSizeBar(ax.transData, length, label, loc="lower right", pad=0.6, sep=4, frameon=True,
                                  size_vertical=(y1 - y0) * 0.006))
    ax.annotate(text("north", lang), xy=(0.95, 0.95), xytext=(0.95, 0.85), xycoords="axes fraction",
                ha="center", va="center", fontsize=11, fontweight="bold",
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3, "headwidth": 10, "headlength": 10})
    return handles


def _draw_legend(ax, sr: StandardResult, classes: Classes, extra: list, lang: str, orientation: str) -> None:
    ax.axis("off")
    unit = text(f"weight_{sr.standard.weight}", lang)
    class_handles = [
        Patch(facecolor=c, alpha=_FILL_ALPHA, edgecolor="none", label=f"{lab} ({tot:,.0f} {unit})")
        for lab, c, tot in zip(classes.labels, classes.colours, classes.totals)
    ]
    if orientation == "portrait":
        first = ax.legend(handles=class_handles, loc="upper left", title=sr.standard.title(lang), fontsize=8,
                          title_fontsize=8.5, frameon=False, alignment="left")
        ax.add_artist(first)
        ax.legend(handles=extra, loc="upper right", title=text("facilities", lang), fontsize=8, title_fontsize=8.5,
                  frameon=False, alignment="left")
    else:
        ax.legend(handles=class_handles + extra, loc="upper left", title=sr.standard.title(lang), fontsize=8,
                  title_fontsize=8.5, frameon=False, alignment="left")


def _draw_table(ax, result: CoverageResult, lang: str, orientation: str) -> None:
    ax.axis("off")
    table = summary_table(result, lang)
    share_col = text("share", lang)
    keep = [text(k, lang) for k in ("standard", "covered_pop", "share", "uncovered_pop", "gaps")]
    table = table[keep]
    cells = []
    for _, row in table.iterrows():
        cells.append([
            "\n".join(textwrap.wrap(str(v), 22)) if c == keep[0] else
            ("–" if c == share_col and not np.isfinite(v) else f"{v:.1%}" if c == share_col else
             f"{v:,.0f}" if isinstance(v, (int, float, np.integer, np.floating)) else str(v))
            for c, v in row.items()
        ])
    ax.set_title(text("table_title", lang), fontsize=9, loc="left", fontweight="bold")
    tab = ax.table(cellText=cells, colLabels=keep, loc="upper center", cellLoc="left", colLoc="left",
                   colWidths=[0.34, 0.15, 0.13, 0.15, 0.23])
    tab.auto_set_font_size(False)
    tab.set_fontsize(7 if orientation == "portrait" else 6.5)
    tab.scale(1.0, 1.6)


def export_map(
    result: CoverageResult,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    paper: str = "A4",
    orientation: str = "portrait",
    dpi: int = 300,
    lang: str = "en",
    standard: str | None = None,
    font: str | os.PathLike | None = None,
    title: str | None = None,
    max_vector_cells: int = VECTOR_MAX_CELLS,
    ratios: RatioReport | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> Path:
    """Export a print-ready map page of one standard.

    Parameters
    ----------
    result : CoverageResult
    path : path-like
        Output file (parent folders are created).
    format : {"png", "pdf", "svg"}, optional
        Defaults to the suffix of ``path``.
    paper : {"A4", "A3"}
    orientation : {"portrait", "landscape"}
    dpi : int, default 300
        Resolution of PNG output (and of the cell image in PDF/SVG for grids
        above ``max_vector_cells``).
    lang : {"en", "zh"}
    standard : str, optional
        Standard id to map; defaults to the first standard with walk-time
        bands (the clinic walk), else the first evaluated.
    font : path-like, optional
        Font file for the labels (needed for Chinese when no CJK font is
        installed).
    title : str, optional
        Page title; generated cities are marked whatever the title.
    max_vector_cells : int
        Above this many cells the grid is drawn as an image.
    ratios : RatioReport, optional
        Adds the table of ratio rules (units failing, shortfall) and
        accessibility standards (served / under-served / out of reach) to the
        page (:func:`maps.ratio_layers.draw_ratio_table`).
    bbox : tuple of float, optional
        ``(xmin, ymin, xmax, ymax)`` in the city's CRS to frame (a view of the
        city); the whole city by default.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    MapError
        Unknown format, paper, orientation, language or standard.
    FontError
        ``lang="zh"`` without a CJK font, or an unreadable ``font``.
    """
    check_lang(lang)
    out = Path(path)
    fmt = (format or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise MapError(f"format={fmt!r} is not supported; use one of {', '.join(FORMATS)}")
    if not (isinstance(dpi, int) and 50 <= dpi <= 1200):
        raise MapError(f"dpi={dpi!r} must be a whole number between 50 and 1200")
    sr = select_standards(result, [standard])[0] if standard else _default_standard(result)
    family = resolve_font(lang, font)
    size = _page_inches(paper, orientation, fmt, dpi)
    layout = _LAYOUT[orientation] if ratios is None else {**_LAYOUT[orientation], **_RATIO_LAYOUT[orientation]}

    rc = {"pdf.fonttype": 42, "svg.fonttype": "none", "font.size": 8}
    # English labels can still carry Chinese names (a city called 福田区, facility names):
    # matplotlib falls back glyph by glyph along this list, so a CJK font follows when one is installed.
    cjk = find_cjk_font() if family is None else None
    if family or cjk:
        rc["font.family"] = [f for f in (family, "DejaVu Sans", cjk) if f]
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=size, dpi=dpi)
        city = result.city
        fig.text(0.5, layout["title_y"], map_title(city.name, city.generated, lang, title), ha="center", va="top",
                 fontsize=14, fontweight="bold")
        classes = standard_classes(sr, lang)
        ax = fig.add_axes(layout["map"])
        extra = _draw_map(ax, result, sr, classes, lang, max_vector_cells, bbox)
        _draw_legend(fig.add_axes(layout["legend"]), sr, classes, extra, lang, orientation)
        _draw_table(fig.add_axes(layout["table"]), result, lang, orientation)
        if ratios is not None:
            draw_ratio_table(fig.add_axes(layout["ratios"]), ratios, lang, fontsize=6 if orientation == "portrait" else 5.5)
        caption = text("caption", lang, title=sr.standard.title(lang), source=sr.standard.source)
        credit = f"{text('attribution', lang)}: {city.attribution}" if city.attribution else ""
        if city.generated:
            credit = f"{credit} — {text('generated', lang)}" if credit else text("generated", lang)
        fig.text(0.04, layout["caption_y"], "\n".join(textwrap.wrap(caption, layout["wrap"])), fontsize=7, va="top")
        fig.text(0.96, 0.012, credit, fontsize=6.5, ha="right", va="bottom", color="#444444")
        # atomic: the API serves an existing file, so it must never see half of one
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_metadata(fmt, city.name, sr))
    return out


def _metadata(fmt: str, city: str, sr: StandardResult) -> dict:
    if fmt == "pdf":
        return {"Title": f"{city}: {sr.standard.title_en}", "Creator": "lifecircle"}
    if fmt == "svg":
        return {"Title": f"{city}: {sr.standard.title_en}"}
    return {"Title": f"{city}: {sr.standard.title_en}", "Software": "lifecircle"}
