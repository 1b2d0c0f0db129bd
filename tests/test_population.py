"""Building-based population estimate, checked against hand computation."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.population import (
    FALLBACK_LEVELS,
    HELSINKI,
    PopulationParams,
    building_floors,
    estimate_building_population,
    population_grid,
    residential_share,
)

X0, Y0 = 385_000.0, 6_672_000.0  # a 100 m grid corner in ETRS-TM35FIN (EPSG:3067)
CRS = 3067


def box(x1, y1, x2, y2):
    return shapely.box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


def frame(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


@pytest.fixture
def buildings() -> gpd.GeoDataFrame:
    return frame(
        [
            # A: flats, 20 x 30 m, 4 floors, straddling the x = 100 cell edge
            {"name": "A", "building": "apartments", "building:levels": "4", "geometry": box(90, 10, 110, 40)},
            # B: use unknown, 10 x 10 m, 9 m high (3 floors), in a residential area
            {"name": "B", "building": "yes", "height": "9 m", "geometry": box(10, 10, 20, 20)},
            # C: use unknown but a supermarket is tagged on it
            {"name": "C", "building": "yes", "shop": "supermarket", "building:levels": "1", "geometry": box(20, 60, 40, 80)},
            # D: use unknown, no land use mapped, "2;3" levels (first number), 20 x 10 m
            {"name": "D", "building": "yes", "building:levels": "2;3", "geometry": box(130, 60, 150, 70)},
            # E: a house too small to live in (a 5 x 5 m shed drawn as a house)
            {"name": "E", "building": "house", "geometry": box(160, 10, 165, 15)},
            # F: use unknown, inside a commercial area
            {"name": "F", "building": "yes", "geometry": box(120, 10, 140, 30)},
            # G: residential, no levels or height: the fallback floors
            {"name": "G", "building": "residential", "geometry": box(60, 60, 70, 80)},
            # H: floors 2..4 of a raised part (levels 5, min_level 2 -> 3 floors), no land use
            {"name": "H", "building": "yes", "building:levels": "5", "building:min_level": "2", "geometry": box(30, 110, 40, 120)},
            # I: an office building
            {"name": "I", "building": "office", "building:levels": "6", "geometry": box(60, 120, 90, 150)},
        ]
    )


@pytest.fixture
def landuse() -> gpd.GeoDataFrame:
    return frame(
        [
            {"landuse": "residential", "geometry": box(0, 0, 50, 50)},
            {"landuse": "commercial", "geometry": box(115, 5, 160, 35)},
        ]
    )


def test_building_population_by_hand(buildings, landuse):
    out = estimate_building_population(buildings, landuse, HELSINKI).set_index("name")
    # fewer than 10 buildings tag their levels, so untagged ones get the fallback
    assert out.attrs["default_levels"] == FALLBACK_LEVELS == 3.0
    expected_floors = {"A": 4, "B": 3, "C": 1, "D": 2, "E": 3, "F": 3, "G": 3, "H": 3, "I": 6}
    assert out["floors"].to_dict() == pytest.approx(expected_floors)
    expected_share = {"A": 1, "B": 1, "C": 0, "D": 0.5, "E": 0, "F": 0, "G": 1, "H": 0.5, "I": 0}
    assert out["residential_share"].to_dict() == pytest.approx(expected_share)
    # residents = footprint x floors x share / 40 m2
    expected = {
        "A": 600 * 4 / 40,  # 60
        "B": 100 * 3 / 40,  # 7.5
        "C": 0.0,
        "D": 200 * 2 * 0.5 / 40,  # 5
        "E": 0.0,
        "F": 0.0,
        "G": 200 * 3 / 40,  # 15
        "H": 100 * 3 * 0.5 / 40,  # 3.75
        "I": 0.0,
    }
    assert out["population"].to_dict() == pytest.approx(expected)
    assert out["elderly"].to_numpy() == pytest.approx(0.22 * out["population"].to_numpy())


def test_population_grid_by_hand(buildings, landuse):
    cells = population_grid(estimate_building_population(buildings, landuse, HELSINKI), cell_size=100.0)
    got = {cid: p for cid, p in zip(cells["cell_id"], cells["population"])}
    # A is split half and half across x = 100; rows count from the south.
    assert got == pytest.approx({"r0c0": 30 + 7.5 + 15, "r0c1": 30 + 5, "r1c0": 3.75})
    assert cells["elderly"].sum() == pytest.approx(0.22 * 91.25)
    first = cells.geometry.iloc[int(np.flatnonzero(cells["cell_id"] == "r0c0")[0])]
    assert first.bounds == pytest.approx((X0, Y0, X0 + 100, Y0 + 100))
    assert list(cells.index) == list(range(len(cells)))


def test_residential_area_wins_over_overlapping_commercial():
    b = frame([{"building": "yes", "geometry": box(10, 10, 20, 20)}])
    lu = frame([{"landuse": "commercial", "geometry": box(0, 0, 100, 100)}, {"landuse": "residential", "geometry": box(5, 5, 30, 30)}])
    assert residential_share(b, lu) == pytest.approx([1.0])
    assert residential_share(b, lu.iloc[:1]) == pytest.approx([0.0])
    assert residential_share(b, None, PopulationParams(unknown_use_share=0.25)) == pytest.approx([0.25])


def test_default_levels_from_tagged_neighbours():
    rows = [{"building": "apartments", "building:levels": str(k), "geometry": box(0, 0, 10, 10)} for k in range(1, 11)]
    rows.append({"building": "apartments", "geometry": box(0, 0, 10, 10)})
    floors, default = building_floors(frame(rows))
    assert default == 5.5  # median of 1..10
    assert floors[-1] == 5.5
    floors, default = building_floors(frame(rows), PopulationParams(default_levels=2))
    assert default == 2 and floors[-1] == 2


def test_invalid_footprint_is_repaired():
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10)])  # two 25 m2 triangles
    assert not bowtie.is_valid
    b = frame([{"building": "apartments", "building:levels": "2", "geometry": bowtie}])
    out = estimate_building_population(b, None, PopulationParams(min_footprint_m2=10))
    assert out["footprint_m2"].iloc[0] == pytest.approx(50.0)
    assert out["population"].iloc[0] == pytest.approx(50 * 2 / 40)


def test_bad_inputs():
    with pytest.raises(ValueError, match="projected"):
        estimate_building_population(gpd.GeoDataFrame({"building": ["yes"]}, geometry=[shapely.box(24, 60, 24.001, 60.001)], crs=4326))
    with pytest.raises(ValueError, match="floor_area_per_person_m2 must be positive"):
        PopulationParams(floor_area_per_person_m2=0)
    with pytest.raises(ValueError, match=r"elderly_share must lie in \[0, 1\]"):
        PopulationParams(elderly_share=22)


def test_no_housing_gives_empty_grid():
    b = frame([{"building": "office", "geometry": box(0, 0, 50, 50)}])
    cells = population_grid(estimate_building_population(b))
    assert len(cells) == 0 and {"cell_id", "population", "elderly"} <= set(cells.columns)
