"""The walking network as a compact, immutable graph of numpy arrays.

A :class:`WalkNetwork` holds node coordinates and an undirected edge list in one
metric CRS, plus a symmetric ``scipy.sparse`` CSR adjacency matrix that the
shortest-path routines in :mod:`geo.paths` run on. No networkx in the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph

from geo.jit import kernel

__all__ = ["WalkNetwork"]

# csgraph treats a stored zero as "no edge" in some code paths; zero-length edges
# (two OSM nodes at the same spot) are therefore stored with this tiny weight.
# 1e-6 m is far below the 1 mm agreement we promise.
MIN_EDGE_M = 1e-6


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """An undirected walking network in a metric CRS.

    Parameters
    ----------
    x, y : numpy.ndarray
        Node coordinates in metres (float64, length ``n_nodes``).
    u, v : numpy.ndarray
        Edge end-node indices (int64, length ``n_edges``); ``u != v``.
    length : numpy.ndarray
        Edge lengths in metres along the street (float64).
    geometry : numpy.ndarray of shapely.LineString, optional
        Edge geometries running from node ``u`` to node ``v``. ``None`` means
        straight segments between the end nodes.
    crs : pyproj.CRS, optional
        The metric CRS of the coordinates.
    node_id : numpy.ndarray, optional
        External node identifiers (e.g. OSM ids), for reporting only.

    Notes
    -----
    Build it with :meth:`from_edges`, which drops self-loops and validates the
    arrays. Parallel edges are kept in the edge list (a point may snap onto any
    of them) but only the shortest of each node pair enters :attr:`csr`.
    """

    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    geometry: np.ndarray | None = None
    crs: CRS | None = None
    node_id: np.ndarray | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_edges(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        u: np.ndarray,
        v: np.ndarray,
        length: np.ndarray | None = None,
        geometry: np.ndarray | None = None,
        crs: CRS | str | int | None = None,
        node_id: np.ndarray | None = None,
    ) -> "WalkNetwork":
        """Build a network from node coordinates and an edge list.

        Parameters
        ----------
        x, y : array_like
            Node coordinates in metres.
        u, v : array_like of int
            Edge end-node indices into ``x``/``y``.
        length : array_like, optional
            Edge lengths in metres. Defaults to the geometry length, or the
            straight distance between the end nodes when there is no geometry.
        geometry : array_like of shapely.LineString, optional
            Edge geometries from ``u`` to ``v``.
        crs : pyproj.CRS or str or int, optional
            Metric CRS of the coordinates.
        node_id : array_like, optional
            External node identifiers.

        Returns
        -------
        WalkNetwork

        Raises
        ------
        ValueError
            If an index is out of range, a length is negative or not finite,
            or the arrays disagree in length.
        """
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        u = np.ascontiguousarray(u, dtype=np.int64)
        v = np.ascontiguousarray(v, dtype=np.int64)
        if x.shape != y.shape or u.shape != v.shape:
            raise ValueError("x/y and u/v must have matching shapes")
        n = x.size
        if u.size and (u.min() < 0 or v.min() < 0 or u.max() >= n or v.max() >= n):
            raise ValueError("edge end-node index out of range")
        if geometry is not None:
            geometry = np.asarray(geometry, dtype=object)
            if geometry.shape != u.shape:
                raise ValueError("geometry must have one LineString per edge")
            # a MultiLineString (or anything else) has no single walk from u to v;
            # missing geometries (None) fall back to the straight segment
            kind = shapely.get_type_id(geometry)
            bad = (kind != 1) & (kind != -1)  # 1: LineString, -1: missing
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                name = shapely.GeometryType(int(kind[i])).name
                raise ValueError(f"geometry of edge {i} is a {name}, not a LineString")
        if length is None:
            if geometry is not None:
                length = shapely.length(geometry)
            else:
                length = np.hypot(x[u] - x[v], y[u] - y[v])
        length = np.ascontiguousarray(length, dtype=np.float64)
        if length.shape != u.shape:
            raise ValueError("length must have one value per edge")
        if not np.all(np.isfinite(length)) or np.any(length < 0):
            raise ValueError("edge lengths must be finite and non-negative")

        keep = u != v  # self-loops never shorten a walk
        if not keep.all():
            u, v, length = u[keep], v[keep], length[keep]
            if geometry is not None:
                geometry = geometry[keep]
        return cls(
            x=x,
            y=y,
            u=u,
            v=v,
            length=length,
            geometry=geometry,
            crs=CRS.from_user_input(crs) if crs is not None else None,
            node_id=None if node_id is None else np.asarray(node_id),
        )

    # ------------------------------------------------------------ properties
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.x.size)

    @property
    def n_edges(self) -> int:
        """Number of edges (parallel edges included)."""
        return int(self.u.size)

    @cached_property
    def csr(self) -> sparse.csr_matrix:
        """Symmetric CSR adjacency matrix with edge lengths in metres.

        scipy's sparse constructors *add up* duplicate entries, so parallel
        edges between the same two nodes are reduced to the shortest here
        (:func:`_undirected_csr`), and the matrix is handed to scipy already
        in canonical form (sorted, no duplicates, 32-bit indices as
        ``csgraph`` wants them: nothing is copied or re-sorted later).
        """
        w = np.maximum(self.length, MIN_EDGE_M)
        # 32-bit indices unless the matrix is too large for them
        probe = np.zeros(0, dtype=np.int32 if 2 * self.n_edges < 2**31 else np.int64)
        indptr, indices, data = _undirected_csr(self.u, self.v, w, self.n_nodes, probe)
        m = sparse.csr_matrix((data, indices, indptr), shape=(self.n_nodes, self.n_nodes))
        m.has_sorted_indices = True
        m.has_canonical_format = True
        return m

    @cached_property
    def components(self) -> np.ndarray:
        """Connected-component label of every node (int32)."""
        _, labels = csgraph.connected_components(self.csr, directed=False)
        return labels

    @property
    def n_components(self) -> int:
        """Number of connected pieces of the network."""
        return int(self.components.max()) + 1 if self.n_nodes else 0

    @cached_property
    def edge_lines(self) -> np.ndarray:
        """Edge geometries, straight segments where none were given.

        Built on first use (then kept): without :attr:`geometry` only maps,
        service-area outlines and the STR-tree need the line objects.
        """
        if self.geometry is not None:
            return self.geometry
        coords = np.stack(
            [
                np.column_stack([self.x[self.u], self.y[self.u]]),
                np.column_stack([self.x[self.v], self.y[self.v]]),
            ],
            axis=1,
        )
        return shapely.linestrings(coords)

    def drawn_length(self) -> np.ndarray:
        """Length of each edge's drawing in metres: its line's, or the chord between its end nodes.

        Without :attr:`geometry` the chords come from the node arrays, so the
        straight lines are not built to be measured.
        """
        if self.geometry is not None:
            return shapely.length(self.geometry)
        dx, dy = self.x[self.v] - self.x[self.u], self.y[self.v] - self.y[self.u]
        return np.sqrt(dx * dx + dy * dy)  # GEOS's sum for a two-point line, bit for bit (np.hypot is not)

    def edge_coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """Vertices of every edge line and the edge of each vertex.

        Returns
        -------
        xy : numpy.ndarray of float64, shape (n_vertices, 2)
        edge : numpy.ndarray of int64
            Edge index of each vertex, non-decreasing.

        Notes
        -----
        The same arrays as ``shapely.get_coordinates(self.edge_lines,
        return_index=True)``. Without :attr:`geometry` they are the end
        nodes, ``u`` then ``v``, taken straight from the node arrays:
        snapping never builds the straight lines (1.3 s at 1.6 million edges).
        """
        if self.geometry is not None:
            return shapely.get_coordinates(self.edge_lines, return_index=True)
        xy = np.empty((2 * self.n_edges, 2), dtype=np.float64)
        xy[0::2, 0], xy[0::2, 1] = self.x[self.u], self.y[self.u]
        xy[1::2, 0], xy[1::2, 1] = self.x[self.v], self.y[self.v]
        return xy, np.repeat(np.arange(self.n_edges, dtype=np.int64), 2)

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """Spatial index over :attr:`edge_lines`, used for snapping."""
        return shapely.STRtree(self.edge_lines)

    @property
    def total_length_m(self) -> float:
        """Total street length in metres (parallel edges counted once each)."""
        return float(self.length.sum())

    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box ``(minx, miny, maxx, maxy)`` of the nodes."""
        return (float(self.x.min()), float(self.y.min()), float(self.x.max()), float(self.y.max()))

    def subset_edges(self, mask: np.ndarray) -> "WalkNetwork":
        """Return a network with only the edges where ``mask`` is true.

        Nodes are kept (indices stay valid); isolated nodes are harmless.
        """
        mask = np.asarray(mask, dtype=bool)
        return WalkNetwork(
            x=self.x,
            y=self.y,
            u=self.u[mask],
            v=self.v[mask],
            length=self.length[mask],
            geometry=None if self.geometry is None else self.geometry[mask],
            crs=self.crs,
            node_id=self.node_id,
        )


