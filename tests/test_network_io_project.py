"""``load_network(path, crs=...)`` gives exactly ``project_network(load_network(path), crs)``."""

import numpy as np
import pytest
import shapely

from geo.crs import local_tm_crs, project_network
from geo.network import WalkNetwork
from layers.network_io import load_network, save_network


def random_network(seed: int, geometry: str) -> WalkNetwork:
    """A random network in UTM 50N around Guangzhou; lines bent, straight (stored) or absent."""
    rng = np.random.default_rng(seed)
    n, m = 300, 700
    x = rng.uniform(740_000, 760_000, n)
    y = rng.uniform(2_550_000, 2_570_000, n)
    u = rng.integers(0, n, m)
    v = (u + rng.integers(1, n, m)) % n
    lines = None
    if geometry == "bent":
        mid = np.column_stack([(x[u] + x[v]) / 2 + rng.normal(0, 30, m), (y[u] + y[v]) / 2])
        lines = shapely.linestrings(np.stack([np.column_stack([x[u], y[u]]), mid, np.column_stack([x[v], y[v]])], axis=1))
    elif geometry == "straight":
        lines = shapely.linestrings(np.stack([np.column_stack([x[u], y[u]]), np.column_stack([x[v], y[v]])], axis=1))
    return WalkNetwork.from_edges(x, y, u, v, geometry=lines, crs=32650)


def save_with_lines(net: WalkNetwork, path) -> None:
    """Save keeping straight lines too, as files written before save_network dropped them."""
    arrays = {"format_version": np.array(1), "x": net.x, "y": net.y, "u": net.u, "v": net.v, "length": net.length,
              "crs_wkt": np.array(net.crs.to_wkt())}
    if net.geometry is not None:
        _, coords, (offsets,) = shapely.to_ragged_array(net.geometry)
        arrays.update(geom_coords=coords, geom_offsets=offsets)
    np.savez_compressed(path, **arrays)


@pytest.mark.parametrize("geometry", ["bent", "straight", "none"])
@pytest.mark.parametrize("seed", [0, 1])
def test_projected_load_is_bit_identical(tmp_path, geometry, seed):
    net = random_network(seed, geometry)
    path = tmp_path / "net.npz"
    save_with_lines(net, path)
    target = local_tm_crs(113.3, 23.1)
    want = project_network(load_network(path), target)
    got = load_network(path, crs=target)
    assert got.crs == target
    for name in ("x", "y", "u", "v", "length"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert (got.geometry is None) == (want.geometry is None)
    if want.geometry is not None:
        assert np.array_equal(shapely.to_wkb(got.geometry), shapely.to_wkb(want.geometry))
        # the lines really moved: projected, not the stored UTM coordinates
        assert not np.allclose(shapely.get_coordinates(got.geometry), shapely.get_coordinates(net.geometry))


def test_same_crs_and_current_files(tmp_path):
    net = random_network(2, "bent")
    path = save_network(net, tmp_path / "net")
    same = load_network(path, crs=net.crs)
    assert np.array_equal(same.x, net.x) and np.array_equal(shapely.to_wkb(same.geometry), shapely.to_wkb(net.geometry))
    target = local_tm_crs(113.3, 23.1)
    straight = save_network(random_network(3, "straight"), tmp_path / "straight")  # lines dropped on save
    got, want = load_network(straight, crs=target), project_network(load_network(straight), target)
    assert got.geometry is None and want.geometry is None
    assert np.array_equal(got.x, want.x) and np.array_equal(got.y, want.y)
