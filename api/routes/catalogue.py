"""``GET /catalogue``: the catalogue the served city was built with (read-only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends

from api.problems import ERROR_RESPONSES
from api.security import get_state, require_read
from api.state import AppState

__all__ = ["router", "city_catalogue"]

router = APIRouter(tags=["Service"], responses=ERROR_RESPONSES)


def city_catalogue(state: AppState):
    """The city folder's ``catalogue.toml`` when it has one, else the active catalogue."""
    from scenarios.catalogue import active_catalogue, load_catalogue

    folder = state.city.meta.get("folder")
    path = Path(folder) / "catalogue.toml" if folder else None
    return load_catalogue(path) if path is not None and path.is_file() else active_catalogue()


@router.get(
    "/catalogue",
    summary="Catalogue of kinds, standards and rules",
    description="The catalogue the served city was built with: facility kinds (labels, map symbol and colour, "
    "capacity fields, point or polygon), distance standards, ratio rules, accessibility standards, life circles, "
    "catchment and grid rules, each with its source clause. Read-only.",
    response_model=dict[str, Any],
    dependencies=[Depends(require_read)],
)
def get_catalogue(state: AppState = Depends(get_state)) -> dict[str, Any]:
    return city_catalogue(state).to_dict()
