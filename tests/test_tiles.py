"""Tiles with a halo (geo/tiles.py, scenarios/batch/tiling.py): a tiled city gives the whole city's answer, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.network import WalkNetwork
from geo.tiles import TileError, cut_tiles, edges_near, sub_network, tile_grid_shape


def test_tile_grid_shape_is_near_square_with_exactly_n_tiles():
    assert [tile_grid_shape(n) for n in (1, 2, 4, 6, 7, 16)] == [(1, 1), (2, 1), (2, 2), (3, 2), (7, 1), (4, 4)]
    with pytest.raises(TileError, match="at least 1"):
        tile_grid_shape(0)


def test_every_point_is_in_exactly_one_tile_and_tiles_are_balanced():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1000, 10_000), rng.uniform(0, 500, 10_000)
    x[:50] = 0.0  # points on a cut go to one side only
    tiles = cut_tiles(x, y, 6)
    owned = np.concatenate([t.cells for t in tiles])
    assert np.array_equal(np.sort(owned), np.arange(x.size))
    assert max(len(t.cells) for t in tiles) - min(len(t.cells) for t in tiles) < 0.02 * x.size
    for t in tiles:
        bx = t.box
        assert ((x[t.cells] >= bx[0]) & (x[t.cells] <= bx[2]) & (y[t.cells] >= bx[1]) & (y[t.cells] <= bx[3])).all()


def test_sub_network_keeps_edges_and_nodes_in_order():
    #  0 - 1 - 2 - 3 on a line, 100 m apart, with a far edge 3 - 4
    net = WalkNetwork.from_edges([0, 100, 200, 300, 5000], [0, 0, 0, 0, 0], [0, 1, 2, 3], [1, 2, 3, 4])
    assert list(edges_near(net, (150, -10, 250, 10))) == [1, 2]  # 0 - 1 ends before the box, 3 - 4 starts after
    edges = edges_near(net, (150, -10, 350, 10))
    assert list(edges) == [1, 2, 3]
    sub, nodes = sub_network(net, edges)
    assert list(nodes) == [1, 2, 3, 4]
    assert list(sub.u) == [0, 1, 2] and list(sub.v) == [1, 2, 3]
    assert np.array_equal(sub.length, net.length[edges])
    with pytest.raises(TileError, match="ascending"):
        sub_network(net, np.array([2, 1]))


def _bits_equal(a: pd.Series, b: pd.Series) -> bool:
    if not (a.isna().to_numpy() == b.isna().to_numpy()).all():
        return False
    x, y = a[a.notna()].to_numpy(), b[b.notna()].to_numpy()
    if x.dtype.kind == "f":
        return bool(np.array_equal(x.view(np.int64), y.view(np.int64)))
    return bool((x == y).all())


@pytest.mark.slow
def test_tiled_equals_whole_on_a_generated_city_bit_for_bit():
    """A 150,000-node generated city in 4 and 16 tiles: every cell's result equals the whole-city run.

    The 1M-node version of this check runs in bench/bench_batch.py (it takes
    minutes on two cores); the argument is the same at any size.
    """
    from layers.cache import cache_key, cached_city
    from layers.cities.generator import GENERATOR_VERSION, generate_city_of_size
    from scenarios.batch.tiling import TiledCity, facilities_near, reach_m
    from scenarios.evaluate import evaluate
    from scenarios.standards import resolve_standards

    params = {"n_nodes": 150_000, "n_cells": 110_000, "n_facilities": 300}
    key = cache_key("test-tiles", GENERATOR_VERSION, params, sources=("layers.cities.generator",))
    city = cached_city("test-tiles", key, lambda: generate_city_of_size(**params))
    standards = resolve_standards()
    whole = evaluate(city, standards).cells_frame()
    columns = [c for c in whole.columns if c not in city.cells.columns]  # every per-standard result column
    assert len(columns) >= 4 * 4 + 1  # at least distance, time, facility, covered per standard; the clinic's bands
    for n in (4, 16):
        tiled = TiledCity(city, n, reach_m(standards))
        parts = []
        for i, tile in enumerate(tiled.tiles):
            t_city = tiled.tile(i)
            assert t_city.network.n_edges < city.network.n_edges  # a piece, not the whole
            t_city = t_city.with_facilities(facilities_near(city.facilities, tile.box, tiled.reach))
            frame = evaluate(t_city, standards).cells_frame()
            frame.index = tile.cells
            parts.append(frame)
        got = pd.concat(parts).sort_index()
        assert np.array_equal(got.index, np.arange(len(city.cells)))
        assert (got["cell_id"].to_numpy() == whole["cell_id"].to_numpy()).all()
        for col in columns:
            assert _bits_equal(got[col], whole[col]), (n, col)
        # the answer is not trivial: covered and uncovered cells, several facilities
        assert 0 < whole["clinic_walk_covered"].mean() < 1 and whole["clinic_walk_facility"].nunique() > 10
