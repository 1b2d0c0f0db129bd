"""Walking service areas: the streets reachable within a budget, buffered.

A service area is built from the *reached street segments*, never from a
convex hull of reached nodes (a hull swallows rivers, rail yards and gated
blocks). For every source and budget ``b``:

* an edge ``(u, v)`` of length ``L`` whose end ``u`` is reached at distance
  ``d_u`` is walked ``b - d_u`` metres in from ``u``; likewise from ``v``;
  when the two reaches meet (``(b - d_u) + (b - d_v) >= L``) the whole edge is
  reached, otherwise two pieces are, and the middle is not;
* the source's own edge is also walked directly from the snapped position,
  ``b - access`` metres each way (it may reach neither end);
* the pieces are cut exactly out of the edge geometries (vectorised, no
  per-line Python); each area is the union of their buffers (see
  :func:`_buffer_groups` for why not one buffer of a MultiLineString).

Distances come from one bounded ``scipy.sparse.csgraph.dijkstra`` per batch
of nearby sources on the piece of network within reach of them, with the
sources attached as virtual nodes (see :func:`geo.local_paths.local_node_distances`).
Outlines are the exact union of buffers by default, or traced on a raster
(``method="raster"``, :mod:`geo.service_area_raster`), several times faster on
dense street grids. Buffers run in a thread pool: shapely
releases the GIL, so they overlap with the next batch's Dijkstra.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
import shapely

from geo.grouping import concat_ranges
from geo.local_paths import LocalDistances, local_node_distances
from geo.network import WalkNetwork
from geo.service_area_raster import raster_outline
from geo.snap import Snapped
from geo.threads import CORES

__all__ = ["Reached", "reached_segments", "service_areas"]

Progress = Callable[[int, int], None]



@dataclass(frozen=True, eq=False)
class Reached:
    """Street pieces reachable from each source within each budget.

    Attributes
    ----------
    source : numpy.ndarray of int64
        Index of the source.
    budget : numpy.ndarray of int64
        Index into the budgets (sorted as given).
    edge : numpy.ndarray of int64
        Network edge the piece lies on.
    start, end : numpy.ndarray of float64
        Where the piece begins and ends, in metres from the edge's ``u`` end
        measured in :attr:`WalkNetwork.length` (``start < end``). Pieces of
        one edge for one source and budget never overlap.
    geometry : numpy.ndarray of shapely.LineString
        The piece cut out of the edge geometry, running from ``u`` towards ``v``.
    """

    source: np.ndarray
    budget: np.ndarray
    edge: np.ndarray
    start: np.ndarray
    end: np.ndarray
    geometry: np.ndarray

    def __len__(self) -> int:
        return int(self.edge.size)

    @property
    def length_m(self) -> np.ndarray:
        """Walked length of every piece in metres."""
        return self.end - self.start


def _budgets(budgets_m: float | Sequence[float]) -> np.ndarray:
    b = np.atleast_1d(np.asarray(budgets_m, dtype=np.float64))
    if b.ndim != 1 or b.size == 0:
        raise ValueError("budgets_m must be one number or a flat sequence of numbers")
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise ValueError(f"budgets_m must be finite and non-negative metres, got {b.tolist()}")
    return b


def _incidence(network: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Node-to-edge incidence as CSR arrays ``(indptr, edge ids)``."""
    ends = np.concatenate([network.u, network.v])
    edges = np.concatenate([np.arange(network.n_edges)] * 2)
    order = np.argsort(ends, kind="stable")
    indptr = np.zeros(network.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=network.n_nodes), out=indptr[1:])
    return indptr, edges[order]


