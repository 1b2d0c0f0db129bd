"""The catalogue's catchment rules and grid rules, run on a city.

* **Catchment rules** (``[[catchment]]``, Nanjing 2011 item 12: rural
  first-level centres serve 1,000-5,000 people, second-level stations
  300-1,000): each resident counts for the facility of the rule's kinds
  nearest to them (walking, or straight line for ``mode = "euclidean"``);
  a facility passes when the population of its catchment lies in the range.
  Residents with no such facility within ``search_m`` count for none and are
  reported. A polygon facility (a park's access points) counts once, by ``site``.
* **Grid rules** (``[[grid_rule]]``, Nanjing 2011 item 12: 网格化全覆盖;
  Guangzhou 13th Five-Year Plan: one base grid): per cell of the management
  grid (:mod:`layers.management_grid`), the residents covered by each listed
  standard; the grid cell is covered when no resident in it is left
  uncovered by any of them. The rule passes when the share of grid cells with
  residents that are covered is at least ``min_share``.

Population cells count in the grid cell holding most of their area, as for
administrative units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import LifecircleError
from layers.city import City
from layers.management_grid import GRID_LEVEL, read_management_grid, with_management_grid
from scenarios.catalogue import CatchmentRule, GridRule, active_catalogue
from scenarios.evaluate import SEARCH_FACTOR, CoverageResult, evaluate, evaluate_standard
from scenarios.standards import Standard, StandardError, catalogue

__all__ = ["DEFAULT_SEARCH_M", "CatchmentReport", "GridReport", "attach_grid", "completeness_grid", "grid_standards", "run_catchments",
           "run_grid_rules"]

DEFAULT_SEARCH_M = 20_000.0
"""How far a resident's nearest facility is searched for a catchment (rural catchments span kilometres)."""


@dataclass(eq=False)
class CatchmentReport:
    """One catchment rule on a city.

    Attributes
    ----------
    rule : CatchmentRule
    facilities : geopandas.GeoDataFrame
        One row per facility of the rule's kinds (per ``site`` for areas):
        ``rule``, ``facility`` (id), ``name``, ``kind``, ``population`` (in
        its catchment), ``min_population``, ``max_population``, ``status``
        (``pass``, ``below``, ``above``), geometry.
    unassigned_population : float
        Residents with no facility of the kinds within ``search_m``.
    search_m : float
    """

    rule: CatchmentRule
    facilities: gpd.GeoDataFrame
    unassigned_population: float
    search_m: float

    def summary(self) -> dict:
        """One row for the rule: facilities passing, below and above the range."""
        st = self.facilities["status"]
        return {"rule": self.rule.id, "title": self.rule.title_en, "kinds": ",".join(self.rule.kinds),
                "min_population": self.rule.min_population, "max_population": self.rule.max_population,
                "facilities": len(self.facilities), "pass": int((st == "pass").sum()),
                "below": int((st == "below").sum()), "above": int((st == "above").sum()),
                "unassigned_population": round(self.unassigned_population, 1), "search_m": self.search_m,
                "source": self.rule.source}


def _catchment_standard(rule: CatchmentRule, search_m: float) -> Standard:
    speed = float(active_catalogue().speeds.get("residents_mps", 1.0))
    return Standard(id=f"catchment-{rule.id}", title_en=rule.title_en, title_zh=rule.title_zh, kinds=rule.kinds,
                    mode=rule.mode, threshold_m=search_m / SEARCH_FACTOR, speed_mps=speed, source=rule.source)


