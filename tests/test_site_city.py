"""City-level siting on the demo city, checked against independent re-evaluation.

Every claim of :func:`scenarios.siting.site` (per-site gains, coverage after,
the optimum over a small candidate layer) is recomputed here without the
siting code: by adding the proposed facilities to the city's facility table
by hand and running :func:`scenarios.evaluate.evaluate_standard`, by brute
force over every combination of candidates, or by straight-line distances
computed with numpy.
"""

from __future__ import annotations

import itertools
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.siting import SitingError, decay_value
from layers.cities import load_city
from scenarios.evaluate import evaluate_standard
from scenarios.run import city_with_facilities
from scenarios.siting import PlannerChoices, site, write_siting
from scenarios.standards import StandardError, get_standard

pytestmark = pytest.mark.slow

TEN_MIN = {"threshold_min": 10}


@pytest.fixture(scope="module")
def city():
    return load_city("demo")


@pytest.fixture(scope="module")
def clinic10():
    return get_standard("clinic-walk", **TEN_MIN)


@pytest.fixture(scope="module")
def mclp3(city):
    return site(city, "clinic-walk", "mclp", p=3, overrides=TEN_MIN)


def with_points(city, xy, kind="health_station", drop=()):
    """The city with facilities at ``xy`` added (and ids ``drop`` removed), built by hand."""
    fac = city.facilities[~city.facilities["id"].isin(list(drop))]
    new = gpd.GeoDataFrame(
        {"id": [f"t{i}" for i in range(len(xy))], "name": "t", "kind": kind, "beds": np.nan, "doctors": np.nan,
         "floor_area_m2": np.nan},
        geometry=[shapely.Point(x, y) for x, y in xy],
        crs=city.crs,
    )
    both = gpd.GeoDataFrame(pd.concat([fac, new], ignore_index=True), crs=city.crs)
    return city_with_facilities(city, both)


def covered(city, standard) -> float:
    r = evaluate_standard(city, standard)
    return float(r.weight[r.covered].sum())


