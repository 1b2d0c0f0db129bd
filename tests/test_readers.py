"""Reading layers from every supported format, with coordinate declarations."""

import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from geo.chinacoords import wgs84_to_bd09, wgs84_to_gcj02
from layers.errors import LayerError
from layers.readers import layer_coords, parse_coords, read_layer

# Two points in Shenzhen (WGS84).
LON = np.array([114.0579, 114.0650])
LAT = np.array([22.5431, 22.5480])


def points_gdf(crs=4326):
    return gpd.GeoDataFrame({"id": ["a", "b"], "kind": ["elderly_care", "health_centre"]}, geometry=shapely.points(LON, LAT), crs=crs)


@pytest.mark.parametrize("name, driver", [("s.gpkg", "GPKG"), ("s.geojson", "GeoJSON"), ("s.shp", None)])
def test_vector_formats(tmp_path, name, driver):
    points_gdf().to_file(tmp_path / name, driver=driver)
    out = read_layer(tmp_path / name)
    assert out.crs.equals(CRS.from_epsg(4326))
    assert out.id.tolist() == ["a", "b"]
    assert np.allclose(out.geometry.x, LON) and np.allclose(out.geometry.y, LAT)


def test_geoparquet_keeps_projected_crs(tmp_path):
    points_gdf().to_crs(32650).to_parquet(tmp_path / "s.parquet")
    out = read_layer(tmp_path / "s.parquet")
    assert out.crs.to_epsg() == 32650
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(LayerError, match="plain.parquet: not a GeoParquet file"):
        read_layer(tmp_path / "plain.parquet")


def test_zipped_shapefile(tmp_path):
    points_gdf().to_file(tmp_path / "sites.shp")
    with zipfile.ZipFile(tmp_path / "sites.zip", "w") as zf:
        for part in tmp_path.glob("sites.*"):
            if part.suffix != ".zip":
                zf.write(part, f"folder/{part.name}")
    out = read_layer(tmp_path / "sites.zip")
    assert out.id.tolist() == ["a", "b"]
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as zf:
        zf.writestr("readme.txt", "nothing")
    with pytest.raises(LayerError, match="empty.zip: the zip archive holds no Shapefile"):
        read_layer(tmp_path / "empty.zip")


def test_geopackage_with_several_layers(tmp_path):
    points_gdf().to_file(tmp_path / "m.gpkg", layer="sites")
    points_gdf().iloc[:1].to_file(tmp_path / "m.gpkg", layer="other")
    with pytest.raises(LayerError, match=r"m.gpkg: the file holds several layers \(sites, other\)"):
        read_layer(tmp_path / "m.gpkg")
    assert len(read_layer(tmp_path / "m.gpkg", layer="other")) == 1
    with pytest.raises(LayerError, match="m.gpkg:nope: no layer named 'nope'"):
        read_layer(tmp_path / "m.gpkg", layer="nope")


def test_shapefile_without_crs(tmp_path):
    points_gdf().to_crs(4547).to_file(tmp_path / "s.shp")
    (tmp_path / "s.prj").unlink()
    with pytest.raises(LayerError, match=r"s.shp, field 'crs': the file has no coordinate reference system"):
        read_layer(tmp_path / "s.shp")
    out = read_layer(tmp_path / "s.shp", coords="EPSG:4547")
    assert out.crs.to_epsg() == 4547
    # declaring degrees for a file in metres is caught
    with pytest.raises(LayerError, match="look like projected metres"):
        read_layer(tmp_path / "s.shp", coords="wgs84")


def test_declaration_contradicting_the_file_is_an_error_naming_both(tmp_path):
    points_gdf().to_file(tmp_path / "s.gpkg")
    with pytest.raises(LayerError, match=r"s.gpkg, field 'crs': the file says its CRS is EPSG:4326 \(WGS 84\) "
                       r"but coords=cgcs2000 \(EPSG:4490 \(China Geodetic Coordinate System 2000\)\) was declared"):
        read_layer(tmp_path / "s.gpkg", coords="cgcs2000")
    points_gdf().to_crs(4547).to_file(tmp_path / "gk.gpkg")
    with pytest.raises(LayerError, match=r"EPSG:4547 .* \(projected\) but coords=gcj02 was declared"):
        read_layer(tmp_path / "gk.gpkg", coords="gcj02")
    # the same CRS declared again is no contradiction; the file is read as it is
    assert read_layer(tmp_path / "gk.gpkg", coords="EPSG:4547").crs.to_epsg() == 4547


def test_local_crs_from_a_definition_file(tmp_path):
    # A city's own system: a Transverse Mercator on CGCS2000 with a false origin, as WKT in a .prj file.
    proj = "+proj=tmerc +lat_0=0 +lon_0=114.05 +k=1 +x_0=50000 +y_0=-2400000 +ellps=GRS80 +units=m +no_defs"
    local = CRS.from_proj4(proj)
    (tmp_path / "shenzhen-local.prj").write_text(local.to_wkt())
    (tmp_path / "proj.txt").write_text(proj)
    points = points_gdf().to_crs(local)
    points.set_crs(None, allow_override=True).to_file(tmp_path / "noprj.shp")
    (tmp_path / "noprj.prj").unlink(missing_ok=True)
    for definition in (tmp_path / "shenzhen-local.prj", str(tmp_path / "proj.txt")):
        out = read_layer(tmp_path / "noprj.shp", coords=definition)
        assert out.crs.equals(local)
        lon, lat = out.to_crs(4326).geometry.x, out.to_crs(4326).geometry.y
        assert np.abs(lon - LON).max() < 1e-9 and np.abs(lat - LAT).max() < 1e-9
    with pytest.raises(LayerError, match="coordinate system file not found: .*missing.prj"):
        read_layer(tmp_path / "noprj.shp", coords=tmp_path / "missing.prj")


