"""Clusters of adjacent uncovered cells on hand-made grids and polygons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import affinity
from shapely.geometry import Polygon, box

from geo.clusters import rook_adjacency, uncovered_clusters

# 4 x 4 grid of 100 m cells, row 0 at the bottom. X = uncovered.
#   row 3:  X X . .
#   row 2:  X . . X
#   row 1:  . . X .
#   row 0:  X . X X
MASK_ROWS = {3: "XX..", 2: "X..X", 1: "..X.", 0: "X.XX"}


def _grid(n_rows: int, n_cols: int, size: float = 100.0) -> np.ndarray:
    return np.array([box(c * size, r * size, (c + 1) * size, (r + 1) * size) for r in range(n_rows) for c in range(n_cols)])


def _mask() -> np.ndarray:
    m = np.zeros(16, dtype=bool)
    for r, s in MASK_ROWS.items():
        for c, ch in enumerate(s):
            m[r * 4 + c] = ch == "X"
    return m


def _as_sets(frame) -> list[set]:
    return [set(ids) for ids in frame["cell_ids"]]


@pytest.fixture
def grid_case():
    geoms = _grid(4, 4)
    weights = np.arange(16, dtype=float) + 1.0  # cell i has i + 1 residents
    return geoms, _mask(), weights


def test_grid_clusters_by_hand(grid_case):
    geoms, mask, w = grid_case
    out = uncovered_clusters(gpd.GeoSeries(geoms, crs=32650), mask, w)
    # Rook clusters (cell index = 4*row + col):
    #   {12, 13, 8}: top-left L, weights 13 + 14 + 9 = 36
    #   {6, 2, 3}:   right bottom, 7 + 3 + 4 = 14
    #   {11}:        touches 6 only at a corner -> own cluster, 12
    #   {0}:         1
    assert _as_sets(out) == [{8, 12, 13}, {2, 3, 6}, {11}, {0}]
    assert list(out["population"]) == [36.0, 14.0, 12.0, 1.0]
    assert list(out["n_cells"]) == [3, 3, 1, 1]
    assert list(out["rank"]) == [1, 2, 3, 4]
    assert out.crs.to_epsg() == 32650
    # dissolved polygon of the L: three 100 m cells, one polygon, no slivers
    l_shape = out.geometry.iloc[0]
    assert l_shape.geom_type == "Polygon" and l_shape.area == pytest.approx(30000.0)
    assert l_shape.equals(shapely.union_all(geoms[[8, 12, 13]]))


def test_top_and_ids(grid_case):
    geoms, mask, w = grid_case
    ids = [f"c{i}" for i in range(16)]
    out = uncovered_clusters(geoms, mask, w, top=2, ids=ids)
    assert len(out) == 2
    assert [set(x) for x in out["cell_ids"]] == [{"c8", "c12", "c13"}, {"c2", "c3", "c6"}]


def test_ties_ranked_by_first_cell():
    geoms = _grid(1, 5)
    mask = np.array([True, False, True, False, True])
    out = uncovered_clusters(geoms, mask, np.ones(5))
    assert [x[0] for x in out["cell_ids"]] == [0, 2, 4]


def test_empty_mask(grid_case):
    geoms, _, w = grid_case
    out = uncovered_clusters(geoms, np.zeros(16, bool), w)
    assert len(out) == 0 and "population" in out.columns


def test_irregular_polygons_by_hand():
    # an L-shaped block, a square sharing 50 m of the L's edge, a triangle that
    # meets the square only at its corner (200, 100), and a far square.
    l_block = Polygon([(0, 0), (100, 0), (100, 50), (50, 50), (50, 100), (0, 100)])
    square = box(100, 0, 200, 100)  # shares x=100, y 0..50 with the L
    triangle = Polygon([(200, 100), (300, 100), (300, 200)])
    far = box(1000, 1000, 1100, 1100)
    geoms = np.array([l_block, square, triangle, far])
    adj = rook_adjacency(geoms).toarray()
    expected = np.zeros((4, 4), dtype=int)
    expected[0, 1] = expected[1, 0] = 1
    np.testing.assert_array_equal(adj, expected)
    out = uncovered_clusters(geoms, np.ones(4, bool), np.array([5.0, 5.0, 20.0, 1.0]))
    assert _as_sets(out) == [{2}, {0, 1}, {3}]
    assert out.geometry.iloc[1].area == pytest.approx(l_block.area + square.area)


@pytest.mark.parametrize("seed", range(3))
def test_grid_fast_path_matches_general_path(seed):
    """The row/column path and the spatial-index path find the same clusters.

    Rotating the grid by 30 degrees keeps every adjacency but is no longer an
    axis-aligned lattice, so the general path runs on it.
    """
    rng = np.random.default_rng(seed)
    geoms = _grid(25, 30, size=50.0)
    rotated = np.array([affinity.rotate(g, 30, origin=(0, 0)) for g in geoms])
    mask = rng.random(geoms.size) < 0.55
    w = rng.uniform(0, 100, geoms.size)
    fast = uncovered_clusters(geoms, mask, w, top=None)
    slow = uncovered_clusters(rotated, mask, w, top=None)
    assert _as_sets(fast) == _as_sets(slow)
    np.testing.assert_allclose(fast["population"], slow["population"])
    np.testing.assert_allclose(shapely.area(fast.geometry.values), shapely.area(slow.geometry.values), rtol=1e-9)
    # every cluster's population is the sum of its cells' weights
    for ids, pop in zip(fast["cell_ids"], fast["population"]):
        assert pop == pytest.approx(w[ids].sum())
    # clusters partition the masked cells
    assert sorted(i for ids in fast["cell_ids"] for i in ids) == list(np.flatnonzero(mask))


def test_bad_lengths():
    with pytest.raises(ValueError, match="one value per cell"):
        uncovered_clusters(_grid(2, 2), np.ones(3, bool), np.ones(4))


def test_cluster_polygons_equal_the_union_of_their_cells_on_random_grids():
    """Row runs and stacked runs must dissolve to exactly the cells' union (holes included)."""
    geoms = _grid(30, 40, size=50.0)
    rng = np.random.default_rng(11)
    for density in (0.3, 0.6, 0.9):
        mask = rng.random(geoms.size) < density
        out = uncovered_clusters(geoms, mask, np.ones(geoms.size), top=None)
        assert out["n_cells"].sum() == mask.sum()
        for ids, poly in zip(out["cell_ids"], out.geometry):
            want = shapely.union_all(geoms[ids])
            assert shapely.is_valid(poly)
            assert shapely.area(shapely.symmetric_difference(poly, want)) == pytest.approx(0.0, abs=1e-6)
