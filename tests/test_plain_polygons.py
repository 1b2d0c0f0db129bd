"""layers.plain_polygons: grid cells read as flat arrays give the general reader's cells bit for bit.

The general path is ``read_layer`` -> ``validate_grid`` -> ``to_crs``; the
fast path must give equal frames (attributes, CRS, every coordinate) and
fall back (``None``) on anything it does not prove plain and valid.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon

import layers.build as build
from geo.crs import metric_crs
from layers.build import city_from_files
from layers.errors import LayerError
from layers.plain_polygons import PlainPolygons, read_plain_polygons
from layers.polygon_arrays import to_crs
from layers.readers import read_layer
from layers.validate import validate_grid
from tests import own_city

pytestmark = pytest.mark.filterwarnings("ignore::layers.errors.LayerWarning")


def _general(path, target):
    return to_crs(validate_grid(read_layer(path), path.name), target)


def _assert_same_cells(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    assert a.crs == b.crs and list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    ga, gb = a.geometry.values._data, b.geometry.values._data
    assert np.array_equal(shapely.get_coordinates(ga), shapely.get_coordinates(gb))  # bit for bit
    assert np.array_equal(shapely.get_num_coordinates(ga), shapely.get_num_coordinates(gb))


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4547", "EPSG:32650"])
def test_flat_cells_equal_the_general_readers(tmp_path, crs):
    path = tmp_path / "cells.gpkg"
    own_city.cells().to_crs(crs).to_file(path)
    flat = read_plain_polygons(path)
    assert isinstance(flat, PlainPolygons) and len(flat) == len(read_layer(path))
    target = metric_crs(read_layer(path))
    assert metric_crs(flat.wgs84_bounds()).equals(target)
    assert flat.wgs84_bounds() == tuple(read_layer(path).to_crs(4326).total_bounds)
    _assert_same_cells(validate_grid(flat.frame(target), path.name, proven_valid=True), _general(path, target))


def test_a_city_built_either_way_has_the_same_cells(tmp_path, monkeypatch):
    files = own_city.write_city_files(tmp_path)
    taken = []
    real = build.read_plain_polygons
    monkeypatch.setattr(build, "read_plain_polygons", lambda *a: taken.append(real(*a)) or taken[-1])
    fast = city_from_files(files["grid"], files["facilities"], network=files["network"])
    assert isinstance(taken[0], PlainPolygons)  # the flat path was taken
    monkeypatch.setattr(build, "read_plain_polygons", lambda *a: None)
    general = city_from_files(files["grid"], files["facilities"], network=files["network"])
    _assert_same_cells(fast.cells, general.cells)
    assert fast.crs == general.crs


def _one(tmp_path, geometry, crs="EPSG:4326", name="x.gpkg"):
    path = tmp_path / name
    gpd.GeoDataFrame({"population": [1.0] * len(geometry)}, geometry=geometry, crs=crs).to_file(path)
    return path


SQUARE = Polygon([(113.0, 22.5), (113.001, 22.5), (113.001, 22.501), (113.0, 22.501)])
CASES = {
    "bow-tie (invalid)": [Polygon([(113.0, 22.5), (113.001, 22.501), (113.001, 22.5), (113.0, 22.501)])],
    "concave quadrilateral": [Polygon([(113.0, 22.5), (113.002, 22.5), (113.0005, 22.0005 + 0.5), (113.0, 22.502)])],
    "a hole": [Polygon(SQUARE.exterior.coords, [[(113.0002, 22.5002), (113.0004, 22.5002), (113.0004, 22.5004)]])],
    "a pentagon": [Polygon([(113.0, 22.5), (113.001, 22.5), (113.0015, 22.5005), (113.001, 22.501), (113.0, 22.501)])],
    "a multipolygon": [MultiPolygon([SQUARE])],
    "a missing geometry": [SQUARE, None],
}


@pytest.mark.parametrize("case", list(CASES))
def test_anything_but_convex_quadrilaterals_goes_the_general_way(tmp_path, case):
    assert read_plain_polygons(_one(tmp_path, CASES[case])) is None


def test_files_it_does_not_read(tmp_path):
    layers = tmp_path / "two.gpkg"
    for name in ("a", "b"):
        gpd.GeoDataFrame({"population": [1.0]}, geometry=[SQUARE], crs=4326).to_file(layers, layer=name)
    assert read_plain_polygons(layers) is None  # which layer? the general reader asks
    assert isinstance(read_plain_polygons(layers, "b"), PlainPolygons)
    assert read_plain_polygons(layers, "c") is None
    no_crs = _one(tmp_path, [SQUARE], crs=None, name="no_crs.shp")
    assert read_plain_polygons(no_crs) is None  # the general reader says to declare it
    table = tmp_path / "cells.csv"
    table.write_text("population,lon,lat\n1,113,22.5\n")
    assert read_plain_polygons(table) is None
    assert read_plain_polygons(tmp_path / "missing.gpkg") is None


def test_degrees_out_of_range_are_the_general_readers_error(tmp_path):
    far = Polygon([(213.0, 22.5), (213.001, 22.5), (213.001, 22.501), (213.0, 22.501)])
    path = _one(tmp_path, [far])
    with pytest.raises(LayerError) as general:
        read_layer(path)
    with pytest.raises(LayerError) as flat:
        read_plain_polygons(path)
    assert str(flat.value) == str(general.value)


def test_the_frame_in_the_files_own_crs_is_not_reprojected(tmp_path):
    path = _one(tmp_path, [SQUARE])
    frame = read_plain_polygons(path).frame(CRS.from_epsg(4326))
    assert np.array_equal(shapely.get_coordinates(frame.geometry.values._data), np.asarray(SQUARE.exterior.coords))
