"""Merging adjacent uncovered cells into ranked gap clusters.

Adjacency is *rook* adjacency: two cells belong together when they share a
piece of boundary of positive length (an edge). Cells that only meet at a
corner are separate clusters, so a diagonal chain of gaps is not reported as
one large gap. Square grids take a fast path through row/column indices;
any other polygons go through a spatial index.

Cells that tile an exact lattice (:mod:`geo.lattice`) take a faster path:
connected-component labelling of the grid as a raster
(:func:`scipy.ndimage.label`, whose default structure is rook adjacency)
and one outline traced per reported cluster (:mod:`geo.trace`), on the
cells' own coordinates. It gives the same clusters, in the same order, with
the same polygons (symmetric difference of area 0) as dissolving the cells
with GEOS. Cells that are not a lattice but a clean edge-matched mesh (a
grid reprojected into the analysis CRS; :mod:`geo.mesh`) find neighbours by
shared edges and trace each reported cluster's outline from its boundary
edges, every vertex kept. GEOS remains the path for every other layout.
"""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from geo.lattice import GridLattice, grid_lattice
from geo.mesh import CellMesh, cell_mesh
from geo.trace import block_polygon, mesh_block_polygon

__all__ = ["uncovered_clusters", "rook_adjacency", "cell_topology"]

# Relative tolerance for recognising a regular grid of axis-aligned squares.
_GRID_TOL = 1e-6


def _grid_indices(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Row and column of every cell if they form one regular axis-aligned grid.

    Returns ``None`` when the polygons are not identical axis-aligned
    rectangles on a common lattice.
    """
    if geoms.size == 0:
        return None
    b = shapely.bounds(geoms)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    w0, h0 = float(w[0]), float(h[0])
    if not (w0 > 0 and h0 > 0):
        return None
    if np.any(np.abs(w - w0) > _GRID_TOL * w0) or np.any(np.abs(h - h0) > _GRID_TOL * h0):
        return None
    # a polygon fills its bounding box exactly when it is that rectangle
    if np.any(np.abs(shapely.area(geoms) - w * h) > _GRID_TOL * w0 * h0):
        return None
    fc = (b[:, 0] - b[:, 0].min()) / w0
    fr = (b[:, 1] - b[:, 1].min()) / h0
    col, row = np.rint(fc), np.rint(fr)
    if np.any(np.abs(fc - col) > 1e-4) or np.any(np.abs(fr - row) > 1e-4):
        return None
    return row.astype(np.int64), col.astype(np.int64)


def _grid_pairs(row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of cells one step apart east-west or north-south."""
    ncol = int(col.max()) + 2  # +1 spare column so that a row's end never wraps
    key = row * ncol + col
    order = np.argsort(key, kind="stable")
    skey = key[order]
    if np.any(skey[1:] == skey[:-1]):
        raise ValueError("cells overlap: two cells occupy the same grid position")
    a_out, b_out = [], []
    for step in (1, ncol):  # east neighbour, north neighbour
        pos = np.searchsorted(skey, key + step)
        pos_c = np.minimum(pos, skey.size - 1)
        hit = skey[pos_c] == key + step
        a_out.append(np.flatnonzero(hit))
        b_out.append(order[pos_c[hit]])
    return np.concatenate(a_out), np.concatenate(b_out)


def _touch_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of polygons sharing a boundary piece of positive length (or overlapping)."""
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if a.size == 0:
        return a, b
    # a corner contact intersects in a point (length 0); an edge in a line
    shared = shapely.intersection(shapely.boundary(geoms[a]), shapely.boundary(geoms[b]))
    edge = shapely.length(shared) > 0
    # overlapping polygons (digitising slop) also count as neighbours
    overlap = shapely.area(shapely.intersection(geoms[a], geoms[b])) > 0
    keep = edge | overlap
    return a[keep], b[keep]


def _pairs_to_csr(a: np.ndarray, b: np.ndarray, n: int) -> sparse.csr_matrix:
    """Symmetric 0/1 matrix from a list of undirected pairs."""
    data = np.ones(2 * a.size, dtype=np.int8)
    return sparse.csr_matrix((data, (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n))


def rook_adjacency(geoms: np.ndarray) -> sparse.csr_matrix:
    """Symmetric 0/1 adjacency matrix of polygons that share an edge.

    Parameters
    ----------
    geoms : array_like of shapely.Polygon
        Cell polygons.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n x n``, 1 where two cells share a boundary piece of positive length
        (or overlap).

    Notes
    -----
    A regular grid of identical axis-aligned rectangles is recognised and
    handled from row/column indices (linear time); anything else goes
    through an STR-tree query and an exact shared-boundary test.
    """
    geoms = np.asarray(geoms, dtype=object)
    grid = _grid_indices(geoms)
    a, b = _grid_pairs(*grid) if grid is not None else _touch_pairs(geoms)
    return _pairs_to_csr(a, b, geoms.size)


def _row_runs(geoms: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Grid cells merged into rectangles: horizontal runs, then runs stacked with the same span.

    Dissolving a few rectangles is far cheaper than dissolving every cell (a
    300,000-cell block becomes a few hundred rectangles); stacking runs that
    cover the same columns in consecutive rows halves the count again on
    blocky gaps.
    """
    order = np.lexsort((col, row))
    r, c = row[order], col[order]
    new = np.ones(order.size, dtype=bool)
    new[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1] + 1)
    first = order[new]
    last = order[np.r_[np.flatnonzero(new)[1:], order.size] - 1]
    # stack: runs with the same first and last column in consecutive rows
    stack = np.lexsort((row[first], col[last], col[first]))
    first, last = first[stack], last[stack]
    top = np.ones(first.size, dtype=bool)
    top[1:] = (
        (col[first[1:]] != col[first[:-1]])
        | (col[last[1:]] != col[last[:-1]])
        | (row[first[1:]] != row[first[:-1]] + 1)
    )
    lower = first[top]  # the bottom run of each stack: its first cell
    upper = last[np.r_[np.flatnonzero(top)[1:], top.size] - 1]  # the top run's last cell
    b0, b1 = shapely.bounds(geoms[lower]), shapely.bounds(geoms[upper])
    return shapely.box(b0[:, 0], b0[:, 1], b1[:, 2], b1[:, 3])


