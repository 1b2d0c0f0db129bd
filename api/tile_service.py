"""Rendering and keeping XYZ PNG tiles of cells, for the run tiles (:mod:`api.routes.tiles`) and the workbench's.

Standard Web Mercator tiles (256 px, y down). Cells are coloured by a
result: covered / not covered (``mode=covered``), walk-time bands
(``mode=bands``) or E2SFCA accessibility (``mode=access``), with the colours
of the HTML maps. Colourings and tiles are kept under a key naming the
result's content (a run's results never change; a scenario's are named by
version); the cell index of a city is built once. The tile path parameters
and responses the tile routes share are here too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from fastapi import Path, Query, Response

from api.problems import ApiProblem
from api.registry import LruRegistry
from api.security import app_singleton
from api.state import AppState
from maps.tiles import CellTiler, tile_colours
from scenarios.evaluate import StandardResult
from scenarios.ratio_standards import AccessResult

__all__ = ["MAX_ZOOM", "ModeQ", "TileService", "X", "Y", "Z", "check_tile", "tile_response", "tile_service"]

TILES_KEPT = 4096  # rendered tiles kept in memory (about 2-20 kB each)
CLASSES_KEPT = 16  # per-cell colour classes kept (8 bytes a cell each)
MAX_ZOOM = 22

ModeQ = Query("covered", description="covered: covered / not covered; bands: the standard's walk-time bands.")
Z = Path(ge=0, le=MAX_ZOOM, description="Zoom level.")
# one Path per parameter: FastAPI names a shared one after the first parameter it serves
X = Path(ge=0, le=2**MAX_ZOOM - 1, description="Tile column.")
Y = Path(ge=0, le=2**MAX_ZOOM - 1, description="Tile row (XYZ, y down).")


class TileService:
    """Cell indexes per city and rendered tiles, for one app."""

    def __init__(self, state: AppState):
        self.state = state
        self._lock = threading.Lock()
        self._tilers: dict[int, tuple[object, CellTiler]] = {}
        self._tiles: LruRegistry[tuple, bytes] = LruRegistry(TILES_KEPT)
        self._classes: LruRegistry[tuple, tuple[np.ndarray, np.ndarray]] = LruRegistry(CLASSES_KEPT)

    def tiler(self, city) -> CellTiler:
        """The cell index of ``city`` (built on first use, kept while the city lives)."""
        with self._lock:
            kept = self._tilers.get(id(city))
            if kept is not None and kept[0] is city:
                return kept[1]
        tiler = CellTiler.from_city(city)
        with self._lock:
            if len(self._tilers) > 32:  # runs on uploaded grids come and go
                self._tilers.clear()
            self._tilers[id(city)] = (city, tiler)
        return tiler

    def cached(self, key: tuple, mode: str, z: int, x: int, y: int) -> bytes | None:
        """The PNG of a tile rendered before, or ``None``."""
        return self._tiles.get((*key, mode, z, x, y))

    def colours(self, key: tuple, mode: str, result: Callable[[], StandardResult | AccessResult]) -> tuple[np.ndarray, np.ndarray]:
        """Per-cell class and class colours of a result (``result`` is called only when not cached).

        Parameters
        ----------
        key : tuple
            Names the result's content (a run and standard, a scenario version and standard).
        mode : {"covered", "bands", "access"}
        result : callable
            Gives the :class:`StandardResult` (an :class:`AccessResult` for ``access``).
        """
        return self._classes.get_or_make((*key, mode), lambda: tile_colours(result(), mode))

    def changed_tiles(self, city, old: tuple, new: tuple, mode: str, z: int) -> np.ndarray | None:
        """``(k, 2)`` ``(x, y)`` of the zoom-``z`` tiles whose colours differ between two kept colourings.

        ``old`` and ``new`` are keys of :meth:`colours` of one result in two
        versions (same classes, same colours); ``None`` when either is no
        longer kept (the caller then redraws every tile).
        """
        before, after = self._classes.get((*old, mode)), self._classes.get((*new, mode))
        if before is None or after is None or len(before[0]) != len(after[0]):
            return None
        return self.tiler(city).tiles_of(np.flatnonzero(before[0] != after[0]), z)

    def render(self, key: tuple, city, colours: tuple[np.ndarray, np.ndarray], mode: str, z: int, x: int, y: int) -> bytes:
        """Render tile ``z/x/y`` of ``city``'s cells in ``colours`` and keep it under ``key``."""
        png = self.tiler(city).render(z, x, y, *colours)
        self._tiles.put((*key, mode, z, x, y), png)
        return png


tile_service = app_singleton("lifecircle_tiles", TileService)
"""Dependency: the :class:`TileService` of the app serving the request."""


def check_tile(z: int, x: int, y: int) -> None:
    """422 when ``x``/``y`` lie outside zoom level ``z``."""
    n = 1 << z
    if x >= n or y >= n:
        raise ApiProblem(422, f"tile {z}/{x}/{y} does not exist: at zoom {z}, x and y run from 0 to {n - 1}",
                         errors=[{"field": "path.x" if x >= n else "path.y", "message": f"at most {n - 1}"}])


def tile_response(png: bytes, cache: str) -> Response:
    """A PNG response with ``Cache-Control`` (``immutable`` for content that never changes)."""
    return Response(png, media_type="image/png", headers={"Cache-Control": cache})
