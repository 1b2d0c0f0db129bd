"""Run standards over a City: per-cell distances, coverage and summaries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.clusters import uncovered_clusters
from geo.euclid import nearest_euclidean
from geo.load import facility_load
from geo.paths import nearest_source
from geo.threads import CORES
from layers.city import City
from scenarios.standards import Standard, resolve_standards

if TYPE_CHECKING:
    from geo.lattice import GridLattice
    from geo.mesh import CellMesh

__all__ = [
    "StandardResult",
    "CoverageResult",
    "evaluate",
    "evaluate_standard",
    "nearest_for_standard",
    "standard_result",
    "band_labels",
    "band_shares",
    "SEARCH_FACTOR",
    "STATUS_COVERED",
    "STATUS_BEYOND_THRESHOLD",
    "STATUS_BEYOND_SEARCH",
    "STATUS_OFF_NETWORK",
]

SEARCH_FACTOR = 2.0
"""Distances are searched up to this multiple of a standard's threshold, so
maps can show how far beyond the standard an uncovered cell is; farther cells
get ``inf``."""

STATUS_COVERED = "covered"
STATUS_BEYOND_THRESHOLD = "beyond threshold"
STATUS_BEYOND_SEARCH = "beyond search limit"
STATUS_OFF_NETWORK = "not on network"
_STATUS_LABELS = (STATUS_COVERED, STATUS_BEYOND_THRESHOLD, STATUS_BEYOND_SEARCH, STATUS_OFF_NETWORK)
"""Per-cell reach status of a standard (``<prefix>_status`` in the cells layer):
covered; found but farther than the threshold; farther than the search limit
(``<prefix>_search_limit_m``, so the distance is unknown and left blank); or,
for walking standards, too far from any street to be placed on the network."""

Progress = Callable[[str, float], None]

Topology = Callable[[], "GridLattice | CellMesh | None"]
"""Gives the cells' topology for the gap clusters (:func:`geo.clusters.cell_topology`), waiting for it if need be."""


@dataclass(eq=False)
class StandardResult:
    """One standard evaluated on every cell of a city.

    Attributes
    ----------
    standard : Standard
    dist_m : numpy.ndarray
        Distance in metres to the nearest qualifying facility (straight line
        or walk, per the standard), ``inf`` beyond the search limit.
    time_min : numpy.ndarray
        ``dist_m`` as minutes at the standard's walking speed.
    facility : numpy.ndarray of int64
        Row position in ``city.facilities`` of the nearest facility, ``-1``.
    covered : numpy.ndarray of bool
        ``dist_m <= standard.threshold_m``.
    weight : numpy.ndarray
        The population column the standard counts (population or elderly).
    band : numpy.ndarray of str or None
        Walk-time band label per cell when the standard defines bands.
    clusters : geopandas.GeoDataFrame
        The largest clusters of adjacent uncovered cells, by population.
    load : numpy.ndarray
        Per facility of the city, the weight whose nearest qualifying
        facility it is (0 for facilities of other kinds).
    unreachable_cells : int
        Cells not snapped to the network (only for network standards).
    """

    standard: Standard
    dist_m: np.ndarray
    time_min: np.ndarray
    facility: np.ndarray
    covered: np.ndarray
    weight: np.ndarray
    band: np.ndarray | None
    clusters: gpd.GeoDataFrame
    load: np.ndarray
    n_facilities: int = 0
    unreachable_cells: int = 0

    @property
    def search_limit_m(self) -> float:
        """Distance searched up to; farther cells have ``dist_m`` ``inf``."""
        return self.standard.threshold_m * SEARCH_FACTOR

    def status(self, off_network: np.ndarray | None = None) -> np.ndarray:
        """Reach status of every cell: one of the ``STATUS_*`` labels.

        Parameters
        ----------
        off_network : numpy.ndarray of bool, optional
            Cells not placed on the network; they are labelled
            :data:`STATUS_OFF_NETWORK` under a walking standard.
        """
        return np.array(_STATUS_LABELS, dtype=object)[self._status_code(off_network)]

    def _status_code(self, off_network: np.ndarray | None) -> np.ndarray:
        """Index into ``_STATUS_LABELS`` of every cell's :meth:`status`."""
        code = np.where(self.covered, 0, np.where(np.isfinite(self.dist_m), 1, 2))
        if off_network is not None and self.standard.mode == "network":
            code[off_network] = 3
        return code

    def summary(self) -> dict:
        """Population covered, share, uncovered cells and band shares."""
        s = self.standard
        total = float(self.weight.sum())
        covered = float(self.weight[self.covered].sum())
        out = {
            "standard": s.id,
            "title": s.title_en,
            "mode": s.mode,
            "kinds": ",".join(s.kinds),
            "threshold_m": round(s.threshold_m, 1),
            "threshold_min": s.threshold_min,
            "speed_mps": s.speed_mps,
            "weight": s.weight,
            "facilities": self.n_facilities,
            "total": round(total, 1),
            "covered": round(covered, 1),
            "share_covered": round(covered / total, 4) if total > 0 else None,
            "uncovered": round(total - covered, 1),
            "cells_uncovered": int(np.count_nonzero(~self.covered & (self.weight > 0))),
            "largest_gap": round(float(self.clusters["population"].iloc[0]), 1) if len(self.clusters) else 0.0,
            "cells_unreachable": self.unreachable_cells,
            "source": s.source,
        }
        out.update(band_shares(s, self.time_min, self.weight))
        return out