@kernel
def _undirected_csr(u, v, w, n, index_probe):
    """CSR arrays of an undirected graph, each node pair once with its shortest length.

    Rows are filled edge by edge (both directions), then each row's few
    entries are insertion-sorted by column and equal columns merged keeping
    the minimum: linear in the edges, one pass over memory (two counting
    sorts through scipy took 0.10 s at 1.6M edges; this takes ~0.02 s).
    """
    start = np.zeros(n + 1, dtype=np.int64)
    for e in range(u.size):
        start[u[e] + 1] += 1
        start[v[e] + 1] += 1
    for r in range(n):
        start[r + 1] += start[r]
    cols = np.empty(start[n], dtype=index_probe.dtype)
    data = np.empty(start[n], dtype=np.float64)
    fill = start[:-1].copy()
    for e in range(u.size):
        a, b = u[e], v[e]
        cols[fill[a]], data[fill[a]] = b, w[e]
        fill[a] += 1
        cols[fill[b]], data[fill[b]] = a, w[e]
        fill[b] += 1
    indptr = np.zeros(n + 1, dtype=index_probe.dtype)
    k = 0  # compacted entries so far; never ahead of the row being read
    for r in range(n):
        lo, hi = start[r], start[r + 1]
        for i in range(lo + 1, hi):  # insertion sort: street nodes have a handful of neighbours
            c, d = cols[i], data[i]
            j = i - 1
            while j >= lo and cols[j] > c:
                cols[j + 1], data[j + 1] = cols[j], data[j]
                j -= 1
            cols[j + 1], data[j + 1] = c, d
        for i in range(lo, hi):
            if k > indptr[r] and cols[k - 1] == cols[i]:
                data[k - 1] = min(data[k - 1], data[i])  # a parallel edge: keep the shorter
            else:
                cols[k], data[k] = cols[i], data[i]
                k += 1
        indptr[r + 1] = k
    return indptr, cols[:k].copy(), data[:k].copy()
