"""Every cell of the outputs says why it has no distance: beyond the search limit or off the network."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest

from scenarios.evaluate import SEARCH_FACTOR, evaluate
from scenarios.outputs import write_outputs
from tests.test_evaluate import city  # noqa: F401  (the hand-built city of test_evaluate, worked out there)


@pytest.fixture(scope="module")
def result(city):  # noqa: F811
    return evaluate(city)


def test_status_by_hand(result):
    cells = result.cells_frame()
    # elderly-circle (540 m, searched to 1,080 m): c1 560 m and c2 1,060 m found but too far,
    # c3 not snapped (600 m from any street), c4 1,120 m: beyond the search limit
    assert list(cells["elderly_circle_status"]) == ["beyond threshold", "beyond threshold", "not on network", "beyond search limit"]
    assert cells["elderly_circle_search_limit_m"].tolist() == [1080.0] * 4
    assert np.isnan(cells.loc[3, "elderly_circle_dist_m"])
    # clinic-walk: c1, c2, c4 within 15 min; c3 off the network
    assert list(cells["clinic_walk_status"]) == ["covered", "covered", "not on network", "covered"]
    # straight-line standards never say "not on network": c3 is measured like any other cell
    assert list(cells["centre_radius_status"]) == ["covered"] * 4
    r = result.results["station-radius"]  # no station at all: nothing within any limit
    assert list(cells["station_radius_status"]) == ["beyond search limit"] * 4
    assert cells["station_radius_search_limit_m"].iloc[0] == pytest.approx(r.standard.threshold_m * SEARCH_FACTOR)


def test_every_blank_distance_is_explained(result):
    cells = result.cells_frame()
    for r in result.results.values():
        p = r.standard.column
        blank = cells[f"{p}_dist_m"].isna()
        assert set(cells.loc[blank, f"{p}_status"]) <= {"beyond search limit", "not on network"}
        assert not cells.loc[~blank, f"{p}_status"].isin(["beyond search limit", "not on network"]).any()


def test_status_reaches_the_geopackage(result, tmp_path):
    paths = write_outputs(result, tmp_path, service_areas=False)
    cells = pyogrio.read_dataframe(paths["gpkg"], layer="cells")
    assert list(cells["elderly_circle_status"]) == ["beyond threshold", "beyond threshold", "not on network", "beyond search limit"]
    assert cells["elderly_circle_search_limit_m"].iloc[0] == 1080.0