def run_catchments(city: City, rule_ids: Sequence[str] | None = None, search_m: float = DEFAULT_SEARCH_M) -> list[CatchmentReport]:
    """Population in each facility's catchment against every catchment rule of the active catalogue.

    Raises
    ------
    StandardError
        An id that is not a catchment rule of the catalogue.
    """
    rules = _pick(active_catalogue().catchments, rule_ids, "catchment rule")
    pop = city.cells["population"].to_numpy(dtype=np.float64)
    fac = city.facilities
    site = (fac["site"].astype(str) if "site" in fac.columns else fac["id"].astype(str)).to_numpy(dtype=object)
    out = []
    for rule in rules:
        res = evaluate_standard(city, _catchment_standard(rule, search_m))
        found = (res.facility >= 0) & (res.dist_m <= search_m)
        load = np.bincount(res.facility[found], weights=pop[found], minlength=len(fac))
        mine = np.flatnonzero(fac["kind"].isin(rule.kinds).to_numpy())
        frame = pd.DataFrame({"facility": site[mine], "load": load[mine], "row": mine})
        per = frame.groupby("facility", sort=False).agg(population=("load", "sum"), row=("row", "first")).reset_index()
        first = fac.iloc[per["row"].to_numpy()]
        hi = rule.max_population if rule.max_population is not None else np.inf
        status = np.where(per["population"] < rule.min_population, "below",
                          np.where(per["population"] > hi, "above", "pass"))
        layer = gpd.GeoDataFrame({
            "rule": rule.id, "facility": per["facility"].to_numpy(), "name": first["name"].to_numpy() if "name" in fac.columns else "",
            "kind": first["kind"].to_numpy(), "population": np.round(per["population"].to_numpy(), 1),
            "min_population": rule.min_population, "max_population": rule.max_population, "status": status,
        }, geometry=first.geometry.to_numpy(), crs=city.crs)
        out.append(CatchmentReport(rule, layer, float(pop[~found].sum()), search_m))
    return out


@dataclass(eq=False)
class GridReport:
    """Standards and grid rules per cell of the management grid.

    Attributes
    ----------
    grid : geopandas.GeoDataFrame
        Per grid cell: ``grid_id``, ``name``, ``population``, per standard
        ``{p}_uncovered`` (residents out of reach) and ``{p}_share`` (share
        covered), per grid rule ``{rule}_covered`` (bool; no residents counts
        as covered and is flagged in ``has_residents``), geometry.
    rules : list of GridRule
    """

    grid: gpd.GeoDataFrame
    rules: list[GridRule]
    standards: list[str]

    def summary(self) -> pd.DataFrame:
        """One row per grid rule: grid cells with residents, covered, share, pass."""
        rows = []
        lived = self.grid["has_residents"].to_numpy()
        for r in self.rules:
            covered = self.grid[f"{_col(r.id)}_covered"].to_numpy()
            n = int(lived.sum())
            share = float((covered & lived).sum()) / n if n else None
            rows.append({"rule": r.id, "title": r.title_en, "standards": ",".join(r.standards),
                         "grid_cells": len(self.grid), "with_residents": n, "covered": int((covered & lived).sum()),
                         "share_covered": None if share is None else round(share, 4), "min_share": r.min_share,
                         "pass": None if share is None else bool(share >= r.min_share - 1e-12), "source": r.source})
        return pd.DataFrame(rows)


def _col(ident: str) -> str:
    return ident.replace("-", "_")


def grid_standards(rule_ids: Sequence[str] | None = None, extra: Sequence[str] = ()) -> tuple[list[GridRule], list[str]]:
    """The chosen grid rules and the standards they (and ``extra``) need, each once, in catalogue order."""
    rules = _pick(active_catalogue().grid_rules, rule_ids, "grid rule")
    known = catalogue()
    bad = [s for s in extra if s not in known]
    if bad:
        raise StandardError(f"unknown standard(s) {bad}; valid are {', '.join(known)}")
    wanted = {s for r in rules for s in r.standards} | set(extra)
    return rules, [s for s in known if s in wanted]


