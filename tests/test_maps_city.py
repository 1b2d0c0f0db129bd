"""A small hand-made city for the map tests, and tests of what the maps show.

The city is a 24 x 20 grid of 100 m cells (480 cells) in UTM zone 50N near
Guangzhou, crossed by streets every 200 m, with one or two facilities of
every kind. Population classes and standard classes are checked against
counts worked out directly from the inputs.
"""

from __future__ import annotations

import functools

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from geo.network import WalkNetwork
from layers.city import City
from maps.content import facility_details, population_classes, select_standards, standard_classes
from maps.errors import MapError
from scenarios.evaluate import evaluate

X0, Y0, NX, NY, CELL = 500_000.0, 2_560_000.0, 24, 20, 100.0
CRS = 32650


def _network() -> WalkNetwork:
    xs, ys = np.arange(0, NX * CELL + 1, 200.0), np.arange(0, NY * CELL + 1, 200.0)
    gx, gy = np.meshgrid(xs, ys)
    nx_, ny_ = xs.size, ys.size
    node = np.arange(nx_ * ny_).reshape(ny_, nx_)
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    return WalkNetwork.from_edges(x=X0 + gx.ravel(), y=Y0 + gy.ravel(), u=u, v=v, crs=CRS)


def make_city(name: str = "tiny", generated: bool = True) -> City:
    """The small test city (a fresh object each call)."""
    ix, iy = np.meshgrid(np.arange(NX), np.arange(NY))
    ix, iy = ix.ravel(), iy.ravel()
    population = (10 + 7 * ((ix * 3 + iy * 5) % 11)).astype(float)
    population[(ix >= 10) & (ix < 13) & (iy >= 8) & (iy < 11)] = 0.0  # a park: nobody lives there
    cells = gpd.GeoDataFrame(
        {
            "cell_id": [f"r{r}c{c}" for r, c in zip(iy, ix)],
            "population": population,
            "elderly": np.round(population * 0.2),
            "subdistrict": np.where(ix < NX // 2, "west", "east"),
        },
        geometry=[box(X0 + c * CELL, Y0 + r * CELL, X0 + (c + 1) * CELL, Y0 + (r + 1) * CELL) for r, c in zip(iy, ix)],
        crs=CRS,
    )
    spots = [
        ("ctr1", "Street centre", "service_centre", 300, 300),
        ("stn1", "Station <b>one</b>", "service_station", 500, 1500),
        ("stn2", "Station two", "service_station", 1900, 400),
        ("hc1", "社区卫生服务中心", "health_centre", 400, 200),
        ("hs1", "Clinic east", "health_station", 2100, 1700),
        ("eld1", "Day-care centre", "elderly_care", 2300, 1900),
    ]
    fac = gpd.GeoDataFrame(
        {
            "id": [s[0] for s in spots],
            "name": [s[1] for s in spots],
            "kind": [s[2] for s in spots],
            "beds": [np.nan, np.nan, np.nan, 40.0, np.nan, 25.0],
            "doctors": [np.nan, np.nan, np.nan, 12.0, 3.0, np.nan],
            "floor_area_m2": [2000.0, 300.0, 250.0, np.nan, np.nan, 800.0],
        },
        geometry=[Point(X0 + s[3], Y0 + s[4] + 3) for s in spots],
        crs=CRS,
    )
    half = NX * CELL / 2
    units = {
        "subdistrict": gpd.GeoDataFrame(
            {"unit_id": ["west", "east"], "name": ["West 西区", "East 东区"]},
            geometry=[box(X0, Y0, X0 + half, Y0 + NY * CELL), box(X0 + half, Y0, X0 + NX * CELL, Y0 + NY * CELL)],
            crs=CRS,
        )
    }
    return City(
        name=name,
        crs=_network().crs,
        cells=cells,
        facilities=fac,
        network=_network(),
        units=units,
        attribution="Generated data (lifecircle test city)" if generated else "© OpenStreetMap contributors",
        generated=generated,
    )


@functools.lru_cache(maxsize=2)
def make_result(generated: bool = True):
    """All catalogue standards evaluated on the small city (shared: do not modify it)."""
    return evaluate(make_city(generated=generated))


@pytest.fixture(scope="module")
def result():
    return make_result()


def test_population_classes_quantiles_cover_populated_cells_only(result):
    pop = result.city.cells["population"].to_numpy()
    c = population_classes(pop, k=5)
    assert np.all(c.cell_class[pop == 0] == -1)
    assert np.all(c.cell_class[pop > 0] >= 0)
    # every class non-empty, totals add up to the population, classes ordered by value
    assert np.all(np.bincount(c.cell_class[pop > 0]) > 0)
    assert c.totals.sum() == pytest.approx(pop.sum())
    maxima = [pop[c.cell_class == k].max() for k in range(len(c.labels))]
    minima = [pop[c.cell_class == k].min() for k in range(len(c.labels))]
    assert all(hi < lo for hi, lo in zip(maxima[:-1], minima[1:]))
    assert len(c.labels) == len(c.colours) == 5


def test_population_classes_with_few_distinct_values():
    c = population_classes(np.array([0, 5, 5, 5, 9, 9.0]), k=5)
    assert len(c.labels) == 2  # only two distinct values: two classes, none empty
    assert list(c.cell_class) == [-1, 0, 0, 0, 1, 1]
    assert list(c.totals) == [15, 18]
    with pytest.raises(MapError, match="classification 'jenks'"):
        population_classes(np.ones(3), scheme="jenks")


def test_standard_classes_match_bands_and_weights(result):
    sr = result.results["clinic-walk"]
    c = standard_classes(sr, "en")
    assert c.labels == ["≤ 15 min", "15–30 min", "> 30 min"]
    w = sr.weight
    for k, band in enumerate(["le15", "15to30", "gt30"]):
        assert c.totals[k] == pytest.approx(w[(sr.band == band) & (w > 0)].sum())
    assert np.all(c.cell_class[w == 0] == -1)
    # radius standard: covered / not covered by straight-line distance
    sr = result.results["centre-radius"]
    c = standard_classes(sr, "zh")
    assert c.labels == ["已覆盖", "未覆盖"]
    fx, fy = result.city.facility_xy
    cx, cy = result.city.cell_xy
    d = np.hypot(cx - fx[0], cy - fy[0])
    populated = sr.weight > 0
    assert np.array_equal(c.cell_class[populated] == 0, d[populated] <= 1250.0)


def test_facility_details_escape_and_serve(result):
    d = facility_details(result, list(result.results.values()), "en")
    assert d.loc[1, "name"] == "Station &lt;b&gt;one&lt;/b&gt;"
    assert d.loc[3, "capacity"] == "Beds 40; Doctors 12"
    # the elderly home serves every elderly resident (it is the only one): sum of weights within reach
    sr = result.results["elderly-circle"]
    assert f"{sr.load[5]:,.0f} elderly" in d.loc[5, "serves"]
    assert sr.load[5] == pytest.approx(sr.weight[sr.facility == 5].sum())


def test_select_standards_rejects_unknown(result):
    assert [s.standard.id for s in select_standards(result, ["clinic-walk"])] == ["clinic-walk"]
    with pytest.raises(MapError, match="not in this result.*clinic-walk"):
        select_standards(result, ["nope"])
