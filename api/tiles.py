"""XYZ PNG tiles of a coverage run's cells: ``/coverage/{run}/tiles/{standard}/{z}/{x}/{y}.png``.

Standard Web Mercator tiles (256 px, y down), usable by QGIS ("XYZ Tiles"
connection), the portal and the workbench. Cells are coloured by the
standard's result: covered / not covered (``mode=covered``) or walk-time
bands (``mode=bands``), with the colours of the HTML maps. Tiles are cached
per run (a run's results never change); the cell index of a city is built once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Response

from api.problems import ERROR_RESPONSES, ApiProblem
from api.security import app_singleton, get_state, require_read
from api.state import AppState
from maps.tiles import CellTiler, tile_colours
from scenarios.evaluate import StandardResult
from scenarios.ratio_standards import AccessResult

__all__ = ["TileService", "router", "tile_response", "tile_service"]

TILES_KEPT = 4096  # rendered tiles kept in memory (about 2-20 kB each)
CLASSES_KEPT = 16  # per-cell colour classes kept (8 bytes a cell each)
MAX_ZOOM = 22

router = APIRouter(prefix="/coverage", tags=["Coverage"], responses=ERROR_RESPONSES)

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
        self._tiles: OrderedDict[tuple, bytes] = OrderedDict()
        self._classes: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()

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
        with self._lock:
            png = self._tiles.get((*key, mode, z, x, y))
            if png is not None:
                self._tiles.move_to_end((*key, mode, z, x, y))
            return png

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
        with self._lock:
            kept = self._classes.get((*key, mode))
        if kept is None:
            kept = tile_colours(result(), mode)
            with self._lock:
                self._classes[(*key, mode)] = kept
                while len(self._classes) > CLASSES_KEPT:
                    self._classes.popitem(last=False)
        return kept

    def changed_tiles(self, city, old: tuple, new: tuple, mode: str, z: int) -> np.ndarray | None:
        """``(k, 2)`` ``(x, y)`` of the zoom-``z`` tiles whose colours differ between two kept colourings.

        ``old`` and ``new`` are keys of :meth:`colours` of one result in two
        versions (same classes, same colours); ``None`` when either is no
        longer kept (the caller then redraws every tile).
        """
        with self._lock:
            before, after = self._classes.get((*old, mode)), self._classes.get((*new, mode))
        if before is None or after is None or len(before[0]) != len(after[0]):
            return None
        return self.tiler(city).tiles_of(np.flatnonzero(before[0] != after[0]), z)

    def render(self, key: tuple, city, colours: tuple[np.ndarray, np.ndarray], mode: str, z: int, x: int, y: int) -> bytes:
        """Render tile ``z/x/y`` of ``city``'s cells in ``colours`` and keep it under ``key``."""
        png = self.tiler(city).render(z, x, y, *colours)
        with self._lock:
            self._tiles[(*key, mode, z, x, y)] = png
            while len(self._tiles) > TILES_KEPT:
                self._tiles.popitem(last=False)
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


@router.get(
    "/{run_id}/tiles/{standard}/{z}/{x}/{y}.png",
    name="run_tile",
    summary="Cells as map tiles (XYZ PNG)",
    description="A 256 px Web Mercator tile of the run's cells coloured by `standard`: covered (green) / not covered "
    "(red), or the walk-time bands with `mode=bands`. Add to QGIS as an XYZ Tiles connection with "
    "`.../tiles/clinic-walk/{z}/{x}/{y}.png`. Transparent where there are no cells.",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The tile"}},
    dependencies=[Depends(require_read)],
)
def run_tile(
    run_id: str = Path(max_length=64, description="Run id as returned by POST /coverage."),
    standard: str = Path(max_length=64, description="A standard of the run."),
    z: int = Z,
    x: int = X,
    y: int = Y,
    mode: Literal["covered", "bands"] = ModeQ,
    state: AppState = Depends(get_state),
    tiles: TileService = Depends(tile_service),
) -> Response:
    check_tile(z, x, y)
    run = state.runs.get(run_id)
    if run is None:
        raise ApiProblem(404, f"no coverage run with id '{run_id}' (it may have expired)")
    result = run.result.results.get(standard)
    if result is None:
        raise ApiProblem(404, f"run '{run_id}' has no standard '{standard}'; it has: {', '.join(run.result.results)}",
                         errors=[{"field": "path.standard", "message": "not in this run"}])
    key = ("run", run_id, standard)
    png = tiles.cached(key, mode, z, x, y)
    if png is None:
        png = tiles.render(key, run.result.city, tiles.colours(key, mode, lambda: result), mode, z, x, y)
    return tile_response(png, "public, max-age=86400, immutable")

