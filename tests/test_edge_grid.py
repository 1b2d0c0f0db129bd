"""The segment grid finds exactly the edges the STRtree finds, ties and limits included."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

import geo.edge_grid as eg
from geo.edge_grid import EdgeGrid, nearest_edges, segment_distance, tree_nearest_edges
from geo.network import WalkNetwork
from geo.snap import Snapped, place_on_edges, snap

from .conftest import random_network

SNAP_FIELDS = ("edge", "to_u", "to_v", "access", "x", "y")


def awkward_points(net: WalkNetwork, rng: np.random.Generator, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Random points plus the places where ties and borders bite.

    Node positions (several edges equally near), points on edge vertices and
    mid-edge, midpoints between nodes (often equidistant from two streets),
    grid-aligned coordinates, and points far outside the network.
    """
    minx, miny, maxx, maxy = net.bounds()
    xs = [rng.uniform(minx - 300, maxx + 300, n), net.x, (net.x[net.u] + net.x[net.v]) / 2]
    ys = [rng.uniform(miny - 300, maxy + 300, n), net.y, (net.y[net.u] + net.y[net.v]) / 2]
    a, b = rng.integers(0, net.n_nodes, (2, 400))
    xs.append((net.x[a] + net.x[b]) / 2)
    ys.append((net.y[a] + net.y[b]) / 2)
    xs.append(np.round(rng.uniform(minx, maxx, 400), -1))  # on round numbers, like cell borders
    ys.append(np.round(rng.uniform(miny, maxy, 400), -1))
    xs.append(np.array([minx - 5000, maxx + 499.0, -1e6]))
    ys.append(np.array([miny, maxy, 1e6]))
    return np.concatenate(xs), np.concatenate(ys)


