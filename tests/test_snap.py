"""Edge snapping on the hand network (see conftest), every value worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from geo.network import WalkNetwork
from geo.snap import Snapped, snap

# point -> (edge, to_u, to_v, access, snapped x, snapped y)
EXPECTED = {
    # below A-B (y = 0, x 0..300): foot (100, 0), 100 m from A, 200 from B,
    # 30 m access. A-C is farther: its foot (21.6, 28.8) is 98 m away.
    (100.0, -30.0): (0, 100.0, 200.0, 30.0, 100.0, 0.0),
    # 50 m above the bend (450,200) of the long B-D edge: 250 m along the
    # bent edge from B (hypot(150,200)), 250 m to D. B-C (x = 300) is 150 m away.
    (450.0, 250.0): (4, 250.0, 250.0, 50.0, 450.0, 200.0),
    # 10 m above A-B at x = 250: 250 from A, 50 from B.
    (250.0, 10.0): (0, 250.0, 50.0, 10.0, 250.0, 0.0),
    # 40 m above E-F at x = 750: 150 from E (600,0), 150 from F (900,0).
    (750.0, 40.0): (6, 150.0, 150.0, 40.0, 750.0, 0.0),
    # on G-H itself, half way: no access leg.
    (2000.0, 150.0): (7, 150.0, 150.0, 0.0, 2000.0, 150.0),
    # 5 m below D = E: edges 3, 4, 5 and 6 all end there, 5 m away; the
    # lowest index (3, straight B-D) wins: 300 from B, 0 from D.
    (600.0, -5.0): (3, 300.0, 0.0, 5.0, 600.0, 0.0),
}


def test_snap_by_hand(hand_network):
    pts = np.array(list(EXPECTED))
    s = snap(hand_network, pts[:, 0], pts[:, 1])
    exp = np.array(list(EXPECTED.values()))
    np.testing.assert_array_equal(s.edge, exp[:, 0].astype(int))
    for k, name in enumerate(["to_u", "to_v", "access", "x", "y"], start=1):
        np.testing.assert_allclose(getattr(s, name), exp[:, k], atol=1e-9, err_msg=name)
    assert s.ok.all()


def test_beyond_max_dist_is_reported(hand_network):
    # (100, 1000) is 632 m from C, the nearest street point: beyond 500 m
    s = snap(hand_network, [100.0, 100.0], [1000.0, -30.0])
    assert list(s.edge) == [-1, 0]
    assert np.isnan([s.to_u[0], s.to_v[0], s.access[0], s.x[0], s.y[0]]).all()
    assert list(s.ok) == [False, True]
    # a tighter limit drops the 30 m access leg too
    assert snap(hand_network, [100.0], [-30.0], max_dist=20.0).edge[0] == -1


def test_zero_length_edge_alone():
    # two nodes at one spot; the point (3, 4) is 5 m away
    net = WalkNetwork.from_edges([0, 0], [0, 0], [0], [1])
    s = snap(net, [3.0], [4.0])
    assert s.edge[0] == 0 and s.to_u[0] == 0.0 and s.to_v[0] == 0.0
    assert s.access[0] == pytest.approx(5.0)


def test_empty_inputs(hand_network):
    s = snap(hand_network, [], [])
    assert len(s) == 0


def test_take_and_concat(hand_network):
    pts = np.array(list(EXPECTED))
    s = snap(hand_network, pts[:, 0], pts[:, 1])
    part = s.take(np.array([2, 0]))
    assert list(part.edge) == [0, 0] and list(part.to_u) == pytest.approx([250.0, 100.0])
    both = Snapped.concat([part, s.take(np.array([True] + [False] * 5))])
    assert list(both.edge) == [0, 0, 0] and both.access[2] == pytest.approx(30.0)
