"""A planner's catalogue with a new kind (parks, as polygons) through city build, cover, site, circles/map and the API."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.config import ApiConfig
from layers.cities import load_city
from tests import own_city
from tests.test_api_helpers import HEADERS, KEY

runner = CliRunner()

PARKS = """
[catalogue]
id = "parks"
extends = "seeds"

[[kind]]
id = "park"
en = "Small park"
zh = "小公园"
symbol = "*"
colour = "#2e7d32"
geometry = "polygon"
edge_spacing_m = 20.0
source = "Guangzhou 2009 item 14, five ones (seeds/001)"

[[standard]]
id = "park-walk"
title_en = "Park within 300 m walk"
title_zh = "步行300米内有公园"
kinds = ["park"]
mode = "network"
threshold_m = 300.0
source = "test: Guangzhou 2009 item 14 (seeds/001)"

[[circle]]
id = "everyday"
title_en = "Park and clinic"
title_zh = "公园和诊所"
walk_m = 300.0
standards = ["park-walk", "clinic-walk"]
source = "test"
"""


def invoke(*args):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("parks")
    files = own_city.write_city_files(root / "inputs")
    f = own_city.facilities()
    points = gpd.GeoDataFrame(f.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(f["x"], f["y"]), crs=own_city.UTM50)
    x0, y0 = own_city.ORIGIN
    park = box(x0 + 2 * own_city.STEP, y0 + 2 * own_city.STEP, x0 + 9 * own_city.STEP, y0 + 4 * own_city.STEP)
    parks = gpd.GeoDataFrame({"id": ["P1"], "name": ["Park"], "kind": ["park"]}, geometry=[park], crs=own_city.UTM50)
    layer = pd.concat([points, parks], ignore_index=True)
    gpd.GeoDataFrame(layer, crs=own_city.UTM50).to_file(root / "facilities.gpkg", driver="GPKG")
    (root / "parks.toml").write_text(PARKS, encoding="utf-8")
    folder = root / "city"
    invoke("city", "build", "--grid", files["grid"], "--facilities", root / "facilities.gpkg", "--network",
           files["network"], "--units", files["units"], "--catalogue", root / "parks.toml", "--out", folder)
    return root, folder, park


def test_folder_keeps_its_catalogue_and_parks_are_edges(built):
    root, folder, park = built
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["catalogue"]["id"] == "parks" and (folder / "catalogue.toml").is_file()
    city = load_city(folder)
    access = city.facilities[city.facilities["kind"] == "park"]
    # access points on the park's edge, at most 20 m apart, none at its centroid
    assert len(access) == int(-(-park.boundary.length // 20)) and set(access["site"]) == {"P1"}
    edge = gpd.GeoSeries([park], crs=own_city.UTM50).to_crs(city.crs).boundary.iloc[0]
    assert shapely.distance(access.geometry.values, edge).max() < 0.01


def test_cover_site_circles_and_api_use_the_folder_catalogue(built, tmp_path):
    root, folder, park = built
    invoke("cover", "--city", folder, "--out", tmp_path / "cover", "--no-map")
    summary = pd.read_csv(tmp_path / "cover" / "summary.csv")
    assert "park-walk" in set(summary["standard"])
    # a cell next to the park edge (inside the park's reach, far from its centroid) is covered
    cells = gpd.read_file(tmp_path / "cover" / "coverage.gpkg", layer="cells").to_crs(own_city.UTM50)
    near_edge = cells.geometry.centroid.distance(park.boundary) < 60
    far_from_centre = cells.geometry.centroid.distance(park.centroid) > 300
    assert (near_edge & far_from_centre).any()
    assert cells.loc[near_edge & far_from_centre, "park_walk_covered"].all()
    out = invoke("site", "--city", folder, "--standard", "park-walk", "--problem", "mclp", "--p", "1",
                 "--out", tmp_path / "site")
    assert "park" in out
    invoke("circles", "--city", folder, "--out", tmp_path / "circles", "--site", "1")
    cells = gpd.read_file(tmp_path / "circles" / "completeness.gpkg", layer="cells")
    assert {"everyday_missing_n", "everyday_missing"} <= set(cells.columns)
    assert (tmp_path / "circles" / "circles.html").stat().st_size > 1000
    client = TestClient(create_app(ApiConfig(api_keys=[KEY]), city=load_city(folder)))
    body = client.get("/catalogue", headers=HEADERS).json()
    assert body["id"] == "parks" and "park" in [k["id"] for k in body["kinds"]]
