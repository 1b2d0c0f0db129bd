"""Cells that form a clean mesh: neighbours share whole edges, vertex for vertex.

A grid reprojected into another CRS is no longer a lattice of axis-aligned
squares, but it is still a *mesh*: the projection maps a shared corner to the
same coordinates in both cells, so neighbouring cells share their common side
as one identical edge. On such a layer, two cells are rook neighbours exactly
when one traverses an edge that the other traverses backwards, and the union
of a block of cells is bounded by the edges whose other side is outside the
block; both follow from the coordinates alone, without GEOS overlays.

:func:`cell_mesh` recognises such a layer and refuses (returns ``None``)
anything where that shortcut could differ from the polygon path of
:mod:`geo.clusters`: holes, repeated or degenerate edges, an edge used twice
in one direction (overlap or duplicate cells), sides that meet a neighbour's
side only in part (T-junctions), crossing outlines, or one piece of the mesh
lying inside another's cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.sparse import csgraph

from geo.grouping import concat_ranges
from geo.jit import kernel

__all__ = ["CellMesh", "cell_mesh"]

_POLYGON = 3  # shapely.get_type_id of a Polygon


@dataclass(frozen=True, eq=False)
class CellMesh:
    """Cells as faces of a mesh, each side a directed edge (cell on its left).

    Attributes
    ----------
    first_edge : numpy.ndarray of int64
        ``n + 1`` offsets: cell ``i``'s edges are ``first_edge[i]:first_edge[i + 1]``.
    cell : numpy.ndarray of int64
        The cell of each edge.
    tail, head : numpy.ndarray of int64
        Vertex ids at the start and end of each edge (counter-clockwise).
    twin : numpy.ndarray of int64
        The same edge traversed backwards by the neighbouring cell, ``-1`` on
        the outline of the layer.
    x, y : numpy.ndarray of float64
        Coordinates of each vertex id.
    """

    first_edge: np.ndarray
    cell: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    twin: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return self.first_edge.size - 1

    def neighbour_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every pair of cells sharing an edge, once."""
        k = np.flatnonzero(self.twin > np.arange(self.twin.size))
        return self.cell[k], self.cell[self.twin[k]]

    def edges_of(self, cells: np.ndarray) -> np.ndarray:
        """Edge indices of ``cells``."""
        start = self.first_edge[cells]
        return concat_ranges(start, self.first_edge[cells + 1] - start)


