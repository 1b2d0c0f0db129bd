"""Validation of facilities and population layers: each bad input, its named error."""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.errors import LayerError, LayerWarning, collect_warnings
from layers.validate import (
    DEFAULT_ELDERLY_SHARE,
    check_lonlat,
    check_overlap,
    validate_facilities,
    validate_grid,
)


def facilities(**cols):
    n = len(next(iter(cols.values())))
    return gpd.GeoDataFrame(cols, geometry=shapely.points(np.arange(n), np.zeros(n)), crs=32650)


def cells(**cols):
    n = len(next(iter(cols.values())))
    return gpd.GeoDataFrame(cols, geometry=[shapely.box(i, 0, i + 1, 1) for i in range(n)], crs=32650)


# ---------------------------------------------------------------- facilities
def test_facilities_normalised():
    gdf = facilities(
        id=["A", 7.0, "C"],
        kind=["Health_Centre", "社区卫生服务站", " elderly_care "],
        name=["Clinic A", None, ""],
        beds=["12", "", 3],
        extra=[1, 2, 3],
    )
    out = validate_facilities(gdf, "sites.csv")
    assert out.id.tolist() == ["A", "7", "C"]
    assert out.kind.tolist() == ["health_centre", "health_station", "elderly_care"]
    assert out.name.tolist() == ["Clinic A", "7", "C"]
    assert out.beds.tolist()[0] == 12.0 and np.isnan(out.beds[1]) and out.beds[2] == 3.0
    assert np.isnan(out.doctors).all() and np.isnan(out.floor_area_m2).all()
    assert out.extra.tolist() == [1, 2, 3]
    assert list(out.columns[:6]) == ["id", "name", "kind", "beds", "doctors", "floor_area_m2"]
    assert out.crs == gdf.crs


def test_facility_ids_generated_with_warning():
    with pytest.warns(LayerWarning, match="sites.csv, field 'id': no 'id' column; generated ids f1..f2"):
        out = validate_facilities(facilities(kind=["elderly_care"] * 2), "sites.csv")
    assert out.id.tolist() == ["f1", "f2"]


def test_unknown_kind_lists_valid_ones():
    gdf = facilities(id=["a", "b", "c"], kind=["health_centre", "hospital", "school"])
    with pytest.raises(LayerError) as err:
        validate_facilities(gdf, "sites.csv")
    e = err.value
    assert (e.source, e.row, e.field) == ("sites.csv", 2, "kind")
    assert str(e).startswith("sites.csv, row 2, field 'kind': unknown kind 'hospital'; valid kinds are: service_centre, ")
    assert "(rows 2, 3)" in str(e)


def test_missing_kind_column():
    with pytest.raises(LayerError, match=r"sites.csv, field 'kind': required column is missing \(columns present: id\)"):
        validate_facilities(facilities(id=["a"]), "sites.csv")


def test_capacity_errors_name_facility_and_field():
    gdf = facilities(id=["a", "b"], kind=["elderly_care"] * 2, beds=[5, -3])
    with pytest.raises(LayerError, match=r"sites.csv, row 2, field 'beds': 'b': value -3 is below the minimum 0"):
        validate_facilities(gdf, "sites.csv")
    gdf = facilities(id=["a", "b"], kind=["elderly_care"] * 2, doctors=["two", 1])
    with pytest.raises(LayerError, match=r"sites.csv, row 1, field 'doctors': 'a': value 'two' is not a finite number"):
        validate_facilities(gdf, "sites.csv")


def test_duplicate_and_empty_ids():
    with pytest.raises(LayerError, match=r"row 3, field 'id': id 'x' is used by more than one record \(rows 1, 3\)"):
        validate_facilities(facilities(id=["x", "y", "x"], kind=["elderly_care"] * 3), "s.gpkg")
    with pytest.raises(LayerError, match=r"s.gpkg, row 2, field 'id': id is empty"):
        validate_facilities(facilities(id=["x", None], kind=["elderly_care"] * 2), "s.gpkg")


def test_non_point_and_missing_geometry():
    gdf = gpd.GeoDataFrame({"kind": ["elderly_care"] * 2}, geometry=[shapely.Point(0, 0), shapely.box(0, 0, 1, 1)])
    with pytest.raises(LayerError, match=r"s.gpkg, row 2, field 'geometry': facilities must be Point geometries, found Polygon"):
        validate_facilities(gdf, "s.gpkg")
    gdf = gpd.GeoDataFrame({"kind": ["elderly_care"] * 2}, geometry=[shapely.Point(0, 0), None])
    with pytest.raises(LayerError, match=r"s.gpkg, row 2, field 'geometry': geometry is missing or empty"):
        validate_facilities(gdf, "s.gpkg")


def test_empty_layers():
    empty = gpd.GeoDataFrame({"kind": [], "population": []}, geometry=[])
    with pytest.raises(LayerError, match="s.gpkg: the layer has no records"):
        validate_facilities(empty, "s.gpkg")
    with pytest.raises(LayerError, match="c.gpkg: the layer has no records"):
        validate_grid(empty, "c.gpkg")


