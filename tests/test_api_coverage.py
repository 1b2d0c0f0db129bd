"""Coverage runs, per-cell GeoJSON paging, GeoPackage and map downloads, jobs and service areas."""

from __future__ import annotations

import threading
import time

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from geo.paths import node_distances
from scenarios.evaluate import evaluate
from scenarios.standards import StandardError, resolve_standards
from tests.test_api_helpers import HEADERS, demo_city, make_app


@pytest.fixture(scope="module")
def client():
    return TestClient(make_app())


@pytest.fixture(scope="module")
def run(client):
    r = client.post("/coverage", json={"standards": ["clinic-walk", "elderly-circle"], "overrides": {"clinic-walk": {"threshold_min": 15}}}, headers=HEADERS)
    assert r.status_code == 201, r.text
    return r.json()


def _wait(client, job_url: str, timeout: float = 60.0) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        job = client.get(job_url).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_url} did not finish")


def test_summary_equals_evaluate(client, run):
    ref = evaluate(demo_city(), resolve_standards(["clinic-walk", "elderly-circle"], {"clinic-walk": {"threshold_min": 15}}))
    for got in run["summary"]:
        want = ref.results[got["standard"]].summary()
        for key in ("covered", "total", "uncovered", "cells_uncovered", "facilities", "threshold_m"):
            assert got[key] == pytest.approx(want[key]), key
    assert run["summary"][0]["threshold_min"] == 15


def test_identical_request_reuses_the_run(client, run):
    r = client.post("/coverage", json={"standards": ["clinic-walk", "elderly-circle"], "overrides": {"clinic-walk": {"threshold_min": 15}}}, headers=HEADERS)
    assert r.status_code == 200 and r.json()["id"] == run["id"]


def test_cells_paged_with_next_links(client, run):
    """Following next links visits every cell exactly once; values equal evaluate()."""
    city = demo_city()
    ref = evaluate(city, resolve_standards(["clinic-walk"], {"clinic-walk": {"threshold_min": 15}})).results["clinic-walk"]
    url = f"/coverage/{run['id']}/cells?limit=700"
    seen, pages = [], 0
    while url:
        page = client.get(url).json()
        assert page["numberMatched"] == len(city.cells)
        seen += page["features"]
        pages += 1
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
        if pages > 1:
            assert any(link["rel"] == "prev" for link in page["links"])
    assert pages == 3 and [f["id"] for f in seen] == list(city.cells["cell_id"])
    covered = np.array([f["properties"]["clinic_walk_covered"] for f in seen])
    np.testing.assert_array_equal(covered, ref.covered)


def test_gpkg_download(client, run, tmp_path):
    r = client.get(f"/coverage/{run['id']}/coverage.gpkg")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "c.gpkg"
    path.write_bytes(r.content)
    cells = gpd.read_file(path, layer="cells")
    assert len(cells) == len(demo_city().cells) and cells.crs.to_epsg() == 4326
    assert "elderly_circle_covered" in cells.columns


