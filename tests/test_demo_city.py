"""The generated demo city: determinism, size, gated compounds, barriers, gaps, scaling, cache."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from geo.paths import nearest_source
from geo.snap import snap
from layers.cache import cache_key, cache_path, cached_city
from layers.cities import CITIES, UnknownCityError, load_city
from layers.cities.demo import DEMO_PARAMS, build_demo
from layers.cities.generator import (
    EDGE_CLASSES,
    GENERATED_ATTRIBUTION,
    GeneratorError,
    generate_city,
    generate_city_of_size,
)
from layers.cities.generator.layout import RAIL_BED_HALF_M
from layers.kinds import KINDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def demo():
    return build_demo()


def _cls(city, name):
    return city.meta["edge_class"] == EDGE_CLASSES.index(name)


def _feature(city, kind):
    f = city.meta["features"]
    return f.geometry[f["feature"] == kind].to_numpy()


def _pieces(city, mask):
    """Number of connected groups formed by the edges in ``mask``."""
    net = city.network.subset_edges(mask)
    used = np.unique(np.concatenate([net.u, net.v]))
    labels = net.components[used]
    return np.unique(labels).size


# ----------------------------------------------------------------- identity
def test_two_builds_are_identical(demo):
    again = build_demo()
    a, b = demo.network, again.network
    for f in ("x", "y", "u", "v", "length"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert demo.cells.drop(columns="geometry").equals(again.cells.drop(columns="geometry"))
    assert demo.facilities.drop(columns="geometry").equals(again.facilities.drop(columns="geometry"))
    assert np.array_equal(shapely.to_wkb(demo.facilities.geometry.values), shapely.to_wkb(again.facilities.geometry.values))


def test_other_seed_gives_another_city():
    other = generate_city(**{**DEMO_PARAMS, "seed": 1})
    assert other.network.n_nodes != build_demo().network.n_nodes or not np.array_equal(
        other.network.x, build_demo().network.x
    )


def test_labelled_as_generated_and_placed_at_sea(demo):
    assert demo.generated is True
    assert demo.attribution == GENERATED_ATTRIBUTION == "Generated district: not a real place (lifecircle demo)"
    assert demo.crs.to_epsg() == 32650
    c = demo.boundary.centroid
    lon, lat = Transformer.from_crs(demo.crs, 4326, always_xy=True).transform(c.x, c.y)
    assert lon == pytest.approx(116.5, abs=0.01) and lat == pytest.approx(19.0, abs=0.01)
    assert demo.facilities["name"].str.startswith("Demo ").all()


# ------------------------------------------------------------ size, people
def test_extent_and_population(demo):
    minx, miny, maxx, maxy = demo.boundary.bounds
    assert (maxx - minx, maxy - miny) == (6000, 5000)
    nb = demo.network.bounds()
    assert nb[0] >= minx - 1e-6 and nb[2] <= maxx + 1e-6 and nb[1] >= miny - 1e-6 and nb[3] <= maxy + 1e-6
    assert 250_000 <= demo.cells["population"].sum() <= 400_000


def test_cells_are_100m_squares_on_populated_land(demo):
    cells = demo.cells
    assert np.allclose(shapely.area(cells.geometry.values), 10_000.0)
    assert cells["cell_id"].is_unique and list(cells.index) == list(range(len(cells)))
    assert (cells["population"] > 0).all() and (cells["elderly"] <= cells["population"]).all()
    cx, cy = demo.cell_xy
    pts = shapely.points(cx, cy)
    for kind in ("river", "park"):
        assert not shapely.intersects(pts[:, None], _feature(demo, kind)[None, :]).any(), kind
    rail = shapely.buffer(_feature(demo, "railway"), RAIL_BED_HALF_M)
    assert not shapely.intersects(pts[:, None], rail[None, :]).any()


def test_block_density_and_elderly_share_vary(demo):
    blocks = demo.meta["blocks"]
    cx, cy = demo.cell_xy
    tree = shapely.STRtree(blocks.geometry.values)
    cell_i, block_i = tree.query(shapely.points(cx, cy), predicate="intersects")
    cell_i, first = np.unique(cell_i, return_index=True)
    block_i = block_i[first]
    pop = np.bincount(block_i, weights=demo.cells["population"].to_numpy()[cell_i], minlength=len(blocks))
    eld = np.bincount(block_i, weights=demo.cells["elderly"].to_numpy()[cell_i], minlength=len(blocks))
    lived = pop > 0
    density = pop[lived] / (shapely.area(blocks.geometry.values[lived]) / 1e6)
    assert density.min() >= 5_000 and density.max() <= 40_000
    assert density.max() / density.min() > 3
    share = eld[lived] / pop[lived]
    assert share.min() >= 0.07 and share.max() <= 0.36
    assert (share >= 0.25).sum() >= 3 and (share <= 0.15).sum() >= 3  # old and new neighbourhoods


def test_units_nest_and_cover_the_cells(demo):
    sd, cm = demo.units["subdistrict"], demo.units["community"]
    assert 4 <= len(sd) <= 6 and 30 <= len(cm) <= 60
    for u in (sd, cm):
        assert {"unit_id", "name", "geometry"} <= set(u.columns) and u["unit_id"].is_unique
    # Units tile the district without overlap.
    assert shapely.union_all(sd.geometry.values).area == pytest.approx(demo.boundary.area, rel=1e-9)
    assert cm.geometry.area.sum() == pytest.approx(demo.boundary.area, rel=1e-9)
    cx, cy = demo.cell_xy
    pts = shapely.points(cx, cy)
    cm_geom = dict(zip(cm["unit_id"], cm.geometry.values))
    sd_geom = dict(zip(sd["unit_id"], sd.geometry.values))
    assert shapely.covers(np.array([cm_geom[c] for c in demo.cells["community"]]), pts).all()
    assert shapely.covers(np.array([sd_geom[s] for s in demo.cells["subdistrict"]]), pts).all()


def test_arterials_every_500_to_800_m(demo):
    area = shapely.area(demo.meta["blocks"].geometry.values)
    assert np.sqrt(area).min() > 450 and np.sqrt(area).max() < 850
    assert np.unique(np.round(area)).size == area.size  # jittered, not a regular grid


# --------------------------------------------------------------- facilities
def test_every_kind_with_realistic_capacity(demo):
    f = demo.facilities
    counts = f["kind"].value_counts()
    assert set(counts.index) == set(KINDS)
    assert 4 <= counts["service_centre"] <= 6 and 30 <= counts["service_station"] <= 50
    assert 3 <= counts["health_centre"] <= 5 and 10 <= counts["health_station"] <= 20
    assert 15 <= counts["elderly_care"] <= 30
    assert f["id"].is_unique and f["name"].is_unique and list(f.index) == list(range(len(f)))
    beds = f["kind"].isin(["elderly_care", "health_centre"])
    assert (f.loc[beds, "beds"] >= 10).all() and f.loc[~beds, "beds"].isna().all()
    health = f["kind"].str.startswith("health")
    assert (f.loc[health, "doctors"] >= 2).all() and f.loc[~health, "doctors"].isna().all()
    assert (f["floor_area_m2"] > 100).all()
    assert demo.snapped_facilities.ok.all()


def test_designed_gaps_are_real(demo):
    gaps = {g["sort"]: g for g in demo.meta["designed_gaps"]}
    f = demo.facilities
    fx, fy = demo.facility_xy
    cx, cy = demo.cell_xy
    # No clinic near the clinic gap, and people there walk over 1 km to one.
    g = gaps["clinic_gap"]
    health = f["kind"].str.startswith("health").to_numpy()
    assert np.hypot(fx[health] - g["x"], fy[health] - g["y"]).min() > g["radius_m"]
    inside = np.flatnonzero(np.hypot(cx - g["x"], cy - g["y"]) < 300)
    assert inside.size > 0
    src = demo.snapped_facilities.take(np.flatnonzero(health))
    near = nearest_source(demo.network, src, demo.snapped_cells.take(inside))
    assert near.dist.min() > 1000
    # An old neighbourhood with no elderly care near.
    g = gaps["elderly_care_gap"]
    care = (f["kind"] == "elderly_care").to_numpy()
    assert np.hypot(fx[care] - g["x"], fy[care] - g["y"]).min() > g["radius_m"]
    there = np.hypot(cx - g["x"], cy - g["y"]) < 300
    assert (demo.cells["elderly"][there] / demo.cells["population"][there]).mean() > 0.2
    # A subdistrict without its service centre.
    assert gaps["missing_service_centre"]["subdistrict"] in set(demo.units["subdistrict"]["unit_id"])
    # A station whose 500 m circle reaches across the river, far from bridges.
    g = gaps["station_across_river"]
    station = np.flatnonzero((f["kind"] == "service_station").to_numpy() & (fx == g["x"]) & (fy == g["y"]))
    assert station.size == 1
    river = _feature(demo, "river")[0]
    sx, sy = fx[station[0]], fy[station[0]]
    assert river.distance(shapely.Point(sx, sy)) < 300
    bridges = shapely.union_all(demo.network.edge_lines[_cls(demo, "bridge")])
    assert bridges.distance(shapely.Point(sx, sy)) > 500  # no bridge inside its circle
    circle = shapely.Point(sx, sy).buffer(500)
    side = np.sign(cy - np.interp(cx, *_centre_line(river)))
    own = np.sign(sy - np.interp(sx, *_centre_line(river)))
    across = np.flatnonzero(shapely.contains_xy(circle, cx, cy) & (side != own))
    assert across.size > 0
    near = nearest_source(demo.network, demo.snapped_facilities.take(station), demo.snapped_cells.take(across))
    assert near.dist.min() > 1000


def _centre_line(river):
    """The river's y at each x (midway between its banks), for side-of-river tests."""
    xy = shapely.get_coordinates(river.exterior)
    half = (len(xy) - 1) // 2
    top, bottom = xy[:half], xy[half : 2 * half][::-1]
    return top[:, 0], 0.5 * (top[:, 1] + bottom[:, 1])


