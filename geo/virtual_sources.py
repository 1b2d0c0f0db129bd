"""Snapped sources as virtual nodes of the walking network.

A source snapped onto an edge joins the graph as one extra node with two
arcs, to the ends of its edge, weighted ``access + to_u`` and ``access +
to_v`` (:func:`geo.legs.arc_weights`). :func:`augmented_graph` appends those
rows to the network's CSR matrix for ``scipy.sparse.csgraph``;
:func:`source_arcs` gives the same arcs as arrays, the seeds of
:func:`geo.dijkstra.seeded_dijkstra`.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from geo.legs import arc_weights
from geo.network import WalkNetwork
from geo.snap import Snapped

__all__ = ["augmented_graph", "source_arcs"]


def augmented_graph(network: WalkNetwork, sources: Snapped) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Append one virtual node per snapped source to the network's CSR matrix.

    Parameters
    ----------
    network : WalkNetwork
    sources : Snapped

    Returns
    -------
    graph : scipy.sparse.csr_matrix
        ``(n + k) x (n + k)`` matrix; row ``n + i`` holds source ``i``'s two
        edges to the ends of its snapped edge. Unsnapped sources get no edges.
    virtual : numpy.ndarray of int64
        The virtual node index of each source.
    """
    base = network.csr
    n, k = network.n_nodes, len(sources)
    cols, w, _ = source_arcs(network, sources)
    counts = np.where(sources.ok, 2, 0)
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(counts)])
    graph = sparse.csr_matrix(
        (np.concatenate([base.data, w]), np.concatenate([base.indices, cols]), indptr),
        shape=(n + k, n + k),
    )
    return graph, np.arange(n, n + k, dtype=np.int64)


def source_arcs(network: WalkNetwork, sources: Snapped) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arcs from each snapped source to the two ends of its edge.

    Parameters
    ----------
    network : WalkNetwork
    sources : Snapped

    Returns
    -------
    node, weight, source : numpy.ndarray
        Per arc (two per snapped source, ``u`` end first, in source order):
        the end node, the weight (:func:`geo.legs.arc_weights`) and the
        source's index in ``sources``. The rows of :func:`augmented_graph`'s
        virtual nodes, and the seeds of :func:`geo.dijkstra.seeded_dijkstra`.
    """
    ok = sources.ok
    e = sources.edge[ok]
    node = np.column_stack([network.u[e], network.v[e]]).ravel()
    return node, arc_weights(sources)[ok].ravel(), np.repeat(np.flatnonzero(ok), 2)