def candidate_layer(city, n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` cell centres of uncovered, populated cells as a WGS84 point layer with ids."""
    r = evaluate_standard(city, get_standard("clinic-walk", **TEN_MIN))
    pool = np.flatnonzero(~r.covered & (r.weight > 0))
    pick = np.random.default_rng(seed).choice(pool, n, replace=False)
    x, y = city.cell_xy
    pts = gpd.GeoDataFrame({"id": [f"plot-{i}" for i in range(n)]}, geometry=shapely.points(x[pick], y[pick]), crs=city.crs)
    return pts.to_crs("EPSG:4326")


def test_mclp_gains_match_reevaluation(city, clinic10, mclp3):
    s = mclp3.summary()
    sites = mclp3.sites
    assert len(sites) == 3 and list(sites["rank"]) == [1, 2, 3]
    xy = sites[["x", "y"]].to_numpy()
    # each site's reported gain is what adding it (after the ones ranked above) adds on re-evaluation
    before = covered(city, clinic10)
    steps = [before] + [covered(with_points(city, xy[: k + 1]), clinic10) for k in range(3)]
    np.testing.assert_allclose(np.diff(steps), sites["newly_covered"], rtol=1e-9)
    np.testing.assert_allclose(sites["newly_covered"], sites["gain"], rtol=1e-9)  # MCLP gains are newly covered weight
    np.testing.assert_allclose(steps[-1] - before, mclp3.result.objective, rtol=1e-9)
    assert s["covered_before"] == pytest.approx(before, rel=1e-12)
    assert s["covered_after"] == pytest.approx(steps[-1], rel=1e-12)
    assert s["claimed_covered_after"] == pytest.approx(steps[-1], rel=1e-9)
    assert s["cells_disagreeing"] == 0
    assert s["covered_after"] > s["covered_before"]
    # locations: lon/lat are the city-CRS points in WGS84
    back = gpd.GeoSeries(gpd.points_from_xy(sites["lon"], sites["lat"]), crs="EPSG:4326").to_crs(city.crs)
    np.testing.assert_allclose(np.column_stack([back.x, back.y]), xy, atol=1e-3)
    # newly covered cells: exactly those covered after and not before, each counted once
    r0 = evaluate_standard(city, clinic10)
    r1 = evaluate_standard(with_points(city, xy), clinic10)
    expect = set(city.cells["cell_id"][r1.covered & ~r0.covered])
    assert set(mclp3.newly_covered_cells["cell_id"]) == expect
    assert mclp3.newly_covered_cells["dist_m"].max() <= clinic10.threshold_m


def test_mclp_optimum_over_a_candidate_layer_matches_enumeration(city, clinic10):
    layer = candidate_layer(city, 7, seed=1)
    res = site(city, "clinic-walk", "mclp", p=2, overrides=TEN_MIN, candidates=layer, solver="milp")
    pts = layer.to_crs(city.crs)
    xy = np.column_stack([pts.geometry.x, pts.geometry.y])
    best = max(covered(with_points(city, xy[list(c)]), clinic10) for c in itertools.combinations(range(7), 2))
    assert res.summary()["covered_after"] == pytest.approx(best, rel=1e-9)
    assert set(res.sites["candidate_id"]) <= set(layer["id"])
    assert res.result.optimal


def test_required_and_excluded_candidates(city):
    layer = candidate_layer(city, 6, seed=2)
    free = site(city, "clinic-walk", "mclp", p=2, overrides=TEN_MIN, candidates=layer)
    first = free.sites["candidate_id"].iloc[0]
    other = next(i for i in layer["id"] if i not in set(free.sites["candidate_id"]))
    res = site(city, "clinic-walk", "mclp", p=2, overrides=TEN_MIN, candidates=layer,
               options=PlannerChoices(required=[other], excluded=[first]))
    chosen = list(res.sites["candidate_id"])
    assert chosen[0] == other and bool(res.sites["required"].iloc[0])
    assert first not in chosen
    assert res.summary()["cells_disagreeing"] == 0


def test_lscp_reaches_the_requested_share(city, clinic10):
    layer = candidate_layer(city, 40, seed=3)
    res = site(city, "clinic-walk", "lscp", target_share=0.6, overrides=TEN_MIN, candidates=layer)
    s = res.summary()
    after = covered(with_points(city, res.sites[["x", "y"]].to_numpy()), clinic10)
    assert after == pytest.approx(s["covered_after"], rel=1e-12)
    assert after / s["reachable"] >= 0.6 - 1e-12
    assert s["cells_disagreeing"] == 0
    # no proposed site is redundant: dropping any one falls short of the target
    xy = res.sites[["x", "y"]].to_numpy()
    for k in range(len(xy)):
        assert covered(with_points(city, np.delete(xy, k, axis=0)), clinic10) / s["reachable"] < 0.6


def test_removing_a_facility_lowers_before_coverage(city, clinic10, mclp3):
    r = evaluate_standard(city, clinic10)
    busiest = city.facilities["id"].iloc[int(np.argmax(r.load))]
    res = site(city, "clinic-walk", "mclp", p=1, overrides=TEN_MIN, candidates=candidate_layer(city, 5),
               options=PlannerChoices(remove=[busiest]))
    s = res.summary()
    assert s["removed"] == [busiest]
    assert s["covered_current"] == pytest.approx(mclp3.summary()["covered_current"])
    assert s["covered_before"] < s["covered_current"]
    assert s["covered_before"] == pytest.approx(covered(with_points(city, [], drop=[busiest]), clinic10), rel=1e-12)
    assert s["covered_after"] == pytest.approx(
        covered(with_points(city, res.sites[["x", "y"]].to_numpy(), drop=[busiest]), clinic10), rel=1e-12
    )
    assert s["cells_disagreeing"] == 0
    assert busiest not in set(res.after_city.facilities["id"])


def test_radius_standard_against_numpy_distances(city):
    std = get_standard("station-radius")
    layer = candidate_layer(city, 8, seed=4)
    res = site(city, "station-radius", "mclp", p=2, candidates=layer, solver="milp")
    x, y = city.cell_xy
    fac = city.facilities[city.facilities["kind"].isin(std.kinds)]
    pts = np.vstack([np.column_stack([fac.geometry.x, fac.geometry.y]), res.sites[["x", "y"]].to_numpy()])
    d = np.hypot(x[:, None] - pts[None, :, 0], y[:, None] - pts[None, :, 1]).min(axis=1)
    w = city.cells[std.weight].to_numpy()
    assert res.summary()["covered_after"] == pytest.approx(float(w[d <= std.threshold_m].sum()), rel=1e-12)
    assert res.summary()["cells_disagreeing"] == 0
    # the best pair by brute force over the 8 plots
    cand = layer.to_crs(city.crs)
    cxy = np.column_stack([cand.geometry.x, cand.geometry.y])
    base = np.hypot(x[:, None] - pts[None, : len(fac), 0], y[:, None] - pts[None, : len(fac), 1]).min(axis=1)
    dc = np.hypot(x[:, None] - cxy[None, :, 0], y[:, None] - cxy[None, :, 1])
    best = max(float(w[np.minimum(base, dc[:, list(c)].min(axis=1)) <= std.threshold_m].sum())
               for c in itertools.combinations(range(8), 2))
    assert res.summary()["covered_after"] == pytest.approx(best, rel=1e-12)


def test_p_median_and_attendance_objectives_match_reevaluation(city, clinic10):
    layer = candidate_layer(city, 6, seed=5)
    w = city.cells["population"].to_numpy()
    pm = site(city, "clinic-walk", "p-median", p=2, overrides=TEN_MIN, candidates=layer)
    d = evaluate_standard(with_points(city, pm.sites[["x", "y"]].to_numpy()), clinic10).dist_m
    # the model charges a cell no facility reaches within the reach at exactly the reach
    assert pm.result.objective == pytest.approx(float((w * np.minimum(d, clinic10.threshold_m)).sum()), rel=1e-9)
    att = site(city, "clinic-walk", "attendance", p=2, overrides=TEN_MIN, candidates=layer)
    d = evaluate_standard(with_points(city, att.sites[["x", "y"]].to_numpy()), clinic10).dist_m
    expect = float((w * decay_value(d, clinic10.threshold_m, "exponential", None)).sum())
    assert att.result.objective == pytest.approx(expect, rel=1e-9)


def test_bad_inputs_give_clear_errors(city):
    layer = candidate_layer(city, 3, seed=6)
    with pytest.raises(StandardError, match="unknown standard 'clinic-run'"):
        site(city, "clinic-run", p=1)
    with pytest.raises(SitingError, match=r"p=5 .* larger than the 3 candidates"):
        site(city, "clinic-walk", p=5, overrides=TEN_MIN, candidates=layer)
    with pytest.raises(SitingError, match="remove: unknown facility id 'NOPE'"):
        site(city, "clinic-walk", p=1, candidates=layer, options=PlannerChoices(remove=["NOPE"]))
    care = city.facilities.loc[city.facilities["kind"] == "elderly_care", "id"].iloc[0]
    with pytest.raises(SitingError, match=f"facility '{care}' is a elderly_care, which does not serve"):
        site(city, "clinic-walk", p=1, candidates=layer, options=PlannerChoices(relocate=[care]))
    with pytest.raises(SitingError, match="excluded: unknown candidate id 'plot-99'"):
        site(city, "clinic-walk", p=1, candidates=layer, options=PlannerChoices(excluded=["plot-99"]))
    with pytest.raises(SitingError, match="unknown problem 'mlcp'"):
        site(city, "clinic-walk", "mlcp", p=1)
    with pytest.raises(SitingError, match="unknown solver 'cplex'"):
        site(city, "clinic-walk", "mclp", p=1, solver="cplex")
    with pytest.raises(SitingError, match="needs p"):
        site(city, "clinic-walk", "mclp", candidates=layer)
    with pytest.raises(SitingError, match="capacities must be finite and >= 0"):
        site(city, "clinic-walk", "capacitated", p=1, candidates=layer, capacity=-5.0)
    with pytest.raises(SitingError, match="target_share applies to problem 'lscp' only"):
        site(city, "clinic-walk", "mclp", p=1, target_share=0.9, candidates=layer)
    far = gpd.GeoDataFrame({"id": ["far"]}, geometry=[shapely.Point(0, 0)], crs=city.crs)
    with pytest.raises(SitingError, match="none of its 1 points is within"):
        site(city, "clinic-walk", p=1, candidates=far)


def test_write_siting_files_open(tmp_path, mclp3):
    paths = write_siting(mclp3, tmp_path)
    layers = set(gpd.list_layers(paths["gpkg"])["name"])
    assert layers == {"sites", "newly_covered_cells", "service_areas"}
    sites = gpd.read_file(paths["gpkg"], layer="sites")
    assert sites.crs.to_epsg() == 4326 and len(sites) == 3
    np.testing.assert_allclose(sites.geometry.x, mclp3.sites["lon"], atol=1e-9)
    cells = gpd.read_file(paths["gpkg"], layer="newly_covered_cells")
    assert cells["weight"].sum() == pytest.approx(mclp3.sites["newly_covered"].sum())
    areas = gpd.read_file(paths["gpkg"], layer="service_areas")
    assert sorted(areas["site_rank"]) == [1, 2, 3]
    table = pd.read_csv(paths["csv"])
    assert list(table["site_id"]) == list(mclp3.sites["site_id"])
    doc = json.loads(paths["json"].read_text())
    assert doc["summary"]["covered_after"] == pytest.approx(mclp3.summary()["covered_after"])
    assert [e["op"] for e in doc["edits"]] == ["add"] * 3


def test_siting_map_and_figure(tmp_path, mclp3):
    from maps.siting import siting_figure, siting_layers, siting_map

    layers = siting_layers(mclp3)
    assert [g.layer_name.split(" (")[0] for g in layers] == ["Newly covered cells", "Service areas of proposed sites", "Proposed sites"]
    html = siting_map(mclp3, tmp_path / "sites.html").read_text(encoding="utf-8")
    assert "Proposed sites (3)" in html and f"Newly covered cells ({len(mclp3.newly_covered_cells)})" in html
    png = siting_figure(mclp3, tmp_path / "sites.png", dpi=60)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(Exception, match="png, .pdf or .svg"):
        siting_figure(mclp3, tmp_path / "sites.tif")


def test_relocating_a_facility_adds_one_site(city, clinic10):
    r = evaluate_standard(city, clinic10)
    busiest = city.facilities["id"].iloc[int(np.argmax(r.load))]
    res = site(city, "clinic-walk", "mclp", p=1, overrides=TEN_MIN, candidates=candidate_layer(city, 6, seed=7),
               options=PlannerChoices(relocate=[busiest]))
    s = res.summary()
    assert len(res.sites) == 2 and s["removed"] == [busiest]  # p + one per relocation
    ops = [(e.op, e.id) for e in res.edits]
    assert ops[0] == ("remove", busiest) and [o for o, _ in ops[1:]] == ["add", "add"]
    xy = res.sites[["x", "y"]].to_numpy()
    assert s["covered_after"] == pytest.approx(covered(with_points(city, xy, drop=[busiest]), clinic10), rel=1e-12)
    assert s["cells_disagreeing"] == 0
