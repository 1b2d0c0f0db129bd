"""The change map of a scenario comparison, checked against brute force.

The "after" plan of the small map test city closes station stn2, opens a
station stn3 and a clinic hs2. Which cells a 500 m station radius newly
covers or leaves uncovered, and how many residents each station serves, are
worked out here from straight-line distances between cell centroids and
stations (scipy's cdist), not from the comparison.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from shapely.geometry import Point

from maps.compare import CHANGE_COLOURS, change_layers, change_map
from maps.errors import MapError
from scenarios.compare import compare
from scenarios.evaluate import evaluate
from scenarios.standards import resolve_standards
from tests.test_maps_city import CRS, X0, Y0, make_city
from tests.test_maps_ratios import _geojson_docs, _meta

STN3 = (X0 + 1200, Y0 + 1000)
RADIUS = 500.0


def _after_city():
    city = make_city()
    fac = city.facilities[city.facilities["id"] != "stn2"]
    new = gpd.GeoDataFrame(
        {"id": ["stn3", "hs2"], "name": ["New station", "New clinic"], "kind": ["service_station", "health_station"],
         "beds": [np.nan, np.nan], "doctors": [np.nan, 2.0], "floor_area_m2": [np.nan, np.nan]},
        geometry=[Point(*STN3), Point(X0 + 300, Y0 + 1800)],
        crs=CRS,
    )
    city.facilities = pd.concat([fac, new], ignore_index=True)
    return city


@pytest.fixture(scope="module")
def comparison():
    standards = resolve_standards(["station-radius", "clinic-walk", "centre-radius"])
    before, after = evaluate(make_city(), standards), evaluate(_after_city(), standards)
    return compare(before, after, "baseline", "plan B")


def _stations(city) -> tuple[np.ndarray, np.ndarray]:
    fac = city.facilities[city.facilities["kind"] == "service_station"]
    return fac["id"].to_numpy(), np.column_stack([fac.geometry.x, fac.geometry.y])


@pytest.fixture(scope="module")
def brute():
    """Newly (un)covered cells and station loads by straight-line distance."""
    cells = make_city().cells
    centre = np.column_stack([cells.geometry.centroid.x, cells.geometry.centroid.y])
    pop = cells["population"].to_numpy()
    out = {}
    for side, city in (("before", make_city()), ("after", _after_city())):
        ids, xy = _stations(city)
        d = cdist(centre, xy)
        out[side] = {"covered": d.min(axis=1) <= RADIUS}
        # served population: cells go to their nearest station within twice the radius (the search limit)
        near = np.where(d.min(axis=1) <= 2 * RADIUS, d.argmin(axis=1), -1)
        out[side]["load"] = {i: pop[near == k].sum() for k, i in enumerate(ids)}
    newly = out["after"]["covered"] & ~out["before"]["covered"]
    lost = out["before"]["covered"] & ~out["after"]["covered"]
    return {"newly_covered": newly, "newly_uncovered": lost, "pop": pop, "ids": cells["cell_id"].to_numpy(), **out}


@pytest.fixture(scope="module")
def page(comparison, tmp_path_factory):
    return change_map(comparison, tmp_path_factory.mktemp("change") / "c.html").read_text(encoding="utf-8")


def _change_docs(html: str) -> list[dict]:
    return [d for d in _geojson_docs(html) if d["features"] and "change_label" in d["features"][0]["properties"]]


def test_brute_force_has_both_kinds_of_change(brute):
    # the test plan really gains and loses cells, so the counts below mean something
    assert brute["newly_covered"].sum() > 10 and brute["newly_uncovered"].sum() > 10


def test_changed_cells_on_the_map_match_brute_force(page, brute):
    meta = _meta(page)
    layers = [s["layer"] for s in meta["legend"] if s["layer"].startswith("Coverage change")]
    # standards with changes first: the station radius (cells) and the clinic walk (loads), then the centre
    assert layers == ["Coverage change: Community station (distance)", "Coverage change: Clinic (walk)",
                      "Coverage change: Service centre (distance)"]
    station = _change_docs(page)[0]
    for which in ("newly_covered", "newly_uncovered"):
        on_map = {f["properties"]["cell"] for f in station["features"] if f["properties"]["change"] == which}
        assert on_map == set(brute["ids"][brute[which]]), which
    # unchanged cells are not drawn
    assert len(station["features"]) == brute["newly_covered"].sum() + brute["newly_uncovered"].sum()


def test_change_legend_counts_cells_and_residents(page, brute):
    sec = next(s for s in _meta(page)["legend"] if s["layer"] == "Coverage change: Community station (distance)")
    assert sec["shown"] is True
    by_change = {e["change"]: e for e in sec["entries"]}
    for which in ("newly_covered", "newly_uncovered"):
        assert by_change[which]["cells"] == brute[which].sum()
        assert by_change[which]["total"] == pytest.approx(brute["pop"][brute[which]].sum())
        assert by_change[which]["colour"] == CHANGE_COLOURS[which]
    assert by_change["newly_covered"]["label"] == f"Newly covered: {brute['newly_covered'].sum()} cells"
    # the centre did not move: nothing changes, and its layer starts hidden
    centre = next(s for s in _meta(page)["legend"] if s["layer"] == "Coverage change: Service centre (distance)")
    assert [e["cells"] for e in centre["entries"]] == [0, 0] and centre["shown"] is False


def test_load_changes_match_brute_force(page, brute):
    before, after = brute["before"]["load"], brute["after"]["load"]
    for sid, label in (("stn3", "opened"), ("stn2", "closed"), ("stn1", "unchanged")):
        b, a = before.get(sid, 0.0), after.get(sid, 0.0)
        if a == b:
            continue
        assert f"Status: {label}<br>Serves: {b:,.0f} → {a:,.0f} ({a - b:+,.0f} residents)" in page, sid
    sec = next(s for s in _meta(page)["legend"] if s["layer"] == "Largest load changes: Community station (distance)")
    changed = [k for k in set(before) | set(after) if before.get(k, 0.0) != after.get(k, 0.0)]
    gains = sum(after.get(k, 0.0) > before.get(k, 0.0) for k in changed)
    assert {e["label"]: e["total"] for e in sec["entries"]} == {"Serves more": gains, "Serves fewer": len(changed) - gains}


def test_top_facilities_limits_the_markers(comparison):
    layers = change_layers(comparison, standards=["station-radius"], top_facilities=1)
    loads = [g for g in layers if g.layer_name.startswith("Largest load changes")]
    assert len(loads) == 1
    markers = [c for c in loads[0]._children.values() if type(c).__name__ == "CircleMarker"]
    assert len(markers) == 1


def test_chinese_change_map(comparison, brute, tmp_path):
    html = change_map(comparison, tmp_path / "zh.html", lang="zh").read_text(encoding="utf-8")
    meta = _meta(html)
    assert meta["lang"] == "zh" and meta["title"].startswith("tiny：baseline → plan B")
    sec = next(s for s in meta["legend"] if s["layer"] == "覆盖变化：社区服务站（距离）")
    assert sec["entries"][0]["label"] == f"新增覆盖：{brute['newly_covered'].sum()}个网格"


def test_unknown_standard(comparison, tmp_path):
    with pytest.raises(MapError, match="not in this comparison"):
        change_map(comparison, tmp_path / "x.html", standards=["elderly-circle"])


def test_map_meta_lists_the_compared_standards(page):
    meta = json.loads(re.search(r'id="lc-map-meta">(.*?)</script>', page, re.DOTALL).group(1))
    assert meta["standards"] == ["station-radius", "clinic-walk", "centre-radius"]
