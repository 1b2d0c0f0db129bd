"""How big a siting run will be, before anything is built.

:func:`estimate_siting` takes the same arguments as
:func:`scenarios.siting.site` and answers, in well under a second on a city
of a million nodes, how many candidates, candidate-cell pairs within reach
and spacing conflicts the run would handle and how much memory it would
need on top of the loaded city. A server uses it to refuse oversized work up
front. Pairs and spacing conflicts are counted for a seeded sample of the
candidates (walking distances measured for the sample) and scaled up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from geo.siting import SitingError, candidate_matrix
from geo.snap import Snapped, snap
from layers.city import City
from scenarios.standards import get_standard

__all__ = ["SitingEstimate", "estimate_siting"]

# Memory per item of a run, set to cover what was measured with some room
# (bench/bench_siting_scale.py, RESULTS.md "Siting speed and memory"): the demo
# p-median (203,688 pairs, 1.5 M spacing pairs, 9,884 candidates, 2,038 cells)
# peaked 230 MB above the loaded city (estimate 293 MB); the Guangzhou-sized
# p-median (1,853,592 pairs, 20,000 candidates, 750,880 cells) 730 MB with
# the candidates, the matrix and the solve (estimate 1.18 GB).
BYTES_PER_PAIR = 400
BYTES_PER_CONFLICT = 60
BYTES_PER_CANDIDATE = 2_000
BYTES_PER_CELL = 400
FIXED_BYTES = 100 * 2**20  # dense Dijkstra batches, HiGHS


@dataclass(frozen=True)
class SitingEstimate:
    """Size of a siting run, estimated before it starts.

    Attributes
    ----------
    candidates : int
        Candidate sites (generated ones counted before the boundary filter).
    cells : int
        Demand cells.
    pairs : int
        Candidate-cell pairs within the standard's reach (measured for a
        sample of the candidates, scaled).
    conflict_pairs : int
        Candidate pairs closer than the spacing rule (0 without one).
    bytes : int
        Peak memory the run needs beyond the loaded city.
    """

    candidates: int
    cells: int
    pairs: int
    conflict_pairs: int
    bytes: int

    def to_dict(self) -> dict[str, int]:
        """The figures as a JSON-ready dict."""
        return asdict(self)


def _generated_sample(city: City, spacing_m: float, n: int, rng: np.random.Generator) -> tuple[int, Snapped]:
    """How many candidates ``candidates_on_network`` makes, and ``n`` of them (edge midpoints, on the network)."""
    if not (np.isfinite(spacing_m) and spacing_m > 0):
        raise SitingError(f"spacing_m must be a positive number of metres, got {spacing_m!r}")
    net = city.network
    lines = net.edge_lines
    count = np.maximum(1, np.ceil(shapely.length(lines) / spacing_m)).astype(np.int64)
    total = int(count.sum())
    edges = np.sort(rng.choice(lines.size, size=min(n, total), p=count / total))
    pts = shapely.line_interpolate_point(lines[edges], 0.5, normalized=True)
    half = net.length[edges] / 2
    snapped = Snapped(edge=edges, to_u=half, to_v=half, access=np.zeros(edges.size), x=shapely.get_x(pts),
                      y=shapely.get_y(pts))
    return total, snapped


def _layer_sample(city: City, layer: gpd.GeoDataFrame, n: int, rng: np.random.Generator) -> tuple[int, Snapped]:
    pts = layer.to_crs(city.crs).geometry.values
    pick = np.sort(rng.choice(len(pts), size=min(n, len(pts)), replace=False))
    p = shapely.point_on_surface(np.asarray(pts, dtype=object)[pick])
    x, y = shapely.get_x(p), shapely.get_y(p)
    return len(pts), snap(city.network, x, y, max_dist=city.max_snap_m)


def estimate_siting(
    city: City,
    standard_id: str,
    problem: str = "mclp",
    p: int | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    spacing_m: float = 200.0,
    weight: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    min_spacing_m: float = 0.0,
    sample: int = 256,
) -> SitingEstimate:
    """Estimate the size of ``site(city, standard_id, ...)`` without building it.

    Parameters
    ----------
    city, standard_id, problem, p, candidates, spacing_m, weight, overrides
        As for :func:`scenarios.siting.site` (``problem`` and ``p`` do not
        change the size; they are accepted so a caller can pass one request).
    min_spacing_m : float
        ``PlannerChoices.min_spacing_m`` of the run (0: no spacing rule).
    sample : int
        Candidates sampled for the pair and conflict counts (seeded).

    Returns
    -------
    SitingEstimate

    Raises
    ------
    StandardError
        Unknown standard or bad override.
    SitingError
        A non-positive ``spacing_m``, or an empty candidate layer.
    """
    standard = get_standard(standard_id, **dict(overrides or {}))
    if weight is not None:
        standard = standard.with_overrides(weight=weight)
    rng = np.random.default_rng(0)
    if candidates is None:
        k, cands = _generated_sample(city, spacing_m, sample, rng)
    else:
        if len(candidates) == 0:
            raise SitingError("candidate layer has no rows")
        k, cands = _layer_sample(city, candidates, sample, rng)
    xy = np.column_stack([cands.x, cands.y])
    cx, cy = city.cell_xy
    m = int(cx.size)
    if standard.mode == "network":
        # walking pairs of the sample, measured: a straight-line count was 3x
        # too high on the demo (540 m elderly reach)
        ok = cands.take(np.flatnonzero(cands.ok))
        found = candidate_matrix(city.network, ok, city.snapped_cells, standard.threshold_m).nnz if len(ok) else 0
        per = found / max(len(ok), 1)
    else:
        near = cKDTree(np.column_stack([cx, cy])).query_ball_point(xy, standard.threshold_m, return_length=True)
        per = float(np.mean(near)) if len(near) else 0.0
    pairs = int(np.ceil(per * k))
    conflicts = 0
    if min_spacing_m > 0 and len(xy) > 1:
        # neighbours among the sample, scaled from the sample to all candidates
        close = cKDTree(xy).query_ball_point(xy, min_spacing_m, return_length=True) - 1
        conflicts = int(np.ceil(float(np.mean(close)) * k / len(xy) * k / 2))
    size = (BYTES_PER_PAIR * pairs + BYTES_PER_CONFLICT * conflicts + BYTES_PER_CANDIDATE * k
            + BYTES_PER_CELL * m + FIXED_BYTES)
    return SitingEstimate(candidates=k, cells=m, pairs=pairs, conflict_pairs=conflicts, bytes=int(size))