# ---------------------------------------------------------------- network
def test_network_is_one_piece_with_true_geometry(demo):
    net = demo.network
    assert net.n_components == 1
    assert net.geometry is not None and net.crs == demo.crs
    np.testing.assert_allclose(shapely.length(net.geometry), net.length, rtol=1e-12)
    start = shapely.get_coordinates(shapely.get_point(net.geometry, 0))
    np.testing.assert_allclose(start, np.column_stack([net.x[net.u], net.y[net.v * 0 + net.u]]))
    assert demo.meta["edge_class"].size == net.n_edges
    assert {EDGE_CLASSES[c] for c in np.unique(demo.meta["edge_class"])} == set(EDGE_CLASSES)


def test_river_crossed_only_on_two_to_four_bridges(demo):
    (river,) = _feature(demo, "river")
    hit = shapely.intersects(demo.network.edge_lines, river)
    assert hit.any()
    assert np.array_equal(hit, _cls(demo, "bridge"))
    assert 2 <= _pieces(demo, hit) <= 4


def test_railway_crossed_only_at_two_or_three_crossings(demo):
    (rail,) = _feature(demo, "railway")
    hit = shapely.intersects(demo.network.edge_lines, rail.buffer(RAIL_BED_HALF_M, cap_style="flat"))
    assert np.array_equal(hit, _cls(demo, "rail_crossing"))
    assert 2 <= _pieces(demo, hit) <= 3


