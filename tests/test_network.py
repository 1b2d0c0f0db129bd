"""WalkNetwork construction, CSR adjacency and validation on the hand network."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.network import MIN_EDGE_M, WalkNetwork

A, B, C, D, E, F, G, H = range(8)


def test_lengths_from_geometry(hand_network):
    # straight edges: their end-to-end distance; edge 4 bends through
    # (450,200): hypot(150,200) + hypot(150,200) = 250 + 250 = 500
    np.testing.assert_allclose(hand_network.length, [300, 400, 500, 300, 500, 0, 300, 300])
    assert hand_network.total_length_m == pytest.approx(2600.0)
    assert hand_network.n_nodes == 8 and hand_network.n_edges == 8


def test_csr_keeps_shortest_parallel_edge(hand_network):
    csr = hand_network.csr
    # B-D appears twice (300 straight, 500 bent): scipy would add them up to
    # 800; the matrix must hold the shorter, in both directions.
    assert csr[B, D] == 300.0 and csr[D, B] == 300.0
    # the zero-length D-E edge is stored with a tiny positive weight, not dropped
    assert csr[D, E] == MIN_EDGE_M and csr[E, D] == MIN_EDGE_M
    assert csr[A, F] == 0.0  # no edge
    assert (csr != csr.T).nnz == 0
    # 7 distinct node pairs, stored both ways
    assert csr.nnz == 14


def test_components(hand_network):
    labels = hand_network.components
    assert hand_network.n_components == 2
    assert len(set(labels[[A, B, C, D, E, F]])) == 1
    assert labels[G] == labels[H] != labels[A]


def test_bounds_and_edge_lines():
    net = WalkNetwork.from_edges([0, 30, 30], [0, 0, 40], [0, 1], [1, 2])
    assert net.bounds() == (0.0, 0.0, 30.0, 40.0)
    # no geometry given: straight segments and straight lengths
    np.testing.assert_allclose(net.length, [30.0, 40.0])
    assert shapely.equals(net.edge_lines[1], shapely.LineString([(30, 0), (30, 40)]))


def test_explicit_length_wins_over_geometry():
    net = WalkNetwork.from_edges([0, 100], [0, 0], [0], [1], length=[120.0])
    assert net.length[0] == 120.0 and net.csr[0, 1] == 120.0


def test_geometry_must_be_linestrings():
    two_parts = shapely.MultiLineString([[(0, 0), (10, 0)], [(20, 10), (30, 10)]])
    with pytest.raises(ValueError, match="edge 0 is a MULTILINESTRING, not a LineString"):
        WalkNetwork.from_edges([0, 30], [0, 10], [0], [1], geometry=[two_parts])


def test_self_loops_dropped():
    net = WalkNetwork.from_edges([0, 10], [0, 0], [0, 1, 1], [1, 1, 0])
    assert net.n_edges == 2 and list(net.u) == [0, 1]


def test_subset_edges(hand_network):
    sub = hand_network.subset_edges(hand_network.length > 0)
    assert sub.n_edges == 7 and sub.n_nodes == 8
    # without the zero-length D-E link, E-F separates from the main piece
    assert sub.n_components == 3
    assert sub.geometry is not None and len(sub.geometry) == 7


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(x=[0, 1], y=[0], u=[0], v=[1]), "matching shapes"),
        (dict(x=[0, 1], y=[0, 0], u=[0], v=[2]), "out of range"),
        (dict(x=[0, 1], y=[0, 0], u=[0], v=[1], length=[-1.0]), "non-negative"),
        (dict(x=[0, 1], y=[0, 0], u=[0], v=[1], length=[np.nan]), "finite"),
        (dict(x=[0, 1], y=[0, 0], u=[0], v=[1], length=[1.0, 2.0]), "one value per edge"),
        (dict(x=[0, 1], y=[0, 0], u=[0], v=[1], geometry=[]), "one LineString per edge"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WalkNetwork.from_edges(**kwargs)
