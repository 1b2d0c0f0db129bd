"""The HTTP routes, one module per resource, each with one :class:`fastapi.APIRouter` named ``router``.

:data:`api.app.ROUTERS` mounts them. A route module imports no other route
module: what several share lives outside this package (answering with a job
in :mod:`api.job_responses`, points in :mod:`api.coords`, the scenario
service in :mod:`api.scenario_service`, shared schemas in :mod:`api.schemas`).
A resource's own request and response schemas sit beside its routes.
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
)

__all__ = ["catalogue", "coverage", "jobs", "layers", "meta", "ogc", "ratios", "reach", "scenarios", "service_areas", "siting", "tiles"]
