"""The HTTP routes, one module per resource, each with one :class:`fastapi.APIRouter` named ``router``.

:data:`api.app.ROUTERS` mounts them. A route module imports no other route
module: what several share lives outside this package (answering with a job
in :mod:`api.job_responses`, points in :mod:`api.coords`, GeoJSON pages in
:mod:`api.geojson_pages`, the scenario service in :mod:`api.scenario_service`,
siting jobs in :mod:`api.siting_jobs`, tile drawing in :mod:`api.tile_service`,
the workbench's live scenarios and kept views in :mod:`api.workbench_views`,
shared schemas in :mod:`api.schemas`). A resource's own request and response
schemas sit beside its routes. The workbench (``/workbench``) is three
resources: the city and a scenario's live state and tiles (``workbench``),
ratio rules, gaps and deltas per unit (``workbench_layers``), siting and
exports (``workbench_actions``).
"""

from api.routes import (
    catalogue,
    coverage,
    jobs,
    layers,
    meta,
    ogc,
    ratios,
    reach,
    scenarios,
    service_areas,
    siting,
    tiles,
    workbench,
    workbench_actions,
    workbench_layers,
)

__all__ = ["catalogue", "coverage", "jobs", "layers", "meta", "ogc", "ratios", "reach", "scenarios", "service_areas", "siting", "tiles",
           "workbench", "workbench_actions", "workbench_layers"]
