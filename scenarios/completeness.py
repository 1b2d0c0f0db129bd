"""Completeness of life circles: which required facility types each cell reaches.

A :class:`scenarios.catalogue.Circle` lists the standards (one facility type
with its reach each) that a complete circle needs. On a
:class:`scenarios.evaluate.CoverageResult` holding those standards:

* per cell: which of a circle's standards are met, how many are missing and
  whether the circle is complete;
* per unit and for the city: the share of residents whose circle is
  complete, and the type missing most often, weighted by residents.

All circles are evaluated by one :func:`scenarios.evaluate.evaluate` call over
the union of their standards, so a kind shared by several standards is
snapped once and the per-cell work is shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.unit_ratios import assign_to_units
from layers.city import City
from scenarios.catalogue import Circle, active_catalogue
from scenarios.evaluate import CoverageResult, evaluate
from scenarios.standards import StandardError, catalogue

__all__ = ["CircleCompleteness", "circle_standards", "completeness", "completeness_cells", "completeness_summary",
           "evaluate_circles"]


@dataclass(eq=False)
class CircleCompleteness:
    """One circle on every cell.

    Attributes
    ----------
    circle : Circle
    met : numpy.ndarray of bool, shape (n_cells, n_standards)
        Whether the cell reaches each of ``circle.standards``.
    population : numpy.ndarray
        Residents per cell (the weight of every share).
    """

    circle: Circle
    met: np.ndarray
    population: np.ndarray

    @property
    def missing_count(self) -> np.ndarray:
        """Required types out of reach, per cell."""
        return (~self.met).sum(axis=1)

    @property
    def complete(self) -> np.ndarray:
        """Cells that reach every required type."""
        return self.met.all(axis=1)

    def missing_lists(self) -> list[str]:
        """Per cell, the missing standards' ids joined by ``;`` (empty when complete)."""
        names = np.array(self.circle.standards, dtype=object)
        return [";".join(names[~row]) for row in self.met]

    def missing_population(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Residents (of ``rows``, default all) lacking each required type."""
        met = self.met if rows is None else self.met[rows]
        pop = self.population if rows is None else self.population[rows]
        return pop @ (~met)


def circle_standards(circles: Sequence[Circle]) -> list[str]:
    """The standards the circles need, each once, in catalogue order."""
    wanted = {s for c in circles for s in c.standards}
    return [s for s in catalogue() if s in wanted]


def evaluate_circles(city: City, circle_ids: Sequence[str] | None = None, progress=None) -> tuple[CoverageResult, list[Circle]]:
    """Evaluate every standard the active catalogue's circles need, all at once (shared work).

    Raises
    ------
    StandardError
        When the catalogue has no circles, or an id is not one of them.
    """
    circles = active_catalogue().circles
    if not circles:
        raise StandardError(f"catalogue '{active_catalogue().id}' has no life circles; use --catalogue gb50180 or add [[circle]] entries")
    ids = list(circles) if circle_ids is None else list(circle_ids)
    bad = [c for c in ids if c not in circles]
    if bad:
        raise StandardError(f"unknown circle(s) {bad}; valid circles are {', '.join(circles)}")
    chosen = [circles[c] for c in ids]
    stds = catalogue()
    result = evaluate(city, [stds[s] for s in circle_standards(chosen)], progress=progress)
    return result, chosen


def completeness(result: CoverageResult, circles: Sequence[Circle]) -> dict[str, CircleCompleteness]:
    """Per circle, which required standards each cell meets.

    Parameters
    ----------
    result : CoverageResult
        Must hold every standard of ``circles``.
    circles : sequence of Circle

    Raises
    ------
    StandardError
        When a circle's standard was not evaluated.
    """
    pop = result.city.cells["population"].to_numpy(dtype=np.float64)
    out = {}
    for c in circles:
        missing = [s for s in c.standards if s not in result.results]
        if missing:
            raise StandardError(f"circle '{c.id}': standards {missing} were not evaluated")
        met = np.column_stack([result.results[s].covered for s in c.standards]) if c.standards else np.ones((len(pop), 0), bool)
        out[c.id] = CircleCompleteness(c, met, pop)
    return out


def completeness_cells(result: CoverageResult, comp: dict[str, CircleCompleteness]) -> gpd.GeoDataFrame:
    """The cells with ``{circle}_missing_n``, ``{circle}_missing`` (ids) and ``{circle}_complete`` per circle."""
    cells = result.city.cells[[c for c in ("cell_id", "population", "elderly") if c in result.city.cells.columns]
                              + [result.city.cells.geometry.name]].copy()
    for cid, cc in comp.items():
        p = cid.replace("-", "_")
        cells[f"{p}_missing_n"] = cc.missing_count.astype(np.int64)
        cells[f"{p}_missing"] = cc.missing_lists()
        cells[f"{p}_complete"] = cc.complete
    return cells


def _row(scope: str, unit: str, cc: CircleCompleteness, rows: np.ndarray | None) -> dict:
    pop = cc.population if rows is None else cc.population[rows]
    complete = cc.complete if rows is None else cc.complete[rows]
    total = float(pop.sum())
    lacking = cc.missing_population(rows)
    worst = int(np.argmax(lacking)) if lacking.size else -1
    has_gap = worst >= 0 and lacking[worst] > 0
    return {
        "scope": scope,
        "unit": unit,
        "circle": cc.circle.id,
        "population": round(total, 1),
        "complete_population": round(float(pop[complete].sum()), 1),
        "share_complete": round(float(pop[complete].sum()) / total, 4) if total > 0 else None,
        "most_missing": cc.circle.standards[worst] if has_gap else "",
        "most_missing_population": round(float(lacking[worst]), 1) if has_gap else 0.0,
    }


def completeness_summary(result: CoverageResult, comp: dict[str, CircleCompleteness]) -> pd.DataFrame:
    """Share of residents with a complete circle and the most-often-missing type, for the city and each unit.

    Units are the city's unit levels; a cell belongs to the unit holding a
    point on its surface. ``most_missing`` is the standard whose type the
    most residents lack (ties: the first in the circle's order).
    """
    rows = [_row("city", result.city.name, cc, None) for cc in comp.values()]
    pts = shapely.point_on_surface(result.city.cells.geometry.values)
    for level, units in result.city.units.items():
        where = assign_to_units(pts, units)
        ids = units["unit_id"].astype(str).to_numpy() if "unit_id" in units.columns else units.index.astype(str).to_numpy()
        for u, uid in enumerate(ids):
            sel = where == u
            for cc in comp.values():
                rows.append(_row(level, uid, cc, sel))
    return pd.DataFrame(rows)
