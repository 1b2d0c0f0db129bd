"""The answer of a city-level siting run, checked against a re-evaluation of the city.

:class:`CitySiting` holds the proposed sites, the cells they newly cover,
the same change as scenario edits, and the standard evaluated on the city as
it is, after any closures and with the new sites. :func:`checked_siting`
builds it from the solver's answer; the re-evaluation is independent of the
siting matrices, so ``cells_disagreeing`` says whether the model's claim
holds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse

from geo.crs import to_wgs84
from geo.siting import SitingInput, SitingResult
from layers.city import City
from scenarios.evaluate import Progress, StandardResult, evaluate_standard
from scenarios.model import AddFacility, RemoveFacility, apply_edits
from scenarios.run import city_with_facilities
from scenarios.service_area_layer import standard_service_areas
from scenarios.siting_candidates import CandidateSites
from scenarios.standards import Standard

__all__ = ["OBJECTIVE_UNITS", "CitySiting", "checked_siting"]

OBJECTIVE_UNITS = {
    "mclp": "weight newly covered",
    "lscp": "new sites",
    "p-median": "weight x metres walked",
    "capacitated": "weight served within capacity",
    "attendance": "expected attendance",
}
"""What each model's objective and per-site gains count."""


@dataclass(eq=False)
class CitySiting:
    """Proposed sites for one standard, checked against a re-evaluation of the city.

    Attributes
    ----------
    city : City
        The city as it is.
    standard : Standard
        The standard sited for (overrides applied).
    problem : str
        One of :data:`PROBLEMS`.
    result : geo.siting.SitingResult
        The solver's answer, in candidate indices.
    sites : geopandas.GeoDataFrame
        Proposed sites in the order chosen (city CRS): ``rank``, ``site_id``
        (the new facility's id), ``candidate_id``, ``kind``, ``newly_covered``
        (weight that site brings within reach, on top of the existing
        facilities and the sites ranked before it), ``cumulative_covered``,
        ``gain`` (marginal gain in the model's units, see
        :data:`OBJECTIVE_UNITS`), ``required``, ``x``, ``y``, ``lon``,
        ``lat``, geometry.
    newly_covered_cells : geopandas.GeoDataFrame
        Cells that the new sites bring within reach: ``cell_id``,
        ``population``, ``elderly``, ``weight``, ``site_rank``, ``site_id``,
        ``dist_m`` (to that site), geometry.
    current, before, after : StandardResult
        The standard evaluated on the city as it is, after the closures
        (``remove`` / ``relocate``), and with the new sites open.
    before_city, after_city : City
        The city with the closures applied, without and with the new sites.
    edits : list
        The same change as scenario edits (:mod:`scenarios.model`).
    claimed_covered_after : float
        Weight within reach afterwards according to the siting matrices.
    cells_disagreeing : int
        Cells whose coverage after the change differs between the matrices
        and the re-evaluation (0 when the model's claim holds).
    candidates : CandidateSites
    seconds : float
        Wall time of the whole call.
    """

    city: City
    standard: Standard
    problem: str
    result: SitingResult
    sites: gpd.GeoDataFrame
    newly_covered_cells: gpd.GeoDataFrame
    current: StandardResult
    before: StandardResult
    after: StandardResult
    before_city: City
    after_city: City
    edits: list
    claimed_covered_after: float
    cells_disagreeing: int
    candidates: CandidateSites
    removed_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_weight(self) -> float:
        """Total weight (population or elderly) of the city."""
        return float(self.current.weight.sum())

    @staticmethod
    def _covered(r: StandardResult) -> float:
        return float(r.weight[r.covered].sum())

    def _share(self, value: float) -> float | None:
        return value / self.total_weight if self.total_weight > 0 else None

    @cached_property
    def service_areas(self) -> gpd.GeoDataFrame:
        """Service areas of the new sites under the standard (city CRS)."""
        new_ids = set(self.sites["site_id"])
        fac = self.after_city.facilities
        only_new = fac[fac["id"].isin(new_ids)].reset_index(drop=True)
        areas = standard_service_areas(city_with_facilities(self.after_city, only_new), [self.standard])
        rank = dict(zip(self.sites["site_id"], self.sites["rank"], strict=True))
        areas.insert(0, "site_rank", areas["facility_id"].map(rank).astype("int64"))
        return areas.rename(columns={"facility_id": "site_id"})

    def summary(self) -> dict[str, Any]:
        """What was asked, what the solver did, and coverage before and after.

        ``covered_current`` is the city as it is, ``covered_before`` after the
        closures, ``covered_after`` with the new sites (all three from
        :func:`evaluate_standard`); ``claimed_covered_after`` is the model's
        own count, and ``cells_disagreeing`` the cells where they differ.
        """
        r, s = self.result, self.standard
        cur, bef, aft = (self._covered(x) for x in (self.current, self.before, self.after))
        reachable = self.total_weight - r.unreachable_weight
        return {
            "city": self.city.name,
            "generated": bool(self.city.generated),
            "standard": s.id,
            "title": s.title_en,
            "mode": s.mode,
            "threshold_m": round(s.threshold_m, 1),
            "threshold_min": s.threshold_min,
            "weight": s.weight,
            "problem": self.problem,
            "objective_unit": OBJECTIVE_UNITS[self.problem],
            "sites": len(self.sites),
            "candidates": len(self.candidates),
            "candidates_rejected": len(self.candidates.rejected),
            "removed": list(self.removed_ids),
            "total": self.total_weight,
            "covered_current": cur,
            "covered_before": bef,
            "covered_after": aft,
            "share_current": self._share(cur),
            "share_before": self._share(bef),
            "share_after": self._share(aft),
            "newly_covered": float(self.sites["newly_covered"].sum()),
            "reachable": reachable,
            "share_of_reachable_after": aft / reachable if reachable > 0 else None,
            "unreachable": r.unreachable_weight,
            "claimed_covered_after": self.claimed_covered_after,
            "cells_disagreeing": self.cells_disagreeing,
            "objective": r.objective,
            "objective_before": r.objective_before,
            "bound": r.bound,
            "gap": r.gap,
            "solver_bound": r.solver_bound,
            "solver_gap": r.solver_gap,
            "status": r.status,
            "optimal": r.optimal,
            "solver": r.solver,
            "solve_seconds": r.seconds,
            "seconds": self.seconds,
            "notes": list(r.notes),
        }

    def summary_row(self) -> dict[str, Any]:
        """One row for a table of siting runs (e.g. several standards or p)."""
        d = self.summary()
        keys = ("standard", "problem", "sites", "covered_before", "covered_after", "share_before", "share_after",
                "newly_covered", "objective", "bound", "gap", "status", "solver", "seconds")
        return {k: d[k] for k in keys}

    def to_dict(self) -> dict[str, Any]:
        """Summary, proposed sites (WGS84 lon/lat) and edits as JSON-ready data."""
        # imported here: scenarios.outputs loads pyogrio and GDAL (~28 MB), which a
        # solve does not need; the run reaches this only when writing its answer
        from scenarios.outputs import jsonable

        sites = self.sites.drop(columns="geometry").to_dict("records")
        return jsonable(
            {
                "summary": self.summary(),
                "standard": self.standard.to_dict(),
                "sites": sites,
                "edits": [e.model_dump() for e in self.edits],
            }
        )


