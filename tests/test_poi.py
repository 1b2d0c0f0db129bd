"""POI import: a small OSM file and small Amap/Baidu exports mapped exactly as the shipped tables say.

Expected kinds are read off the tables by hand (layers/poi_tables/osm.toml, amap.csv,
baidu.csv), not computed by the code under test; coordinates are checked against the
forward datum shift (WGS84 -> GCJ-02/BD-09) the files were made with.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from geo.chinacoords import wgs84_to_bd09, wgs84_to_gcj02
from geo.crs import to_wgs84
from layers.cities import load_city
from layers.errors import LayerError
from layers.poi import import_china_pois, import_osm_pois, read_code_table
from scenarios.catalogue import use_catalogue
from tests import own_city
from tests.test_osm import write_osm

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
runner = CliRunner()

LON, LAT = 114.05, 22.54
NODES = {1: (LON, LAT), 2: (LON + 0.002, LAT), 3: (LON + 0.002, LAT + 0.002), 4: (LON, LAT + 0.002)}
POIS = {
    10: (LON + 0.0001, LAT + 0.0001, {"amenity": "hospital", "name": "医院"}),
    11: (LON + 0.0002, LAT + 0.0001, {"amenity": "clinic"}),
    12: (LON + 0.0003, LAT + 0.0001, {"amenity": "pharmacy"}),
    13: (LON + 0.0004, LAT + 0.0001, {"amenity": "kindergarten"}),
    14: (LON + 0.0005, LAT + 0.0001, {"amenity": "school", "isced:level": "1"}),
    15: (LON + 0.0006, LAT + 0.0001, {"amenity": "school"}),  # no level: unmapped
    16: (LON + 0.0007, LAT + 0.0001, {"amenity": "marketplace"}),
    17: (LON + 0.0008, LAT + 0.0001, {"amenity": "restaurant"}),  # unmapped
    18: (LON + 0.0009, LAT + 0.0001, {"amenity": "restaurant"}),  # unmapped
    19: (LON + 0.0010, LAT + 0.0001, {"shop": "bakery"}),  # unmapped
    20: (LON + 0.0011, LAT + 0.0001, {"social_facility": "nursing_home", "amenity": "social_facility"}),
    21: (LON + 0.0012, LAT + 0.0001, {"highway": "bus_stop"}),  # not a POI key: not read
}
# a park, a closed way with leisure=park
PARK = {1: (LON + 0.0005, LAT + 0.0005), 2: (LON + 0.0015, LAT + 0.0005), 3: (LON + 0.0015, LAT + 0.0015),
        4: (LON + 0.0005, LAT + 0.0015)}


@pytest.fixture(scope="module")
def osm_file(tmp_path_factory):
    nodes = {**NODES, **{100 + k: v for k, v in PARK.items()}}
    ways = {200: ([1, 2, 3, 4], {"highway": "residential"}),
            201: ([101, 102, 103, 104, 101], {"leisure": "park", "name": "小公园"})}
    return write_osm(tmp_path_factory.mktemp("poi") / "pois.osm", nodes, ways, POIS)


def kinds_by_id(result):
    return dict(zip(result.facilities["id"], result.facilities["kind"]))


def test_osm_pois_with_gb50180(osm_file):
    with use_catalogue("gb50180"):
        res = import_osm_pois(osm_file)
    assert kinds_by_id(res) == {
        "node/10": "health_centre", "node/11": "health_station",
        "node/12": "community_shop",  # [pharmacy, community_shop]: gb50180 has no 'pharmacy'
        "node/13": "kindergarten", "node/14": "primary_school", "node/16": "food_market",
        "node/20": "nursing_home",  # [nursing_home, elderly_care]: the first gb50180 has
    }
    unmapped = res.unmapped().set_index("source_type")
    assert unmapped.loc["amenity=restaurant", "count"] == 2 and unmapped.loc["amenity=restaurant", "status"] == "unmapped"
    assert unmapped.loc["amenity=school", "count"] == 1 and unmapped.loc["shop=bakery", "count"] == 1
    # gb50180 sizes its parks: the table's 'park' is not one of its kinds, so it is listed, not dropped
    assert unmapped.loc["leisure=park", "status"] == "kind not in catalogue" and unmapped.loc["leisure=park", "kind"] == "park"
    assert res.total == 12 and res.count("mapped") == 7 and res.count("unmapped") == 4
    assert res.facilities.crs.to_epsg() == 4326 and (res.facilities.geometry.geom_type == "Point").all()
    got = res.facilities.set_index("id").geometry
    assert shapely.equals_exact(got["node/10"], shapely.Point(POIS[10][:2]), tolerance=1e-9)


def test_osm_pois_with_seeds_full_keep_park_outlines_and_fall_back(osm_file):
    with use_catalogue("seeds-full"):
        res = import_osm_pois(osm_file)
    k = kinds_by_id(res)
    assert k["way/201"] == "park" and k["node/20"] == "elderly_care"  # seeds-full has no nursing_home
    park = res.facilities.set_index("id").geometry["way/201"]
    assert park.geom_type == "Polygon" and shapely.hausdorff_distance(park, shapely.Polygon(list(PARK.values()))) < 1e-7
    # seeds-full has no kindergarten, school or market kinds: listed as such with the table's kinds
    missing = res.unmapped().set_index("source_type")
    assert missing.loc["amenity=kindergarten", "status"] == "kind not in catalogue"
    assert missing.loc["amenity=pharmacy", "kind"] == "pharmacy|community_shop"
    assert res.total == 12


def amap_rows():
    """(id, name, typecode, type, wgs84 lon, lat) of a small Amap export."""
    return [
        ("B1", "人民医院", "090101", "医疗保健服务;综合医院;三级甲等医院", LON + 0.001, LAT + 0.001),
        ("B2", "社区诊所", "90300", "医疗保健服务;诊所;诊所", LON + 0.002, LAT + 0.001),  # leading zero lost
        ("B3", "实验小学", "141203", "科教文化服务;学校;小学", LON + 0.003, LAT + 0.001),
        ("B4", "阳光幼儿园", "141204|141203", "科教文化服务;学校;幼儿园|科教文化服务;学校;小学", LON + 0.004, LAT + 0.001),
        ("B5", "川菜馆", "050102", "餐饮服务;中餐厅;四川菜(川菜)", LON + 0.005, LAT + 0.001),
        ("B6", "湘菜馆", "050103", "餐饮服务;中餐厅;湖南菜(湘菜)", LON + 0.006, LAT + 0.001),
        ("B7", "大学", "141201", "科教文化服务;学校;高等院校", LON + 0.007, LAT + 0.001),
        ("B8", "药房", "090601", "医疗保健服务;医药保健销售店;药房", LON + 0.008, LAT + 0.001),
    ]


def write_amap(path, rows=None, extra=()):
    rows = rows or amap_rows()
    lon, lat = wgs84_to_gcj02(np.array([r[4] for r in rows]), np.array([r[5] for r in rows]))
    frame = pd.DataFrame({"id": [r[0] for r in rows], "name": [r[1] for r in rows], "typecode": [r[2] for r in rows],
                          "type": [r[3] for r in rows],
                          "location": [f"{a:.9f},{b:.9f}" for a, b in zip(lon, lat)]})
    frame = pd.concat([frame, pd.DataFrame(list(extra), columns=frame.columns)], ignore_index=True)
    frame.to_csv(path, index=False, encoding="utf-8")
    return path


def test_amap_export_mapped_as_the_table_says(tmp_path):
    path = write_amap(tmp_path / "amap.csv", extra=[("B9", "无坐标", "141204", "科教文化服务;学校;幼儿园", "")])
    with use_catalogue("gb50180"):
        res = import_china_pois(path, "amap")
    assert kinds_by_id(res) == {"B1": "health_centre", "B2": "health_station", "B3": "primary_school",
                                "B4": "kindergarten", "B8": "community_shop"}
    types = dict(zip(res.facilities["id"], res.facilities["source_type"]))
    assert types["B1"] == "090101" and types["B2"] == "090300" and types["B4"] == "141204"
    rest = res.unmapped()
    assert sorted(rest.loc[rest["status"] == "unmapped", "source_type"]) == ["050102", "050103", "141201"]
    assert rest.loc[rest["source_type"] == "050102", "label"].item() == "餐饮服务;中餐厅;四川菜(川菜)"
    assert rest.loc[rest["status"] == "no location", "count"].sum() == 1
    assert res.total == 9
    # GCJ-02 shifted back: within a millimetre of where the rows were made
    pts = res.facilities.set_index("id").geometry
    for rid, *_, lon, lat in amap_rows():
        if rid in pts.index:
            assert abs(pts[rid].x - lon) < 1e-8 and abs(pts[rid].y - lat) < 1e-8


def test_baidu_export_and_a_planners_table(tmp_path):
    lon, lat = wgs84_to_bd09(np.array([LON, LON + 0.001, LON + 0.002]), np.array([LAT, LAT, LAT]))
    pd.DataFrame({"uid": ["u1", "u2", "u3"], "name": ["医院", "幼儿园", "火锅"],
                  "tag": ["医疗;综合医院", "教育培训;幼儿园", "美食;火锅店"], "lng": lon, "lat": lat}).to_csv(
        tmp_path / "baidu.csv", index=False)
    res = import_china_pois(tmp_path / "baidu.csv", "baidu")  # seeds: no kindergarten kind
    assert kinds_by_id(res) == {"u1": "health_centre"}
    rest = res.unmapped().set_index("source_type")
    assert rest.loc["美食;火锅店", "status"] == "unmapped" and rest.loc["教育培训;幼儿园", "status"] == "kind not in catalogue"
    assert abs(res.facilities.geometry.iloc[0].x - LON) < 1e-7
    # the planner's own table: hot-pot restaurants as service stations (any mapping the table says)
    (tmp_path / "mine.csv").write_text("code,kind,label,note\n美食,service_station,美食,test\n", encoding="utf-8")
    mine = import_china_pois(tmp_path / "baidu.csv", "baidu", tmp_path / "mine.csv")
    assert kinds_by_id(mine) == {"u3": "service_station"} and mine.count("unmapped") == 2


def test_table_errors_name_row_and_field(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,kind\n090100,health_centre\n0901,health_station\n", encoding="utf-8")
    with pytest.raises(LayerError, match=r"bad.csv, row 2, field 'code': an Amap typecode has six digits"):
        read_code_table(bad, "amap")
    bad.write_text("code,kind\n090100,health_centre\n090100,health_station\n", encoding="utf-8")
    with pytest.raises(LayerError, match=r"row 2, field 'code': code '090100' is given twice"):
        read_code_table(bad, "amap")


def test_cli_import_then_city_build(tmp_path):
    files = own_city.write_city_files(tmp_path / "inputs")
    f = own_city.facilities()
    lon, lat = to_wgs84(f["x"], f["y"], own_city.UTM50)
    codes = {"service_centre": "050000", "service_station": "050000", "health_centre": "090100",
             "health_station": "090300", "elderly_care": "050000"}
    rows = [(i, f"n{i}", codes[k], "", a, b) for i, k, a, b in zip(f["id"], f["kind"], np.asarray(lon), np.asarray(lat))]
    path = write_amap(tmp_path / "amap.csv", rows)
    out = tmp_path / "fac" / "facilities.gpkg"
    res = runner.invoke(app, ["poi", "import", "--amap", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "mapped" in res.output and "unmapped" in res.output and "050000" in res.output
    report = pd.read_csv(tmp_path / "fac" / "facilities-report.csv", dtype={"source_type": str})
    assert report.set_index(["source_type", "status"]).loc[("050000", "unmapped"), "count"] == 7
    layer = gpd.read_file(out, layer="facilities")
    assert sorted(layer["id"]) == ["HC1", "HS1", "HS2"]
    folder = tmp_path / "city"
    res = runner.invoke(app, ["city", "build", "--grid", str(files["grid"]), "--facilities", str(out), "--network",
                              str(files["network"]), "--out", str(folder)])
    assert res.exit_code == 0, res.output
    city = load_city(folder)
    assert city.facilities["kind"].value_counts().to_dict() == {"health_station": 2, "health_centre": 1}
    # where the export put them (GCJ-02), shifted back to the facilities' true places
    got = city.facilities.set_index("id").geometry
    want = f.set_index("id")
    for fid in ("HC1", "HS1", "HS2"):
        p = gpd.GeoSeries([got[fid]], crs=city.crs).to_crs(own_city.UTM50).iloc[0]
        assert abs(p.x - want.loc[fid, "x"]) < 0.01 and abs(p.y - want.loc[fid, "y"]) < 0.01


def test_cli_needs_exactly_one_source(tmp_path):
    res = runner.invoke(app, ["poi", "import", "--out", str(tmp_path / "x.gpkg")])
    assert res.exit_code == 2 and "exactly one of --osm" in res.output
