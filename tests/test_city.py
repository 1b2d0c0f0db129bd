"""City.with_facilities: a new facility layer on the same cells, network and cached cell snapping."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.snap import snap
from layers.city import City


def _city(network) -> City:
    cells = gpd.GeoDataFrame(
        {"cell_id": ["c0", "c1"], "population": [10.0, 20.0], "elderly": [1.0, 2.0]},
        geometry=[shapely.box(200, -50, 300, 50), shapely.box(400, 100, 500, 200)],
        crs=32650,
    )
    facilities = gpd.GeoDataFrame(
        {"id": ["f0"], "name": ["a"], "kind": ["health_station"]}, geometry=shapely.points([[100.0, -30.0]]), crs=32650
    )
    return City("tiny", cells.crs, cells, facilities, network, meta={"source": "test"})


def test_with_facilities_shares_cells_and_their_snapping(hand_network):
    city = _city(hand_network)
    cells_snapped = city.snapped_cells
    old_fac = city.snapped_facilities
    fac = gpd.GeoDataFrame(
        {"id": ["g0", "g1"], "name": ["b", "c"], "kind": ["health_station"] * 2},
        geometry=shapely.points([[306.0, 8.0], [750.0, 40.0]]),
        crs=32650,
    )
    new = city.with_facilities(fac)
    assert new.facilities is fac and city.facilities["id"].tolist() == ["f0"]  # the original is untouched
    assert new.network is city.network and new.cells is city.cells and new.meta is city.meta
    assert new.snapped_cells is cells_snapped and new.cell_xy is city.cell_xy
    # the facilities are snapped anew: S2 (306, 8) lies on the bent B-D edge, 10 m from B
    assert new.snapped_facilities is not old_fac
    assert new.snapped_facilities.edge.tolist() == [4, 6]
    assert new.snapped_facilities.to_u[0] == pytest.approx(10.0)


def test_with_facilities_takes_given_snapping(hand_network):
    city = _city(hand_network)
    fac = city.facilities.iloc[[0, 0]].reset_index(drop=True)
    pre = snap(hand_network, np.array([100.0, 100.0]), np.array([-30.0, -30.0]))
    new = city.with_facilities(fac, snapped=pre)
    assert new.snapped_facilities is pre
    assert "snapped_cells" not in vars(new)  # nothing cached yet is nothing carried over
    with pytest.raises(ValueError, match="snapped has 2 points for 1 facilities"):
        city.with_facilities(city.facilities, snapped=pre)
