"""Completeness of life circles against a hand count on a four-cell city."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from geo.network import WalkNetwork
from layers.city import City
from scenarios.catalogue import load_catalogue, use_catalogue
from scenarios.completeness import completeness, completeness_cells, completeness_summary, evaluate_circles

CATALOGUE = """
[catalogue]
id = "two-types"

[[kind]]
id = "a"
en = "A"
zh = "甲"
source = "test"

[[kind]]
id = "b"
en = "B"
zh = "乙"
source = "test"

[[standard]]
id = "sa"
title_en = "A within 300 m"
title_zh = "甲300米"
kinds = ["a"]
mode = "euclidean"
threshold_m = 300.0
source = "test"

[[standard]]
id = "sb"
title_en = "B within 300 m"
title_zh = "乙300米"
kinds = ["b"]
mode = "euclidean"
threshold_m = 300.0
source = "test"

[[circle]]
id = "small"
title_en = "small circle"
title_zh = "小圈"
walk_m = 300.0
standards = ["sa", "sb"]
source = "test"
"""


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    path = tmp_path_factory.mktemp("cat") / "two.toml"
    path.write_text(CATALOGUE, encoding="utf-8")
    return load_catalogue(path)


@pytest.fixture(scope="module")
def city():
    net = WalkNetwork.from_edges(x=[0, 1000, 2000], y=[0, 0, 0], u=[0, 1], v=[1, 2], crs=32650)
    xy = [(0, 0), (500, 0), (1000, 0), (2000, 0)]
    cells = gpd.GeoDataFrame({"cell_id": ["c1", "c2", "c3", "c4"], "population": [100.0, 50.0, 20.0, 10.0],
                              "elderly": [10.0, 5.0, 2.0, 1.0]},
                             geometry=[box(x - 20, y - 20, x + 20, y + 20) for x, y in xy], crs=32650)
    fac = gpd.GeoDataFrame({"id": ["A1", "A2", "B1", "B2"], "name": ["A1", "A2", "B1", "B2"], "kind": ["a", "a", "b", "b"],
                            "beds": np.nan, "doctors": np.nan, "floor_area_m2": np.nan},
                           geometry=[Point(100, 0), Point(1000, 200), Point(400, 0), Point(1100, 0)], crs=32650)
    units = gpd.GeoDataFrame({"unit_id": ["U1", "U2"]}, geometry=[box(-100, -100, 750, 100), box(750, -100, 2100, 100)],
                             crs=32650)
    return City(name="hand", crs=net.crs, cells=cells, facilities=fac, network=net, units={"subdistrict": units})


def test_completeness_equals_hand_count(catalogue, city):
    with use_catalogue(catalogue):
        result, circles = evaluate_circles(city)
    comp = completeness(result, circles)["small"]
    # by hand: c1 reaches A1 (100 m) but B1 is 400 m; c2 reaches B1 (100 m), A1 is 400 m;
    # c3 reaches A2 (200 m) and B2 (100 m); c4 reaches nothing
    assert comp.missing_count.tolist() == [1, 1, 0, 2]
    assert comp.complete.tolist() == [False, False, True, False]
    assert comp.missing_lists() == ["sb", "sa", "", "sa;sb"]
    cells = completeness_cells(result, {"small": comp})
    assert cells["small_missing_n"].tolist() == [1, 1, 0, 2]
    s = completeness_summary(result, {"small": comp}).set_index(["scope", "unit"])
    city_row = s.loc[("city", "hand")]
    assert city_row["complete_population"] == 20.0 and city_row["share_complete"] == round(20 / 180, 4)
    # residents lacking sa: c2 + c4 = 60; lacking sb: c1 + c4 = 110
    assert (city_row["most_missing"], city_row["most_missing_population"]) == ("sb", 110.0)
    u1, u2 = s.loc[("subdistrict", "U1")], s.loc[("subdistrict", "U2")]
    assert (u1["share_complete"], u1["most_missing"], u1["most_missing_population"]) == (0.0, "sb", 100.0)
    # U2: c4 lacks both (10 residents each): the tie goes to the circle's first type
    assert (u2["share_complete"], u2["most_missing"], u2["most_missing_population"]) == (round(20 / 30, 4), "sa", 10.0)


def test_catalogue_without_circles_is_refused(city):
    from scenarios.standards import StandardError

    with pytest.raises(StandardError, match="has no life circles"):
        evaluate_circles(city)
