"""geo.dijkstra: the GIL-free multi-source search against scipy and networkx.

Distances must equal ``scipy.sparse.csgraph.dijkstra(..., min_only=True)``
bit for bit (``np.array_equal``) and networkx's; the source of every node
must be the lowest-index source at exactly that distance.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import networkx as nx
import numpy as np
import pytest
from scipy import sparse
from scipy.sparse import csgraph

from geo.dijkstra import multi_source_dijkstra, seeded_dijkstra


def _scipy(graph, sources, limit=np.inf):
    """scipy's multi-source search; sources as positions in ``sources``."""
    d, _, src = csgraph.dijkstra(
        graph, directed=True, indices=sources, limit=limit, min_only=True, return_predecessors=True
    )
    return d, src


def _random_graph(rng, n, m, integer):
    """Directed graph with ``m`` random arcs (parallel arcs and self loops allowed)."""
    rows, cols = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.integers(1, 4, m).astype(float) if integer else rng.uniform(0.01, 100.0, m)
    # csr_matrix would add up parallel arcs; build the CSR arrays directly, as the street network does
    order = np.argsort(rows, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    return sparse.csr_matrix((w[order], cols[order], indptr), shape=(n, n)), rows, cols, w


def _nx_graph(n, rows, cols, w):
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for a, b, x in zip(rows.tolist(), cols.tolist(), w.tolist()):
        if not g.has_edge(a, b) or g[a][b]["weight"] > x:  # parallel arcs: the shortest counts
            g.add_edge(a, b, weight=x)
    return g


def test_path_tie_goes_to_the_lower_source_index():
    # 0 - 1 - 2 - 3 - 4, unit arcs both ways: node 2 is 2 from node 0 and from node 4
    a = np.array([0, 1, 2, 3])
    g = sparse.csr_matrix((np.ones(8), (np.r_[a, a + 1], np.r_[a + 1, a])), shape=(5, 5))
    d, src = multi_source_dijkstra(g, np.array([0, 4]))
    assert d.tolist() == [0.0, 1.0, 2.0, 1.0, 0.0]
    assert src.tolist() == [0, 0, 0, 1, 1]
    d, src = multi_source_dijkstra(g, np.array([4, 0]))  # listed the other way round
    assert src.tolist() == [1, 1, 0, 0, 0]


def test_same_node_twice_and_seeds_at_one_node():
    g = sparse.csr_matrix((np.array([5.0]), (np.array([0]), np.array([1]))), shape=(3, 3))
    d, src = multi_source_dijkstra(g, np.array([0, 0]))
    assert d.tolist() == [0.0, 5.0, np.inf] and src.tolist() == [0, 0, -1]
    # two sources entering node 1 at the same distance, one nearer at node 0
    d, src = seeded_dijkstra(g, np.array([1, 1, 0]), np.array([2.0, 2.0, 0.5]), np.array([7, 3, 9]))
    assert d.tolist() == [0.5, 2.0, np.inf] and src.tolist() == [9, 3, -1]


def test_limit_keeps_a_node_exactly_at_it():
    a = np.array([0, 1, 2])
    g = sparse.csr_matrix((np.array([1.5, 1.5, 1.5]), (a, a + 1)), shape=(4, 4))
    d, src = multi_source_dijkstra(g, np.array([0]), limit=3.0)
    assert d.tolist() == [0.0, 1.5, 3.0, np.inf] and src.tolist() == [0, 0, 0, -1]
    d, src = seeded_dijkstra(g, np.array([1]), np.array([3.5]), np.array([0]), limit=3.0)  # seed beyond it
    assert np.isinf(d).all() and (src == -1).all()


def test_unreachable_and_no_sources():
    g = sparse.csr_matrix((np.array([1.0, 1.0]), (np.array([0, 2]), np.array([1, 3]))), shape=(4, 4))
    d, src = multi_source_dijkstra(g, np.array([0]))
    assert d.tolist() == [0.0, 1.0, np.inf, np.inf] and src.tolist() == [0, 0, -1, -1]
    d, src = multi_source_dijkstra(g, np.array([], dtype=np.int64))
    assert np.isinf(d).all() and (src == -1).all() and d.shape == (4,)


def test_zero_weights_and_parallel_arcs_as_scipy():
    # node 0 -> 1 twice (3 and 5), an explicit zero 0 -> 2, then 2 -> 3
    g = sparse.csr_matrix((np.array([3.0, 5.0, 0.0, 1.0]), np.array([1, 1, 2, 3]), np.array([0, 3, 3, 4, 4])), shape=(4, 4))
    d, src = multi_source_dijkstra(g, np.array([0]))
    assert d.tolist() == [0.0, 3.0, 0.0, 1.0] and src.tolist() == [0, 0, 0, 0]
    assert np.array_equal(d, _scipy(g, [0])[0])


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_against_scipy_and_networkx(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    integer = seed % 2 == 0  # integer weights: many exact ties between sources
    g, rows, cols, w = _random_graph(rng, n, int(n * rng.uniform(1.0, 4.0)), integer)
    sources = rng.choice(n, size=int(rng.integers(1, max(2, n // 5))), replace=False)
    limit = [np.inf, float(rng.uniform(1.0, 150.0))][seed % 3 == 0]
    d, src = multi_source_dijkstra(g, sources, limit)

    d_scipy, _ = _scipy(g, sources, limit)
    assert np.array_equal(d, d_scipy)
    lengths = nx.multi_source_dijkstra_path_length(_nx_graph(n, rows, cols, w), set(sources.tolist()))
    d_nx = np.array([lengths.get(v, np.inf) for v in range(n)])
    d_nx[d_nx > limit] = np.inf
    assert np.array_equal(d, d_nx)

    # every node's source: the lowest position among the sources at exactly its distance
    per_source = np.atleast_2d(csgraph.dijkstra(g, directed=True, indices=sources))
    reached = np.isfinite(d)
    assert (src[~reached] == -1).all()
    for v in np.flatnonzero(reached):
        at = np.flatnonzero(per_source[:, v] == d[v])
        if integer:  # exact sums: the set of sources at that distance is known independently
            assert src[v] == at.min()
        else:  # whatever the rounding, the source named is at that distance
            assert src[v] in at


def test_seeds_are_virtual_nodes():
    """seeded_dijkstra == scipy from one virtual node per source with arcs to its seeds."""
    rng = np.random.default_rng(7)
    n = 300
    g, *_ = _random_graph(rng, n, 900, integer=False)
    k = 40
    node = rng.integers(0, n, 2 * k)
    dist = np.round(rng.uniform(0.0, 30.0, 2 * k), 1)
    source = np.repeat(np.arange(k), 2)
    aug = sparse.csr_matrix(
        (np.r_[g.data, dist], np.r_[g.indices, node], np.r_[g.indptr, g.indptr[-1] + 2 * np.arange(1, k + 1)]),
        shape=(n + k, n + k),
    )
    for limit in (np.inf, 60.0):
        d, src = seeded_dijkstra(g, node, dist, source, limit)
        d_scipy, _ = _scipy(aug, np.arange(n, n + k), limit)
        assert np.array_equal(d, d_scipy[:n])
        reached = np.isfinite(d)
        assert (src[reached] >= 0).all() and (src[~reached] == -1).all()


def test_threads_give_the_serial_answer():
    rng = np.random.default_rng(3)
    g, *_ = _random_graph(rng, 2000, 8000, integer=True)
    jobs = [rng.choice(2000, size=20, replace=False) for _ in range(8)]
    serial = [multi_source_dijkstra(g, s) for s in jobs]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda s: multi_source_dijkstra(g, s), jobs))
    for (a, b), (c, e) in zip(serial, threaded):
        assert np.array_equal(a, c) and np.array_equal(b, e)
