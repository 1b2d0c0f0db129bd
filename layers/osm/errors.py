"""The error every OpenStreetMap reader raises for a file it cannot use."""

from __future__ import annotations

from layers.errors import LayerError

__all__ = ["OsmError"]


class OsmError(LayerError):
    """An OpenStreetMap file that cannot be read or yields nothing usable."""
