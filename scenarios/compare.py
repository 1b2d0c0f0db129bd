"""Comparing two evaluated scenarios: who gains or loses coverage, and whose load shifts.

:func:`compare` takes two runs on the same cells (typically a scenario and its
baseline, or two alternative plans) and reports, per standard evaluated in
both: the covered population and share before and after, the cells that
become covered or uncovered (counts, population, ids, a map layer), and the
facilities whose served population changes most. The result renders as a
table (:meth:`Comparison.table`), a JSON document (:meth:`Comparison.to_json`)
and a change layer per standard (:meth:`Comparison.change_layer`, a
GeoDataFrame with ``change`` = ``newly_covered`` / ``newly_uncovered`` /
``unchanged``) that maps can draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from scenarios.evaluate import CoverageResult, StandardResult
from scenarios.model import ScenarioError

__all__ = ["CHANGES", "Comparison", "ComparisonError", "StandardChange", "compare"]

CHANGES = ("newly_covered", "newly_uncovered", "unchanged")
"""Values of the ``change`` column of a change layer."""


class ComparisonError(ScenarioError):
    """Two runs that cannot be compared (different cells, no standard in common)."""


def _round(v: float | None, nd: int = 1) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), nd)


@dataclass(eq=False)
class StandardChange:
    """How one standard's coverage differs between two runs.

    Attributes
    ----------
    standard_id : str
    before, after : StandardResult
        The standard's results in the first and second run.
    newly_covered, newly_uncovered : numpy.ndarray of int64
        Positions of the cells that are covered only after / only before.
    summary_before, summary_after : dict
        :meth:`StandardResult.summary` of each run.
    """

    standard_id: str
    before: StandardResult
    after: StandardResult
    newly_covered: np.ndarray
    newly_uncovered: np.ndarray
    summary_before: dict
    summary_after: dict

    @property
    def weight(self) -> np.ndarray:
        """The population the standard counts (residents or elderly), per cell."""
        return self.after.weight

    def population(self, which: str) -> float:
        """Weight of the ``newly_covered`` or ``newly_uncovered`` cells."""
        cells = self.newly_covered if which == "newly_covered" else self.newly_uncovered
        return float(self.weight[cells].sum())

    def change(self) -> np.ndarray:
        """Per cell: ``newly_covered``, ``newly_uncovered`` or ``unchanged``."""
        out = np.full(self.weight.size, "unchanged", dtype=object)
        out[self.newly_covered] = "newly_covered"
        out[self.newly_uncovered] = "newly_uncovered"
        return out


@dataclass(eq=False)
class Comparison:
    """Two runs compared standard by standard.

    Attributes
    ----------
    name_a, name_b : str
        Labels of the first ("before") and second ("after") run.
    result_a, result_b : CoverageResult
    changes : dict of str to StandardChange
        In the order of the first run's standards.
    """

    name_a: str
    name_b: str
    result_a: CoverageResult
    result_b: CoverageResult
    changes: dict[str, StandardChange]

    # -- tables -----------------------------------------------------------------

    def table(self) -> pd.DataFrame:
        """One row per standard: coverage before and after, and the cells that changed."""
        rows = []
        for sid, ch in self.changes.items():
            a, b = ch.summary_before, ch.summary_after
            rows.append(
                {
                    "standard": sid,
                    "weight": b["weight"],
                    "total": b["total"],
                    "covered_before": a["covered"],
                    "covered_after": b["covered"],
                    # from the changed cells themselves, so it is not off by the summaries' rounding
                    "covered_change": round(ch.population("newly_covered") - ch.population("newly_uncovered"), 1),
                    "share_before": a["share_covered"],
                    "share_after": b["share_covered"],
                    "share_change": None
                    if a["share_covered"] is None or b["share_covered"] is None
                    else round(b["share_covered"] - a["share_covered"], 4),
                    "newly_covered_cells": int(ch.newly_covered.size),
                    "newly_covered_population": round(ch.population("newly_covered"), 1),
                    "newly_uncovered_cells": int(ch.newly_uncovered.size),
                    "newly_uncovered_population": round(ch.population("newly_uncovered"), 1),
                    "facilities_before": a["facilities"],
                    "facilities_after": b["facilities"],
                }
            )
        return pd.DataFrame(rows)

    def load_changes(self, standard: str, top: int | None = 10) -> pd.DataFrame:
        """Facilities of the standard's kinds whose served population changes most.

        Facilities are matched by id. ``status`` is ``opened`` (only in the
        second run), ``closed`` (only in the first), ``moved`` or ``same``.

        Returns
        -------
        pandas.DataFrame
            ``id, name, kind, status, load_before, load_after, load_change``,
            largest absolute change first (then by id); ``top`` rows (all if ``None``).
        """
        ch = self._change(standard)
        kinds = list(ch.after.standard.kinds) + [k for k in ch.before.standard.kinds if k not in ch.after.standard.kinds]
        sides = []
        for res, r in ((self.result_a, ch.before), (self.result_b, ch.after)):
            fac = res.city.facilities
            mine = fac["kind"].isin(kinds).to_numpy()
            sides.append(
                pd.DataFrame(
                    {
                        "id": fac["id"].astype(str).to_numpy()[mine],
                        "name": fac["name"].to_numpy()[mine],
                        "kind": fac["kind"].to_numpy()[mine],
                        "load": r.load[mine],
                        "x": fac.geometry.x.to_numpy()[mine],
                        "y": fac.geometry.y.to_numpy()[mine],
                    }
                )
            )
        m = sides[0].merge(sides[1], on="id", how="outer", suffixes=("_before", "_after"), indicator=True)
        moved = (m["x_before"] != m["x_after"]) | (m["y_before"] != m["y_after"])
        status = np.select(
            [m["_merge"] == "right_only", m["_merge"] == "left_only", moved],
            ["opened", "closed", "moved"],
            default="same",
        )
        out = pd.DataFrame(
            {
                "id": m["id"],
                "name": m["name_after"].fillna(m["name_before"]),
                "kind": m["kind_after"].fillna(m["kind_before"]),
                "status": status,
                "load_before": m["load_before"].fillna(0.0).round(1),
                "load_after": m["load_after"].fillna(0.0).round(1),
            }
        )
        out["load_change"] = (out["load_after"] - out["load_before"]).round(1)
        out = out.assign(_abs=out["load_change"].abs()).sort_values(["_abs", "id"], ascending=[False, True])
        out = out.drop(columns="_abs").reset_index(drop=True)
        return out if top is None else out.head(top)

    # -- layers -------------------------------------------------------------------

    def change_layer(self, standard: str | None = None, changed_only: bool = False) -> gpd.GeoDataFrame:
        """The cells with a ``change`` column for one standard (the first by default).

        Columns: ``cell_id``, ``change`` (see :data:`CHANGES`), ``weight`` (the
        standard's population), ``covered_before``, ``covered_after``,
        ``dist_before_m``, ``dist_after_m`` (NaN beyond the search limit) and
        the cell polygon, in the city's CRS.

        Parameters
        ----------
        standard : str, optional
        changed_only : bool
            Keep only newly covered and newly uncovered cells (a small layer
            for web maps).
        """
        sid = standard or next(iter(self.changes))
        ch = self._change(sid)
        cells = self.result_b.city.cells
        frame = gpd.GeoDataFrame(
            {
                "cell_id": cells["cell_id"].to_numpy(),
                "change": ch.change(),
                "weight": ch.weight,
                "covered_before": ch.before.covered,
                "covered_after": ch.after.covered,
                "dist_before_m": np.where(np.isfinite(ch.before.dist_m), np.round(ch.before.dist_m, 1), np.nan),
                "dist_after_m": np.where(np.isfinite(ch.after.dist_m), np.round(ch.after.dist_m, 1), np.nan),
            },
            geometry=cells.geometry.values,
            crs=cells.crs,
        )
        if changed_only:
            frame = frame[frame["change"] != "unchanged"]
        return frame

    def cells(self, standard: str, which: str) -> gpd.GeoDataFrame:
        """The ``newly_covered`` or ``newly_uncovered`` cells of a standard."""
        if which not in CHANGES[:2]:
            raise ComparisonError(f"which must be 'newly_covered' or 'newly_uncovered', got {which!r}")
        layer = self.change_layer(standard)
        return layer[layer["change"] == which]

    # -- documents -----------------------------------------------------------------

    def to_json(self, top_facilities: int = 10, cell_ids: bool = True) -> dict[str, Any]:
        """The comparison as plain JSON data (no NaN; numbers rounded)."""
        ids = self.result_b.city.cells["cell_id"].astype(str).to_numpy()
        standards = []
        for row in self.table().to_dict("records"):
            sid = row["standard"]
            ch = self.changes[sid]
            doc: dict[str, Any] = {
                "standard": sid,
                "title": ch.after.standard.title_en,
                "weight": row["weight"],
                "total": _round(row["total"]),
                "before": {"covered": _round(row["covered_before"]), "share": row["share_before"],
                           "facilities": row["facilities_before"]},
                "after": {"covered": _round(row["covered_after"]), "share": row["share_after"],
                          "facilities": row["facilities_after"]},
                "covered_change": _round(row["covered_change"]),
                "share_change": row["share_change"],
            }
            for which in CHANGES[:2]:
                cells = ch.newly_covered if which == "newly_covered" else ch.newly_uncovered
                doc[which] = {"cells": int(cells.size), "population": _round(ch.population(which))}
                if cell_ids:
                    doc[which]["cell_ids"] = ids[cells].tolist()
            loads = self.load_changes(sid, top=top_facilities)
            doc["load_changes"] = [
                {k: (_round(v) if isinstance(v, float) else v) for k, v in rec.items()}
                for rec in loads.to_dict("records")
            ]
            standards.append(doc)
        return {
            "before": self.name_a,
            "after": self.name_b,
            "city": self.result_b.city.name,
            "generated_city": bool(self.result_b.city.generated),
            "standards": standards,
        }

    def _change(self, standard: str) -> StandardChange:
        if standard not in self.changes:
            raise ComparisonError(
                f"standard '{standard}' is not in both runs; compared standards: {', '.join(self.changes)}"
            )
        return self.changes[standard]


def _coverage(run: Any) -> tuple[str, CoverageResult]:
    """A label and the CoverageResult of a ScenarioRun or a CoverageResult."""
    if isinstance(run, CoverageResult):
        return run.city.name, run
    result = getattr(run, "result", None)
    if isinstance(result, CoverageResult):
        return getattr(run, "name", run.city.name), result
    raise ComparisonError(f"expected a ScenarioRun or a CoverageResult, got {type(run).__name__}")


def compare(run_a: Any, run_b: Any, name_a: str | None = None, name_b: str | None = None) -> Comparison:
    """Compare two runs on the same cells, standard by standard.

    Parameters
    ----------
    run_a, run_b : scenarios.run.ScenarioRun or CoverageResult
        "Before" and "after" (e.g. the baseline and the scenario).
    name_a, name_b : str, optional
        Labels; default the scenario names (``name@version`` once stored).

    Returns
    -------
    Comparison

    Raises
    ------
    ComparisonError
        If the runs are on different cells or have no standard in common.
    """
    label_a, res_a = _coverage(run_a)
    label_b, res_b = _coverage(run_b)
    ca, cb = res_a.city.cells, res_b.city.cells
    if len(ca) != len(cb) or not np.array_equal(ca["cell_id"].astype(str).to_numpy(), cb["cell_id"].astype(str).to_numpy()):
        raise ComparisonError(
            f"cannot compare '{label_a}' ({res_a.city.name}, {len(ca):,} cells) with "
            f"'{label_b}' ({res_b.city.name}, {len(cb):,} cells): they are not on the same cells"
        )
    common = [sid for sid in res_a.results if sid in res_b.results]
    if not common:
        raise ComparisonError(
            f"'{label_a}' ({', '.join(res_a.results)}) and '{label_b}' ({', '.join(res_b.results)}) "
            "have no standard in common"
        )
    changes = {}
    for sid in common:
        a, b = res_a.results[sid], res_b.results[sid]
        changes[sid] = StandardChange(
            standard_id=sid,
            before=a,
            after=b,
            newly_covered=np.flatnonzero(~a.covered & b.covered),
            newly_uncovered=np.flatnonzero(a.covered & ~b.covered),
            summary_before=a.summary(),
            summary_after=b.summary(),
        )
    return Comparison(name_a or label_a, name_b or label_b, res_a, res_b, changes)