def _touched_edges(
    local: LocalDistances,
    limit: float,
    incidence: tuple[np.ndarray, np.ndarray],
    own_edge: np.ndarray,
    n_edges: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(row, edge) pairs with a reached end node, plus every row's own edge."""
    indptr, eids = incidence
    rows, cols = np.nonzero(local.dist <= limit)
    nodes = local.nodes[cols]
    counts = indptr[nodes + 1] - indptr[nodes]
    r = np.concatenate([np.repeat(rows, counts), np.flatnonzero(own_edge >= 0)])
    e = np.concatenate([eids[concat_ranges(indptr[nodes], counts)], own_edge[own_edge >= 0]])
    key = np.unique(r * n_edges + e)
    return key // n_edges, key % n_edges


def _edge_intervals(
    budget: float,
    length: np.ndarray,
    d_u: np.ndarray,
    d_v: np.ndarray,
    own: np.ndarray,
    to_u: np.ndarray,
    access: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reached intervals ``[start, end]`` (metres from ``u``) of touched edges.

    Each edge is reached ``[0, lo]`` from ``u`` and ``[hi, L]`` from ``v``;
    the source's own edge adds ``[t - w, t + w]`` around the source position
    ``t`` with ``w = budget - access``. Returns ``(which, start, end)`` with
    ``which`` indexing the input edges; empty intervals are dropped.
    """
    # unreached ends have d = inf: budget - inf = -inf clips to "no reach"
    lo = np.clip(budget - d_u, 0.0, length)
    hi = length - np.clip(budget - d_v, 0.0, length)
    w = budget - access
    mid = own & (w > 0)
    cs = np.where(mid, np.maximum(to_u - w, 0.0), np.inf)
    ce = np.where(mid, np.minimum(to_u + w, length), -np.inf)
    # The middle interval joins the u-side piece when they touch, and/or the
    # v-side piece; either way it is then no longer a separate piece.
    join_lo = mid & (cs <= lo)
    join_hi = mid & (ce >= hi)
    lo = np.where(join_lo, np.maximum(lo, ce), lo)
    hi = np.where(join_hi, np.minimum(hi, cs), hi)
    full = lo >= hi
    alone = mid & ~join_lo & ~join_hi & ~full

    idx = np.arange(length.size)
    which = np.concatenate([idx[full], idx[~full], idx[~full], idx[alone]])
    start = np.concatenate([np.zeros(full.sum()), np.zeros((~full).sum()), hi[~full], cs[alone]])
    end = np.concatenate([length[full], lo[~full], length[~full], ce[alone]])
    keep = end > start
    return which[keep], start[keep], end[keep]


def _cut(network: WalkNetwork, edge: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """LineStrings of ``edge`` between ``start`` and ``end`` (network metres from ``u``).

    Positions are mapped to the geometry by fraction of the edge length, so
    an edge whose stored length differs from its drawn length (geodesic vs
    projected) is still cut at the right proportion.
    """
    if edge.size == 0:
        return np.empty(0, dtype=object)
    length = network.length[edge]
    with np.errstate(invalid="ignore", divide="ignore"):
        fs = np.where(length > 0, start / length, 0.0)
        fe = np.where(length > 0, end / length, 0.0)
    if network.geometry is None:
        ax, ay = network.x[network.u[edge]], network.y[network.u[edge]]
        bx, by = network.x[network.v[edge]], network.y[network.v[edge]]
        coords = np.stack(
            [np.column_stack([ax + (bx - ax) * fs, ay + (by - ay) * fs]),
             np.column_stack([ax + (bx - ax) * fe, ay + (by - ay) * fe])],
            axis=1,
        )
        return shapely.linestrings(coords)

    uniq, inv = np.unique(edge, return_inverse=True)
    lines = network.geometry[uniq]
    xy, owner = shapely.get_coordinates(lines, return_index=True)
    n_vert = np.bincount(owner, minlength=uniq.size)
    first = np.cumsum(n_vert) - n_vert
    step = np.hypot(*np.diff(xy, axis=0, prepend=xy[:1]).T)
    step[first] = 0.0
    cum = np.cumsum(step)
    m = cum - np.repeat(cum[first], n_vert)  # distance of each vertex along its own line
    drawn = m[first + n_vert - 1]

    s_geo = fs * drawn[inv]
    e_geo = fe * drawn[inv]
    # every vertex of every piece's line, then keep those strictly inside the piece
    vid = concat_ranges(first[inv], n_vert[inv])
    pid = np.repeat(np.arange(edge.size), n_vert[inv])
    inside = (m[vid] > s_geo[pid]) & (m[vid] < e_geo[pid])
    vid, pid = vid[inside], pid[inside]

    piece_lines = lines[inv]
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(piece_lines, s_geo))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(piece_lines, e_geo))
    all_xy = np.concatenate([p0, xy[vid], p1])
    all_pid = np.concatenate([np.arange(edge.size), pid, np.arange(edge.size)])
    rank = np.concatenate([np.full(edge.size, -1), vid, np.full(edge.size, xy.shape[0])])
    order = np.lexsort((rank, all_pid))
    return shapely.linestrings(all_xy[order], indices=all_pid[order])


def _iter_intervals(
    network: WalkNetwork,
    sources: Snapped,
    budgets: np.ndarray,
    progress: Progress | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(source, budget_index, edge, start, end)`` arrays batch by batch."""
    live = int(np.count_nonzero(sources.ok))
    if live == 0 or network.n_edges == 0:
        return
    incidence = _incidence(network)
    limit = float(budgets.max())
    done = 0
    for local in local_node_distances(network, sources, limit):
        batch = local.sources
        own_edge = sources.edge[batch]
        r, e = _touched_edges(local, limit, incidence, own_edge, network.n_edges)
        d_u, d_v = local.at(r, network.u[e]), local.at(r, network.v[e])
        src = batch[r]
        own = own_edge[r] == e
        for j, b in enumerate(budgets):
            which, start, end = _edge_intervals(
                b, network.length[e], d_u, d_v, own, sources.to_u[src], sources.access[src]
            )
            yield src[which], np.full(which.size, j, dtype=np.int64), e[which], start, end
        done += batch.size
        if progress is not None:
            progress(done, live)


def reached_segments(
    network: WalkNetwork,
    sources: Snapped,
    budgets_m: float | Sequence[float],
    progress: Progress | None = None,
) -> Reached:
    """The street pieces each source reaches within each walking budget.

    Parameters
    ----------
    network : WalkNetwork
    sources : Snapped
        Snapped facilities; unsnapped ones reach nothing.
    budgets_m : float or sequence of float
        Walking budgets in metres (access leg included).
    progress : callable, optional
        ``progress(done, total)`` after each batch of sources.

    Returns
    -------
    Reached
        Every reached piece, its position along its edge and its geometry.

    Raises
    ------
    ValueError
        If a budget is negative or not finite.
    """
    budgets = _budgets(budgets_m)
    parts = list(_iter_intervals(network, sources, budgets, progress))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return Reached(empty, empty, empty, np.empty(0), np.empty(0), np.empty(0, dtype=object))
    src, bud, edge, start, end = (np.concatenate(p) for p in zip(*parts))
    order = np.lexsort((start, edge, bud, src))
    src, bud, edge, start, end = src[order], bud[order], edge[order], start[order], end[order]
    return Reached(src, bud, edge, start, end, _cut(network, edge, start, end))


def _buffer_groups(lines: np.ndarray, group: np.ndarray, buffer_m: float, quad_segs: int) -> tuple[np.ndarray, np.ndarray]:
    """One buffered polygon per group of lines; returns ``(group ids, polygons)``.

    GEOS buffers a large MultiLineString very slowly (18 s for the 5,500
    pieces one Helsinki facility reaches in 15 minutes): it nodes every
    offset curve against every other. Merging chains of pieces, simplifying
    them by a tenth of the buffer width (invisible once buffered), buffering
    each line on its own and dissolving with ``union_all`` gives the same
    polygon about 100 times faster.
    """
    order = np.argsort(group, kind="stable")
    lines, group = lines[order], group[order]
    ids, first = np.unique(group, return_index=True)
    dense = np.repeat(np.arange(ids.size), np.diff(np.append(first, group.size)))
    merged = shapely.line_merge(shapely.multilinestrings(lines, indices=dense))
    parts, owner = shapely.get_parts(merged, return_index=True)
    parts = shapely.simplify(parts, buffer_m / 10.0)
    bands = shapely.buffer(parts, buffer_m, quad_segs=quad_segs)
    cut = np.flatnonzero(np.diff(owner)) + 1
    return ids, np.array([shapely.union_all(b) for b in np.split(bands, cut)], dtype=object)


def _raster_groups(lines: np.ndarray, group: np.ndarray, buffer_m: float, pixel_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`_buffer_groups`, each band traced on a raster (:mod:`geo.service_area_raster`)."""
    order = np.argsort(group, kind="stable")
    lines, group = lines[order], group[order]
    ids, first = np.unique(group, return_index=True)
    parts = np.split(lines, first[1:])
    return ids, np.array([raster_outline(p, buffer_m, pixel_m) for p in parts], dtype=object)


def service_areas(
    network: WalkNetwork,
    sources: Snapped,
    budgets_m: float | Sequence[float],
    buffer_m: float = 25.0,
    progress: Progress | None = None,
    quad_segs: int = 2,
    workers: int | None = None,
    method: str = "vector",
    pixel_m: float | None = None,
) -> np.ndarray:
    """Walking service-area polygons, one per source and budget.

    Parameters
    ----------
    network : WalkNetwork
    sources : Snapped
        Snapped facilities; unsnapped ones get an empty polygon.
    budgets_m : float or sequence of float
        Walking budgets in metres (access leg included), e.g. ``1080`` for
        15 minutes at 1.2 m/s.
    buffer_m : float, default 25
        Half-width of the band drawn around the reached streets.
    progress : callable, optional
        ``progress(done, total)`` after each batch of sources.
    quad_segs : int, default 2
        Segments per quarter circle in the buffer's round caps; low values
        keep large areas cheap and look the same at city scale.
    workers : int, optional
        Threads for buffering (default: CPU count).
    method : {"vector", "raster"}, default "vector"
        ``"vector"``: the union of the buffered street lines (GEOS).
        ``"raster"``: the band traced on a raster of ``pixel_m`` pixels
        (:func:`geo.service_area_raster.raster_outline`), several times
        faster on dense street grids; its outline is within about a pixel
        of the vector one (area within ~2 %, see the tests and
        ``bench/RESULTS.md``). Reached streets are the same either way.
    pixel_m : float, optional
        Pixel side for ``"raster"``; default ``buffer_m / 5``.

    Returns
    -------
    numpy.ndarray of shapely.Polygon or MultiPolygon
        Shape ``(len(sources),)`` for a single number budget, otherwise
        ``(len(sources), len(budgets_m))``. A source that reaches no street
        (unsnapped, or an access leg longer than the budget) gets an empty
        polygon.

    Raises
    ------
    ValueError
        If a budget, ``buffer_m`` or ``pixel_m`` is negative or not finite,
        or ``method`` is unknown.
    """
    budgets = _budgets(budgets_m)
    if not np.isfinite(buffer_m) or buffer_m <= 0:
        raise ValueError(f"buffer_m must be a positive number of metres, got {buffer_m!r}")
    if method == "vector":
        outline = partial(_buffer_groups, buffer_m=buffer_m, quad_segs=quad_segs)
    elif method == "raster":
        pixel = buffer_m / 5 if pixel_m is None else float(pixel_m)
        if not np.isfinite(pixel) or pixel <= 0:
            raise ValueError(f"pixel_m must be a positive number of metres, got {pixel_m!r}")
        outline = partial(_raster_groups, buffer_m=buffer_m, pixel_m=pixel)
    else:
        raise ValueError(f"method must be 'vector' or 'raster', got {method!r}")
    nb = budgets.size
    out = np.empty(len(sources) * nb, dtype=object)
    out[:] = [shapely.Polygon() for _ in range(out.size)]

    n_threads = workers or CORES
    pending: deque[Future] = deque()

    def collect(job: Future) -> None:
        ids, polys = job.result()
        out[ids] = polys

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        for src, bud, edge, start, end in _iter_intervals(network, sources, budgets, progress):
            if edge.size:
                lines = _cut(network, edge, start, end)
                pending.append(pool.submit(outline, lines, src * nb + bud))
            while len(pending) > 2 * n_threads:  # bound the memory held by queued lines
                collect(pending.popleft())
        while pending:
            collect(pending.popleft())
    out = out.reshape(len(sources), nb)
    return out if np.ndim(budgets_m) else out[:, 0]
