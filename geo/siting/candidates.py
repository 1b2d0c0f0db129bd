"""Candidate sites: where a new facility could go, and how far it reaches.

Candidates come either from points placed along the walking network at a
regular spacing, or from a planner's point layer (vacant plots, public land),
snapped onto the network. :func:`candidate_matrix` then measures the walking
distance from every candidate to every demand cell within the standard's reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse
from shapely.geometry.base import BaseGeometry

from geo.network import WalkNetwork
from geo.paths import pair_distances
from geo.siting.errors import SitingError
from geo.snap import DEFAULT_MAX_SNAP_M, Snapped, snap

__all__ = ["Candidates", "candidate_matrix", "candidates_from_points", "candidates_on_network"]


@dataclass(frozen=True, eq=False)
class Candidates:
    """Candidate sites snapped onto the network.

    Attributes
    ----------
    x, y : numpy.ndarray
        Candidate coordinates in metres (the snapped positions).
    snapped : geo.snap.Snapped
        The candidates on the network, all with ``edge >= 0``.
    source_index : numpy.ndarray of int64
        For point-layer candidates, the row of the input layer each candidate
        came from; for network candidates, the edge it lies on.
    rejected : numpy.ndarray of int64
        Rows of the input layer left out because they are farther than the
        snapping limit from any walkable edge (empty for network candidates).
    """

    x: np.ndarray
    y: np.ndarray
    snapped: Snapped
    source_index: np.ndarray
    rejected: np.ndarray

    def __len__(self) -> int:
        return int(self.x.size)

    @property
    def xy(self) -> np.ndarray:
        """``(k, 2)`` array of candidate coordinates."""
        return np.column_stack([self.x, self.y])


def candidates_on_network(
    network: WalkNetwork,
    spacing_m: float,
    boundary: BaseGeometry | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> Candidates:
    """Place candidate sites along every network edge at a regular spacing.

    Each edge gets ``ceil(length / spacing_m)`` points at the middles of equal
    stretches, so short edges still get one point and no two points on an edge
    are closer than about ``spacing_m``. Points outside ``boundary`` are
    dropped.

    Parameters
    ----------
    network : WalkNetwork
    spacing_m : float
        Distance between neighbouring candidates along an edge, in metres.
    boundary : shapely geometry, optional
        The study area; candidates outside it are left out.
    max_snap_m : float, default 500
        Unused (the points lie on their edges, with a zero access leg); kept
        so that callers passing it keep working.

    Returns
    -------
    Candidates
        ``source_index`` holds the edge each candidate lies on.

    Raises
    ------
    SitingError
        If ``spacing_m`` is not positive or no candidate remains.
    """
    if not (np.isfinite(spacing_m) and spacing_m > 0):
        raise SitingError(f"spacing_m must be a positive number of metres, got {spacing_m!r}")
    lines = network.edge_lines
    length = shapely.length(lines)
    count = np.maximum(1, np.ceil(length / spacing_m)).astype(np.int64)
    edge = np.repeat(np.arange(lines.size, dtype=np.int64), count)
    # position within the edge: the middle of the i-th of `count` equal stretches
    first = np.repeat(np.cumsum(count) - count, count)
    rank = np.arange(edge.size) - first
    frac = (rank + 0.5) / count[edge]
    pts = shapely.line_interpolate_point(lines[edge], frac, normalized=True)
    if boundary is not None:
        inside = shapely.covers(boundary, pts)
        pts, edge, frac = pts[inside], edge[inside], frac[inside]
    if pts.size == 0:
        raise SitingError("no candidate site lies inside the boundary")
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    # The points lie on their edges by construction, so their snapped form is
    # known exactly; snapping them again (an R-tree query per point) took 87 s
    # for the 1.7 M points of a Guangzhou-sized network.
    to_u = frac * network.length[edge]
    snapped = Snapped(edge=edge, to_u=to_u, to_v=network.length[edge] - to_u, access=np.zeros(edge.size), x=x, y=y)
    return Candidates(x=x, y=y, snapped=snapped, source_index=edge, rejected=np.empty(0, dtype=np.int64))


def candidates_from_points(
    network: WalkNetwork,
    points: gpd.GeoDataFrame,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> Candidates:
    """Candidate sites from a point layer (e.g. vacant plots), snapped to the network.

    Parameters
    ----------
    network : WalkNetwork
    points : geopandas.GeoDataFrame
        Point geometries in the network's metric CRS (polygons are represented
        by a point on their surface).
    max_snap_m : float, default 500
        Points farther than this from every walkable edge are rejected and
        listed in ``Candidates.rejected``.

    Returns
    -------
    Candidates
        ``source_index`` holds the row position in ``points`` of each kept
        candidate.

    Raises
    ------
    SitingError
        If a geometry is missing or empty, or no point is within reach of the
        network.
    """
    geom = np.asarray(points.geometry.values, dtype=object)
    bad = np.flatnonzero(shapely.is_missing(geom) | shapely.is_empty(geom))
    if bad.size:
        raise SitingError(f"candidate layer: rows {bad[:10].tolist()} have no geometry")
    pts = np.where(shapely.get_type_id(geom) == 0, geom, shapely.point_on_surface(geom))
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    s = snap(network, x, y, max_dist=max_snap_m)
    keep = np.flatnonzero(s.ok)
    if keep.size == 0:
        raise SitingError(
            f"candidate layer: none of its {len(points)} points is within {max_snap_m:g} m of a walkable edge"
        )
    kept = s.take(keep)
    return Candidates(
        x=kept.x, y=kept.y, snapped=kept, source_index=keep, rejected=np.flatnonzero(~s.ok)
    )


def candidate_matrix(
    network: WalkNetwork,
    candidates: Snapped,
    demand: Snapped,
    reach_m: float,
    progress=None,
) -> sparse.csr_matrix:
    """Walking distances from candidates to demand cells within reach.

    Parameters
    ----------
    network : WalkNetwork
    candidates : geo.snap.Snapped
        E.g. ``Candidates.snapped``.
    demand : geo.snap.Snapped
        Snapped representative points of the demand cells.
    reach_m : float
        The standard's walking reach in metres; farther pairs are not stored.
    progress : callable, optional
        ``progress(message, fraction)``.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``len(candidates) x len(demand)``, distances in metres; a zero distance
        is stored as a tiny epsilon so that it is not read as "out of reach".
    """
    if not (np.isfinite(reach_m) and reach_m > 0):
        raise SitingError(f"reach_m must be a positive number of metres, got {reach_m!r}")
    cb = None
    if progress is not None:
        def cb(done: int, total: int) -> None:
            progress("candidate distances", done / max(total, 1))
    pairs = pair_distances(network, candidates, demand, reach_m, progress=cb)
    return pairs.to_csr(len(candidates), len(demand))
