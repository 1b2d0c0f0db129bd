"""Layer uploads in every format and coordinate system, listing, reading, deleting, limits and auth."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from geo.chinacoords import wgs84_to_bd09, wgs84_to_gcj02
from layers.validate import validate_facilities
from scenarios.evaluate import evaluate
from scenarios.standards import resolve_standards
from tests.test_api_helpers import HEADERS, demo_city, make_app

SHIFTS = {"wgs84": None, "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


@pytest.fixture(scope="module")
def client():
    return TestClient(make_app())


@pytest.fixture(scope="module")
def facilities_wgs84() -> gpd.GeoDataFrame:
    fac = demo_city().facilities
    return fac.iloc[::9][["id", "name", "kind", "beds", "geometry"]].to_crs(4326).reset_index(drop=True)


def _shifted(gdf: gpd.GeoDataFrame, coords: str) -> gpd.GeoDataFrame:
    shift = SHIFTS[coords]
    if shift is None:
        return gdf
    geoms = shapely.transform(gdf.geometry.values, lambda xy: np.column_stack(shift(xy[:, 0], xy[:, 1])))
    return gdf.set_geometry(geoms)


def _stored_xy(client, layer_id: str) -> np.ndarray:
    r = client.get(f"/layers/{layer_id}/geojson")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    return np.array([f["geometry"]["coordinates"] for f in r.json()["features"]])


def _file_bytes(gdf: gpd.GeoDataFrame, fmt: str, tmp_path) -> tuple[str, bytes]:
    if fmt == "gpkg":
        path = tmp_path / "fac.gpkg"
        gdf.to_file(path, driver="GPKG")
    elif fmt == "geojson":
        path = tmp_path / "fac.geojson"
        gdf.to_file(path, driver="GeoJSON")
    elif fmt == "parquet":
        path = tmp_path / "fac.parquet"
        gdf.to_parquet(path)
    elif fmt == "zip":
        shp = tmp_path / "shp"
        shp.mkdir()
        gdf.to_file(shp / "fac.shp")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for p in shp.iterdir():
                zf.write(p, p.name)
        return "fac.zip", buf.getvalue()
    elif fmt == "csv":
        df = pd.DataFrame(gdf.drop(columns="geometry"))
        df["lon"], df["lat"] = gdf.geometry.x, gdf.geometry.y
        return "fac.csv", df.to_csv(index=False).encode()
    return path.name, path.read_bytes()


@pytest.mark.parametrize("coords", ["wgs84", "gcj02", "bd09"])
def test_geojson_body_in_each_datum(client, facilities_wgs84, coords):
    sent = _shifted(facilities_wgs84, coords)
    body = {"name": f"clinics {coords}", "type": "facilities", "coords": coords, "data": json.loads(sent.to_json())}
    r = client.post("/layers", json=body, headers=HEADERS)
    assert r.status_code == 201, r.text
    info = r.json()
    assert info["features"] == len(sent) and r.headers["location"].endswith(info["id"])
    got = _stored_xy(client, info["id"])
    want = np.column_stack([facilities_wgs84.geometry.x, facilities_wgs84.geometry.y])
    np.testing.assert_allclose(got, want, atol=1e-7)  # about a centimetre


@pytest.mark.parametrize(
    "fmt, coords",
    [("gpkg", None), ("geojson", None), ("parquet", None), ("zip", None), ("zip", "utm"), ("csv", None), ("csv", "gcj02"), ("csv", "bd09"), ("gpkg", "gcj02")],
)
def test_file_upload_formats(client, facilities_wgs84, tmp_path, fmt, coords):
    gdf = facilities_wgs84
    form = {"type": "facilities"}
    if coords == "utm":  # a projected Shapefile with its .prj
        gdf = gdf.to_crs(32650)
    elif coords is not None:
        gdf = _shifted(gdf, coords)
        form["coords"] = coords
    name, data = _file_bytes(gdf, fmt, tmp_path)
    r = client.post("/layers/upload", data=form, files={"file": (name, data)}, headers=HEADERS)
    assert r.status_code == 201, r.text
    info = r.json()
    assert info["source"] == name and info["type"] == "facilities"
    got = _stored_xy(client, info["id"])
    want = np.column_stack([facilities_wgs84.geometry.x, facilities_wgs84.geometry.y])
    np.testing.assert_allclose(got, want, atol=1e-7)
    ids = [f["id"] for f in client.get(f"/layers/{info['id']}/geojson").json()["features"]]
    assert ids == list(facilities_wgs84["id"])


def test_grid_and_units_upload(client):
    city = demo_city()
    cells = city.cells.iloc[:30][["cell_id", "population", "elderly", "geometry"]].to_crs(4326)
    r = client.post("/layers", json={"name": "grid", "type": "grid", "data": json.loads(cells.to_json())}, headers=HEADERS)
    assert r.status_code == 201, r.text
    assert r.json()["features"] == 30
    units = city.units["subdistrict"].to_crs(4326)
    r = client.post("/layers", json={"name": "units", "type": "units", "data": json.loads(units.to_json())}, headers=HEADERS)
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    # the layer is an OGC collection too
    page = client.get(f"/collections/layer-{uid}/items").json()
    assert page["numberMatched"] == len(units)
    assert sorted(f["id"] for f in page["features"]) == sorted(units["unit_id"])


def test_list_get_delete(client, facilities_wgs84):
    body = {"name": "to delete", "type": "facilities", "data": json.loads(facilities_wgs84.to_json())}
    lid = client.post("/layers", json=body, headers=HEADERS).json()["id"]
    assert lid in [lay["id"] for lay in client.get("/layers").json()]
    assert client.get(f"/layers/{lid}").json()["name"] == "to delete"
    assert client.delete(f"/layers/{lid}").status_code == 401  # no key
    assert client.delete(f"/layers/{lid}", headers=HEADERS).status_code == 204
    r = client.get(f"/layers/{lid}")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert client.delete(f"/layers/{lid}", headers=HEADERS).status_code == 404


def test_invalid_layer_names_row_and_field(client, facilities_wgs84):
    bad = facilities_wgs84.copy()
    bad.loc[2, "kind"] = "hospital"
    r = client.post("/layers", json={"name": "bad", "type": "facilities", "data": json.loads(bad.to_json())}, headers=HEADERS)
    assert r.status_code == 422
    doc = r.json()
    assert doc["errors"][0]["field"] == "kind" and doc["errors"][0]["row"] == 3
    assert "unknown kind 'hospital'" in doc["detail"]
    csv = b"name,kind,x_coord\nA,health_station,116.4\n"
    r = client.post("/layers/upload", data={"type": "facilities"}, files={"file": ("a.csv", csv)}, headers=HEADERS)
    assert r.status_code == 422 and "no longitude column" in r.json()["detail"]
    r = client.post("/layers/upload", data={"type": "facilities"}, files={"file": ("a.docx", b"xx")}, headers=HEADERS)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    far = facilities_wgs84.copy()
    far["geometry"] = shapely.points(np.array([[2.35, 48.85]] * len(far)))  # Paris
    r = client.post("/layers", json={"name": "far", "type": "facilities", "data": json.loads(far.to_json())}, headers=HEADERS)
    assert r.status_code == 422 and "does not overlap" in r.json()["detail"]


def test_upload_limits():
    client = TestClient(make_app(limits={"max_upload_bytes": 5_000, "max_features": 3, "max_vertices_per_feature": 10}))
    big = b"lon,lat,kind\n" + b"116.47,18.98,health_station\n" * 400
    r = client.post("/layers/upload", data={"type": "facilities"}, files={"file": ("big.csv", big)}, headers=HEADERS)
    assert r.status_code == 413 and "5,000 bytes" in r.json()["detail"]
    r = client.post("/reach", content=b"{" + b" " * 100_000 + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    four = b"lon,lat,kind\n" + b"116.47,18.98,health_station\n" * 4
    r = client.post("/layers/upload", data={"type": "facilities"}, files={"file": ("four.csv", four)}, headers=HEADERS)
    assert r.status_code == 413 and "limit of 3 features" in r.json()["detail"]
    cell = demo_city().cells.iloc[[0]].to_crs(4326)
    cell["geometry"] = cell.geometry.segmentize(0.0001)  # many vertices on the square's sides
    r = client.post("/layers", json={"name": "dense", "type": "grid", "data": json.loads(cell.to_json())}, headers=HEADERS)
    assert r.status_code == 413 and "limit of 10 per feature" in r.json()["detail"]
    assert r.json()["errors"][0]["row"] == 1


def test_coverage_over_uploaded_facilities(client):
    """A run over an uploaded facilities layer equals evaluate() on the city with those facilities."""
    city = demo_city()
    keep = city.facilities[city.facilities["kind"] != "health_station"]
    sent = keep[["id", "name", "kind", "geometry"]].to_crs(4326)
    lid = client.post("/layers", json={"name": "no stations", "type": "facilities", "data": json.loads(sent.to_json())}, headers=HEADERS).json()["id"]
    r = client.post("/coverage", json={"standards": ["clinic-walk"], "facilities_layer": lid}, headers=HEADERS)
    assert r.status_code == 201, r.text
    got = r.json()["summary"][0]
    ref_fac = validate_facilities(keep.reset_index(drop=True).to_crs(4326).to_crs(city.crs), "ref")
    ref = evaluate(dataclasses.replace(city, facilities=ref_fac), resolve_standards(["clinic-walk"]))
    want = ref.results["clinic-walk"].summary()
    assert got["covered"] == pytest.approx(want["covered"], abs=0.1)
    assert got["facilities"] == want["facilities"] == int((keep["kind"] == "health_centre").sum())
    full = evaluate(city, resolve_standards(["clinic-walk"])).results["clinic-walk"].summary()
    assert got["covered"] < full["covered"]  # removing the stations loses coverage
    r = client.post("/coverage", json={"grid_layer": lid}, headers=HEADERS)
    assert r.status_code == 422 and "not grid" in r.json()["detail"]
