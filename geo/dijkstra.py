"""Multi-source, distance-limited Dijkstra that releases the GIL.

``scipy.sparse.csgraph.dijkstra`` (1.17) holds the GIL for the whole search,
so the standards :func:`scenarios.evaluate.evaluate` runs in threads queue on
it one after another. This module's search is a numba kernel
(:data:`geo.jit.kernel`: ``nogil=True``) with a binary heap on the CSR
arrays, so searches in different threads run at the same time.

Same distances as scipy, to the last bit
    Dijkstra's final distance of a node is the minimum over its in-arcs of
    ``fl(dist[u] + w)``, whatever order ties are popped in. This kernel does
    the same float64 additions (no ``fastmath``) and the same limit test
    (``dist <= limit`` is kept, farther is ``inf``), so ``==`` holds against
    ``csgraph.dijkstra(..., min_only=True, limit=limit)`` on the same graph.

Ties between sources: the lower source index wins
    Every node is labelled with the smallest ``(distance, source)`` pair over
    its in-arcs, compared lexicographically; the heap is keyed on that pair.
    A node reached at exactly the same distance from two sources is so
    labelled with the lower source index, on every run and every machine.
    (scipy picks whichever its Fibonacci heap happens to pop first.)

Weights must be non-negative (a street network's are at least
:data:`geo.network.MIN_EDGE_M`); ``NaN`` weights are never taken.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from geo.jit import kernel

__all__ = ["multi_source_dijkstra", "seeded_dijkstra"]


@kernel
def _search(indptr, indices, data, seed_node, seed_dist, seed_label, limit, dist, label, hk, hl, hn):
    """Fill ``dist`` and ``label`` (pre-set to ``inf`` and ``-1``) from the seeds.

    The seeds come sorted by ``(distance, label)``: a sorted array is already
    a heap. ``hk``, ``hl``, ``hn`` are the heap's keys, labels and nodes, room
    for ``seeds + arcs`` entries: the heap is lazy (an improved node is pushed
    again and its stale entries are skipped when popped), and every push is a
    seed or an arc relaxed from a node popped once.

    The heap operations are written out here rather than called: numba left
    calls between kernels un-inlined, and that cost a third more time
    (0.55 s against 0.43 s CPU on the 1M-node city).
    """
    size = 0
    for s in range(seed_node.size):
        v, key, lab = seed_node[s], seed_dist[s], seed_label[s]
        if key <= limit and (key < dist[v] or (key == dist[v] and lab < label[v])):
            dist[v], label[v] = key, lab
            hk[size], hl[size], hn[size] = key, lab, v
            size += 1
    while size > 0:
        d, lab, u = hk[0], hl[0], hn[0]
        # pop: sift the last entry down from the root
        size -= 1
        key, kl, kn = hk[size], hl[size], hn[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            ck = hk[c]
            if c + 1 < size and (hk[c + 1] < ck or (hk[c + 1] == ck and hl[c + 1] < hl[c])):
                c += 1
                ck = hk[c]
            if key < ck or (key == ck and kl <= hl[c]):
                break
            hk[i], hl[i], hn[i] = ck, hl[c], hn[c]
            i = c
        hk[i], hl[i], hn[i] = key, kl, kn
        if d != dist[u] or lab != label[u]:
            continue  # stale: u was improved after this entry was pushed
        for j in range(indptr[u], indptr[u + 1]):
            v = indices[j]
            nd = d + data[j]  # the sum scipy forms, so the same float
            if nd <= limit and (nd < dist[v] or (nd == dist[v] and lab < label[v])):
                dist[v], label[v] = nd, lab
                # push: sift the new entry up from the end
                i = size
                while i > 0:
                    p = (i - 1) >> 1
                    if hk[p] < nd or (hk[p] == nd and hl[p] <= lab):
                        break
                    hk[i], hl[i], hn[i] = hk[p], hl[p], hn[p]
                    i = p
                hk[i], hl[i], hn[i] = nd, lab, v
                size += 1


def seeded_dijkstra(
    graph: sparse.csr_matrix,
    seed_node: np.ndarray,
    seed_dist: np.ndarray,
    seed_source: np.ndarray,
    limit: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest source of every node, the sources entering at given nodes and distances.

    Equivalent to adding a virtual node per source with an arc of weight
    ``seed_dist[i]`` to ``seed_node[i]`` and searching from the virtual
    nodes, without building the larger matrix: ``fl(0 + w) == w``, so the
    distances are those of that search.

    Parameters
    ----------
    graph : scipy.sparse.csr_matrix
        ``n x n``, directed arcs, non-negative weights; explicit zeros are arcs
        of weight 0 and duplicate entries are parallel arcs (as in scipy's
        ``csgraph``).
    seed_node : numpy.ndarray of int
        Where each seed enters the graph.
    seed_dist : numpy.ndarray of float64
        Distance at that node (seeds beyond ``limit`` are dropped).
    seed_source : numpy.ndarray of int
        The source each seed belongs to (several seeds may share one).
    limit : float, default inf
        Nodes farther than this get ``inf`` and ``-1``.

    Returns
    -------
    dist : numpy.ndarray of float64
        ``(n,)`` distance to the nearest source, ``inf`` where none is within ``limit``.
    source : numpy.ndarray of int64
        ``(n,)`` that source; on an exact tie the lowest ``seed_source``; ``-1``.
    """
    n = graph.shape[0]
    seed_dist = np.asarray(seed_dist, dtype=np.float64) + 0.0  # -0.0 -> 0.0, as 0 + w in scipy
    seed_source = np.asarray(seed_source, dtype=np.int64)
    order = np.lexsort((seed_source, seed_dist))
    dist = np.full(n, np.inf)
    label = np.full(n, -1, dtype=np.int64)
    cap = order.size + graph.indices.size
    small = max(n, int(seed_source.max(initial=0)) + 1) < 2**31
    ints = np.int32 if small else np.int64  # half the heap's memory traffic
    _search(
        graph.indptr, graph.indices, np.asarray(graph.data, dtype=np.float64),
        np.asarray(seed_node, dtype=np.int64)[order], seed_dist[order], seed_source[order].astype(ints),
        float(limit), dist, label, np.empty(cap), np.empty(cap, dtype=ints), np.empty(cap, dtype=ints),
    )
    return dist, label


def multi_source_dijkstra(
    graph: sparse.csr_matrix, indices: np.ndarray, limit: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from the nearest of ``indices`` to every node, and which one.

    The GIL-free counterpart of
    ``csgraph.dijkstra(graph, directed=True, indices=indices, limit=limit,
    min_only=True, return_predecessors=True)``: the same distances, bit for
    bit; sources are reported as positions in ``indices``, not node numbers.

    Parameters
    ----------
    graph : scipy.sparse.csr_matrix
        Square, directed, non-negative weights.
    indices : numpy.ndarray of int
        Source nodes (may be empty).
    limit : float, default inf

    Returns
    -------
    dist : numpy.ndarray of float64
        ``(n,)``; 0 at the sources, ``inf`` beyond ``limit`` or unreachable.
    source : numpy.ndarray of int64
        ``(n,)`` position in ``indices`` of the nearest source, the lowest
        position on an exact tie, ``-1`` where ``dist`` is ``inf``.
    """
    indices = np.asarray(indices, dtype=np.int64).ravel()
    return seeded_dijkstra(graph, indices, np.zeros(indices.size), np.arange(indices.size), limit)