def test_parks_have_footpaths(demo):
    parks = _feature(demo, "park")
    assert parks.size >= 1
    paths = demo.network.edge_lines[_cls(demo, "park_path")]
    assert shapely.within(paths[:, None], parks[None, :]).any(axis=1).sum() >= 8 * parks.size


# ------------------------------------------------------------------ gates
def test_compounds_connect_to_streets_only_through_their_gates(demo):
    net, comp = demo.network, demo.meta["node_compound"]
    cu, cv = comp[net.u], comp[net.v]
    gate = _cls(demo, "gate")
    crossing = cu != cv
    assert np.array_equal(crossing, gate)  # every interior/exterior link is a gate ...
    assert ((cu[gate] == -1) ^ (cv[gate] == -1)).all()  # ... from one compound to the street
    inner = np.where(cu[gate] >= 0, cu[gate], cv[gate])
    per = np.bincount(inner)
    per = per[per > 0]
    assert per.min() >= 1 and per.max() <= 3 and len(per) >= 50
    # Geometry agrees: only gate edges cross a fence line.
    fences = shapely.boundary(_feature(demo, "compound"))
    _, touching = shapely.STRtree(net.edge_lines).query(fences, predicate="intersects")
    assert np.array_equal(np.unique(touching), np.flatnonzero(gate))
    # Without the gates, compound interiors are cut off from the streets.
    cut = net.subset_edges(~gate)
    outside = cut.components[np.flatnonzero(comp == -1)[0]]
    assert not np.isin(cut.components[comp >= 0], [outside]).any()