# ---------------------------------------------------------------------- grid
def test_grid_normalised_and_elderly_estimated():
    with pytest.warns(LayerWarning, match=r"cells.gpkg, field 'elderly': no 'elderly' column; estimated as 18.7%"):
        out = validate_grid(cells(population=[100, 0, 50.5], community=["a", "b", "c"]), "cells.gpkg")
    assert out.cell_id.tolist() == ["c1", "c2", "c3"]
    assert out.elderly.to_numpy() == pytest.approx(np.array([100, 0, 50.5]) * DEFAULT_ELDERLY_SHARE)
    assert out.community.tolist() == ["a", "b", "c"]


def test_grid_population_errors_name_row():
    with pytest.raises(LayerError, match=r"cells.gpkg, row 2, field 'population': value -5 is below the minimum 0"):
        validate_grid(cells(population=[1, -5], elderly=[0, 0]), "cells.gpkg")
    with pytest.raises(LayerError, match=r"cells.gpkg, row 1, field 'population': value 'many' is not a finite number"):
        validate_grid(cells(population=["many", 5], elderly=[0, 0]), "cells.gpkg")
    with pytest.raises(LayerError, match=r"cells.gpkg, row 2, field 'population': value is missing"):
        validate_grid(cells(population=[1.0, np.nan], elderly=[0, 0]), "cells.gpkg")
    with pytest.raises(LayerError, match=r"cells.gpkg, field 'population': required column is missing"):
        validate_grid(cells(pop=[1.0]), "cells.gpkg")
    with pytest.raises(LayerError, match=r"cells.gpkg, row 1, field 'elderly': elderly 20 exceeds population 10"):
        validate_grid(cells(population=[10], elderly=[20]), "cells.gpkg")


def test_invalid_polygons_repaired_and_counted():
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    gdf = gpd.GeoDataFrame({"population": [1, 2], "elderly": [0, 0]}, geometry=[bowtie, shapely.box(5, 5, 6, 6)], crs=32650)
    with collect_warnings() as found:
        out = validate_grid(gdf, "cells.gpkg")
    assert [w.count for w in found] == [1]
    assert "1 invalid polygons were repaired" in str(found[0])
    assert shapely.is_valid(out.geometry.values).all()
    assert out.geometry.iloc[0].area == pytest.approx(2.0)  # two triangles of area 1


def test_grid_non_polygon_error():
    gdf = gpd.GeoDataFrame({"population": [1]}, geometry=[shapely.Point(0, 0)])
    with pytest.raises(LayerError, match=r"cells.csv, row 1, field 'geometry': population cells must be Polygon or MultiPolygon"):
        validate_grid(gdf, "cells.csv")


# --------------------------------------------------------------- coordinates
def test_lonlat_out_of_range():
    with pytest.raises(LayerError) as err:
        check_lonlat(np.array([114.0, 190.2]), np.array([22.0, 22.5]), "sites.csv")
    assert str(err.value) == "sites.csv, row 2, field 'lon': longitude 190.2 is out of range [-180, 180] (rows 2)"
    with pytest.raises(LayerError, match=r"sites.csv, row 1, field 'lat': latitude -95 is out of range"):
        check_lonlat(np.array([114.0]), np.array([-95.0]), "sites.csv")


def test_lonlat_swapped_by_range():
    with pytest.raises(LayerError, match=r"row 1, field 'lat': the columns look swapped"):
        check_lonlat(np.array([22.5, 22.6]), np.array([114.0, 114.1]), "sites.csv")


def test_lonlat_swapped_in_china():
    # Shenzhen with the columns exchanged is in range everywhere but not in China.
    with pytest.raises(LayerError, match=r"sites.csv, field 'lon': no point lies in China but all would .* look swapped"):
        check_lonlat(np.array([22.5, 22.6]), np.array([84.0, 85.0]), "sites.csv", china=True)
    with pytest.raises(LayerError, match="declared in a Chinese coordinate system but no point lies in China"):
        check_lonlat(np.array([-74.0]), np.array([40.7]), "sites.csv", china=True)
    check_lonlat(np.array([22.5]), np.array([84.0]), "sites.csv")  # without the China hint it is a valid place


def test_lonlat_that_are_metres_and_nan():
    with pytest.raises(LayerError, match=r"row 1, field 'lon': coordinates \(500000, 2.5e\+06\) are not degrees but look like projected metres"):
        check_lonlat(np.array([500000.0]), np.array([2500000.0]), "a.csv")
    with pytest.raises(LayerError, match=r"a.csv, row 2, field 'lat': coordinate is missing"):
        check_lonlat(np.array([1.0, 2.0]), np.array([1.0, np.nan]), "a.csv")


def test_check_overlap():
    check_overlap((0, 0, 10, 10), (5, 5, 20, 20), "a.gpkg")
    check_overlap((0, 0, 10, 10), (10, 10, 20, 20), "a.gpkg")  # touching counts
    with pytest.raises(LayerError, match=r"a.gpkg: the layer does not overlap the walking network: .* at least 90 apart"):
        check_overlap((0, 0, 10, 10), (100, 0, 200, 10), "a.gpkg")
