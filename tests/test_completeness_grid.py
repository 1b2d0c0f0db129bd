"""Life-circle completeness per management grid cell, and the missing-count layer in `lifecircle map`.

The one-street city of tests/test_service_rules.py: S1 (service station, 500 m radius) reaches the cells at
x = 50..550, SC (service centre, 1,250 m) all ten, so a circle needing both is complete in cells 0-5 only.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from tests.test_service_rules import POP, invoke, write_inputs

CIRCLE = """
[catalogue]
id = "basic-circle"
extends = "seeds-full"

[[circle]]
id = "basic"
title_en = "Centre and station"
title_zh = "中心和站"
walk_m = 500.0
standards = ["centre-radius", "station-radius"]
source = "test: Nanjing 2011 item 12 (seeds/004)"
"""


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    root = write_inputs(tmp_path_factory.mktemp("cg") / "in")
    (root / "circle.toml").write_text(CIRCLE, encoding="utf-8")
    out = root.parent / "city"
    invoke("city", "build", "--grid", root / "cells.gpkg", "--facilities", root / "fac.gpkg", "--network",
           root / "street.npz", "--catalogue", root / "circle.toml", "--out", out)
    return root, out


def test_completeness_per_grid_cell_by_hand(city, tmp_path):
    root, folder = city
    invoke("circles", "--city", folder, "--grid-layer", root / "grid.gpkg", "--out", tmp_path, "--no-map")
    summary = pd.read_csv(tmp_path / "completeness.csv")
    grid = summary[summary["scope"] == "grid"].set_index("unit")
    assert grid.loc["G1", "share_complete"] == 1.0 and grid.loc["G1", "population"] == sum(POP[:4])
    # G2 holds cells 4-9; 4 and 5 are complete (300 + 100), 6-9 miss the station (450 residents)
    assert grid.loc["G2", "complete_population"] == 400 and grid.loc["G2", "share_complete"] == round(400 / 850, 4)
    assert grid.loc["G2", "most_missing"] == "station-radius" and grid.loc["G2", "most_missing_population"] == 450
    assert grid.loc["G3", "population"] == 0 and pd.isna(grid.loc["G3", "share_complete"])
    layer = gpd.read_file(tmp_path / "completeness.gpkg", layer="grid").set_index("grid_id")
    assert layer.loc["G2", "basic_share_complete"] == round(400 / 850, 4) and layer.loc["G2", "basic_most_missing"] == "station-radius"


def test_map_has_the_missing_count_layer_when_the_catalogue_has_circles(city, tmp_path):
    _, folder = city
    invoke("map", "--city", folder, "--out", tmp_path / "with.html")
    html = (tmp_path / "with.html").read_text(encoding="utf-8")
    assert "missing types: basic" in html and "station-radius" in html
    invoke("map", "--city", folder, "--catalogue", "seeds-full", "--out", tmp_path / "without.html")
    assert "missing types:" not in (tmp_path / "without.html").read_text(encoding="utf-8")