@dataclass(eq=False)
class CoverageResult:
    """All standards evaluated on one city."""

    city: City
    results: dict[str, StandardResult]

    def summary_frame(self) -> pd.DataFrame:
        """One row per standard."""
        return pd.DataFrame([r.summary() for r in self.results.values()])

    def cells_frame(self) -> gpd.GeoDataFrame:
        """The city's cells with per-standard result columns.

        For a standard with column prefix ``p`` (``clinic_walk``): ``p_dist_m``,
        ``p_time_min``, ``p_facility`` (facility id), ``p_covered``,
        ``p_band`` where the standard has bands, ``p_status`` (see
        :data:`STATUS_COVERED` and the other labels) and
        ``p_search_limit_m``: a blank distance is always explained by the
        status, beyond that limit or not on the network.
        """
        cells = self.city.cells
        ids = self.city.facilities["id"].to_numpy(dtype=object)
        off_network = None
        if any(r.unreachable_cells for r in self.results.values()):
            off_network = ~self.city.snapped_cells.ok  # cached by evaluate
        # The new columns are gathered and joined once (no copy of the cells and
        # 20-odd insertions), text columns picked from their few labels
        # (:func:`_labelled`, 0.06 -> 0.01 s a column at 750,000 cells): the same frame.
        columns: dict[str, object] = {}
        for r in self.results.values():
            p = r.standard.column
            columns[f"{p}_dist_m"] = np.where(np.isfinite(r.dist_m), np.round(r.dist_m, 3), np.nan)
            columns[f"{p}_time_min"] = np.where(np.isfinite(r.time_min), np.round(r.time_min, 3), np.nan)
            columns[f"{p}_facility"] = _labelled(ids, r.facility)
            columns[f"{p}_covered"] = r.covered
            if r.band is not None:
                columns[f"{p}_band"] = r.band
            columns[f"{p}_status"] = _labelled(np.array(_STATUS_LABELS, dtype=object), r._status_code(off_network))
            columns[f"{p}_search_limit_m"] = np.full(len(cells), round(r.search_limit_m, 3))
        if not columns:
            return cells.copy()
        return pd.concat([cells, pd.DataFrame(columns, index=cells.index)], axis=1)

    def facilities_frame(self) -> gpd.GeoDataFrame:
        """Facilities with the weight each one serves under each standard."""
        fac = self.city.facilities.copy()
        for r in self.results.values():
            in_kind = fac["kind"].isin(r.standard.kinds).to_numpy()
            fac[f"{r.standard.column}_serves"] = np.where(in_kind, np.round(r.load, 1), np.nan)
        return fac

    def clusters_frame(self) -> gpd.GeoDataFrame:
        """The largest uncovered clusters of every standard in one layer."""
        parts = [r.clusters.assign(standard=sid) for sid, r in self.results.items() if len(r.clusters)]
        if not parts:
            return gpd.GeoDataFrame({"standard": [], "population": []}, geometry=[], crs=self.city.crs)
        return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=self.city.crs)