def _outline_is_clean(mesh: CellMesh, outline: np.ndarray) -> bool:
    """Outline edges meet only at shared vertices, never along a length or across."""
    if outline.size == 0:
        return True
    t, h = mesh.tail[outline], mesh.head[outline]
    segs = shapely.linestrings(
        np.stack([np.column_stack([mesh.x[t], mesh.y[t]]), np.column_stack([mesh.x[h], mesh.y[h]])], axis=1)
    )
    a, b = shapely.STRtree(segs).query(segs, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    share = (t[a] == t[b]) | (t[a] == h[b]) | (h[a] == t[b]) | (h[a] == h[b])
    if not share.all():
        return False  # a crossing, or a vertex on another side (T-junction)
    # two segments from one shared vertex run along each other only when their
    # other ends lie in the same direction; refuse anything near that
    s = np.where((t[a] == t[b]) | (t[a] == h[b]), t[a], h[a])
    p = np.where(t[a] == s, h[a], t[a])
    q = np.where(t[b] == s, h[b], t[b])
    px, py = mesh.x[p] - mesh.x[s], mesh.y[p] - mesh.y[s]
    qx, qy = mesh.x[q] - mesh.x[s], mesh.y[q] - mesh.y[s]
    cross, dot = px * qy - py * qx, px * qx + py * qy
    along = (dot > 0) & (np.abs(cross) <= 1e-9 * np.hypot(px, py) * np.hypot(qx, qy))
    return not along.any()


def _pieces_do_not_nest(geoms: np.ndarray, mesh: CellMesh) -> bool:
    """No connected piece of the mesh lies inside a cell of another piece."""
    a, b = mesh.neighbour_pairs()
    n = mesh.n_cells
    adj = sparse.csr_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
    n_pieces, piece = csgraph.connected_components(adj, directed=False)
    if n_pieces == 1:
        return True
    _, first = np.unique(piece, return_index=True)
    points = shapely.point_on_surface(geoms[first])
    hit_point, hit_cell = shapely.STRtree(geoms).query(points, predicate="intersects")
    return bool(np.all(hit_cell == first[hit_point]))


@kernel
def _build(xy: np.ndarray, ring_start: np.ndarray):
    """Vertex ids, counter-clockwise edges and their twins, in one pass per step.

    Returns ``(tail, head, cell, twin, vx, vy, status)``; ``status`` is 0 for
    a clean set of faces, else the first problem met (1 a repeated point,
    2 a cell of zero area, 3 an edge run twice the same way, 4 a cell
    running along itself).
    """
    n = ring_start.size - 1
    n_pts = xy.shape[0]
    # vertex ids: open addressing on the coordinates' bits (exact identity)
    bits = xy.view(np.uint64)
    size = 1
    while size < 2 * n_pts:
        size *= 2
    table = np.full(size, -1, dtype=np.int64)
    vid = np.empty(n_pts, dtype=np.int64)
    vx = np.empty(n_pts)
    vy = np.empty(n_pts)
    nv = 0
    for p in range(n_pts):
        bx, by = bits[p, 0], bits[p, 1]
        h = ((bx * np.uint64(0x9E3779B97F4A7C15)) ^ (by * np.uint64(0xC2B2AE3D27D4EB4F))) >> np.uint64(17)
        slot = np.int64(h & np.uint64(size - 1))
        while True:
            q = table[slot]
            if q < 0:
                table[slot] = p
                vid[p] = nv
                vx[nv] = xy[p, 0]
                vy[nv] = xy[p, 1]
                nv += 1
                break
            if bits[q, 0] == bx and bits[q, 1] == by:
                vid[p] = vid[q]
                break
            slot = (slot + 1) & (size - 1)
    m = n_pts - n
    tail = np.empty(m, dtype=np.int64)
    head = np.empty(m, dtype=np.int64)
    cell = np.empty(m, dtype=np.int64)
    twin = np.full(m, -1, dtype=np.int64)
    k = 0
    for i in range(n):
        a, b = ring_start[i], ring_start[i + 1] - 1  # the last point repeats the first
        x0, y0 = xy[a, 0], xy[a, 1]
        s = 0.0
        for p in range(a, b):
            s += (xy[p, 0] - x0) * (xy[p + 1, 1] - y0) - (xy[p + 1, 0] - x0) * (xy[p, 1] - y0)
        if s == 0.0:
            return tail, head, cell, twin, vx[:nv], vy[:nv], 2
        for p in range(a, b):
            u, v = vid[p], vid[p + 1]
            if u == v:
                return tail, head, cell, twin, vx[:nv], vy[:nv], 1
            if s > 0:
                tail[k], head[k] = u, v
            else:
                tail[k], head[k] = v, u
            cell[k] = i
            k += 1
    # edges grouped by tail vertex (counting sort), then each edge's twin among its head's
    start = np.zeros(nv + 1, dtype=np.int64)
    for e in range(m):
        start[tail[e] + 1] += 1
    for v in range(nv):
        start[v + 1] += start[v]
    fill = start[:-1].copy()
    by_tail = np.empty(m, dtype=np.int64)
    for e in range(m):
        by_tail[fill[tail[e]]] = e
        fill[tail[e]] += 1
    for e in range(m):
        u, v = tail[e], head[e]
        for j in range(start[u], start[u + 1]):
            f = by_tail[j]
            if f != e and head[f] == v:
                return tail, head, cell, twin, vx[:nv], vy[:nv], 3
        for j in range(start[v], start[v + 1]):
            f = by_tail[j]
            if head[f] == u:
                if cell[f] == cell[e]:
                    return tail, head, cell, twin, vx[:nv], vy[:nv], 4
                twin[e] = f
    return tail, head, cell, twin, vx[:nv], vy[:nv], 0


def cell_mesh(geoms: ArrayLike) -> CellMesh | None:
    """The mesh the cell polygons form, or ``None`` if they do not form a clean one.

    Parameters
    ----------
    geoms : array_like of shapely geometries
        Cell polygons.

    Returns
    -------
    CellMesh or None
        ``None`` unless every geometry is a polygon without holes or repeated
        points, every side is shared whole with at most one other cell that
        runs it the other way, outlines neither cross nor touch along a length
        or at a T-junction, and no piece of the mesh lies inside another.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = geoms.size
    if n == 0 or not np.all(shapely.get_type_id(geoms) == _POLYGON):
        return None
    if np.any(shapely.get_num_interior_rings(geoms) != 0):
        return None
    counts = shapely.get_num_coordinates(geoms)  # closed rings: last = first
    if np.any(counts < 4):
        return None
    xy = shapely.get_coordinates(geoms)
    if not np.isfinite(xy).all():
        return None
    ring_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    tail, head, cell, twin, vx, vy, status = _build(xy, ring_start)
    if status != 0:
        return None
    mesh = CellMesh(
        first_edge=np.concatenate([[0], np.cumsum(counts - 1)]).astype(np.int64),
        cell=cell,
        tail=tail,
        head=head,
        twin=twin,
        x=vx,
        y=vy,
    )
    if not _outline_is_clean(mesh, np.flatnonzero(twin < 0)):
        return None
    if not _pieces_do_not_nest(geoms, mesh):
        return None
    return mesh
