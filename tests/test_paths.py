"""Shortest walking distances: by hand on the hand network, and against networkx.

Hand network (see conftest): A(0,0) -300- B(300,0) -300- D(600,0) =0= E(600,0)
-300- F(900,0); B-C 400 and A-C 500 to C(300,400); a second, bent B-D edge of
500 m through (450,200); and a separate piece G-H.

Source S1 (100,-30) snaps onto A-B at x = 100: 100 m from A, 200 m from B,
access 30. Its node distances:
    A = 30 + 100 = 130          B = 30 + 200 = 230
    C = min(A + 500, B + 400) = 630
    D = B + 300 (the straight B-D; the bent one is 500) = 530
    E = D + 0 = 530             F = E + 300 = 830          G, H: unreachable
Source S2 (306,8) lies on the bent B-D edge, 10 m from B (B + 10 * (0.6, 0.8)),
490 m from D, no access leg. Its node distances:
    B = 10    A = 310    C = 410    D = min(490, 10 + 300) = 310
    E = 310   F = 610
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from geo.network import WalkNetwork
from geo.paths import nearest_source, node_distances, pair_distances
from geo.snap import Snapped, snap

from .conftest import random_network

TOL = 1e-5  # the zero-length D-E edge weighs 1e-6 m

S1, S2 = (100.0, -30.0), (306.0, 8.0)
TARGETS = [
    (450.0, 250.0),  # T1: bent B-D edge at the bend, 250 from B / 250 from D, access 50
    (250.0, 10.0),  # T2: A-B at x = 250 (S1's edge), 50 from B, access 10
    (750.0, 40.0),  # T3: E-F, 150 from E / 150 from F, access 40
    (2000.0, 150.0),  # T4: on G-H, the separate piece
    (100.0, 1000.0),  # T5: 632 m from any street: not snapped
    (594.0, 8.0),  # T6: bent B-D edge, 490 from B / 10 from D, no access
    (300.0, 200.0),  # T7: B-C half way, no access
    (0.0, -20.0),  # T8: at A, access 20 (A-B and A-C tie: A-B, the lower index)
]

# S1 alone. T1: min(B + 250, D + 250) + 50 = 480 + 50 = 530 (through B, the
# shorter end). T2 shares S1's edge: 30 + |100 - 250| + 10 = 190 (through B
# would be 230 + 50 + 10 = 290). T3: min(E + 150, F + 150) + 40 = 720.
# T6: min(B + 490, D + 10) = min(720, 540) = 540. T7: min(B, C) + 200 = 430.
# T8: A + 20 = 150 (also 30 + 100 + 20 along the shared edge).
S1_DIST = [530.0, 190.0, 720.0, np.inf, np.inf, 540.0, 430.0, 150.0]
# S2 alone. T1 shares S2's edge: |10 - 250| + 50 = 290 (via B: 10 + 250 + 50 =
# 310). T2: B + 50 + 10 = 70. T3: E + 150 + 40 = 500. T6 shares S2's edge, but
# walking it (|10 - 490| = 480) loses to B-D straight: 10 + 300 + 10 = 320.
# T7: B + 200 = 210. T8: A + 20 = 330.
S2_DIST = [290.0, 70.0, 500.0, np.inf, np.inf, 320.0, 210.0, 330.0]


@pytest.fixture(scope="module")
def hand(hand_network):
    src = snap(hand_network, *np.array([S1, S2]).T)
    tgt = snap(hand_network, *np.array(TARGETS).T)
    return hand_network, src, tgt


def test_node_distances_by_hand(hand):
    net, src, _ = hand
    d = node_distances(net, src)
    inf = np.inf
    np.testing.assert_allclose(d[0], [130, 230, 630, 530, 530, 830, inf, inf], atol=TOL)
    np.testing.assert_allclose(d[1], [310, 10, 410, 310, 310, 610, inf, inf], atol=TOL)
    # a limit cuts off C (630) and F (830)
    d = node_distances(net, src.take(np.array([0])), limit=600)
    np.testing.assert_allclose(d[0], [130, 230, inf, 530, 530, inf, inf, inf], atol=TOL)


def test_nearest_single_source_by_hand(hand):
    net, src, tgt = hand
    near = nearest_source(net, src.take(np.array([0])), tgt)
    np.testing.assert_allclose(near.dist, S1_DIST, atol=TOL)
    assert list(near.source) == [0, 0, 0, -1, -1, 0, 0, 0]


def test_nearest_two_sources_by_hand(hand):
    net, src, tgt = hand
    near = nearest_source(net, src, tgt)
    expected = np.minimum(S1_DIST, S2_DIST)
    np.testing.assert_allclose(near.dist, expected, atol=TOL)
    # S1 is nearer only for T8 (150 vs 330)
    assert list(near.source) == [1, 1, 1, -1, -1, 1, 1, 0]


def test_nearest_limit_and_unsnapped_source(hand):
    net, src, tgt = hand
    # an unsnapped source in front shifts nothing but the index
    bad = snap(net, [100.0], [1000.0])
    sources = Snapped.concat([bad, src.take(np.array([0]))])
    near = nearest_source(net, sources, tgt, limit=200.0)
    # within 200 m of S1: T2 (190) and T8 (150) only
    np.testing.assert_allclose(near.dist, [np.inf, 190, np.inf, np.inf, np.inf, np.inf, np.inf, 150], atol=TOL)
    assert list(near.source) == [-1, 1, -1, -1, -1, -1, -1, 1]


def test_no_sources(hand):
    net, src, tgt = hand
    near = nearest_source(net, src.take(np.array([], dtype=int)), tgt)
    assert np.isinf(near.dist).all() and (near.source == -1).all()


def test_pair_distances_by_hand(hand):
    net, src, tgt = hand
    pairs = pair_distances(net, src, tgt, limit=600.0)
    got = {(int(s), int(t)): d for s, t, d in zip(pairs.source, pairs.target, pairs.dist)}
    expected = {
        (s, t): d
        for s, row in enumerate([S1_DIST, S2_DIST])
        for t, d in enumerate(row)
        if d <= 600.0
    }
    # S1 -> T3 is 720: beyond the limit. T4, T5 never appear.
    assert set(got) == set(expected)
    for key, d in expected.items():
        assert got[key] == pytest.approx(d, abs=TOL), key
    csr = pairs.to_csr(2, len(TARGETS))
    assert csr.shape == (2, 8) and csr[1, 1] == pytest.approx(70.0)


def test_pair_distances_needs_finite_limit(hand):
    net, src, tgt = hand
    with pytest.raises(ValueError, match="finite limit"):
        pair_distances(net, src, tgt, limit=np.inf)


# ---------------------------------------------------------------- networkx


def _split_graph(net: WalkNetwork, points: dict[str, Snapped]) -> nx.MultiGraph:
    """The network as a networkx MultiGraph with every snapped point inserted.

    Each edge carrying snapped points is cut at their positions (a chain of
    pieces from u to v); each point hangs off its position by its access leg.
    Parallel edges stay parallel (MultiGraph); Dijkstra takes the lighter.
    """
    g = nx.MultiGraph()
    g.add_nodes_from(range(net.n_nodes))
    on_edge: dict[int, list] = {}
    for kind, s in points.items():
        for i in np.flatnonzero(s.ok):
            on_edge.setdefault(int(s.edge[i]), []).append((float(s.to_u[i]), (kind, int(i)), float(s.access[i])))
    for e in range(net.n_edges):
        u, v, length = int(net.u[e]), int(net.v[e]), float(net.length[e])
        prev, at = u, 0.0
        for pos, name, access in sorted(on_edge.get(e, []), key=lambda p: p[0]):
            g.add_edge(prev, ("at",) + name, weight=pos - at)
            g.add_edge(("at",) + name, name, weight=access)
            prev, at = ("at",) + name, pos
        g.add_edge(prev, v, weight=length - at)
    return g


def _random_case(seed: int):
    net = random_network(seed)
    rng = np.random.default_rng(seed + 1000)
    minx, miny, maxx, maxy = net.bounds()
    sx, sy = rng.uniform([minx, miny], [maxx, maxy], (25, 2)).T
    tx, ty = rng.uniform([minx, miny], [maxx, maxy], (300, 2)).T
    # targets right next to sources (often on the same edge), and a few far away
    tx = np.concatenate([tx, sx + rng.uniform(-15, 15, sx.size), [minx - 900]])
    ty = np.concatenate([ty, sy + rng.uniform(-15, 15, sy.size), [miny - 900]])
    src = snap(net, sx, sy, max_dist=60.0)
    tgt = snap(net, tx, ty, max_dist=60.0)
    return net, src, tgt, _split_graph(net, {"s": src, "t": tgt})


@pytest.mark.parametrize("seed", range(4))
def test_nearest_source_matches_networkx(seed):
    net, src, tgt, g = _random_case(seed)
    assert (~src.ok).any() or (~tgt.ok).any()  # the case exercises unsnapped points
    near = nearest_source(net, src, tgt)
    ref = nx.multi_source_dijkstra_path_length(g, {("s", int(i)) for i in np.flatnonzero(src.ok)})
    expected = np.array([ref.get(("t", j), np.inf) for j in range(len(tgt))])
    assert np.isinf(expected).any()  # the separate piece and unsnapped targets
    np.testing.assert_array_equal(np.isinf(near.dist), np.isinf(expected))
    fin = np.isfinite(expected)
    np.testing.assert_allclose(near.dist[fin], expected[fin], atol=1e-3, rtol=0)
    # the reported source is one at that distance (ties may pick either)
    for j in np.flatnonzero(fin):
        d = nx.dijkstra_path_length(g, ("s", int(near.source[j])), ("t", int(j)))
        assert d == pytest.approx(expected[j], abs=1e-3)


@pytest.mark.parametrize("seed", range(3))
def test_pair_distances_match_networkx(seed):
    net, src, tgt, g = _random_case(seed)
    limit = 450.0
    pairs = pair_distances(net, src, tgt, limit=limit, batch_size=7)
    got = {(int(s), int(t)): d for s, t, d in zip(pairs.source, pairs.target, pairs.dist)}
    assert len(got) == len(pairs)  # no duplicate pairs
    expected = {}
    for i in np.flatnonzero(src.ok):
        lengths = nx.single_source_dijkstra_path_length(g, ("s", int(i)), cutoff=limit + 1.0)
        for node, d in lengths.items():
            if isinstance(node, tuple) and node[0] == "t":
                expected[(int(i), node[1])] = d
    # ignore pairs within 1 mm of the limit, where rounding decides either way
    sure = {k for k, d in expected.items() if d < limit - 1e-3}
    assert sure and sure <= set(got)
    assert set(got) <= set(expected)
    for key, d in got.items():
        assert d == pytest.approx(expected[key], abs=1e-3), key


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("limit", [150.0, 700.0])
def test_local_node_distances_equal_whole_network_rows(monkeypatch, seed, limit):
    # force the local sub-network path on a small network; the rows must equal
    # node_distances on the whole network to the last bit within the limit
    import geo.local_paths as local_paths

    monkeypatch.setattr(local_paths, "_SMALL_NETWORK", 0)
    net = random_network(seed, side=14)
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = net.bounds()
    src = snap(net, rng.uniform(minx, maxx, 40), rng.uniform(miny, maxy, 40), max_dist=60.0)
    whole = node_distances(net, src, limit=limit)
    seen = []
    for local in local_paths.local_node_distances(net, src, limit, batch_size=7):
        seen.extend(local.sources.tolist())
        for row, s in enumerate(local.sources):
            got = np.full(net.n_nodes, np.inf)
            got[local.nodes] = local.dist[row]
            np.testing.assert_array_equal(got, whole[s])
            # and the lookup by node id agrees, inf outside the piece
            np.testing.assert_array_equal(local.at(np.full(net.n_nodes, row), np.arange(net.n_nodes)), whole[s])
    assert sorted(seen) == np.flatnonzero(src.ok).tolist()
    assert not src.ok.all()  # some sources were too far to snap and were skipped


def test_pair_distances_on_local_pieces_equal_whole_network(monkeypatch):
    import geo.local_paths as local_paths

    net = random_network(3, side=14)
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = net.bounds()
    src = snap(net, rng.uniform(minx, maxx, 25), rng.uniform(miny, maxy, 25))
    tgt = snap(net, rng.uniform(minx, maxx, 400), rng.uniform(miny, maxy, 400))
    whole = pair_distances(net, src, tgt, 450.0)
    monkeypatch.setattr(local_paths, "_SMALL_NETWORK", 0)
    local = pair_distances(net, src, tgt, 450.0, batch_size=4)
    assert len(whole) > 100
    for f in ("source", "target", "dist"):
        np.testing.assert_array_equal(getattr(local, f), getattr(whole, f), err_msg=f)


def test_node_grid_finds_exactly_the_nodes_within_the_radius():
    """The node grid that cuts local pieces returns what a brute-force distance check returns."""
    from geo.local_paths import _NodeGrid

    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 5000, 20_000), rng.uniform(0, 3000, 20_000)
    net = WalkNetwork.from_edges(x, y, np.array([0]), np.array([1]))
    grid = _NodeGrid.build(x, y, per_cell=8.0)
    for radius in (0.0, 35.0, 420.0, 9000.0):
        px, py = rng.uniform(-500, 5500, 7), rng.uniform(-500, 3500, 7)
        want = np.flatnonzero((np.hypot(x[:, None] - px, y[:, None] - py) <= radius).any(axis=1))
        np.testing.assert_array_equal(grid.near(net, px, py, radius), want)
