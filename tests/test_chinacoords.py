"""GCJ-02 / BD-09 conversions against published reference pairs and round trips."""

import numpy as np
import pytest
from pyproj import Geod

from geo.chinacoords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def metres_apart(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


# googollee/eviltransform, python/test.py, TESTS: (wgsLat, wgsLng, gcjLat, gcjLng)
# for Shanghai, Shenzhen and Beijing.
EVILTRANSFORM_WGS_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]

# wandergis/coordtransform, test/app.js: every function applied to
# (116.404, 39.915) with the printed "//result" values.
CT_INPUT = (116.404, 39.915)
CT_BD09_TO_GCJ02 = (116.39762729119315, 39.90865673957631)
CT_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
CT_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
CT_GCJ02_TO_WGS84_APPROX = (116.39775550083061, 39.91359571849836)  # one-step approximation


@pytest.mark.parametrize("wlat, wlon, glat, glon", EVILTRANSFORM_WGS_GCJ)
def test_wgs84_to_gcj02_matches_eviltransform(wlat, wlon, glat, glon):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-9)
    assert lat == pytest.approx(glat, abs=1e-9)


@pytest.mark.parametrize("wlat, wlon, glat, glon", EVILTRANSFORM_WGS_GCJ)
def test_gcj02_to_wgs84_recovers_eviltransform_input(wlat, wlon, glat, glon):
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert metres_apart(lon, lat, wlon, wlat) < 0.01


def test_coordtransform_reference_values():
    assert np.allclose(wgs84_to_gcj02(*CT_INPUT), CT_WGS84_TO_GCJ02, atol=1e-9, rtol=0)
    assert np.allclose(gcj02_to_bd09(*CT_INPUT), CT_GCJ02_TO_BD09, atol=1e-9, rtol=0)
    assert np.allclose(bd09_to_gcj02(*CT_INPUT), CT_BD09_TO_GCJ02, atol=1e-9, rtol=0)


def test_exact_inverse_is_close_to_but_better_than_one_step_approximation():
    lon, lat = gcj02_to_wgs84(*CT_INPUT)
    # coordtransform's one-step inverse is known to be off by a metre or two.
    assert 0.01 < metres_apart(lon, lat, *CT_GCJ02_TO_WGS84_APPROX) < 5
    back = wgs84_to_gcj02(lon, lat)
    assert metres_apart(*back, *CT_INPUT) < 1e-6
    approx_back = wgs84_to_gcj02(*CT_GCJ02_TO_WGS84_APPROX)
    assert metres_apart(*approx_back, *CT_INPUT) > 0.01


def test_offset_is_hundreds_of_metres_in_china():
    lon, lat = wgs84_to_gcj02(114.06, 22.54)  # Shenzhen
    assert 100 < metres_apart(lon, lat, 114.06, 22.54) < 1000


def random_china(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(73.0, 135.0, n), rng.uniform(18.0, 53.5, n)


def test_round_trips_within_a_centimetre():
    lon, lat = random_china(20_000)
    for forward, inverse in ((wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)):
        blon, blat = inverse(*forward(lon, lat))
        assert metres_apart(blon, blat, lon, lat).max() < 0.01
    glon, glat = gcj02_to_bd09(lon, lat)
    blon, blat = bd09_to_gcj02(glon, glat)
    # The published closed-form BD-09 inverse is approximate (tens of cm).
    assert metres_apart(blon, blat, lon, lat).max() < 0.5


def test_outside_china_is_unchanged():
    lon = np.array([24.94, -74.0, 139.69, 100.0])
    lat = np.array([60.17, 40.7, 35.69, 60.0])  # Helsinki, New York, Tokyo, Siberia
    assert not in_china(lon, lat).any()
    for f in (wgs84_to_gcj02, gcj02_to_wgs84, wgs84_to_bd09, bd09_to_wgs84, gcj02_to_bd09, bd09_to_gcj02):
        out_lon, out_lat = f(lon, lat)
        assert np.array_equal(out_lon, lon) and np.array_equal(out_lat, lat)


def test_scalars_and_shapes_are_kept():
    lon, lat = wgs84_to_gcj02(116.0, 40.0)
    assert np.ndim(lon) == 0
    lon, lat = gcj02_to_wgs84(np.full((2, 3), 116.0), np.full((2, 3), 40.0))
    assert lon.shape == (2, 3)
    inputs = np.array([116.0, 117.0])
    wgs84_to_gcj02(inputs, np.array([40.0, 41.0]))
    assert np.array_equal(inputs, [116.0, 117.0])  # inputs are not modified
