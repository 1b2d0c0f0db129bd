"""Siting for whole life circles: where ``p`` new facilities of any required kinds complete the most circles.

Thin: the candidate sites and their reach matrices come from
:mod:`scenarios.siting_candidates` (one per required standard), the exact model from
:mod:`geo.siting.circles`.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.crs import to_wgs84
from geo.siting.circles import CircleSiting, complete_circles
from layers.city import City
from scenarios.completeness import CircleCompleteness, completeness, evaluate_circles
from scenarios.siting_candidates import build_candidates, candidate_distances
from scenarios.standards import catalogue

__all__ = ["CircleSitingResult", "site_circles"]


@dataclass(eq=False)
class CircleSitingResult:
    """New sites per kind and the circles they complete."""

    before: CircleCompleteness
    solution: CircleSiting
    sites: pd.DataFrame

    def summary(self) -> dict:
        """Residents with a complete circle before and after, and the sites' count."""
        pop = self.before.population
        before = float(pop[self.before.complete].sum())
        return {"circle": self.before.circle.id, "p": len(self.sites), "population": float(pop.sum()),
                "complete_before": before, "complete_after": before + self.solution.objective,
                "newly_complete": self.solution.objective, "status": self.solution.status}


def site_circles(city: City, circle_id: str, p: int, candidates: gpd.GeoDataFrame | None = None,
                 spacing_m: float = 200.0, progress=None) -> CircleSitingResult:
    """Choose ``p`` new facilities (any of the circle's required types) completing the most residents' circles.

    Parameters
    ----------
    city : City
    circle_id : str
        A circle of the active catalogue (``15min``, ...).
    p : int
        New facilities to place.
    candidates : geopandas.GeoDataFrame, optional
        The planner's candidate sites (default: points along the streets every ``spacing_m``).
    spacing_m : float
    progress : callable, optional

    Returns
    -------
    CircleSitingResult
    """
    result, circles = evaluate_circles(city, [circle_id], progress=progress)
    comp = completeness(result, circles)[circle_id]
    stds = catalogue()
    cover, cands = [], []
    for sid in comp.circle.standards:
        std = stds[sid]
        c = build_candidates(city, std, candidates, spacing_m)
        mat, _ = candidate_distances(city, std, c, np.zeros(0, dtype=np.int64), progress)
        cover.append(mat.astype(bool))
        cands.append(c)
    sol = complete_circles(cover, comp.met, comp.population, p)
    rows = []
    for j, t in sol.chosen:
        std, c = stds[comp.circle.standards[t]], cands[t]
        lon, lat = to_wgs84([c.x[j]], [c.y[j]], city.crs)
        rows.append({"candidate": str(c.ids[j]), "standard": std.id, "kind": std.kinds[0], "x": float(c.x[j]),
                     "y": float(c.y[j]), "lon": float(lon[0]), "lat": float(lat[0])})
    return CircleSitingResult(comp, sol, pd.DataFrame(rows, columns=["candidate", "standard", "kind", "x", "y", "lon", "lat"]))
