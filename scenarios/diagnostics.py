"""What a planner should check before trusting a coverage figure.

* **Connected pieces.** A network in several pieces (roads-only data, a
  river without its bridges) strands residents: nobody on a piece without a
  clinic can walk to one, however close it is across the gap.
* **Cells far from any street.** Their walk starts with a long straight
  access leg; beyond ``city.max_snap_m`` they count as unreachable.
* **Detours.** Walking distance over straight-line distance to the facility
  the walk found. Above 3x something is usually missing from the network.

:func:`city_diagnostics` needs only the city (``lifecircle city info``);
:func:`detour_report` needs an evaluated :class:`scenarios.evaluate.CoverageResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.diagnostics import DETOUR_MIN_STRAIGHT_M, detour_ratio, piece_of, piece_table
from layers.city import City

__all__ = ["FAR_FROM_STREET_M", "DETOUR_FLAG", "CityDiagnostics", "DetourReport", "city_diagnostics", "detour_report",
           "diagnostic_cells"]

FAR_FROM_STREET_M = 200.0
"""Cells whose representative point is farther than this from a street are listed."""

DETOUR_FLAG = 3.0
"""Detour ratio above which a cell is listed."""


@dataclass(eq=False)
class CityDiagnostics:
    """The network's pieces and the cells far from any street.

    Attributes
    ----------
    pieces : pandas.DataFrame
        One row per connected piece holding people or facilities, largest
        population first: ``piece``, ``nodes``, ``length_km``, ``cells``,
        ``population``, ``elderly`` and ``facilities_<kind>`` per kind.
    n_pieces : int
        All connected pieces of the network (with or without people).
    without_kind : pandas.DataFrame
        Per facility kind: ``kind``, ``population`` and ``cells`` on pieces
        that have no facility of that kind (not counting cells that reach no
        street at all).
    far_m : float
    cells_far, population_far : int, float
        Cells farther than ``far_m`` from a street (unreachable ones included).
    cells_unreachable, population_unreachable : int, float
        Cells farther than ``city.max_snap_m``: no street reaches them.
    """

    pieces: pd.DataFrame
    n_pieces: int
    without_kind: pd.DataFrame
    far_m: float
    cells_far: int
    population_far: float
    cells_unreachable: int
    population_unreachable: float
    max_snap_m: float = field(default=0.0)

    def as_dict(self) -> dict:
        """JSON-ready summary (the pieces table cut to its 20 most populated rows)."""
        return {
            "network_pieces": self.n_pieces,
            "pieces_with_people": int((self.pieces["population"] > 0).sum()),
            "largest_pieces": self.pieces.head(20).to_dict("records"),
            "population_on_pieces_without": {
                r["kind"]: {"population": r["population"], "cells": r["cells"]} for r in self.without_kind.to_dict("records")
            },
            "far_from_street_m": self.far_m,
            "cells_far_from_street": self.cells_far,
            "population_far_from_street": self.population_far,
            "unreachable_beyond_m": self.max_snap_m,
            "cells_unreachable": self.cells_unreachable,
            "population_unreachable": self.population_unreachable,
        }


def city_diagnostics(city: City, far_m: float = FAR_FROM_STREET_M) -> CityDiagnostics:
    """Pieces of the network and cells far from streets.

    Parameters
    ----------
    city : layers.city.City
    far_m : float
        Distance from a street above which a cell is counted as far.

    Returns
    -------
    CityDiagnostics
    """
    net = city.network
    cell_piece = piece_of(net, city.snapped_cells)
    fac_piece = piece_of(net, city.snapped_facilities)
    nodes, length_m = piece_table(net)
    pop = city.cells["population"].to_numpy(dtype=float)
    elderly = city.cells["elderly"].to_numpy(dtype=float)
    n = net.n_components
    on = cell_piece >= 0
    table = pd.DataFrame({
        "piece": np.arange(n),
        "nodes": nodes,
        "length_km": np.round(length_m / 1000.0, 3),
        "cells": np.bincount(cell_piece[on], minlength=n),
        "population": np.round(np.bincount(cell_piece[on], weights=pop[on], minlength=n), 1),
        "elderly": np.round(np.bincount(cell_piece[on], weights=elderly[on], minlength=n), 1),
    })
    kinds = sorted(city.facilities["kind"].astype(str).unique())
    fac_kind = city.facilities["kind"].astype(str).to_numpy()
    rows = []
    for kind in kinds:
        mine = (fac_kind == kind) & (fac_piece >= 0)
        table[f"facilities_{kind}"] = np.bincount(fac_piece[mine], minlength=n)
        lacking = on & (table[f"facilities_{kind}"].to_numpy()[np.maximum(cell_piece, 0)] == 0)
        rows.append({"kind": kind, "population": round(float(pop[lacking].sum()), 1), "cells": int(lacking.sum())})
    keep = (table["cells"] > 0) | (table[[c for c in table.columns if c.startswith("facilities_")]].sum(axis=1) > 0)
    pieces = table[keep].sort_values(["population", "nodes"], ascending=False, kind="stable").reset_index(drop=True)
    access = np.asarray(city.snapped_cells.access, dtype=float)
    unreachable = ~city.snapped_cells.ok
    far = unreachable | (access > far_m)
    return CityDiagnostics(
        pieces=pieces,
        n_pieces=int(n),
        without_kind=pd.DataFrame(rows, columns=["kind", "population", "cells"]),
        far_m=float(far_m),
        cells_far=int(far.sum()),
        population_far=round(float(pop[far].sum()), 1),
        cells_unreachable=int(unreachable.sum()),
        population_unreachable=round(float(pop[unreachable].sum()), 1),
        max_snap_m=float(city.max_snap_m),
    )


@dataclass(eq=False)
class DetourReport:
    """Detour ratios of every walking standard.

    Attributes
    ----------
    ratios : dict of str to numpy.ndarray
        Per standard id, per cell: walking distance / straight-line distance
        to the facility the walk reached (NaN for short trips, see
        :data:`geo.diagnostics.DETOUR_MIN_STRAIGHT_M`, and for cells with no
        facility within the search bound).
    summary : pandas.DataFrame
        Per standard: ``standard``, ``cells_measured``, ``median``, ``p90``,
        ``p99``, ``max``, ``cells_above``, ``population_above`` (above
        ``flag``), ``population_on_pieces_without`` (on network pieces with
        none of the standard's facility kinds).
    above : pandas.DataFrame
        The cells above ``flag``: ``standard``, ``cell_id``, ``population``,
        ``network_m``, ``straight_m``, ``ratio``, ``facility``; worst first.
    flag : float
    """

    ratios: dict[str, np.ndarray]
    summary: pd.DataFrame
    above: pd.DataFrame
    flag: float


def detour_report(result, flag: float = DETOUR_FLAG, min_straight_m: float = DETOUR_MIN_STRAIGHT_M) -> DetourReport:
    """Detour ratios of the walking standards of an evaluated city.

    Parameters
    ----------
    result : scenarios.evaluate.CoverageResult
    flag : float
        Cells above this ratio are listed.
    min_straight_m : float
        Shorter straight-line trips are not measured.

    Returns
    -------
    DetourReport
    """
    city = result.city
    cx, cy = city.cell_xy
    fx, fy = city.facility_xy
    pop = city.cells["population"].to_numpy(dtype=float)
    cell_ids = city.cells["cell_id"].astype(str).to_numpy()
    fac_ids = city.facilities["id"].astype(str).to_numpy()
    cell_piece = piece_of(city.network, city.snapped_cells)
    fac_piece = piece_of(city.network, city.snapped_facilities)
    ratios, rows, listed = {}, [], []
    for sid, r in result.results.items():
        if r.standard.mode != "network":
            continue
        has = r.facility >= 0
        f = np.maximum(r.facility, 0)
        straight = np.where(has, np.hypot(cx - fx[f], cy - fy[f]), np.nan)
        ratio = detour_ratio(np.where(has, r.dist_m, np.inf), straight, min_straight_m)
        ratios[sid] = ratio
        measured = np.isfinite(ratio)
        above = measured & (ratio > flag)
        q = np.quantile(ratio[measured], [0.5, 0.9, 0.99]) if measured.any() else [np.nan] * 3
        kinds_pieces = np.unique(fac_piece[(np.isin(city.facilities["kind"].to_numpy(), r.standard.kinds)) & (fac_piece >= 0)])
        stranded = (cell_piece >= 0) & ~np.isin(cell_piece, kinds_pieces)
        rows.append({
            "standard": sid,
            "cells_measured": int(measured.sum()),
            "median": _round(q[0]),
            "p90": _round(q[1]),
            "p99": _round(q[2]),
            "max": _round(ratio[measured].max()) if measured.any() else None,
            "cells_above": int(above.sum()),
            "population_above": round(float(pop[above].sum()), 1),
            "population_on_pieces_without": round(float(pop[stranded].sum()), 1),
        })
        idx = np.flatnonzero(above)
        listed.append(pd.DataFrame({
            "standard": sid,
            "cell_id": cell_ids[idx],
            "population": np.round(pop[idx], 1),
            "network_m": np.round(r.dist_m[idx], 1),
            "straight_m": np.round(straight[idx], 1),
            "ratio": np.round(ratio[idx], 3),
            "facility": fac_ids[f[idx]],
        }))
    columns = ["standard", "cell_id", "population", "network_m", "straight_m", "ratio", "facility"]
    above_frame = pd.concat(listed, ignore_index=True) if listed else pd.DataFrame(columns=columns)
    above_frame = above_frame.sort_values("ratio", ascending=False, kind="stable").reset_index(drop=True)
    return DetourReport(ratios=ratios, summary=pd.DataFrame(rows), above=above_frame, flag=flag)


def diagnostic_cells(result, report: DetourReport | None = None, far_m: float = FAR_FROM_STREET_M) -> gpd.GeoDataFrame:
    """A cell layer for maps: network piece, distance to the street, and detour ratio per walking standard.

    Parameters
    ----------
    result : scenarios.evaluate.CoverageResult
    report : DetourReport, optional
        Computed when not given.
    far_m : float

    Returns
    -------
    geopandas.GeoDataFrame
        ``cell_id``, ``population``, ``piece`` (-1: no street within
        ``city.max_snap_m``), ``street_m``, ``far_from_street``, and
        ``<column>_detour`` per walking standard.
    """
    city = result.city
    report = report or detour_report(result)
    access = np.asarray(city.snapped_cells.access, dtype=float)
    ok = city.snapped_cells.ok
    out = gpd.GeoDataFrame({
        "cell_id": city.cells["cell_id"].astype(str).to_numpy(),
        "population": city.cells["population"].to_numpy(dtype=float),
        "piece": piece_of(city.network, city.snapped_cells),
        "street_m": np.where(ok, np.round(access, 1), np.nan),
        "far_from_street": ~ok | (access > far_m),
    }, geometry=city.cells.geometry.values, crs=city.crs)
    for sid, ratio in report.ratios.items():
        out[f"{result.results[sid].standard.column}_detour"] = np.round(ratio, 3)
    return out


def _round(value) -> float | None:
    value = float(value)
    return round(value, 3) if np.isfinite(value) else None
