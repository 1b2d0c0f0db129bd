"""Candidate sites of a siting run and their distances to the population cells.

Candidates are points along the walking network at a fixed spacing, or a
planner's own layer of points or plots (:func:`build_candidates`). Their
distances to the cells within a standard's reach (:func:`candidate_distances`)
are walking distances for walking standards and straight lines for radius
standards; the same goes for the existing facilities, whose coverage the
models count as already there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from geo.siting import SitingError, candidate_matrix, candidates_from_points, candidates_on_network
from layers.city import City
from scenarios.evaluate import Progress
from scenarios.standards import Standard

__all__ = ["CandidateSites", "build_candidates", "candidate_distances"]

_ZERO = 1e-9  # a zero distance is stored as this, so that it is not read as "out of reach"


@dataclass(frozen=True, eq=False)
class CandidateSites:
    """Candidate sites of one run.

    Attributes
    ----------
    ids : numpy.ndarray of str
        ``c<n>`` for generated candidates; the layer's ``id`` column (or row
        number) for a planner's layer.
    x, y : numpy.ndarray
        Where a new facility would stand, in the city's CRS (for a planner's
        plot, the plot itself; it reaches the street by its access leg).
    rejected : list of str
        Ids of plots left out because no walkable street is within the
        city's snapping limit.
    """

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    snapped: Any  # geo.snap.Snapped, or None for radius standards
    rejected: list[str]

    def __len__(self) -> int:
        return int(self.ids.size)


def _radius_matrix(src: np.ndarray, cells: np.ndarray, reach_m: float) -> sparse.csr_matrix:
    """Straight-line distances within ``reach_m`` (inclusive), zero stored as a tiny epsilon."""
    if len(src) == 0:
        return sparse.csr_matrix((0, len(cells)))
    pairs = cKDTree(src).sparse_distance_matrix(cKDTree(cells), reach_m, output_type="ndarray")
    d = np.maximum(pairs["v"], _ZERO)
    return sparse.csr_matrix((d, (pairs["i"], pairs["j"])), shape=(len(src), len(cells)))


def _candidate_ids(layer: gpd.GeoDataFrame) -> np.ndarray:
    if "id" not in layer.columns:
        return np.array([str(i) for i in range(len(layer))], dtype=object)
    ids = layer["id"].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    empty = np.flatnonzero(ids.to_numpy() == "")
    if empty.size:
        raise SitingError(f"candidate layer: rows {empty[:10].tolist()} have an empty 'id'")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise SitingError(f"candidate layer: id '{dup.iloc[0]}' appears more than once; candidate ids must be unique")
    return ids.to_numpy(dtype=object)


def _layer_points(city: City, layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The planner's layer in the city's CRS."""
    if not isinstance(layer, gpd.GeoDataFrame):
        raise SitingError(f"candidates must be a GeoDataFrame of points or polygons, got {type(layer).__name__}")
    if len(layer) == 0:
        raise SitingError("candidate layer has no rows")
    if layer.crs is None:
        raise SitingError("candidate layer has no CRS; set one (e.g. EPSG:4326 for lon/lat)")
    return layer.to_crs(city.crs).reset_index(drop=True)


def build_candidates(
    city: City, standard: Standard, layer: gpd.GeoDataFrame | None, spacing_m: float
) -> CandidateSites:
    """Candidate sites along the network every ``spacing_m``, or from a planner's layer.

    Parameters
    ----------
    city : City
    standard : Standard
        Walking standards snap the candidates onto the network; radius
        standards take the points as they are.
    layer : geopandas.GeoDataFrame, optional
        Points or polygons (a polygon stands for a point on its surface).
    spacing_m : float
        Spacing of generated candidates along the streets.

    Returns
    -------
    CandidateSites
    """
    if layer is None:
        c = candidates_on_network(city.network, spacing_m, boundary=city.boundary, max_snap_m=city.max_snap_m)
        ids = np.array([f"c{i}" for i in range(len(c))], dtype=object)
        return CandidateSites(ids, c.x, c.y, c.snapped if standard.mode == "network" else None, [])
    pts = _layer_points(city, layer)
    all_ids = _candidate_ids(pts)
    if standard.mode == "euclidean":
        geom = np.asarray(pts.geometry.values, dtype=object)
        bad = np.flatnonzero(shapely.is_missing(geom) | shapely.is_empty(geom))
        if bad.size:
            raise SitingError(f"candidate layer: rows {bad[:10].tolist()} have no geometry")
        p = np.where(shapely.get_type_id(geom) == 0, geom, shapely.point_on_surface(geom))
        return CandidateSites(all_ids, shapely.get_x(p), shapely.get_y(p), None, [])
    c = candidates_from_points(city.network, pts, max_snap_m=city.max_snap_m)
    # the new facility stands on the plot; the snapped record carries its access leg
    p = shapely.point_on_surface(np.asarray(pts.geometry.values, dtype=object)[c.source_index])
    return CandidateSites(
        all_ids[c.source_index], shapely.get_x(p), shapely.get_y(p), c.snapped, [str(i) for i in all_ids[c.rejected]]
    )


def candidate_distances(
    city: City, standard: Standard, cands: CandidateSites, existing: np.ndarray, progress: Progress | None = None
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Candidate x cell and existing x cell distances within the standard's reach.

    Parameters
    ----------
    city : City
    standard : Standard
        Walking standards measure along the network; radius standards in a
        straight line. Distances beyond ``threshold_m`` are left out.
    cands : CandidateSites
        From :func:`build_candidates`.
    existing : numpy.ndarray of int
        Facility-layer positions of the existing facilities to measure from.
    progress : callable, optional
        ``progress(step, fraction)`` while the candidates' distances are measured.

    Returns
    -------
    (scipy.sparse.csr_matrix, scipy.sparse.csr_matrix)
        Candidates x cells and existing x cells; a distance of zero is stored
        as a tiny epsilon so that it is not read as "out of reach".
    """
    reach = standard.threshold_m
    if standard.mode == "euclidean":
        cells = np.column_stack(city.cell_xy)
        fx, fy = city.facility_xy
        cand = _radius_matrix(np.column_stack([cands.x, cands.y]), cells, reach)
        ex = _radius_matrix(np.column_stack([fx[existing], fy[existing]]), cells, reach)
        return cand, ex
    cells = city.snapped_cells
    cand = candidate_matrix(city.network, cands.snapped, cells, reach, progress=progress)
    if existing.size == 0:
        return cand, sparse.csr_matrix((0, len(city.cells)))
    fac = city.snapped_facilities.take(existing)
    ex = candidate_matrix(city.network, fac, cells, reach)
    if progress is not None:
        progress("existing facilities' distances", 1.0)
    return cand, ex
