"""Standards evaluated on a hand-built city; every expected number worked out by hand.

Streets (metres):            E (400,300)
                             |
    A (0,0) ---- B (400,0) ---- C (800,0) ---- D (1200,0)

Facilities: clinic (health_station) at (100,20) -> on A-B at x=100, access 20;
elderly care at (1200,10) -> at D, access 10; service centre at (700,400).
Cells are 100 m squares centred at c1 (700,50), c2 (400,250), c3 (1150,600)
(600 m from any street: beyond the 500 m snap limit), c4 (150,-60).
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from geo.network import WalkNetwork
from layers.city import City
from scenarios.evaluate import evaluate
from scenarios.standards import get_standard, resolve_standards

CELLS = {"c1": (700, 50, 1000, 200), "c2": (400, 250, 500, 100), "c3": (1150, 600, 300, 60), "c4": (150, -60, 200, 50)}


@pytest.fixture(scope="module")
def city() -> City:
    net = WalkNetwork.from_edges(
        x=[0, 400, 800, 1200, 400], y=[0, 0, 0, 0, 300], u=[0, 1, 2, 1], v=[1, 2, 3, 4], crs=32650
    )
    cells = gpd.GeoDataFrame(
        {
            "cell_id": list(CELLS),
            "population": [c[2] for c in CELLS.values()],
            "elderly": [c[3] for c in CELLS.values()],
        },
        geometry=[box(x - 50, y - 50, x + 50, y + 50) for x, y, *_ in CELLS.values()],
        crs=32650,
    )
    fac = gpd.GeoDataFrame(
        {
            "id": ["clinic", "eld", "ctr"],
            "name": ["Clinic", "Elderly home", "Centre"],
            "kind": ["health_station", "elderly_care", "service_centre"],
            "beds": [np.nan, 30.0, np.nan],
            "doctors": [3.0, np.nan, np.nan],
            "floor_area_m2": [np.nan] * 3,
        },
        geometry=[Point(100, 20), Point(1200, 10), Point(700, 400)],
        crs=32650,
    )
    return City(name="hand", crs=net.crs, cells=cells, facilities=fac, network=net)


@pytest.fixture(scope="module")
def result(city):
    return evaluate(city)


def test_clinic_walk_distances_by_hand(result):
    r = result.results["clinic-walk"]
    # c1: 20 access + 600 along A-B-C (x 100 -> 700) + 50 access = 670
    # c2: 20 + 300 (x 100 -> B) + 250 up B-E + 0 access (centre lies on B-E) = 570
    # c3: not snapped (600 m from the nearest street) -> unreachable
    # c4: same edge as the clinic: 20 + |150 - 100| + 60 = 130
    np.testing.assert_allclose(r.dist_m[[0, 1, 3]], [670, 570, 130], atol=1e-6)
    assert math.isinf(r.dist_m[2]) and r.facility[2] == -1
    np.testing.assert_allclose(r.time_min[0], 670 / 1.2 / 60)
    assert list(r.band) == ["le15", "le15", "gt30", "le15"]
    s = r.summary()
    assert s["covered"] == 1700 and s["total"] == 2000 and s["share_covered"] == 0.85
    assert s["cells_unreachable"] == 1
    assert r.load[0] == 1700  # the clinic is the nearest for c1, c2, c4


def test_elderly_circle_uses_elderly_speed_and_weight(result):
    r = result.results["elderly-circle"]
    # threshold 10 min at 0.9 m/s = 540 m; search limit 2 x 540 = 1080 m
    # c1: 50 + 500 (x 700 -> D) + 10 = 560 > 540, not covered
    # c2: 250 + 800 (B -> D) + 10 = 1060: found, not covered
    # c4: 60 + 1050 + 10 = 1120 > 1080: beyond the search limit
    np.testing.assert_allclose(r.dist_m[[0, 1]], [560, 1060], atol=1e-6)
    assert math.isinf(r.dist_m[3])
    assert not r.covered.any()
    assert r.summary()["total"] == 410  # elderly, not residents
    assert r.load[1] == 300  # c1 (200) + c2 (100)
    # no two cells touch, so each uncovered cell is its own cluster: largest first
    assert list(r.clusters["population"]) == [200, 100, 60, 50]


def test_radius_standards_straight_line(result):
    r = result.results["centre-radius"]
    expected = [math.hypot(0, 350), math.hypot(300, 150), math.hypot(450, 200), math.hypot(550, 460)]
    np.testing.assert_allclose(r.dist_m, expected)
    assert r.covered.all()
    station = result.results["station-radius"]  # no station exists at all
    assert not station.covered.any() and station.summary()["share_covered"] == 0.0


def test_override_changes_threshold(city):
    (std,) = resolve_standards(["clinic-walk"], {"clinic-walk": {"threshold_min": 8}})
    assert std.threshold_m == pytest.approx(8 * 60 * 1.2)  # 576 m
    r = evaluate(city, [std]).results["clinic-walk"]
    assert list(r.covered) == [False, True, False, True]  # 670 > 576 >= 570


def test_cells_frame_columns(result):
    cells = result.cells_frame()
    for p in ("clinic_walk", "elderly_circle", "centre_radius", "station_radius"):
        assert {f"{p}_dist_m", f"{p}_time_min", f"{p}_facility", f"{p}_covered"} <= set(cells.columns)
    assert cells.loc[3, "clinic_walk_facility"] == "clinic"
    assert cells.loc[0, "elderly_circle_facility"] == "eld"
    assert get_standard("elderly-circle").weight == "elderly"