def _new_ids(city: City, standard: Standard, n: int) -> list[str]:
    taken = set(city.facilities["id"].astype(str))
    out, k = [], 1
    while len(out) < n:
        fid = f"new-{standard.id}-{k}"
        if fid not in taken:
            out.append(fid)
        k += 1
    return out


def _first_cover(mat: sparse.csr_matrix, sites: np.ndarray, covered0: np.ndarray, reach: float):
    """Per cell, the rank of the first site (in order) that brings it within reach, and its distance."""
    m = covered0.size
    rank = np.full(m, -1, dtype=np.int64)
    dist = np.full(m, np.nan)
    covered = covered0.copy()
    for r, i in enumerate(sites):
        lo, hi = mat.indptr[i], mat.indptr[i + 1]
        cells, d = mat.indices[lo:hi], mat.data[lo:hi]
        new = cells[(d <= reach) & ~covered[cells]]
        rank[new] = r
        dist[new] = d[(d <= reach) & ~covered[cells]]
        covered[new] = True
    return rank, dist


def checked_siting(
    city: City,
    standard: Standard,
    problem: str,
    res: SitingResult,
    cands: CandidateSites,
    inp: SitingInput,
    existing: np.ndarray,
    kind: str,
    required: Sequence[int],
    t0: float,
    current: StandardResult,
    step: Progress | None,
) -> CitySiting:
    """The solver's answer as a :class:`CitySiting`, checked by re-evaluating the city.

    Builds the site table, the newly covered cells and the scenario edits,
    then evaluates the standard on the city after the closures and with the
    new sites (:func:`scenarios.evaluate.evaluate_standard`), independently
    of the siting matrices, and counts the cells where the two disagree.

    Parameters
    ----------
    city : City
        The city as it is.
    standard : Standard
    problem : str
        One of ``scenarios.siting.PROBLEMS``.
    res : geo.siting.SitingResult
        The solver's answer, in candidate indices.
    cands : CandidateSites
    inp : geo.siting.SitingInput
        What the solver was given (matrices and weights).
    existing : numpy.ndarray of int
        Facility-layer positions of the standard's existing facilities.
    kind : str
        Kind of the new facilities.
    required : sequence of int
        Candidate indices the planner required.
    t0 : float
        ``time.perf_counter()`` when the run started (for ``seconds``).
    current : StandardResult
        The standard evaluated on the city as it is.
    step : callable, optional
        Progress of the check, 0..1.

    Returns
    -------
    CitySiting
    """
    reach = standard.threshold_m
    order = np.asarray(res.sites, dtype=np.int64)
    fac_ids = city.facilities["id"].astype(str).to_numpy()
    removed_ids = [str(fac_ids[existing[j]]) for j in res.removed_existing]

    # coverage by the facilities that stay, straight from the matrices
    kept = np.setdiff1d(np.arange(existing.size), res.removed_existing)
    covered0 = np.zeros(inp.n_cells, dtype=bool)
    if inp.existing is not None and kept.size:
        sub = inp.existing[kept].tocoo()
        covered0[sub.col[sub.data <= reach]] = True
    rank, dist = _first_cover(inp.matrix, order, covered0, reach)
    w = inp.weights
    newly = np.bincount(rank[rank >= 0], weights=w[rank >= 0], minlength=order.size)[: order.size]
    claimed_after = float(w[covered0].sum() + newly.sum())

    new_ids = _new_ids(city, standard, order.size)
    x, y = cands.x[order], cands.y[order]
    lon, lat = to_wgs84(x, y, city.crs) if order.size else (np.empty(0), np.empty(0))
    req = {int(i) for i in required}
    sites = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, order.size + 1, dtype=np.int64),
            "site_id": new_ids,
            "candidate_id": [str(i) for i in cands.ids[order]],
            "kind": kind,
            "newly_covered": newly,
            "cumulative_covered": float(w[covered0].sum()) + np.cumsum(newly),
            "gain": np.asarray(res.gains, dtype=float),
            "required": [int(i) in req for i in order],
            "x": x,
            "y": y,
            "lon": lon,
            "lat": lat,
        },
        geometry=shapely.points(x, y) if order.size else [],
        crs=city.crs,
    )

    edits = [RemoveFacility(id=fid) for fid in removed_ids]
    edits += [AddFacility(id=fid, name=f"Proposed {standard.id} site {r + 1}", kind=kind, x=float(a), y=float(b))
              for r, (fid, a, b) in enumerate(zip(new_ids, x, y, strict=True))]
    closed = city_with_facilities(city, apply_edits(city.facilities, edits[: len(removed_ids)], city.crs)) if removed_ids else city
    after_city = city_with_facilities(city, apply_edits(city.facilities, edits, city.crs))
    if step:
        step("checking coverage: the city after the closures", 0.0)
    before = evaluate_standard(closed, standard) if removed_ids else current
    if step:
        step("checking coverage: the city with the new sites", 0.5)
    after = evaluate_standard(after_city, standard)
    if step:
        step("checking coverage: done", 1.0)

    claimed_mask = covered0 | (rank >= 0)
    cells = city.cells
    pos = np.flatnonzero(rank >= 0)
    newly_cells = gpd.GeoDataFrame(
        {
            "cell_id": cells["cell_id"].to_numpy()[pos],
            "population": cells["population"].to_numpy()[pos],
            "elderly": cells["elderly"].to_numpy()[pos],
            "weight": w[pos],
            "site_rank": rank[pos] + 1,
            "site_id": np.asarray(new_ids, dtype=object)[rank[pos]] if pos.size else np.empty(0, dtype=object),
            "dist_m": dist[pos],
        },
        geometry=cells.geometry.values[pos],
        crs=city.crs,
    )
    return CitySiting(
        city=city, standard=standard, problem=problem, result=res, sites=sites, newly_covered_cells=newly_cells,
        current=current, before=before, after=after, before_city=closed, after_city=after_city, edits=edits,
        claimed_covered_after=claimed_after, cells_disagreeing=int(np.count_nonzero(claimed_mask != after.covered)),
        candidates=cands, removed_ids=removed_ids, seconds=time.perf_counter() - t0,
    )
