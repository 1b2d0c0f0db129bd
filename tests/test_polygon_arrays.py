"""layers.polygon_arrays.to_crs gives what GeoDataFrame.to_crs gives, coordinate for coordinate."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

import layers.polygon_arrays as pa_mod
from geo.crs import WGS84, local_tm_crs
from layers.polygon_arrays import polygon_arrays, to_crs


def cells_wgs84(seed: int, n: int, holes: bool = False) -> gpd.GeoDataFrame:
    """Irregular pentagons around Guangzhou in WGS84 (every fourth with a hole if asked), several column types."""
    rng = np.random.default_rng(seed)
    k = 5
    centre = np.column_stack([rng.uniform(113.0, 113.6, n), rng.uniform(22.9, 23.4, n)])
    # star-shaped around the centre with gaps under 90 degrees: valid, and holds the hole below
    angles = (np.arange(k) + rng.uniform(-0.2, 0.2, (n, k))) * (2 * np.pi / k)
    r = rng.uniform(2e-4, 2e-3, (n, k))
    shells = centre[:, None, :] + np.stack([r * np.cos(angles), r * np.sin(angles)], axis=-1)
    geoms = shapely.polygons(shells)
    if holes:
        for i in range(0, n, 4):
            s = r[i].min() / 4
            x, y = centre[i]
            geoms[i] = shapely.Polygon(shells[i], [[(x - s, y - s), (x + s, y - s), (x, y + s)]])
    return gpd.GeoDataFrame(
        {
            "cell_id": [f"c{i}" for i in range(n)],
            "population": rng.uniform(0, 500, n),
            "geometry": geoms,
            "elderly": rng.uniform(0, 50, n),
        },
        index=np.arange(n) * 3 + 7,  # not a default index: it must be kept
        crs=WGS84,
    )


def assert_same(ours: gpd.GeoDataFrame, theirs: gpd.GeoDataFrame) -> None:
    assert_geodataframe_equal(ours, theirs, check_less_precise=False)
    assert ours.crs == theirs.crs and ours.geometry.name == theirs.geometry.name
    a, b = ours.geometry.values._data, theirs.geometry.values._data
    assert (shapely.to_wkb(a) == shapely.to_wkb(b)).all()  # every coordinate bit for bit, rings in order


@pytest.mark.parametrize("seed", [0, 1])
def test_plain_polygons_projected_bit_for_bit(monkeypatch, seed):
    frame = cells_wgs84(seed, 60_000 if seed else 3_000)  # 360,000 points: projected in threads
    target = local_tm_crs(113.3, 23.15)
    calls = []
    real = pa_mod.project_coords
    monkeypatch.setattr(pa_mod, "project_coords", lambda *a: calls.append(1) or real(*a))
    ours = to_crs(frame, target)
    assert calls, "the flat-array path did not run"
    assert_same(ours, frame.to_crs(target))
    # and back: the metric frame to WGS84
    assert_same(to_crs(ours, WGS84), ours.to_crs(WGS84))


def test_other_layers_take_geopandas_path(monkeypatch):
    target = local_tm_crs(113.3, 23.15)
    monkeypatch.setattr(pa_mod, "project_coords", lambda *a: pytest.fail("fast path taken"))
    holes = cells_wgs84(2, 400, holes=True)
    assert_same(to_crs(holes, target), holes.to_crs(target))
    points = holes.set_geometry(shapely.centroid(holes.geometry.values._data), crs=WGS84)
    assert_same(to_crs(points, target), points.to_crs(target))
    mixed = holes.copy()
    mixed.loc[mixed.index[3], "geometry"] = None
    assert_same(to_crs(mixed, target), mixed.to_crs(target))
    assert to_crs(holes, WGS84) is not None  # same CRS: nothing to project


def test_polygon_arrays_layout():
    frame = cells_wgs84(3, 50, holes=True)
    coords, rings, geoms = polygon_arrays(frame.geometry.values._data)
    rebuilt = shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, (rings, geoms))
    assert shapely.equals_exact(rebuilt, frame.geometry.values._data, tolerance=0).all()
    plain = cells_wgs84(4, 50)
    coords, rings, geoms = polygon_arrays(plain.geometry.values._data)
    assert np.array_equal(geoms, np.arange(51)) and rings[-1] == len(coords)
