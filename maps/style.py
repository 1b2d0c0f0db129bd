"""Colours, icons and line styles shared by the HTML maps and print exports."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex, to_rgba

from layers.kinds import active_kinds

__all__ = [
    "KIND_STYLE",
    "CLUSTER_COLOUR",
    "UNIT_COLOUR",
    "population_colours",
    "class_colours",
    "kind_style",
    "kind_svg",
    "rgba_bytes",
]

# Per facility kind: a colour and an SVG glyph (white, drawn on a coloured
# disc, in a 24 x 24 box). Drawn by hand so maps need no icon font.
KIND_STYLE: dict[str, dict[str, str]] = {
    "service_centre": {"colour": "#1f4e9c", "marker": "s", "glyph": "M6 12 L12 6 L18 12 L16 12 L16 18 L8 18 L8 12 Z"},
    "service_station": {"colour": "#6a3d9a", "marker": "D", "glyph": "M8 7 L8 18 L10 18 L10 13 L17 13 L15 10 L17 7 Z"},
    "health_centre": {"colour": "#c62828", "marker": "P", "glyph": "M10 5 H14 V10 H19 V14 H14 V19 H10 V14 H5 V10 H10 Z"},
    "health_station": {"colour": "#ef6c00", "marker": "o", "glyph": "M11 7 H13 V11 H17 V13 H13 V17 H11 V13 H7 V11 H11 Z"},
    "elderly_care": {"colour": "#2e7d32", "marker": "^", "glyph": "M12 18 L6 12 A3 3 0 0 1 12 8 A3 3 0 0 1 18 12 Z"},
}
_FALLBACK_KIND = {"colour": "#555555", "marker": "o", "glyph": "M9 9 H15 V15 H9 Z"}

CLUSTER_COLOUR = "#b2182b"
UNIT_COLOUR = "#404040"

# Covered / not covered, and walk-time bands from best to worst.
_COVERED = "#1a9850"
_UNCOVERED = "#d73027"
_BANDS_CMAP = "RdYlGn_r"
_POPULATION_CMAP = "YlOrBr"


def kind_style(kind: str) -> dict[str, str]:
    """Colour, matplotlib marker and SVG glyph of a facility kind.

    The active catalogue's colour and symbol win (a planner's ``park``); the
    hand-drawn glyph is kept for the seeds' kinds.
    """
    base = KIND_STYLE.get(kind, _FALLBACK_KIND)
    spec = active_kinds().get(kind)
    if spec is None:
        return base
    return {**base, "colour": spec.colour, "marker": spec.symbol}


def kind_svg(kind: str, size: int = 24) -> str:
    """An inline SVG icon for a facility kind: a white glyph on a coloured disc."""
    st = kind_style(kind)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 24 24">'
        f'<circle cx="12" cy="12" r="11" fill="{st["colour"]}" stroke="#ffffff" stroke-width="1.5"/>'
        f'<path d="{st["glyph"]}" fill="#ffffff"/></svg>'
    )


def population_colours(k: int) -> list[str]:
    """``k`` sequential colours, light to dark, for population classes."""
    cmap = colormaps[_POPULATION_CMAP]
    return [to_hex(cmap(v)) for v in np.linspace(0.15, 0.95, max(k, 1))]


def class_colours(n_bands: int) -> list[str]:
    """Colours of a standard's classes: covered / not covered, or ``n_bands`` walk-time bands."""
    if n_bands <= 0:
        return [_COVERED, _UNCOVERED]
    if n_bands == 3:  # the common 15 / 30 minute case: green, amber, red
        return [_COVERED, "#fdae61", _UNCOVERED]
    cmap = colormaps[_BANDS_CMAP]
    return [to_hex(cmap(v)) for v in np.linspace(0.1, 0.9, n_bands)]


def rgba_bytes(colours: list[str], alpha: float = 1.0) -> np.ndarray:
    """``(k, 4)`` uint8 RGBA of hex colours with a common opacity."""
    arr = np.array([to_rgba(c, alpha) for c in colours], dtype=np.float64)
    return np.round(arr * 255).astype(np.uint8)