@pytest.mark.slow
def test_maps(client, run):
    r = client.get(f"/coverage/{run['id']}/map.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert b"leaflet" in r.content.lower()
    r = client.get(f"/coverage/{run['id']}/map.png?dpi=50")
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    r = client.get(f"/coverage/{run['id']}/map.pdf?dpi=50&standard=elderly-circle")
    assert r.status_code == 200 and r.content[:5] == b"%PDF-"
    r = client.get(f"/coverage/{run['id']}/map.png?standard=centre-radius")
    assert r.status_code == 422 and "not evaluated in this run" in r.json()["detail"]
    assert client.get(f"/coverage/{run['id']}/map.gif").status_code == 422


def test_async_job_and_result(client):
    r = client.post("/coverage", json={"standards": ["station-radius"], "overrides": {"station-radius": {"threshold_m": 333}}}, headers={**HEADERS, "Prefer": "respond-async"})
    assert r.status_code == 202 and r.headers["location"].startswith("http://testserver/jobs/")
    job = _wait(client, r.headers["location"])
    assert job["state"] == "succeeded" and job["percent"] == 100.0
    result = client.get(job["result"]).json()
    assert result["summary"][0]["threshold_m"] == 333
    assert job["id"] in [j["id"] for j in client.get("/jobs").json()]
    assert client.delete(r.headers["location"], headers=HEADERS).status_code == 204
    assert client.get(r.headers["location"]).status_code == 404


def test_large_runs_become_jobs():
    client = TestClient(make_app(limits={"sync_max_cell_standards": 100}))
    r = client.post("/coverage", json={"standards": ["clinic-walk"]}, headers=HEADERS)
    assert r.status_code == 202
    assert _wait(client, r.headers["location"])["state"] == "succeeded"


def test_failed_job_reports_the_problem():
    """A job that fails with a user error carries a 422 problem, a crash a 500 without internals; delete cancels."""
    client = TestClient(make_app())
    state = client.app.state.lifecircle

    def bad(job, progress):
        raise StandardError("standard 'x': parameter 'y' must be positive")

    job = state.jobs.submit("test", bad)
    got = _wait(client, f"/jobs/{job.id}")
    assert got["state"] == "failed" and got["error"] == {"status": 422, "detail": "standard 'x': parameter 'y' must be positive"}

    def crash(job, progress):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    got = _wait(client, f"/jobs/{state.jobs.submit('test', crash).id}")
    assert got["state"] == "failed" and got["error"]["status"] == 500
    assert "broadcast" not in got["error"]["detail"] and got["id"] in got["error"]["detail"]

    started = threading.Event()

    def slow(job, progress):
        started.set()
        for i in range(1000):
            progress("looping", i / 1000)
            time.sleep(0.005)
        return "never"

    job = state.jobs.submit("slow", slow)
    assert started.wait(5)
    assert client.delete(f"/jobs/{job.id}", headers=HEADERS).status_code == 204
    job.future.result(timeout=10)
    assert job.state == "cancelled" and client.get(f"/jobs/{job.id}").json()["state"] == "cancelled"


def test_job_ttl_expiry():
    client = TestClient(make_app(result_ttl_s=1e-9))
    state = client.app.state.lifecircle
    job = state.jobs.submit("quick", lambda job, progress: "done")
    job.future.result(timeout=5)
    time.sleep(0.01)
    assert client.get(f"/jobs/{job.id}").status_code == 404


def test_run_delete_and_404(client):
    r = client.post("/coverage", json={"standards": ["centre-radius"], "overrides": {"centre-radius": {"threshold_m": 999}}}, headers=HEADERS)
    rid = r.json()["id"]
    assert client.delete(f"/coverage/{rid}", headers=HEADERS).status_code == 204
    r = client.get(f"/coverage/{rid}")
    assert r.status_code == 404 and "no coverage run" in r.json()["detail"]


def test_service_areas_contain_reached_nodes(client):
    """Every street node within the walk of a facility lies inside its service area.

    (The converse does not hold: a node across a river or wall may lie within
    the buffer of a reached street yet be a long walk away.)
    """
    city = demo_city()
    fid = city.facilities["id"].iloc[0]
    r = client.post("/service-areas", json={"facility_ids": [fid], "minutes": [5, 10], "speed_mps": 1.2})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    feats = r.json()["features"]
    assert [f["properties"]["minutes"] for f in feats] == [10, 5]
    d = node_distances(city.network, city.snapped_facilities.take(np.array([0])))[0]
    nodes = gpd.GeoSeries(shapely.points(city.network.x, city.network.y), crs=city.crs).to_crs(4326).values
    for f in feats:
        poly = shapely.geometry.shape(f["geometry"])
        budget = f["properties"]["distance_m"]
        inside = shapely.contains(poly.buffer(1e-7), nodes)
        assert inside[d <= budget - 1].all()
        assert 0 < inside.sum() < len(nodes)
    assert feats[0]["properties"]["area_m2"] > feats[1]["properties"]["area_m2"]


def test_service_area_errors(client):
    r = client.post("/service-areas", json={"facility_ids": ["nope"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.facility_ids.0"
    r = client.post("/service-areas", json={"points": [{"lon": 0, "lat": 0}]})
    assert r.status_code == 422 and "outside the loaded city" in r.json()["detail"]
    r = client.post("/service-areas", json={"facility_ids": ["HC0001"], "minutes": [59], "speed_mps": 3})
    assert r.status_code == 422 and "limit of 3,000 m" in r.json()["detail"]
    r = client.post("/service-areas", json={})
    assert r.status_code == 422

