"""Gap clusters on a lattice or a clean mesh (no polygon overlays) equal the GEOS-union path.

The reference is :func:`geo.clusters.uncovered_clusters` with ``topology=None``:
it finds clusters through rook adjacency of the cell polygons and dissolves
them with GEOS. The lattice path must give the same clusters in the same
order with the same populations (``==``) and polygons whose symmetric
difference with GEOS's is empty (area exactly 0).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, box

from geo.clusters import cell_topology, uncovered_clusters
from geo.lattice import grid_lattice
from geo.mesh import CellMesh, cell_mesh
from geo.trace import block_polygon, trace_rings


def _cells(n_rows: int, n_cols: int, size: float, x0: float = 0.0, y0: float = 0.0) -> np.ndarray:
    return np.array(
        [box(x0 + c * size, y0 + r * size, x0 + (c + 1) * size, y0 + (r + 1) * size) for r in range(n_rows) for c in range(n_cols)]
    )


def _assert_same(geoms: np.ndarray, mask: np.ndarray, weights: np.ndarray, top: int | None = None) -> None:
    fast = uncovered_clusters(geoms, mask, weights, top=top)
    slow = uncovered_clusters(geoms, mask, weights, top=top, topology=None)
    assert list(fast["rank"]) == list(slow["rank"])
    assert list(fast["population"]) == list(slow["population"])
    assert list(fast["n_cells"]) == list(slow["n_cells"])
    assert [list(a) for a in fast["cell_ids"]] == [list(b) for b in slow["cell_ids"]]
    for a, b in zip(fast.geometry, slow.geometry):
        assert a.geom_type == "Polygon" and a.is_valid
        assert shapely.area(shapely.symmetric_difference(a, b)) == 0.0


@settings(max_examples=150, deadline=None)
@given(
    n_rows=st.integers(1, 14),
    n_cols=st.integers(1, 14),
    size=st.floats(0.5, 500.0),
    x0=st.floats(-2e6, 2e6),
    y0=st.floats(-2e6, 5e6),
    seed=st.integers(0, 2**32 - 1),
    keep=st.floats(0.4, 1.0),
    density=st.floats(0.1, 0.95),
)
def test_lattice_path_equals_geos_union_on_random_grids(n_rows, n_cols, size, x0, y0, seed, keep, density):
    rng = np.random.default_rng(seed)
    geoms = _cells(n_rows, n_cols, size, x0, y0)
    geoms = geoms[rng.random(geoms.size) < keep]  # cells missing from the grid (water, outside the city)
    if geoms.size == 0:
        return
    assert grid_lattice(geoms) is not None
    mask = rng.random(geoms.size) < density
    weights = rng.integers(0, 50, geoms.size).astype(float)  # ties in population happen
    _assert_same(geoms, mask, weights)
    _assert_same(geoms, mask, weights, top=3)


@pytest.mark.parametrize("seed", range(4))
def test_large_random_grid_with_holes_and_saddles(seed):
    rng = np.random.default_rng(seed)
    geoms = _cells(60, 80, 100.0, 433_000.0, 2_560_000.0)
    mask = rng.random(geoms.size) < 0.62  # near the percolation threshold: holes, saddles, nested islands
    _assert_same(geoms, mask, rng.uniform(0, 30, geoms.size))


def test_checkerboard_cells_touching_at_corners_stay_apart():
    geoms = _cells(4, 4, 10.0)
    mask = np.array([(i // 4 + i % 4) % 2 == 0 for i in range(16)])
    out = uncovered_clusters(geoms, mask, np.ones(16), top=None)
    assert len(out) == 8 and set(out["n_cells"]) == {1}
    for ids, poly in zip(out["cell_ids"], out.geometry):
        assert poly.equals(geoms[ids[0]])


def test_traced_ring_with_hole_touching_at_a_saddle():
    # 3 x 3 ring of cells with the centre missing, plus a corner cut so the
    # hole meets the outside at one point: still a valid polygon of 7 cells
    m = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=bool)[::-1]
    vi, vj, starts, area2 = trace_rings(m)
    assert sorted(area2.tolist()) == [-2, 16]  # doubled areas: a hole of 1 cell, an outer ring around 8
    poly = block_polygon(m, np.arange(4.0), np.arange(4.0))
    want = shapely.union_all([box(j, i, j + 1, i + 1) for i in range(3) for j in range(3) if m[i, j]])
    assert poly.is_valid and poly.area == 7.0
    assert shapely.area(shapely.symmetric_difference(poly, want)) == 0.0


def test_two_pieces_do_not_trace_to_one_polygon():
    m = np.array([[1, 0, 1]], dtype=bool)
    assert block_polygon(m, np.arange(4.0), np.arange(2.0)) is None


def test_only_exact_lattices_are_recognised():
    geoms = _cells(3, 4, 100.0, 500_000.0, 3_000_000.0)
    lattice = grid_lattice(geoms)
    assert lattice is not None and lattice.shape == (3, 4)
    np.testing.assert_array_equal(lattice.xs, 500_000.0 + 100.0 * np.arange(5))
    np.testing.assert_array_equal(lattice.row, np.repeat(np.arange(3), 4))

    # one side off by one unit in the last place: neighbours no longer share it
    off = geoms.copy()
    b = off[5].bounds
    off[5] = box(np.nextafter(b[0], np.inf), b[1], b[2], b[3])
    assert grid_lattice(off) is None
    # a cell with an extra (collinear) vertex is not four corners
    extra = geoms.copy()
    x0, y0, x1, y1 = extra[0].bounds
    extra[0] = Polygon([(x0, y0), ((x0 + x1) / 2, y0), (x1, y0), (x1, y1), (x0, y1)])
    assert grid_lattice(extra) is None
    # two cells at one position
    assert grid_lattice(np.r_[geoms, geoms[:1]]) is None
    # a rotated grid
    assert grid_lattice(np.array([shapely.affinity.rotate(g, 10, origin=(0, 0)) for g in geoms])) is None


def test_inexact_grid_falls_back_to_geos_with_the_same_answer():
    geoms = _cells(10, 10, 100.0)
    rng = np.random.default_rng(5)
    # each cell shifted by a few units in the last place, as after a reprojection round trip
    jitter = np.array([shapely.affinity.translate(g, xoff=rng.integers(0, 3) * 1e-13) for g in geoms])
    assert grid_lattice(jitter) is None
    mask = rng.random(100) < 0.6
    w = rng.uniform(0, 5, 100)
    a = uncovered_clusters(jitter, mask, w, top=None)
    b = uncovered_clusters(jitter, mask, w, top=None, topology=None)
    assert list(a["population"]) == list(b["population"])
    assert all(x.equals_exact(y, 0.0) for x, y in zip(a.geometry, b.geometry))


def test_lattice_of_other_cells_is_refused():
    geoms = _cells(2, 2, 1.0)
    with pytest.raises(ValueError, match="one position per cell"):
        uncovered_clusters(geoms, np.ones(4, bool), np.ones(4), topology=grid_lattice(geoms[:3]))


# -- reprojected grids: a clean mesh instead of a lattice ---------------------------


def _reprojected(geoms: np.ndarray) -> np.ndarray:
    """UTM 50N cells in a transverse Mercator centred 1.5 degrees away: rotated, slightly curved."""
    from pyproj import Transformer

    tm = "+proj=tmerc +lon_0=115.5 +lat_0=0 +k=1 +x_0=500000 +y_0=0 +ellps=WGS84 +units=m"
    t = Transformer.from_crs("EPSG:32650", tm, always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


@pytest.mark.parametrize("seed", range(4))
def test_mesh_path_equals_geos_union_on_reprojected_grids(seed):
    rng = np.random.default_rng(100 + seed)
    geoms = _cells(40, 50, 100.0, 433_000.0, 2_560_000.0)
    geoms = _reprojected(geoms[rng.random(geoms.size) < 0.9])
    assert grid_lattice(geoms) is None
    assert cell_mesh(geoms) is not None
    assert isinstance(cell_topology(geoms), CellMesh)
    _assert_same(geoms, rng.random(geoms.size) < 0.6, rng.uniform(0, 30, geoms.size))


def test_mesh_accepts_clockwise_cells_and_irregular_polygons():
    # two quads and a pentagon sharing whole edges; one ring drawn clockwise
    a = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)])
    b = Polygon([(10, 0), (10, 10), (20, 12), (21, 1)])  # clockwise
    c = Polygon([(0, 10), (10, 10), (20, 12), (12, 20), (0, 18)])
    geoms = np.array([a, b, c])
    assert cell_mesh(geoms) is not None
    _assert_same(geoms, np.ones(3, bool), np.array([1.0, 2.0, 3.0]))


def test_layers_the_mesh_shortcut_could_get_wrong_are_refused():
    grid = _cells(3, 3, 10.0)
    # T-junction: one big cell beside two half-height cells
    t_junction = np.array([box(0, 0, 10, 20), box(10, 0, 20, 10), box(10, 10, 20, 20)])
    big = Polygon([(0, 0), (10, 0), (10, 10), (10, 20), (0, 20)])  # has the middle vertex: a clean mesh
    assert cell_mesh(np.array([big, t_junction[1], t_junction[2]])) is not None
    assert cell_mesh(t_junction) is None
    # a duplicate cell, and an overlapping shifted one
    assert cell_mesh(np.r_[grid, grid[:1]]) is None
    assert cell_mesh(np.r_[grid, [box(5, 5, 15, 15)]]) is None
    # a piece lying inside another piece's cell
    assert cell_mesh(np.array([box(0, 0, 100, 100), box(40, 40, 50, 50)])) is None
    # a hole
    assert cell_mesh(np.array([box(0, 0, 10, 10).difference(box(4, 4, 6, 6))])) is None
    # in each case the clusters still come out right, through GEOS
    for geoms in (t_junction, np.r_[grid, [box(5, 5, 15, 15)]]):
        _assert_same(geoms, np.ones(geoms.size, bool), np.ones(geoms.size))