def test_walk_out_of_a_compound_is_longer_than_the_crow_flies(demo):
    net, comp = demo.network, demo.meta["node_compound"]
    fences = _feature(demo, "compound")
    cx, cy = demo.cell_xy
    pts = shapely.points(cx, cy)
    cell_i, fence_i = shapely.STRtree(fences).query(pts, predicate="within")
    sc = demo.snapped_cells.take(cell_i)
    interior = comp[net.u[sc.edge]] >= 0
    cell_i, fence_i, sc = cell_i[interior], fence_i[interior], sc.take(np.flatnonzero(interior))
    assert cell_i.size > 100
    # Target: the point on the nearest street just outside the cell's fence.
    street = np.flatnonzero(_cls(demo, "arterial") | _cls(demo, "local_street"))
    streets = net.subset_edges(np.isin(np.arange(net.n_edges), street))
    tgt = snap(streets, cx[cell_i], cy[cell_i], max_dist=400)
    ok = tgt.ok
    crow = np.hypot(tgt.x[ok] - cx[cell_i][ok], tgt.y[ok] - cy[cell_i][ok])
    target = snap(net, tgt.x[ok], tgt.y[ok], max_dist=1.0)
    walk = np.array([
        nearest_source(net, sc.take(np.array([k])), target.take(np.array([m]))).dist[0]
        for m, k in enumerate(np.flatnonzero(ok)[:200])
    ])  # fmt: skip
    crow = crow[: walk.size]
    assert (walk >= crow - 1e-6).all()
    assert (walk > crow + 100).mean() > 0.3  # the fence forces a detour to a gate for many homes


# ------------------------------------------------------------------ scale
def test_city_of_a_given_size_is_close():
    city = generate_city_of_size(n_nodes=20_000, n_cells=12_000, n_facilities=100, seed=3)
    assert city.network.n_nodes == pytest.approx(20_000, rel=0.15)
    assert len(city.cells) == pytest.approx(12_000, rel=0.15)
    assert len(city.facilities) == pytest.approx(100, rel=0.1)
    assert set(city.facilities["kind"]) == set(KINDS)
    assert city.network.n_components == 1 and city.generated


def test_bad_parameters_name_the_field():
    with pytest.raises(GeneratorError, match="width_m"):
        generate_city(width_m=-5)
    with pytest.raises(GeneratorError, match="target_population"):
        generate_city(target_population=float("nan"))


def test_progress_is_reported():
    seen = []
    generate_city(width_m=2000, height_m=2000, progress=lambda s, f: seen.append((s, f)))
    fr = [f for _, f in seen]
    assert fr == sorted(fr) and fr[-1] == 1.0 and all(0 <= f <= 1 for f in fr)


# ------------------------------------------------------------ cache, registry
def test_unknown_city_lists_valid_names():
    with pytest.raises(UnknownCityError, match="demo") as err:
        load_city("atlantis")
    assert "helsinki" in str(err.value) and "atlantis" in str(err.value)


def test_second_load_comes_from_cache(tmp_path, monkeypatch, demo):
    monkeypatch.setenv("LIFECIRCLE_CACHE", str(tmp_path))
    calls = []
    import layers.cities.demo as demo_mod

    monkeypatch.setattr(demo_mod, "build_demo", lambda progress=None: calls.append(1) or demo)
    first = load_city("demo")
    second = load_city("demo")
    assert calls == [1]
    assert first is demo and second is not demo
    np.testing.assert_array_equal(second.network.u, demo.network.u)
    assert second.cells.equals(demo.cells) and second.attribution == demo.attribution
    assert second.network.n_components == 1
    assert not list(tmp_path.glob("*.tmp"))
    load_city("demo", cache=False)
    assert calls == [1, 1]


def test_cache_key_changes_with_inputs():
    e = CITIES["demo"]
    k = cache_key(e.name, e.version, e.params, e.sources)
    assert k == cache_key(e.name, e.version, dict(e.params), e.sources)
    assert k != cache_key(e.name, e.version, {**e.params, "seed": 2}, e.sources)
    assert k != cache_key(e.name, e.version + "x", e.params, e.sources)


def test_corrupt_cache_file_is_rebuilt(tmp_path, monkeypatch, demo):
    monkeypatch.setenv("LIFECIRCLE_CACHE", str(tmp_path))
    path = cache_path("demo", "k" * 64)
    path.write_bytes(b"not a pickle")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        city = cached_city("demo", "k" * 64, lambda: demo)
    assert city is demo and any("unreadable city cache" in str(x.message) for x in w)
    assert isinstance(pickle.loads(path.read_bytes()), type(demo))
