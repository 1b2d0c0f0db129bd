"""Errors raised by the map and export functions."""

from __future__ import annotations

from geo.errors import LifecircleError

__all__ = ["MapError", "FontError"]


class MapError(LifecircleError):
    """Bad map or export options (unknown language, basemap, paper, standard...)."""


class FontError(MapError):
    """No font can draw the requested labels (e.g. Chinese without a CJK font)."""
