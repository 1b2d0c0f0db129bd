"""``POST /siting``: a background job whose result agrees with the city re-evaluated with the sites."""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from geo.crs import to_wgs84
from scenarios.evaluate import evaluate_standard
from scenarios.run import city_with_facilities
from scenarios.standards import get_standard
from tests.test_api_helpers import HEADERS, demo_city, make_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    return TestClient(make_app())


def _wait(client, url: str, timeout: float = 120.0) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        job = client.get(url, headers=HEADERS).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {url} did not finish")


def _plots(n: int) -> list[dict]:
    city = demo_city()
    x, y = city.cell_xy
    rows = np.linspace(0, len(city.cells) - 1, n).astype(int)
    lon, lat = to_wgs84(x[rows], y[rows], city.crs)
    return [{"id": f"P{i}", "lon": float(a), "lat": float(b)} for i, (a, b) in enumerate(zip(lon, lat, strict=True))]


def test_siting_job_returns_sites_and_checked_summary(client):
    body = {"standard": "clinic-walk", "problem": "mclp", "p": 2, "overrides": {"threshold_min": 10},
            "candidates": _plots(12), "solver": "milp"}
    r = client.post("/siting", json=body, headers=HEADERS)
    assert r.status_code == 202, r.text
    assert r.headers["location"].startswith("http://testserver/jobs/")
    job = _wait(client, r.headers["location"])
    assert job["state"] == "succeeded", job
    doc = client.get(job["result"], headers=HEADERS)
    assert doc.status_code == 200
    res = doc.json()
    feats = res["sites"]["features"]
    assert [f["properties"]["rank"] for f in feats] == [1, 2]
    assert {f["properties"]["candidate_id"] for f in feats} <= {p["id"] for p in body["candidates"]}
    # re-evaluate the city with facilities at the returned WGS84 points
    city = demo_city()
    pts = gpd.GeoDataFrame(
        {"id": ["a", "b"], "name": "x", "kind": "health_station", "beds": np.nan, "doctors": np.nan, "floor_area_m2": np.nan},
        geometry=gpd.points_from_xy([f["geometry"]["coordinates"][0] for f in feats], [f["geometry"]["coordinates"][1] for f in feats]),
        crs="EPSG:4326",
    ).to_crs(city.crs)
    fac = gpd.GeoDataFrame(pd.concat([city.facilities, pts], ignore_index=True), crs=city.crs)
    std = get_standard("clinic-walk", threshold_min=10)
    after = evaluate_standard(city_with_facilities(city, fac), std)
    assert res["summary"]["covered_after"] == pytest.approx(float(after.weight[after.covered].sum()), rel=1e-6)
    assert res["summary"]["cells_disagreeing"] == 0
    cells = res["newly_covered_cells"]["features"]
    assert sum(f["properties"]["weight"] for f in cells) == pytest.approx(res["summary"]["newly_covered"])


def test_siting_errors(client):
    r = client.post("/siting", json={"standard": "clinic-run", "p": 1}, headers=HEADERS)
    assert r.status_code == 422 and "unknown standard 'clinic-run'" in r.json()["detail"]
    r = client.post("/siting", json={"standard": "clinic-walk"}, headers=HEADERS)
    assert r.status_code == 422 and "needs p" in r.json()["detail"]
    r = client.post("/siting", json={"standard": "clinic-walk", "p": 1}, headers={})
    assert r.status_code in (401, 403)
    # an unknown facility id is found in the job: the job fails with the message as a 422 problem
    r = client.post("/siting", json={"standard": "clinic-walk", "p": 1, "remove": ["NOPE"], "candidates": _plots(3)}, headers=HEADERS)
    job = _wait(client, r.headers["location"])
    assert job["state"] == "failed" and job["error"]["status"] == 422
    assert "unknown facility id 'NOPE'" in job["error"]["detail"]
    assert client.get("/siting/0123456789abcdef", headers=HEADERS).status_code == 404
