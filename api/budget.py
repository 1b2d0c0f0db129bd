"""Sizing work before it starts, so that a request that would not fit the memory budget is refused up front.

Every estimate is an upper-bound style figure from sizes known before anything
is built: candidate sites (given, or street length / spacing), cells within
a standard's reach of a site (the cells' density times the reach's disc; a
walk of ``d`` metres never leaves the disc of radius ``d``), cells x
standards of a coverage run. The byte costs per unit are the measured order of
the sparse structures built from them (row and column indices, a distance,
and the solver model's share). The running job is also watched
(:func:`api.workers.run_in_child`), so an estimate that is too low still
cannot take the machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from api.problems import ApiProblem
from layers.city import City
from scenarios.standards import Standard

__all__ = ["Estimate", "check_budget", "coverage_estimate", "siting_estimate"]

BYTES_PER_PAIR = 64
"""A candidate-cell pair within reach: indices, distance, and the heuristic's working copies."""

MILP_BYTES_PER_PAIR = 200
"""Extra per pair when the exact solver models one variable and constraint per pair (p-median, capacitated, attendance)."""

BYTES_PER_CELL_STANDARD = 400
"""A cell evaluated for one standard: distances, nearest facility, the result frame's columns."""


@dataclass(frozen=True)
class Estimate:
    """The size of a job, before it runs."""

    what: str  # "candidate-cell pairs within reach", ...
    units: int
    bytes: int


def _reach_disc_cells(city: City, reach_m: float) -> float:
    x0, y0, x1, y1 = city.network.bounds()
    area = max((x1 - x0) * (y1 - y0), 1.0)
    return len(city.cells) * min(1.0, math.pi * reach_m * reach_m / area)


def siting_estimate(city: City, standard: Standard, problem: str, solver: str, n_candidates: int | None, spacing_m: float) -> Estimate:
    """Candidate-cell pairs within the standard's reach, and their bytes.

    ``n_candidates`` of ``None`` means generated candidates: one per
    ``spacing_m`` of street.
    """
    n_cand = n_candidates if n_candidates is not None else max(1, int(city.network.total_length_m / spacing_m))
    pairs = int(n_cand * _reach_disc_cells(city, standard.threshold_m))
    per_pair = BYTES_PER_PAIR
    if problem in ("p-median", "capacitated", "attendance") and solver != "greedy":
        per_pair += MILP_BYTES_PER_PAIR
    return Estimate("candidate-cell pairs within reach", pairs, pairs * per_pair)


def coverage_estimate(n_cells: int, n_standards: int) -> Estimate:
    """Cells x standards of a coverage run, and their bytes."""
    units = n_cells * n_standards
    return Estimate("cells x standards", units, units * BYTES_PER_CELL_STANDARD)


def check_budget(estimate: Estimate, budget_mb: float, field: str = "body") -> None:
    """Refuse (422) work whose estimate passes the memory budget, naming the limit and the figure."""
    if estimate.bytes > budget_mb * 1e6:
        raise ApiProblem(
            422,
            f"this request needs about {estimate.bytes / 1e6:,.0f} MB ({estimate.units:,} {estimate.what}), "
            f"above the memory budget of {budget_mb:,.0f} MB per job (limits.job_memory_mb); "
            "ask for less (fewer candidates, a larger spacing, a shorter reach, the greedy solver)",
            errors=[{"field": field, "message": f"about {estimate.bytes / 1e6:,.0f} MB needed, {budget_mb:,.0f} MB allowed"}],
        )
