"""Shared helpers of the API tests (no tests here): one demo city per session."""

from __future__ import annotations

import tempfile
from functools import lru_cache

import numpy as np

from api.app import create_app
from api.config import ApiConfig
from geo.crs import to_wgs84
from layers.cities import load_city
from layers.city import City

KEY = "test-key-0123456789"
HEADERS = {"X-API-Key": KEY}


@lru_cache(maxsize=1)
def demo_city() -> City:
    """The generated demo city (cached on disk by layers, in memory here)."""
    return load_city("demo")


def make_app(**settings):
    """An app on the demo city with the test key and a fresh data folder; ``settings`` override ApiConfig fields.

    The data folder is a new temporary one unless given, so that tests never
    share (or touch) the per-user folder that is the server's default.
    """
    settings.setdefault("api_keys", [KEY])
    settings.setdefault("data_dir", tempfile.mkdtemp(prefix="lifecircle-test-"))
    return create_app(ApiConfig(**settings), city=demo_city())


def cell_lonlat(city: City, rows) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat of the cells' representative points."""
    x, y = city.cell_xy
    rows = np.asarray(rows)
    return to_wgs84(x[rows], y[rows], city.crs)