def _mesh_polygon(mesh: CellMesh, cells: np.ndarray, n: int) -> shapely.Polygon | None:
    """Union of mesh cells from the sides whose other side is outside them."""
    inside = np.zeros(n, dtype=bool)
    inside[cells] = True
    edges = mesh.edges_of(cells)
    twin = mesh.twin[edges]
    outer = edges[(twin < 0) | ~inside[mesh.cell[np.maximum(twin, 0)]]]
    return mesh_block_polygon(mesh.tail[outer], mesh.head[outer], mesh.x, mesh.y)


def cell_topology(geoms: ArrayLike) -> GridLattice | CellMesh | None:
    """What :func:`uncovered_clusters` can use instead of polygon overlays, if anything.

    The exact lattice of a regular grid (:func:`geo.lattice.grid_lattice`),
    else the clean mesh of a reprojected grid or any edge-matched layer
    (:func:`geo.mesh.cell_mesh`), else ``None``.
    """
    geoms = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    lattice = grid_lattice(geoms)
    return lattice if lattice is not None else cell_mesh(geoms)


def _plain_list(values: np.ndarray) -> list:
    """Python values (no numpy scalars), for JSON and GeoPackage writers."""
    if values.dtype != object:
        return values.tolist()  # converts in C
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def uncovered_clusters(
    cells_geometry: gpd.GeoSeries | ArrayLike,
    mask: np.ndarray,
    weights: np.ndarray,
    top: int | None = 10,
    ids: ArrayLike | None = None,
    *,
    topology: GridLattice | CellMesh | Literal["auto"] | None = "auto",
) -> gpd.GeoDataFrame:
    """Merge adjacent selected cells into clusters, largest population first.

    Parameters
    ----------
    cells_geometry : geopandas.GeoSeries or array_like of shapely.Polygon
        All cell polygons (index ``0..n-1``); a GeoSeries lends its CRS.
    mask : array_like of bool
        Cells to cluster, e.g. uncovered cells with residents.
    weights : array_like of float
        Per cell weight (population) used to rank clusters.
    top : int or None, default 10
        Keep only this many clusters; ``None`` keeps all.
    ids : array_like, optional
        Cell identifiers to list per cluster; the cell positions by default.
    topology : GridLattice, CellMesh, "auto" or None, default "auto"
        :func:`cell_topology` of ``cells_geometry``, computed once by a caller
        that clusters the same cells several times; ``"auto"`` computes it;
        ``None`` finds neighbours and dissolves the cell polygons with GEOS
        whatever their layout.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cluster, ranked by ``population`` (descending; ties by
        first cell): ``rank`` (1 = largest), ``population``, ``n_cells``,
        ``cell_ids`` (list), and the dissolved cluster polygon ``geometry``.

    Raises
    ------
    ValueError
        If ``mask``, ``weights`` or ``topology`` do not have one value per cell.
    """
    crs = getattr(cells_geometry, "crs", None)
    geoms = np.asarray(getattr(cells_geometry, "values", cells_geometry), dtype=object)
    n = geoms.size
    mask = np.asarray(mask, dtype=bool).ravel()
    weights = np.asarray(weights, dtype=np.float64).ravel()
    if mask.size != n or weights.size != n:
        raise ValueError(f"mask ({mask.size}) and weights ({weights.size}) must have one value per cell ({n})")
    ids = np.arange(n) if ids is None else np.asarray(ids)

    sel = np.flatnonzero(mask)
    columns = ["rank", "population", "n_cells", "cell_ids"]
    if sel.size == 0:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=crs)
    if isinstance(topology, str):
        topology = cell_topology(geoms)
    lattice = topology if isinstance(topology, GridLattice) else None
    mesh = topology if isinstance(topology, CellMesh) else None
    n_topo = -1 if topology is None else (lattice.row.size if lattice is not None else mesh.n_cells)
    if topology is not None and n_topo != n:
        raise ValueError(f"topology ({n_topo} cells) must have one position per cell ({n})")
    grid = None
    if lattice is not None:
        labels2d, _ = ndimage.label(lattice.raster(sel))
        labels = labels2d[lattice.row[sel], lattice.col[sel]].astype(np.int64) - 1
        grid = lattice.row[sel], lattice.col[sel]
    elif mesh is not None:
        a, b = mesh.neighbour_pairs()
        both = mask[a] & mask[b]
        _, labels = csgraph.connected_components(_pairs_to_csr(a[both], b[both], n), directed=False)
        # renumber the pieces that hold selected cells 0..k-1
        used = np.zeros(int(labels.max()) + 1, dtype=bool)
        used[labels[sel]] = True
        labels = (np.cumsum(used) - 1)[labels[sel]].astype(np.int64)
    else:
        grid = _grid_indices(geoms[sel])
        a, b = _grid_pairs(*grid) if grid is not None else _touch_pairs(geoms[sel])
        _, labels = csgraph.connected_components(_pairs_to_csr(a, b, sel.size), directed=False)
    n_clusters = int(labels.max()) + 1
    pop = np.bincount(labels, weights=weights[sel], minlength=n_clusters)
    size = np.bincount(labels, minlength=n_clusters)
    first = np.full(n_clusters, n, dtype=np.int64)
    np.minimum.at(first, labels, sel)
    ranked = np.lexsort((first, -pop))
    if top is not None:
        ranked = ranked[:top]

    by_label = np.argsort(labels, kind="stable")  # positions within ``sel``
    start = np.concatenate([[0], np.cumsum(size)])
    cell_lists, polys = [], []
    for c in ranked:
        local = by_label[start[c] : start[c + 1]]
        cell_lists.append(_plain_list(ids[sel[local]]))
        poly = None
        if lattice is not None:
            # the cluster's window of the raster (ndimage.find_objects would
            # find the windows of every cluster, holding the GIL all along)
            r0, r1 = int(grid[0][local].min()), int(grid[0][local].max()) + 1
            c0, c1 = int(grid[1][local].min()), int(grid[1][local].max()) + 1
            block = labels2d[r0:r1, c0:c1] == c + 1
            poly = block_polygon(block, lattice.xs[c0 : c1 + 1], lattice.ys[r0 : r1 + 1])
        elif mesh is not None:
            poly = _mesh_polygon(mesh, sel[local], n)
        if poly is None:
            cells = geoms[sel[local]]
            parts = _row_runs(cells, grid[0][local], grid[1][local]) if grid is not None else cells
            poly = shapely.union_all(parts)
        polys.append(poly)
    return gpd.GeoDataFrame(
        {
            "rank": np.arange(1, ranked.size + 1),
            "population": pop[ranked],
            "n_cells": size[ranked],
            "cell_ids": cell_lists,
        },
        geometry=polys,
        crs=crs,
    )
