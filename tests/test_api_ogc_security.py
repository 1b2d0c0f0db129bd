"""OGC API - Features endpoints, paging and bbox; API keys, CORS, config, problem responses."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from api.config import ConfigError, load_config
from tests.test_api_helpers import HEADERS, KEY, demo_city, make_app

PORTAL = "https://portal.example.gov.cn"


@pytest.fixture(scope="module")
def client():
    return TestClient(make_app(cors_origins=[PORTAL]))


def test_landing_conformance_collections(client):
    links = {link["rel"]: link["href"] for link in client.get("/").json()["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(links)
    assert client.get(links["service-desc"]).json()["openapi"].startswith("3.")
    conf = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    colls = {c["id"]: c for c in client.get("/collections").json()["collections"]}
    assert {"cells", "facilities", "units-subdistrict", "units-community"} <= set(colls)
    lon0, lat0, lon1, lat1 = colls["cells"]["extent"]["spatial"]["bbox"][0]
    assert 100 < lon0 < lon1 < 130 and 0 < lat0 < lat1 < 60
    assert client.get("/collections/cells").json()["id"] == "cells"
    r = client.get("/collections/nope")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_items_bbox_matches_brute_force(client):
    city = demo_city()
    cells = city.cells.to_crs(4326)
    x0, y0, x1, y1 = cells.total_bounds
    box = (x0 + (x1 - x0) * 0.3, y0 + (y1 - y0) * 0.4, x0 + (x1 - x0) * 0.5, y0 + (y1 - y0) * 0.6)
    want = set(cells.loc[shapely.intersects(cells.geometry.values, shapely.box(*box)), "cell_id"])
    bbox = ",".join(f"{v:.7f}" for v in box)
    got, url = [], f"/collections/cells/items?bbox={bbox}&limit=50"
    while url:
        page = client.get(url).json()
        assert page["numberMatched"] == len(want) and page["numberReturned"] <= 50
        got += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert len(got) == len(set(got)) and set(got) == want


def test_items_limit_offset_and_feature(client):
    city = demo_city()
    page = client.get("/collections/facilities/items?limit=10&offset=80").json()
    assert page["numberReturned"] == len(city.facilities) - 80
    assert not any(link["rel"] == "next" for link in page["links"])
    assert [f["id"] for f in page["features"]] == list(city.facilities["id"].iloc[80:])
    fid = city.facilities["id"].iloc[5]
    feat = client.get(f"/collections/facilities/items/{fid}").json()
    x, y = city.facility_xy
    from geo.crs import to_wgs84

    lon, lat = to_wgs84(x[5:6], y[5:6], city.crs)
    assert feat["geometry"]["coordinates"] == pytest.approx([lon[0], lat[0]])
    assert client.get("/collections/facilities/items/none").status_code == 404
    for bad in ("1,2,3", "a,b,c,d", "5,5,1,1", "1,2,3,nan"):
        r = client.get(f"/collections/cells/items?bbox={bad}")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.bbox"
    assert client.get("/collections/cells/items?limit=0").status_code == 422


def test_page_size_is_capped():
    client = TestClient(make_app(limits={"max_page_size": 7}))
    page = client.get("/collections/cells/items?limit=1000").json()
    assert page["numberReturned"] == 7
    assert "limit=7" in next(link["href"] for link in page["links"] if link["rel"] == "next")


def test_write_needs_a_valid_key(client):
    body = {"standards": ["centre-radius"]}
    r = client.post("/coverage", json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("ApiKey")
    assert r.headers["content-type"] == "application/problem+json"
    r = client.post("/coverage", json=body, headers={"X-API-Key": KEY + "x"})
    assert r.status_code == 403 and KEY not in r.text
    assert client.post("/coverage", json=body, headers=HEADERS).status_code in (200, 201)


def test_no_keys_configured_means_no_writes():
    client = TestClient(make_app(api_keys=[]))
    r = client.post("/coverage", json={}, headers=HEADERS)
    assert r.status_code == 403 and "no API key configured" in r.json()["detail"]
    assert client.get("/standards").status_code == 200


def test_reads_can_require_a_key():
    client = TestClient(make_app(reads_require_key=True))
    assert client.get("/collections").status_code == 401
    assert client.get("/collections", headers=HEADERS).status_code == 200
    assert client.post("/reach", json={"lon": 116.47, "lat": 18.98}).status_code == 401
    assert client.get("/health").status_code == 200  # load balancers need no key


def test_cors_allows_only_the_portal(client):
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key,content-type"}
    r = client.options("/coverage", headers={"Origin": PORTAL, **pre})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == PORTAL
    assert "x-api-key" in r.headers["access-control-allow-headers"].lower()
    r = client.options("/coverage", headers={"Origin": "https://evil.example", **pre})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    r = client.get("/health", headers={"Origin": PORTAL})
    assert r.headers["access-control-allow-origin"] == PORTAL
    assert "access-control-allow-origin" not in client.get("/health", headers={"Origin": "https://evil.example"}).headers


def test_problem_shapes(client):
    r = client.get("/no/such/path")
    doc = r.json()
    assert r.status_code == 404 and set(doc) >= {"type", "title", "status", "detail", "instance"}
    assert doc["instance"] == "/no/such/path"
    r = client.put("/health")
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    r = client.post("/coverage", content=b"{not json", headers={**HEADERS, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"]


def test_standards_catalogue(client):
    cat = client.get("/standards").json()
    ids = [s["id"] for s in cat]
    assert "clinic-walk" in ids and all(s["source"] for s in cat)
    one = client.get("/standards/elderly-circle").json()
    assert one["threshold_m"] == pytest.approx(one["threshold_min"] * 60 * one["speed_mps"])
    assert client.get("/standards/nope").status_code == 404


def test_openapi_is_documented(client):
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary") and op.get("description") and op.get("tags"), (method, path)
    assert spec["components"]["schemas"]["ReachRequest"]["examples"]
    assert "X-API-Key" in str(spec["components"]["securitySchemes"])


def test_config_file_and_environment(tmp_path, monkeypatch):
    toml = tmp_path / "api.toml"
    toml.write_text('city = "demo"\napi_keys = ["file-key-123"]\ncors_origins = ["https://a.cn"]\n[limits]\nmax_features = 10\n')
    cfg = load_config(toml)
    assert cfg.api_keys == ["file-key-123"] and cfg.limits.max_features == 10
    monkeypatch.setenv("LIFECIRCLE_API_KEYS", "env-key-1234, env-key-5678")
    monkeypatch.setenv("LIFECIRCLE_LIMITS__MAX_PAGE_SIZE", "5")
    cfg = load_config(toml)
    assert cfg.api_keys == ["env-key-1234", "env-key-5678"]  # the environment wins over the file
    assert cfg.limits.max_page_size == 5 and cfg.limits.max_features == 10
    yml = tmp_path / "api.yaml"
    yml.write_text("reads_require_key: true\nlimits:\n  max_upload_bytes: 1000\n")
    assert load_config(yml).limits.max_upload_bytes == 1000
    yml.write_text("job_workers: 0\n")
    with pytest.raises(ConfigError, match="job_workers"):
        load_config(yml)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    assert "env-key-1234" not in repr(cfg)  # keys never show up in logs of the config


def test_concurrent_reach_requests_agree():
    """Many threads querying at once get exactly the answers of one-at-a-time queries."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.test_api_helpers import cell_lonlat

    client = TestClient(make_app())
    city = demo_city()
    lon, lat = cell_lonlat(city, np.arange(0, len(city.cells), 97))
    bodies = [{"lon": float(a), "lat": float(b)} for a, b in zip(lon, lat)]
    serial = [client.post("/reach", json=b).json() for b in bodies]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda b: client.post("/reach", json=b).json(), bodies * 3))
    assert parallel == serial * 3
