"""XYZ PNG tiles of cells: ``/coverage/{run}/tiles/...`` and the workbench's live scenario tiles.

Pixel positions are computed here from the Web Mercator formulas, and the
expected status of each cell from the library (not from the tile code), so
a tile that paints the wrong cell or the wrong colour fails.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from scenarios.run import LiveScenario
from scenarios.standards import resolve_standards
from tests.test_api_helpers import HEADERS, cell_lonlat, demo_city, make_app

Image = pytest.importorskip("PIL.Image")

Z = 16
GREEN = (0x1A, 0x98, 0x50)  # covered, as the HTML maps
RED = (0xD7, 0x30, 0x27)  # not covered


@pytest.fixture(scope="module")
def client():
    return TestClient(make_app())


@pytest.fixture(scope="module")
def run_id(client):
    r = client.post("/coverage", json={"standards": ["clinic-walk"]}, headers=HEADERS)
    assert r.status_code in (200, 201), r.text
    return r.json()["id"]


def _pixel(lon: float, lat: float, z: int) -> tuple[int, int, int, int]:
    """Tile x, y and pixel column, row of a WGS84 point (slippy-map formulas)."""
    n = 2**z
    fx = (lon + 180.0) / 360.0 * n
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return int(fx), int(fy), int((fx % 1) * 256), int((fy % 1) * 256)


def _png(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(response.content))
    assert img.size == (256, 256) and img.mode == "RGBA"
    return np.asarray(img)


def _covered() -> np.ndarray:
    return LiveScenario(demo_city(), resolve_standards(["clinic-walk"])).standard_result("clinic-walk").covered


def _sample_cells(covered: np.ndarray) -> list[int]:
    rng = np.random.default_rng(7)
    return [int(i) for i in rng.choice(np.flatnonzero(covered), 15)] + [int(i) for i in rng.choice(np.flatnonzero(~covered), 15)]


def test_run_tile_colours_match_each_cells_status(client, run_id):
    covered = _covered()
    rows = _sample_cells(covered)
    lon, lat = cell_lonlat(demo_city(), rows)
    tiles: dict[tuple[int, int], np.ndarray] = {}
    for row, lo, la in zip(rows, lon, lat):
        tx, ty, px, py = _pixel(lo, la, Z)
        if (tx, ty) not in tiles:
            tiles[tx, ty] = _png(client.get(f"/coverage/{run_id}/tiles/clinic-walk/{Z}/{tx}/{ty}.png"))
        rgba = tiles[tx, ty][py, px]
        assert tuple(rgba[:3]) == (GREEN if covered[row] else RED), row
        assert rgba[3] > 128


def test_bands_mode_paints_the_walk_time_bands(client, run_id):
    lon, lat = cell_lonlat(demo_city(), [0])
    tx, ty, px, py = _pixel(lon[0], lat[0], Z)
    banded = _png(client.get(f"/coverage/{run_id}/tiles/clinic-walk/{Z}/{tx}/{ty}.png", params={"mode": "bands"}))
    assert banded[py, px, 3] > 128  # a cell is drawn in either mode


def test_tile_away_from_the_city_is_transparent(client, run_id):
    assert _png(client.get(f"/coverage/{run_id}/tiles/clinic-walk/{Z}/0/0.png"))[..., 3].max() == 0


def test_tile_errors_name_the_problem(client, run_id):
    r = client.get(f"/coverage/{run_id}/tiles/elderly-circle/{Z}/0/0.png")
    assert r.status_code == 404 and "clinic-walk" in r.json()["detail"]
    r = client.get(f"/coverage/{run_id}/tiles/clinic-walk/3/8/0.png")
    assert r.status_code == 422 and "0 to 7" in r.json()["detail"]
    assert client.get("/coverage/nope/tiles/clinic-walk/3/0/0.png").status_code == 404


def test_scenario_tile_repaints_after_an_edit(client):
    covered = _covered()
    city = demo_city()
    weight = np.where(covered, -1.0, city.cells["population"].to_numpy(float))
    row = int(np.argmax(weight))  # the most populous cell no clinic reaches
    lon, lat = cell_lonlat(city, [row])
    tx, ty, px, py = _pixel(lon[0], lat[0], Z)
    assert client.post("/scenarios", json={"name": "tiles", "standards": ["clinic-walk"]}, headers=HEADERS).status_code == 201
    url = f"/workbench/scenarios/tiles/tiles/clinic-walk/{Z}/{tx}/{ty}.png"
    assert tuple(_png(client.get(url, params={"v": 1}))[py, px, :3]) == RED
    edit = {"op": "add", "id": "T-1", "kind": "health_station", "lon": float(lon[0]), "lat": float(lat[0])}
    r = client.post("/scenarios/tiles/edits", json=edit, headers={**HEADERS, "If-Match": '"1"'})
    assert r.status_code == 201, r.text
    assert tuple(_png(client.get(url, params={"v": 2}))[py, px, :3]) == GREEN
    assert client.get("/workbench/scenarios/tiles/coverage").json()["standards"]["clinic-walk"] == r.json()["standards"]["clinic-walk"]
