"""Errors raised by the map and export functions."""

from __future__ import annotations

__all__ = ["MapError", "FontError"]


class MapError(ValueError):
    """Bad map or export options (unknown language, basemap, paper, standard...)."""


class FontError(MapError):
    """No font can draw the requested labels (e.g. Chinese without a CJK font)."""