def _labelled(labels: np.ndarray, code: np.ndarray) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``labels[code]``, missing where ``code`` is negative, as the column pandas would make of it.

    pandas turns an object array of text and ``None`` into its text dtype
    value by value (0.06 s a column at 750,000 cells); when that dtype is
    Arrow-backed the same array comes from one Arrow ``take`` of the few
    labels. Anything else (labels that are not all text, another text
    storage, no label used at all: pandas keeps ``object`` then) gets the
    object array pandas infers from, as before.
    """
    text = pd.Series([""]).dtype
    if (getattr(text, "storage", None) == "pyarrow" and (code >= 0).any()
            and all(isinstance(v, str) for v in labels)):
        import pyarrow as pa

        taken = pa.array(list(labels), type=pa.string()).take(pa.array(code, mask=code < 0))
        return pd.array(taken, dtype=text)
    picked = labels[np.maximum(code, 0)] if labels.size else np.full(code.size, None, dtype=object)
    return np.where(code >= 0, picked, None)


def band_labels(standard: Standard) -> list[str]:
    """Labels of a standard's walk-time bands: ``le15``, ``15to30``, ``gt30``."""
    edges = list(standard.bands_min)
    if not edges:
        return []
    labels = [f"le{edges[0]:g}"]
    labels += [f"{a:g}to{b:g}" for a, b in zip(edges[:-1], edges[1:])]
    labels.append(f"gt{edges[-1]:g}")
    return labels


def band_index(standard: Standard, time_min: np.ndarray) -> np.ndarray:
    """Index into :func:`band_labels` of each time (right-closed: 15.0 is in "<= 15")."""
    return np.searchsorted(np.asarray(standard.bands_min), time_min, side="left")


def band_shares(standard: Standard, time_min: np.ndarray, weight: np.ndarray) -> dict[str, float | None]:
    """``share_<band>`` of the total weight in each walk-time band (empty without bands)."""
    labels = band_labels(standard)
    if not labels:
        return {}
    idx = band_index(standard, time_min)
    total = float(weight.sum())
    sums = np.bincount(idx, weights=weight, minlength=len(labels))
    return {f"share_{label}": (round(float(v) / total, 4) if total > 0 else None) for label, v in zip(labels, sums)}


def nearest_for_standard(city: City, standard: Standard) -> tuple[np.ndarray, np.ndarray, int]:
    """Distance to and row of the nearest qualifying facility for every cell.

    Returns
    -------
    dist : numpy.ndarray
        Metres (straight line or walk), ``inf`` beyond ``SEARCH_FACTOR`` x threshold.
    facility : numpy.ndarray of int64
        Row position in ``city.facilities``, ``-1`` where ``dist`` is ``inf``.
    unreachable : int
        Cells not snapped to the network (0 for radius standards).
    """
    positions = city.facilities_of(standard.kinds)
    limit = standard.threshold_m * SEARCH_FACTOR
    unreachable = 0
    if standard.mode == "euclidean":
        fx, fy = city.facility_xy
        cx, cy = city.cell_xy
        dist, which = nearest_euclidean(fx[positions], fy[positions], cx, cy, limit=limit)
    else:
        cells = city.snapped_cells
        sources = city.snapped_facilities.take(positions)
        near = nearest_source(city.network, sources, cells, limit=limit)
        dist, which = near.dist, near.source
        unreachable = int(np.count_nonzero(~cells.ok))
    facility = np.where(which >= 0, positions[np.maximum(which, 0)] if positions.size else -1, -1)
    return dist, facility.astype(np.int64), unreachable