def test_segment_distance_is_bitwise_geos():
    rng = np.random.default_rng(3)
    n = 20000
    a = rng.uniform(-1e5, 1e5, (n, 2)) + 3.0e6
    b = a + rng.normal(0, 200, (n, 2))
    b[:50] = a[:50]  # zero-length segments
    p = a + rng.normal(0, 300, (n, 2))
    p[50:100] = a[50:100]  # on an end
    p[100:150] = (a[100:150] + b[100:150]) / 2  # on the segment
    ours = segment_distance(p[:, 0], p[:, 1], a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    geos = shapely.distance(shapely.points(p), shapely.linestrings(np.stack([a, b], axis=1)))
    np.testing.assert_array_equal(ours, geos)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cell_size", [7.0, 40.0, 150.0, None])
@pytest.mark.parametrize("max_dist", [0.5, 25.0, 500.0, np.inf])
def test_grid_equals_strtree(monkeypatch, seed, cell_size, max_dist):
    net = random_network(seed)
    # cell sizes from much smaller than a block to larger than the streets' spacing
    monkeypatch.setitem(eg._GRIDS, net, EdgeGrid.build(net, cell_size=cell_size))
    x, y = awkward_points(net, np.random.default_rng(seed))
    np.testing.assert_array_equal(nearest_edges(net, x, y, max_dist), tree_nearest_edges(net, x, y, max_dist))


def test_ties_go_to_the_lowest_edge_on_the_grid_path(hand_network):
    # 5 m below D = E: edges 3, 4, 5 and 6 all end there; edge 3 wins (see test_snap)
    x, y = np.array([600.0, 300.0, 2000.0]), np.array([-5.0, 0.0, 1000.0])
    assert list(nearest_edges(hand_network, x, y, 500.0)) == [3, 0, -1]


def test_non_finite_points_are_not_snapped(hand_network):
    x, y = np.array([np.nan, 100.0, np.inf]), np.array([0.0, -30.0, 0.0])
    assert list(nearest_edges(hand_network, x, y, 500.0)) == [-1, 0, -1]


def test_far_corner_rounding_into_a_cell_past_the_grid():
    # width / cell rounds up to 130.0 while width // cell is 129: the grid has 130
    # columns, and the far vertex must be registered in the last one, not a 131st
    width, cell = 10455.151337234522, 80.42424105565017
    assert width / cell == 130.0 and width // cell == 129.0
    net = WalkNetwork.from_edges([0.0, width, width, 0.0], [0.0, 0.0, width, width], [0, 1, 2], [1, 2, 3])
    grid = EdgeGrid.build(net, cell_size=cell)
    assert grid.nx == grid.ny == 130
    assert grid.indptr[-1] == grid.entries.size  # nothing counted outside the grid
    x = np.array([width + 3.0, width - 1e-9, width / 2, width + 0.5])
    y = np.array([width + 3.0, width / 2, width - 2.0, -0.5])
    np.testing.assert_array_equal(grid.nearest(x, y, 500.0)[0], tree_nearest_edges(net, x, y, 500.0))


def test_mismatched_point_arrays_are_refused(hand_network):
    # the kernels read y[i] for every x[i]: a short y must be an error, not a read past its end
    x, y = np.linspace(10, 90, 5000), np.array([49.0])
    for call in (lambda: snap(hand_network, x, y), lambda: nearest_edges(hand_network, x, y, 500.0)):
        with pytest.raises(ValueError, match="different lengths"):
            call()


def test_one_far_off_edge_does_not_inflate_the_cells():
    net = random_network(0)
    far = WalkNetwork.from_edges(
        np.append(net.x, [2e6, 2e6 + 50]), np.append(net.y, [2e6, 2e6]),
        np.append(net.u, net.n_nodes), np.append(net.v, net.n_nodes + 1),
        np.append(net.length, 50.0), geometry=np.append(net.edge_lines, shapely.LineString([(2e6, 2e6), (2e6 + 50, 2e6)])),
    )  # fmt: skip
    # by area per segment the cells would be ~14.5 km; a few segment lengths, or the
    # memory floor of 8M cells over the 2,000 km box (707 m), whichever is larger
    assert EdgeGrid.build(far).cell_size < 1_000
    x, y = awkward_points(net, np.random.default_rng(0), n=500)
    np.testing.assert_array_equal(nearest_edges(far, x, y, 500.0), tree_nearest_edges(far, x, y, 500.0))


def test_overflowing_distances_are_left_to_the_strtree(hand_network):
    x, y = np.array([1e200, 300.0]), np.array([0.0, 1e-3])
    for f in SNAP_FIELDS:
        np.testing.assert_array_equal(
            getattr(snap(hand_network, x, y, max_dist=np.inf), f),
            getattr(strtree_snap(hand_network, x, y, max_dist=np.inf), f), err_msg=f,
        )


def test_edges_with_empty_drawings_are_never_snapped_to():
    empty = np.array([shapely.LineString(), shapely.LineString()], dtype=object)
    net = WalkNetwork.from_edges([0.0, 10.0, 20.0], [0.0, 0.0, 0.0], [0, 1], [1, 2], length=[10.0, 10.0], geometry=empty)
    s = snap(net, np.array([5.0, 15.0]), np.array([1.0, 0.0]))
    assert s.edge.tolist() == [-1, -1]


def test_degenerate_networks():
    # a single zero-length edge, and a vertical line (zero-width bounding box)
    dot = WalkNetwork.from_edges([5.0, 5.0], [5.0, 5.0], [0], [1])
    line = WalkNetwork.from_edges([0.0, 0.0, 0.0], [0.0, 1e5, 2e5], [0, 1], [1, 2])
    x, y = np.array([8.0, 5.0, 600.0]), np.array([9.0, 5.0, 5.0])
    assert list(nearest_edges(dot, x, y, 500.0)) == [0, 0, -1]
    qx, qy = np.array([3.0, -2.0, 1.0]), np.array([5e4, 1e5, 3e5])
    np.testing.assert_array_equal(nearest_edges(line, qx, qy, 500.0), tree_nearest_edges(line, qx, qy, 500.0))
    assert EdgeGrid.build(line).nx * EdgeGrid.build(line).ny <= 8_000_001


def strtree_snap(net: WalkNetwork, x: np.ndarray, y: np.ndarray, max_dist: float = 500.0) -> Snapped:
    """The reference: nearest edges by the STRtree, positions by shapely (no grid at all)."""
    out = Snapped(np.full(x.size, -1, dtype=np.int64), *(np.full(x.size, np.nan) for _ in range(5)))
    out.edge[:] = tree_nearest_edges(net, x, y, max_dist)
    place_on_edges(net, None, out, x, y, np.flatnonzero(out.edge >= 0))
    return out


@pytest.mark.parametrize("seed", [4, 5])
def test_snap_through_the_grid_equals_the_strtree_path(seed, hand_network):
    for net in (random_network(seed), hand_network):
        x, y = awkward_points(net, np.random.default_rng(seed), n=500)
        grid, tree = snap(net, x, y), strtree_snap(net, x, y)
        for f in SNAP_FIELDS:
            np.testing.assert_array_equal(getattr(grid, f), getattr(tree, f), err_msg=f)


def test_points_far_outside_with_no_limit_go_to_the_strtree(monkeypatch, hand_network):
    # 7 m cells: hundreds across, so far points run out of rings and the STRtree settles them
    grid = EdgeGrid.build(hand_network, cell_size=7.0)
    monkeypatch.setitem(eg._GRIDS, hand_network, grid)
    x, y = np.array([1e6, -3e5, 450.0]), np.array([1e6, 2e5, 80.0])
    assert grid.nearest(x, y, np.inf)[2].tolist() == [False, False, True]
    got, want = snap(hand_network, x, y, max_dist=np.inf), strtree_snap(hand_network, x, y, max_dist=np.inf)
    for f in SNAP_FIELDS:
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f)
    assert (got.edge >= 0).all()


def test_feet_on_straight_edges_are_shapelys_to_the_bit():
    rng = np.random.default_rng(11)
    n = 5000
    a = rng.uniform(0, 1e4, (n, 2)) + 4.0e5
    b = a + rng.normal(0, 150, (n, 2))
    b[:40] = a[:40]  # zero-length edges
    p = a + rng.normal(0, 200, (n, 2))
    p[40:80], p[80:120] = a[40:80], b[80:120]  # exactly on an end
    p[120:160] = a[120:160] + 0.25 * (b[120:160] - a[120:160])
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    net = WalkNetwork.from_edges(
        np.concatenate([a[:, 0], b[:, 0]]), np.concatenate([a[:, 1], b[:, 1]]),
        np.arange(n), np.arange(n) + n, geometry=lines,
    )
    edge = np.arange(n)
    frac, sx, sy = eg.locate_on_straight_edges(EdgeGrid.build(net), edge, p[:, 0], p[:, 1])
    want = np.nan_to_num(np.clip(shapely.line_locate_point(lines, shapely.points(p), normalized=True), 0.0, 1.0))
    foot = shapely.line_interpolate_point(lines, want, normalized=True)
    np.testing.assert_array_equal(frac, want)
    np.testing.assert_array_equal(sx, shapely.get_x(foot))
    np.testing.assert_array_equal(sy, shapely.get_y(foot))
