"""Saving and loading WalkNetwork files."""

import numpy as np
import pytest
import shapely

from geo.network import WalkNetwork
from layers.errors import LayerError
from layers.network_io import load_network, save_network


def small_network(with_geometry=True, node_id=None):
    x = np.array([0.0, 100.0, 100.0, 0.0])
    y = np.array([0.0, 0.0, 100.0, 100.0])
    u = np.array([0, 1, 2, 3, 0])
    v = np.array([1, 2, 3, 0, 2])
    geometry = None
    if with_geometry:
        lines = [[(0, 0), (100, 0)], [(100, 0), (100, 100)], [(100, 100), (0, 100)], [(0, 100), (0, 0)], [(0, 0), (50, 20), (100, 100)]]
        geometry = np.array([shapely.LineString(c) for c in lines], dtype=object)
    return WalkNetwork.from_edges(x, y, u, v, geometry=geometry, crs=32650, node_id=node_id)


@pytest.mark.parametrize("with_geometry", [True, False])
@pytest.mark.parametrize("node_id", [None, np.array([10, 11, 12, 13]), np.array(["a", "b", "c", "dd"], dtype=object)])
def test_round_trip(tmp_path, with_geometry, node_id):
    net = small_network(with_geometry, node_id)
    path = save_network(net, tmp_path / "net")
    assert path.suffix == ".npz"
    back = load_network(path)
    for f in ("x", "y", "u", "v", "length"):
        assert np.array_equal(getattr(back, f), getattr(net, f))
    assert back.crs == net.crs
    if with_geometry:
        assert all(shapely.equals_exact(back.geometry, net.geometry, tolerance=0))
    else:
        assert back.geometry is None
    if node_id is None:
        assert back.node_id is None
    else:
        assert list(back.node_id) == list(node_id)
    # the loaded network computes the same shortest-path graph
    assert (back.csr != net.csr).nnz == 0


def test_missing_file(tmp_path):
    with pytest.raises(LayerError, match="net.npz: file not found"):
        load_network(tmp_path / "net.npz")


def test_not_a_network(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("hello")
    with pytest.raises(LayerError, match="bad.npz: not a saved network"):
        load_network(bad)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.arange(3))
    with pytest.raises(LayerError, match="other.npz: not a saved network: arrays format_version, x, y"):
        load_network(other)


def test_inconsistent_arrays(tmp_path):
    path = save_network(small_network(False), tmp_path / "n.npz")
    with np.load(path) as data:
        arrays = dict(data)
    arrays["u"] = arrays["u"] + 10
    np.savez(path, **arrays)
    with pytest.raises(LayerError, match="n.npz: the saved network is inconsistent: edge end-node index out of range"):
        load_network(path)


def test_straight_edge_lines_are_not_stored(tmp_path):
    # Lines that are exactly u -> v are what "no geometry" means, so the file leaves them out;
    # the same lines drawn v -> u, or with a bend, are kept as given.
    net = small_network(with_geometry=False)
    forward = shapely.linestrings(np.stack([np.column_stack([net.x[net.u], net.y[net.u]]),
                                            np.column_stack([net.x[net.v], net.y[net.v]])], axis=1))
    straight = WalkNetwork.from_edges(net.x, net.y, net.u, net.v, geometry=forward, crs=32650)
    back = load_network(save_network(straight, tmp_path / "straight"))
    assert back.geometry is None
    assert all(shapely.equals_exact(back.edge_lines, forward, tolerance=0))
    reversed_ = shapely.reverse(forward)
    drawn = WalkNetwork.from_edges(net.x, net.y, net.u, net.v, geometry=reversed_, crs=32650)
    back = load_network(save_network(drawn, tmp_path / "reversed"))
    assert all(shapely.equals_exact(back.geometry, reversed_, tolerance=0))