def run_grid_rules(
    city: City, rule_ids: Sequence[str] | None = None, extra_standards: Sequence[str] = (),
    result: CoverageResult | None = None, progress=None,
) -> GridReport:
    """Aggregate standards to the management grid and judge the grid rules.

    Parameters
    ----------
    city : City
        Must hold a management grid (``city.units["grid"]`` and a ``grid`` column on the cells).
    rule_ids : sequence of str, optional
        Grid rules of the active catalogue (all when ``None``; none is fine with ``extra_standards``).
    extra_standards : sequence of str
        More standards to aggregate to the grid (Guangzhou's one base grid).
    result : CoverageResult, optional
        An evaluation holding the standards already (otherwise they are evaluated).

    Raises
    ------
    LifecircleError
        The city has no management grid, or nothing to report.
    """
    if GRID_LEVEL not in city.units or GRID_LEVEL not in city.cells.columns:
        raise LifecircleError("the city has no management grid: build it with 'lifecircle city build --management-grid FILE' "
                              "or give --grid-layer FILE")
    rules, std_ids = grid_standards(rule_ids, extra_standards)
    if not std_ids:
        raise LifecircleError(f"catalogue '{active_catalogue().id}' has no grid rules and no --standard was given: "
                              "nothing to aggregate to the grid")
    known = catalogue()
    if result is None or any(s not in result.results for s in std_ids):
        result = evaluate(city, [known[s] for s in std_ids], progress=progress)
    grid = city.units[GRID_LEVEL]
    ids = grid["unit_id"].astype(str).to_numpy()
    where = pd.Index(ids).get_indexer(city.cells[GRID_LEVEL].astype(object).where(city.cells[GRID_LEVEL].notna(), None))
    inside = where >= 0
    n = len(grid)
    out = gpd.GeoDataFrame({"grid_id": ids, "name": grid["name"].to_numpy()}, geometry=grid.geometry.values, crs=city.crs)
    pop = city.cells["population"].to_numpy(dtype=np.float64)
    out["population"] = np.round(np.bincount(where[inside], weights=pop[inside], minlength=n), 1)
    out["has_residents"] = np.bincount(where[inside], weights=(pop[inside] > 0).astype(float), minlength=n) > 0
    uncovered_any = {}
    for sid in std_ids:
        r = result.results[sid]
        w = r.weight
        lack = np.bincount(where[inside], weights=(w * ~r.covered)[inside], minlength=n)
        total = np.bincount(where[inside], weights=w[inside], minlength=n)
        out[f"{_col(sid)}_uncovered"] = np.round(lack, 1)
        out[f"{_col(sid)}_share"] = np.where(total > 0, np.round(1 - lack / np.where(total > 0, total, 1), 4), np.nan)
        # covered means nobody in the grid cell is out of reach: count people, not rounded sums
        uncovered_any[sid] = np.bincount(where[inside], weights=((w > 0) & ~r.covered)[inside].astype(float), minlength=n) > 0
    for rule in rules:
        out[f"{_col(rule.id)}_covered"] = ~np.any([uncovered_any[s] for s in rule.standards], axis=0)
    return GridReport(out, rules, std_ids)


def _pick(entries: dict, ids: Sequence[str] | None, what: str) -> list:
    if ids is None:
        return list(entries.values())
    bad = [i for i in ids if i not in entries]
    if bad:
        raise StandardError(f"unknown {what}(s) {bad}; catalogue '{active_catalogue().id}' has: "
                            f"{', '.join(entries) or 'none'}")
    return [entries[i] for i in ids]


def attach_grid(city: City, path: str | Path, coords=None) -> City:
    """``city`` with the management grid read from ``path`` (``--grid-layer FILE``)."""
    return with_management_grid(city, read_management_grid(path, city.crs, coords=coords), Path(path).name)




def completeness_grid(city: City, summary: pd.DataFrame) -> gpd.GeoDataFrame | None:
    """Life-circle completeness per management grid cell, as a layer (``None`` when the city has no grid).

    Parameters
    ----------
    city : City
    summary : pandas.DataFrame
        From :func:`scenarios.completeness.completeness_summary` (its ``grid`` rows).

    Returns
    -------
    geopandas.GeoDataFrame or None
        ``grid_id``, ``name``, ``population``, per circle ``{p}_share_complete``,
        ``{p}_complete_population``, ``{p}_most_missing``; geometry.
    """
    if GRID_LEVEL not in city.units:
        return None
    grid = city.units[GRID_LEVEL]
    out = gpd.GeoDataFrame({"grid_id": grid["unit_id"].astype(str).to_numpy(), "name": grid["name"].to_numpy()},
                           geometry=grid.geometry.values, crs=city.crs)
    rows = summary[summary["scope"] == GRID_LEVEL]
    for cid, part in rows.groupby("circle", sort=False):
        part = part.set_index("unit").reindex(out["grid_id"])
        p = _col(str(cid))
        out["population"] = part["population"].to_numpy()
        out[f"{p}_share_complete"] = part["share_complete"].to_numpy()
        out[f"{p}_complete_population"] = part["complete_population"].to_numpy()
        out[f"{p}_most_missing"] = part["most_missing"].to_numpy()
    return out