def test_layer_coords_shorthand_applies_to_csv_only():
    assert layer_coords("cells.gpkg", None, "gcj02") is None
    assert layer_coords("sites.csv", None, "gcj02") == "gcj02"
    assert layer_coords("cells.gpkg", "EPSG:4547", "gcj02") == "EPSG:4547"
    assert layer_coords("sites.csv", "bd09", "gcj02") == "bd09"


def test_geojson_declared_gcj02_is_shifted(tmp_path):
    glon, glat = wgs84_to_gcj02(LON, LAT)
    gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=shapely.points(glon, glat), crs=4326).to_file(tmp_path / "amap.geojson")
    out = read_layer(tmp_path / "amap.geojson", coords="gcj02")
    assert out.crs.to_epsg() == 4326
    assert np.abs(out.geometry.x - LON).max() < 1e-9 and np.abs(out.geometry.y - LAT).max() < 1e-9


def write_csv(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_detects_columns_and_keeps_text_ids(tmp_path):
    p = write_csv(tmp_path / "s.csv", "id,Kind,LNG,Latitude\n007,elderly_care,114.0579,22.5431\n8,health_centre,114.065,22.548\n")
    out = read_layer(p)
    assert out.id.tolist() == ["007", "8"]
    assert "LNG" not in out.columns and "Latitude" not in out.columns
    assert np.allclose(out.geometry.x, LON) and out.crs.to_epsg() == 4326


def test_csv_chinese_headers_in_gb18030(tmp_path):
    p = write_csv(tmp_path / "s.csv", "名称,经度,纬度\n养老院,114.0579,22.5431\n", encoding="gb18030")
    out = read_layer(p)
    assert out["名称"].tolist() == ["养老院"]
    assert out.geometry.x.iloc[0] == pytest.approx(114.0579)


@pytest.mark.parametrize("coords, forward", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_csv_chinese_datums_shifted_to_wgs84(tmp_path, coords, forward):
    flon, flat = forward(LON, LAT)
    lines = "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in zip(flon, flat))
    p = write_csv(tmp_path / "s.csv", f"lon,lat\n{lines}\n")
    out = read_layer(p, coords=coords)
    assert np.abs(out.geometry.x - LON).max() < 1e-9 and np.abs(out.geometry.y - LAT).max() < 1e-9


def test_csv_projected_coords_and_named_columns(tmp_path):
    p = write_csv(tmp_path / "s.csv", "E,N\n500000,2500000\n")
    out = read_layer(p, coords=4547, lon_col="E", lat_col="N")
    assert out.crs.to_epsg() == 4547 and out.geometry.x.iloc[0] == 500000


def test_csv_errors(tmp_path):
    p = write_csv(tmp_path / "s.csv", "name,east,north\na,1,2\n")
    with pytest.raises(LayerError, match=r"s.csv, field 'lon': no longitude column found; looked for lon, lng, long, longitude, x, 经度"):
        read_layer(p)
    with pytest.raises(LayerError, match=r"s.csv, field 'E': longitude column 'E' not found \(columns present: name, east, north\)"):
        read_layer(p, lon_col="E", lat_col="north")
    p = write_csv(tmp_path / "r.csv", "lon,lat\n114,22\n114.1,22.1\nabc,22\n")
    with pytest.raises(LayerError, match=r"r.csv, row 3, field 'lon': value 'abc' is not a finite number"):
        read_layer(p)
    p = write_csv(tmp_path / "o.csv", "lon,lat\n114,22\n" + "1,1\n" * 5 + "190.2,22\n")
    with pytest.raises(LayerError) as err:
        read_layer(p)
    assert str(err.value) == "o.csv, row 7, field 'lon': longitude 190.2 is out of range [-180, 180] (rows 7)"
    p = write_csv(tmp_path / "w.csv", "lon,lat\n22.54,114.05\n")
    with pytest.raises(LayerError, match="w.csv, row 1, field 'lat': the columns look swapped"):
        read_layer(p)
    p = write_csv(tmp_path / "g.csv", "lng,lat\n22.54,84.05\n")
    with pytest.raises(LayerError, match="g.csv, field 'lng': no point lies in China .* look swapped"):
        read_layer(p, coords="gcj02")
    p = write_csv(tmp_path / "h.csv", "lon,lat\n")
    with pytest.raises(LayerError, match="h.csv: the layer has no records"):
        read_layer(p)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(LayerError, match=r"nope.gpkg: file not found: "):
        read_layer(tmp_path / "nope.gpkg")
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(LayerError, match="e.csv: the file is empty"):
        read_layer(tmp_path / "e.csv")
    (tmp_path / "junk.gpkg").write_bytes(b"not a database at all")
    with pytest.raises(LayerError, match="junk.gpkg: cannot read the file"):
        read_layer(tmp_path / "junk.gpkg")


def test_parse_coords():
    assert parse_coords("WGS-84").crs.to_epsg() == 4326
    assert parse_coords("cgcs2000").crs.to_epsg() == 4490
    assert parse_coords("GCJ_02").shift == "gcj02"
    assert parse_coords(4547).crs.to_epsg() == 4547
    assert parse_coords(None) is None
    with pytest.raises(LayerError, match="coords, field 'coords': coordinate system 'mars' is not understood"):
        parse_coords("mars")
