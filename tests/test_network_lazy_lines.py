"""Edge lines that are straight segments are never built unless asked for.

A network file written with its straight lines stored (before ``save_network``
dropped them) loads without them, and what every consumer sees is the same
numbers, bit for bit, as the lines the file stored.
"""

import numpy as np
import shapely

from geo.crs import local_tm_crs, project_network
from geo.edge_grid import EdgeGrid
from geo.network import WalkNetwork
from layers.network_io import load_network


def _straight_file(path, seed: int = 0) -> WalkNetwork:
    """Write a random UTM network with its straight lines stored; return it as built."""
    rng = np.random.default_rng(seed)
    n, m = 200, 500
    x, y = rng.uniform(740_000, 760_000, n), rng.uniform(2_550_000, 2_570_000, n)
    u = rng.integers(0, n, m)
    v = (u + rng.integers(1, n, m)) % n
    v[:3] = u[:3] + 0  # self-loops, dropped by from_edges on both paths
    x[v[3]], y[v[3]] = x[u[3]], y[u[3]]  # a zero-length edge between two nodes at one spot
    lines = shapely.linestrings(np.stack([np.column_stack([x[u], y[u]]), np.column_stack([x[v], y[v]])], axis=1))
    net = WalkNetwork.from_edges(x, y, u, v, geometry=lines, crs=32650)
    _, coords, (offsets,) = shapely.to_ragged_array(lines)
    np.savez_compressed(path, format_version=np.array(1), x=x, y=y, u=u, v=v, length=rng.uniform(1, 500, m),
                        crs_wkt=np.array(net.crs.to_wkt()), geom_coords=coords, geom_offsets=offsets)
    return net


def test_straight_lines_are_not_built_on_load(tmp_path):
    path = tmp_path / "old.npz"
    built = _straight_file(path)
    got = load_network(path)
    assert got.geometry is None and "edge_lines" not in got.__dict__
    assert np.array_equal(shapely.to_wkb(got.edge_lines), shapely.to_wkb(built.geometry))


def test_projected_straight_lines_equal_projected_stored_lines(tmp_path):
    path = tmp_path / "old.npz"
    built = _straight_file(path, seed=1)
    target = local_tm_crs(113.3, 23.1)
    want = project_network(built, target)  # projects every stored vertex
    got = load_network(path, crs=target)
    assert got.geometry is None and want.geometry is not None
    assert np.array_equal(got.x, want.x) and np.array_equal(got.y, want.y)
    assert np.array_equal(shapely.to_wkb(got.edge_lines), shapely.to_wkb(want.geometry))


def test_edge_coordinates_match_the_lines_and_build_none(tmp_path):
    path = tmp_path / "old.npz"
    _straight_file(path, seed=2)
    net = load_network(path)
    xy, edge = net.edge_coordinates()
    assert "edge_lines" not in net.__dict__
    want_xy, want_edge = shapely.get_coordinates(net.edge_lines, return_index=True)
    assert np.array_equal(xy, want_xy) and np.array_equal(edge, want_edge)
    # and a snapping grid built before and after the lines exist is the same grid
    fresh = load_network(path)
    a, b = EdgeGrid.build(fresh), EdgeGrid.build(net)
    assert "edge_lines" not in fresh.__dict__
    for name in ("seg_xy", "seg_edge", "seg_straight_length", "indptr", "entries", "edge_seg", "edge_segments"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_bent_lines_give_their_own_coordinates():
    x, y = np.array([0.0, 100.0]), np.array([0.0, 0.0])
    bent = np.array([shapely.LineString([(0, 0), (50, 30), (100, 0)])], dtype=object)
    net = WalkNetwork.from_edges(x, y, [0], [1], geometry=bent)
    xy, edge = net.edge_coordinates()
    assert xy.tolist() == [[0, 0], [50, 30], [100, 0]] and edge.tolist() == [0, 0, 0]


def test_drawn_length_equals_geos_length_of_the_lines_and_builds_none(tmp_path):
    path = tmp_path / "old.npz"
    _straight_file(path, seed=3)
    net = load_network(path)
    drawn = net.drawn_length()
    assert "edge_lines" not in net.__dict__  # the local-piece search measures the chords without building lines
    assert np.array_equal(drawn, shapely.length(net.edge_lines))
    bent = WalkNetwork.from_edges(np.array([0.0, 3.0]), np.array([0.0, 0.0]), np.array([0]), np.array([1]),
                                  geometry=[shapely.LineString([(0, 0), (0, 4), (3, 0)])])
    assert bent.drawn_length().tolist() == [9.0]  # 4 up, then 5 down the slope
