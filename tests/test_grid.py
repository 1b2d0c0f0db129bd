"""Square grids and population allocation, checked by hand and against geopandas.overlay."""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.errors import LayerError, LayerWarning
from layers.grid import allocate_population, square_grid


def test_square_grid_from_bounds_is_aligned_and_labelled():
    g = square_grid((50.0, 20.0, 250.0, 180.0), 100.0, crs=32650)
    assert len(g) == 6  # x: 0-300 (3 cols), y: 0-200 (2 rows)
    assert list(g.cell_id) == ["r0c0", "r0c1", "r0c2", "r1c0", "r1c1", "r1c2"]
    assert g.geometry.iloc[0].equals(shapely.box(0, 0, 100, 100))
    assert g.geometry.iloc[5].equals(shapely.box(200, 100, 300, 200))
    assert np.allclose(g.area, 10_000)
    assert g.crs.to_epsg() == 32650


def test_square_grid_clipped_to_polygon_matches_brute_force():
    poly = shapely.Polygon([(0, 0), (1000, 0), (0, 700)])
    g = square_grid(poly, 100.0)
    full = square_grid(poly.bounds, 100.0)
    expected = full[shapely.area(shapely.intersection(full.geometry.values, poly)) > 0]
    assert set(g.cell_id) == set(expected.cell_id)
    assert g.index.tolist() == list(range(len(g)))


def test_square_grid_rejects_bad_size():
    with pytest.raises(ValueError, match="cell_size"):
        square_grid((0, 0, 10, 10), 0)


def test_polygon_area_weighting_by_hand():
    grid = square_grid((0, 0, 300, 100), 100.0, crs=32650)
    src = gpd.GeoDataFrame(
        {"population": [100.0, 40.0], "elderly": [10.0, 4.0]},
        geometry=[shapely.box(50, 0, 150, 100), shapely.box(210, 10, 230, 30)],
        crs=32650,
    )
    out = allocate_population(grid, src, keep_empty=True)
    assert out.population.tolist() == pytest.approx([50.0, 50.0, 40.0])
    assert out.elderly.tolist() == pytest.approx([5.0, 5.0, 4.0])


def overlay_reference(grid, src, column):
    src = src.assign(_area=src.area, _val=src[column])
    pieces = gpd.overlay(grid[["cell_id", "geometry"]], src[["_area", "_val", "geometry"]], how="intersection")
    share = pieces.area / pieces["_area"] * pieces["_val"]
    return share.groupby(pieces["cell_id"]).sum()


def test_polygon_allocation_matches_geopandas_overlay():
    rng = np.random.default_rng(3)
    area = shapely.box(0, 0, 2000, 1500)
    seeds = shapely.multipoints(np.column_stack([rng.uniform(0, 2000, 60), rng.uniform(0, 1500, 60)]))
    polys = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=area)), area)
    src = gpd.GeoDataFrame({"population": rng.uniform(0, 500, polys.size), "elderly": rng.uniform(0, 50, polys.size)}, geometry=polys, crs=32650)
    grid = square_grid(area.buffer(-100), 100.0, crs=32650)  # smaller than the source: some population lost
    with pytest.warns(LayerWarning, match="lies outside the grid"):
        out = allocate_population(grid, src)
    ref = overlay_reference(grid, src, "population")
    ref = ref[ref > 0]
    got = out.set_index("cell_id").population
    assert set(got.index) == set(ref.index)
    assert np.allclose(got.loc[ref.index].to_numpy(), ref.to_numpy(), rtol=1e-9, atol=1e-9)


def test_points_are_summed_once_per_cell():
    grid = square_grid((0, 0, 200, 100), 100.0, crs=32650)
    src = gpd.GeoDataFrame(
        {"population": [1.0, 2.0, 4.0, 8.0], "elderly": [0.0, 1.0, 1.0, 1.0]},
        geometry=shapely.points([10, 100, 150, 500], [10, 50, 50, 50]),  # 100,50 lies on the shared edge
        crs=32650,
    )
    with pytest.warns(LayerWarning, match="8 of 15 population"):
        out = allocate_population(grid, src, keep_empty=True)
    assert out.population.tolist() == [3.0, 4.0]  # the edge point goes to the lower cell only
    assert out.elderly.tolist() == [1.0, 1.0]


def test_empty_cells_dropped_by_default_and_source_reprojected():
    grid = square_grid((0, 0, 300, 100), 100.0, crs=32650)
    src = gpd.GeoDataFrame({"population": [5.0], "elderly": [1.0]}, geometry=[shapely.Point(250, 50)], crs=32650).to_crs(4326)
    out = allocate_population(grid, src)
    assert out.cell_id.tolist() == ["r0c2"]
    assert out.population.tolist() == pytest.approx([5.0])


def test_bad_source_columns():
    grid = square_grid((0, 0, 100, 100), 100.0, crs=32650)
    src = gpd.GeoDataFrame({"population": [5.0]}, geometry=[shapely.Point(50, 50)], crs=32650)
    with pytest.raises(LayerError, match="blocks.gpkg, field 'elderly': required column is missing"):
        allocate_population(grid, src, source_name="blocks.gpkg")
    src["elderly"] = [-1.0]
    with pytest.raises(LayerError, match="row 1, field 'elderly': value -1.0 is below the minimum 0"):
        allocate_population(grid, src)