def standard_result(
    city: City,
    standard: Standard,
    dist: np.ndarray,
    facility: np.ndarray,
    *,
    unreachable: int = 0,
    clusters: gpd.GeoDataFrame | None = None,
    weight: np.ndarray | None = None,
    bands: bool = True,
    facilities: gpd.GeoDataFrame | None = None,
    topology: Topology | None = None,
) -> StandardResult:
    """Derive a :class:`StandardResult` from per-cell nearest distances.

    Parameters
    ----------
    city : City
        Its facilities must be the ones ``facility`` indexes.
    standard : Standard
    dist, facility : numpy.ndarray
        As returned by :func:`nearest_for_standard` (or kept incrementally).
    unreachable : int, default 0
    clusters : geopandas.GeoDataFrame, optional
        Gap clusters to attach; computed from the cells when ``None``.
    weight : numpy.ndarray, optional
        The standard's weight column, when the caller has it at hand.
    bands : bool, default True
        False leaves per-cell band labels out (summaries still have band shares).
    facilities : geopandas.GeoDataFrame, optional
        The facility layer ``facility`` indexes, when it is not
        ``city.facilities`` (a scenario being edited).
    topology : callable, optional
        Returns the cells' topology (:func:`geo.clusters.cell_topology`) for
        the gap clusters, e.g. a future's ``result`` while it is still being
        built; ``city.cell_topology`` by default.
    """
    facilities = city.facilities if facilities is None else facilities
    time_min = dist / standard.speed_mps / 60.0
    covered = dist <= standard.threshold_m
    if weight is None:
        weight = city.cells[standard.weight].to_numpy(dtype=np.float64)
    if clusters is None:
        cells_topology = city.cell_topology if topology is None else topology()
        clusters = uncovered_clusters(city.cells.geometry, ~covered & (weight > 0), weight, topology=cells_topology)
    labels = np.array(band_labels(standard), dtype=object)
    return StandardResult(
        standard=standard,
        dist_m=dist,
        time_min=time_min,
        facility=facility,
        covered=covered,
        weight=weight,
        band=labels[band_index(standard, time_min)] if bands and labels.size else None,
        clusters=clusters,
        load=facility_load(facility, weight, len(facilities)),
        n_facilities=int(facilities["kind"].isin(list(standard.kinds)).sum()),
        unreachable_cells=unreachable,
    )


def evaluate_standard(city: City, standard: Standard, topology: Topology | None = None) -> StandardResult:
    """Evaluate one standard on every cell of ``city``.

    Parameters
    ----------
    city : City
    standard : Standard
    topology : callable, optional
        Gives the cells' topology for the gap clusters (see :func:`standard_result`).

    Returns
    -------
    StandardResult
    """
    dist, facility, unreachable = nearest_for_standard(city, standard)
    return standard_result(city, standard, dist, facility, unreachable=unreachable, topology=topology)


def evaluate(
    city: City,
    standards: Sequence[Standard] | None = None,
    progress: Progress | None = None,
) -> CoverageResult:
    """Evaluate standards (all in the catalogue by default) on a city.

    Parameters
    ----------
    city : City
    standards : sequence of Standard, optional
        Defaults to every standard in the catalogue with default parameters.
    progress : callable, optional
        ``progress(step, fraction)`` after each standard (and before
        snapping, which the first network standard needs).

    Returns
    -------
    CoverageResult
    """
    standards = list(standards) if standards is not None else resolve_standards()
    say = progress or (lambda step, fraction: None)
    if any(s.mode == "network" for s in standards):
        # Shared, cached inputs are built once here, not raced for by the threads.
        say("snapping cells", 0.0)
        _ = city.snapped_cells, city.snapped_facilities, city.network.csr
    _ = city.cell_xy, city.facility_xy
    # The cells' topology is needed only by each standard's gap clusters, at its end: it is
    # built in a thread of its own beside the searches (which hold no GIL), not before them.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="topology") as beside:
        topology = beside.submit(lambda: city.cell_topology)
        say(f"evaluating {len(standards)} standards", 0.0)
        results = _run_standards(city, standards, topology.result, say)
    say("done", 1.0)
    return CoverageResult(city=city, results=results)


def _run_standards(city: City, standards: list[Standard], topology: Topology, say: Progress) -> dict[str, StandardResult]:
    """Every standard's result, by id, the standards run in threads."""
    # Standards are independent; their heavy parts (k-d tree queries, the
    # geo.dijkstra search, gap clusters) release the GIL, so threads overlap
    # them on a multi-core machine.
    # The longest first (walking before straight-line, farther limits first):
    # on 2 cores the 1M-node city's clinic walk alone outlasts the other three
    # together, so started last it would run on after they end.
    workers = max(1, min(len(standards), CORES))
    longest_first = sorted(range(len(standards)), key=lambda i: (standards[i].mode == "network", standards[i].threshold_m), reverse=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = {pool.submit(evaluate_standard, city, standards[i], topology): i for i in longest_first}
        for done, job in enumerate(as_completed(jobs), start=1):
            say(f"evaluated {standards[jobs[job]].id}", done / max(len(standards), 1))
        got = {i: job.result() for job, i in jobs.items()}
    return {s.id: got[i] for i, s in enumerate(standards)}
