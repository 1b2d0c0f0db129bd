"""XYZ PNG tiles of a coverage run's cells: ``/coverage/{run}/tiles/{standard}/{z}/{x}/{y}.png``.

Usable by QGIS ("XYZ Tiles" connection), the portal and the workbench; drawn
and kept by :class:`api.tile_service.TileService` (a run's results never
change, so its tiles are cached for good).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Response

from api.problems import ERROR_RESPONSES, ApiProblem
from api.security import get_state, require_read
from api.state import AppState
from api.tile_service import ModeQ, TileService, X, Y, Z, check_tile, tile_response, tile_service

__all__ = ["router"]

router = APIRouter(prefix="/coverage", tags=["Coverage"], responses=ERROR_RESPONSES)


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

