"""POST /reach against the foundation's coverage result and the coordinate systems."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo.chinacoords import wgs84_to_bd09, wgs84_to_gcj02
from scenarios.evaluate import evaluate
from tests.test_api_helpers import cell_lonlat, demo_city, make_app


@pytest.fixture(scope="module")
def client():
    return TestClient(make_app())


@pytest.fixture(scope="module")
def coverage():
    return evaluate(demo_city())


def _reach(client, lon, lat, coords="wgs84", **extra):
    r = client.post("/reach", json={"lon": float(lon), "lat": float(lat), "coords": coords, **extra})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.slow
def test_reach_equals_evaluate_on_cells(client, coverage):
    """At a cell's representative point, every standard's distance, facility and verdict equal evaluate()'s."""
    city = demo_city()
    rng = np.random.default_rng(7)
    snapped = city.snapped_cells.ok
    rows = rng.choice(np.flatnonzero(snapped), 60, replace=False)
    lon, lat = cell_lonlat(city, rows)
    ids = city.facilities["id"].to_numpy()
    checked_far = 0
    for row, lo, la in zip(rows, lon, lat):
        doc = _reach(client, lo, la)
        got = {s["id"]: s for s in doc["standards"]}
        assert set(got) == set(coverage.results)
        for sid, res in coverage.results.items():
            s = got[sid]
            assert s["met"] == bool(res.covered[row]), (sid, row)
            if np.isfinite(res.dist_m[row]):
                assert s["distance_m"] == pytest.approx(res.dist_m[row], abs=1e-6), (sid, row)
                assert s["facility"]["id"] == ids[res.facility[row]], (sid, row)
            else:  # evaluate searches only to twice the threshold
                checked_far += 1
                assert s["distance_m"] is None or s["distance_m"] > 2 * res.standard.threshold_m - 1e-6
            if res.standard.mode == "network" and s["distance_m"] is not None:
                assert s["time_min"] == pytest.approx(s["distance_m"] / res.standard.speed_mps / 60)


def test_reach_kinds_are_minimum_of_standard(client):
    """A standard over two kinds reports the nearer of the two per-kind walks."""
    city = demo_city()
    lon, lat = cell_lonlat(city, [100])
    doc = _reach(client, lon[0], lat[0])
    kinds = {k["kind"]: k for k in doc["kinds"]}
    clinic = next(s for s in doc["standards"] if s["id"] == "clinic-walk")
    walks = [kinds[k]["walk_m"] for k in ("health_centre", "health_station") if kinds[k]["walk_m"] is not None]
    assert clinic["distance_m"] == pytest.approx(min(walks))
    for k in doc["kinds"]:
        if k["walk_m"] is not None:
            assert k["walk_m"] >= k["straight_m"] - 1e-6  # a walk is never shorter than the straight line


@pytest.mark.parametrize("coords, shift", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_reach_chinese_datums(client, coords, shift):
    """The same place given in GCJ-02 or BD-09 gets the same answer as in WGS84."""
    city = demo_city()
    lon, lat = cell_lonlat(city, [500])
    base = _reach(client, lon[0], lat[0])
    slon, slat = shift(lon, lat)
    assert abs(slon[0] - lon[0]) > 1e-4  # the shift is real (hundreds of metres)
    doc = _reach(client, slon[0], slat[0], coords)
    assert doc["lon"] == pytest.approx(lon[0], abs=1e-8) and doc["lat"] == pytest.approx(lat[0], abs=1e-8)
    assert [s["distance_m"] for s in doc["standards"]] == pytest.approx([s["distance_m"] for s in base["standards"]], abs=1e-3)


def test_reach_overrides_and_subset(client, coverage):
    city = demo_city()
    clinic = coverage.results["clinic-walk"]
    row = int(np.flatnonzero(np.isfinite(clinic.dist_m) & (clinic.dist_m > 200))[0])
    lon, lat = cell_lonlat(city, [row])
    minutes = clinic.dist_m[row] / clinic.standard.speed_mps / 60
    tight = _reach(client, lon[0], lat[0], standards=["clinic-walk"], overrides={"clinic-walk": {"threshold_min": minutes * 0.99}})
    loose = _reach(client, lon[0], lat[0], standards=["clinic-walk"], overrides={"clinic-walk": {"threshold_min": minutes * 1.01}})
    assert [s["id"] for s in tight["standards"]] == ["clinic-walk"]
    assert tight["standards"][0]["met"] is False and loose["standards"][0]["met"] is True


def test_reach_refuses_points_outside_the_city(client):
    city = demo_city()
    r = client.post("/reach", json={"lon": 0.0, "lat": 0.0})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert "outside the loaded city" in body["detail"] and body["errors"][0]["field"] == "body.lon"
    # just beyond the boundary plus margin: 2 km east of the city's edge
    _, y0, x1, y1 = city.boundary.bounds
    from geo.crs import to_wgs84

    lon, lat = to_wgs84([x1 + 2000], [(y0 + y1) / 2], city.crs)
    assert client.post("/reach", json={"lon": float(lon[0]), "lat": float(lat[0])}).status_code == 422


@pytest.mark.parametrize(
    "body, field",
    [
        ({"lon": 181, "lat": 10}, "body.lon"),
        ({"lon": 116, "lat": -91}, "body.lat"),
        ({"lon": 116, "lat": 18, "coords": "mars"}, "body.coords"),
        ({"lat": 18}, "body.lon"),
        ({"lon": 116.47, "lat": 18.98, "standards": ["nope"]}, None),
        ({"lon": 116.47, "lat": 18.98, "overrides": {"clinic-walk": {"threshold_min": -1}}}, "body.overrides.clinic-walk.threshold_min"),
    ],
)
def test_reach_validation_names_the_field(client, body, field):
    r = client.post("/reach", json=body)
    assert r.status_code == 422
    doc = r.json()
    assert doc["status"] == 422 and doc["instance"] == "/reach"
    if field:
        assert field in [e["field"] for e in doc["errors"]]
    else:
        assert "unknown standard 'nope'" in doc["detail"]
