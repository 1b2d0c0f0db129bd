"""Service areas from reached street pieces: by hand, and against nearest_source.

Hand network (see conftest): A(0,0) -300- B(300,0) -300- D(600,0) =0= E(600,0)
-300- F(900,0); B-C 400 and A-C 500 to C(300,400); a second, bent B-D edge (4)
of 500 m through (450,200); a separate piece G-H.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.network import WalkNetwork
from geo.paths import nearest_source
from geo.service_area_geometry import reached_segments, service_areas
from geo.snap import Snapped, snap

from .conftest import random_network


def _one(net, x, y) -> Snapped:
    return snap(net, [x], [y])


def _pieces(r) -> list[tuple[int, float, float]]:
    return [(int(e), round(float(s), 4), round(float(t), 4)) for e, s, t in zip(r.edge, r.start, r.end)]


def test_reached_by_hand_300(hand_network):
    # S1 (100,-30): on A-B 100 m from A, access 30; A = 130, B = 230, C = 630,
    # D = E = 530. Budget 300:
    #   A-B (own edge): 300 - 30 = 270 each way from x=100 covers all 300 m
    #   B-C: 300 - 230 = 70 from B     A-C: 300 - 130 = 170 from A
    #   B-D straight: 70 from B        B-D bent: 70 from B
    # total 300 + 70 + 170 + 70 + 70 = 680
    r = reached_segments(hand_network, _one(hand_network, 100, -30), 300.0)
    assert _pieces(r) == [(0, 0, 300), (1, 0, 70), (2, 0, 170), (3, 0, 70), (4, 0, 70)]
    assert r.length_m.sum() == pytest.approx(680.0)
    # the pieces are cut out of the drawn edges: A-C runs along (0.6, 0.8)
    expected = [
        [(0, 0), (300, 0)],
        [(300, 0), (300, 70)],
        [(0, 0), (102, 136)],
        [(300, 0), (370, 0)],
        [(300, 0), (342, 56)],
    ]
    for got, want in zip(r.geometry, expected):
        np.testing.assert_allclose(shapely.get_coordinates(got), want, atol=1e-9)


def test_reached_by_hand_600_both_sides(hand_network):
    # Budget 600 from S1:
    #   B-C: 370 from B (C at 630 is out)       A-C: 470 from A
    #   B-D straight: 370 from B >= 300: whole edge
    #   B-D bent: 370 from B and 600 - 530 = 70 from D; 370 + 70 < 500, so
    #   two pieces [0, 370] and [430, 500]; the middle 60 m is not reached
    #   D-E: zero length, no piece      E-F: 600 - 530 = 70 from E
    # total 300 + 370 + 470 + 300 + 440 + 70 = 1950
    r = reached_segments(hand_network, _one(hand_network, 100, -30), 600.0)
    assert _pieces(r) == [(0, 0, 300), (1, 0, 370), (2, 0, 470), (3, 0, 300), (4, 0, 370), (4, 430, 500), (6, 0, 70)]
    assert r.length_m.sum() == pytest.approx(1950.0, abs=1e-5)
    # the bent edge's first piece turns the bend: 250 m to (450,200), then 120 m on
    np.testing.assert_allclose(shapely.get_coordinates(r.geometry[4]), [(300, 0), (450, 200), (522, 104)], atol=1e-9)
    np.testing.assert_allclose(shapely.get_coordinates(r.geometry[5]), [(558, 56), (600, 0)], atol=1e-9)


def test_own_edge_only_partly_reached(hand_network):
    # source 50 m above the bend: on edge 4 at 250 m, access 50. Budget 200:
    # 150 m each way along its edge, [100, 400]; B and D (300 away) not reached.
    r = reached_segments(hand_network, _one(hand_network, 450, 250), 200.0)
    assert _pieces(r) == [(4, 100, 400)]
    np.testing.assert_allclose(shapely.get_coordinates(r.geometry[0]), [(360, 80), (450, 200), (540, 80)], atol=1e-9)


def test_own_edge_piece_joins_far_end(hand_network):
    # source (306,8) on edge 4, 10 m from B, no access; budget 380.
    # Along its own edge: [0, 10 + 380] = [0, 390]. D is nearer through
    # B-D straight (10 + 300 = 310), so from D: 380 - 310 = 70, [430, 500].
    # Elsewhere: A-B whole (B at 10, 370 >= 300), B-C 370, A-C 380 - 310 = 70,
    # B-D straight whole, E-F 70. Total 300 + 370 + 70 + 300 + 460 + 70 = 1570.
    r = reached_segments(hand_network, _one(hand_network, 306, 8), 380.0)
    assert _pieces(r) == [(0, 0, 300), (1, 0, 370), (2, 0, 70), (3, 0, 300), (4, 0, 390), (4, 430, 500), (6, 0, 70)]
    assert r.length_m.sum() == pytest.approx(1570.0, abs=1e-5)


def test_nothing_reached(hand_network):
    # budget 40 < access 50; and an unsnapped source
    src = snap(hand_network, [450.0, 100.0], [250.0, 1000.0])
    assert len(reached_segments(hand_network, src, 40.0)) == 0
    areas = service_areas(hand_network, src, 40.0)
    assert areas.shape == (2,) and all(a.is_empty for a in areas)


def test_service_area_is_the_buffered_streets(hand_network):
    src = snap(hand_network, [100.0, 450.0, 100.0], [-30.0, 250.0, 1000.0])
    areas = service_areas(hand_network, src, [300.0, 600.0], buffer_m=25.0, quad_segs=8)
    assert areas.shape == (3, 2)
    # the same streets as in test_reached_by_hand_300, buffered independently
    lines = shapely.multilinestrings(
        [
            shapely.LineString(c)
            for c in [[(0, 0), (300, 0)], [(300, 0), (300, 70)], [(0, 0), (102, 136)], [(300, 0), (370, 0)], [(300, 0), (342, 56)]]
        ]
    )
    expected = shapely.buffer(lines, 25.0, quad_segs=8)
    # (arc approximations of round joins and caps differ by a few m²)
    assert shapely.symmetric_difference(areas[0, 0], expected).area < 1e-4 * expected.area
    # far smaller than a hull of the reached streets: nothing between the arms
    assert areas[0, 0].area < 0.7 * shapely.convex_hull(expected).area
    # a larger budget's area contains the smaller one's
    for i in range(2):
        assert shapely.difference(areas[i, 0], areas[i, 1]).area < 1e-6 * areas[i, 0].area
    assert areas[2, 0].is_empty and areas[2, 1].is_empty


def test_bad_budget(hand_network):
    src = _one(hand_network, 100, -30)
    with pytest.raises(ValueError, match="budgets_m"):
        service_areas(hand_network, src, [300.0, -1.0])
    with pytest.raises(ValueError, match="budgets_m"):
        reached_segments(hand_network, src, np.inf)
    with pytest.raises(ValueError, match="buffer_m"):
        service_areas(hand_network, src, 300.0, buffer_m=0)


def _street_samples(net, step: float = 7.0) -> Snapped:
    """Points every ``step`` metres along every edge, as exact on-edge positions."""
    edge, pos = [], []
    for e, length in enumerate(net.length):
        p = np.arange(0.0, length, step) + 0.37  # off the round numbers
        p = p[p < length]
        edge.append(np.full(p.size, e))
        pos.append(p)
    edge, pos = np.concatenate(edge), np.concatenate(pos)
    pts = shapely.line_interpolate_point(net.edge_lines[edge], pos / net.length[edge], normalized=True)
    return Snapped(edge, pos, net.length[edge] - pos, np.zeros(edge.size), shapely.get_x(pts), shapely.get_y(pts))


@pytest.mark.parametrize("seed", range(3))
def test_reached_pieces_agree_with_network_distances(seed):
    """A street point lies on a reached piece exactly when it is within budget."""
    net = random_network(seed)
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = net.bounds()
    src = snap(net, *rng.uniform([minx, miny], [maxx - 300, maxy], (4, 2)).T, max_dist=80.0)
    budgets = [150.0, 420.0]
    reached = reached_segments(net, src, budgets)
    samples = _street_samples(net)
    for i in range(len(src)):
        dist = nearest_source(net, src.take(np.array([i])), samples).dist
        for j, b in enumerate(budgets):
            sel = (reached.source == i) & (reached.budget == j)
            e, s, t = reached.edge[sel], reached.start[sel], reached.end[sel]
            on = np.zeros(len(samples), dtype=bool)
            for k in range(e.size):
                on |= (samples.edge == e[k]) & (samples.to_u >= s[k] - 1e-9) & (samples.to_u <= t[k] + 1e-9)
            clear = np.abs(dist - b) > 1e-6  # rounding may decide points right at the budget
            assert on.any() or not src.ok[i]
            np.testing.assert_array_equal(on[clear], dist[clear] <= b)
            # pieces on one edge never overlap, and their drawn length is their walked length
            order = np.lexsort((s, e))
            same = e[order][1:] == e[order][:-1]
            assert np.all(s[order][1:][same] > t[order][:-1][same])
            np.testing.assert_allclose(shapely.length(reached.geometry[sel]), t - s, atol=1e-6)


def test_polygon_covers_reached_and_excludes_far_streets():
    net = random_network(5)
    src = snap(net, [400.0], [500.0])
    b, buf = 350.0, 20.0
    area = service_areas(net, src, b, buffer_m=buf)[0]
    reached = reached_segments(net, src, b)
    assert shapely.covers(shapely.buffer(area, 1e-6), reached.geometry).all()
    samples = _street_samples(net, step=11.0)
    dist = nearest_source(net, src, samples).dist
    pts = shapely.points(samples.x, samples.y)
    within = dist <= b - 1e-6
    assert shapely.covers(shapely.buffer(area, 1e-6), pts[within]).all()
    # street points beyond the budget and clear of every reached piece by more
    # than the buffer are outside the area
    far = (dist > b) & (shapely.distance(pts, shapely.multilinestrings(reached.geometry)) > buf + 1.0)
    assert far.sum() > 50
    assert not shapely.intersects(area, pts[far]).any()


@pytest.mark.parametrize("seed", [2, 3])
def test_local_pieces_equal_whole_network_pieces(monkeypatch, seed):
    # the sub-network Dijkstra used on big networks must give the same pieces, bit for bit
    import geo.local_paths as local_paths

    net = random_network(seed, side=14)
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = net.bounds()
    src = snap(net, rng.uniform(minx, maxx, 30), rng.uniform(miny, maxy, 30))
    whole = reached_segments(net, src, [200.0, 650.0])
    monkeypatch.setattr(local_paths, "_SMALL_NETWORK", 0)
    local = reached_segments(net, src, [200.0, 650.0])
    for f in ("source", "budget", "edge", "start", "end"):
        np.testing.assert_array_equal(getattr(local, f), getattr(whole, f), err_msg=f)
    assert shapely.equals_exact(local.geometry, whole.geometry, 0).all()


def _fine_bands(net, src, budget, buffer_m):
    """Reference outlines: union of finely drawn buffers of the reached pieces."""
    r = reached_segments(net, src, budget)
    return np.array(
        [shapely.union_all(shapely.buffer(r.geometry[r.source == i], buffer_m, quad_segs=16)) for i in range(len(src))]
    )


@pytest.mark.parametrize("pixel_m, tolerance", [(None, 0.05), (2.5, 0.03)])
def test_raster_outline_is_within_a_pixel_of_the_exact_band(pixel_m, tolerance):
    net = random_network(7, side=14)
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = net.bounds()
    src = snap(net, rng.uniform(minx, maxx, 8), rng.uniform(miny, maxy, 8))
    src = src.take(np.flatnonzero(src.ok))
    fast = service_areas(net, src, 600.0, method="raster", pixel_m=pixel_m)
    ref = _fine_bands(net, src, 600.0, 25.0)
    px = 5.0 if pixel_m is None else pixel_m
    assert shapely.is_valid(fast).all()
    # each outline lies inside the other grown by one pixel
    area = shapely.area(ref)
    assert (shapely.area(shapely.difference(fast, shapely.buffer(ref, px))) / area).max() < 1e-6
    assert (shapely.area(shapely.difference(ref, shapely.buffer(fast, px))) / area).max() < 1e-6
    off = shapely.area(shapely.symmetric_difference(fast, ref)) / area
    assert off.max() < tolerance
    # the vector method is close to the same reference too (its round caps are coarse)
    exact = service_areas(net, src, 600.0)
    assert (shapely.area(shapely.symmetric_difference(exact, ref)) / area).max() < 0.05


@pytest.mark.parametrize("end", [(1000.0, 0.0), (600.0, 800.0), (707.1, 707.1)])
def test_raster_band_of_one_street_by_hand(end):
    # a 1 km straight street walked end to end: band area 2 * 25 * 1000 + pi * 25^2;
    # the outline is within a pixel, so the area within perimeter * pixel * 0.3
    net = WalkNetwork.from_edges([0.0, end[0]], [0.0, end[1]], [0], [1])
    src = snap(net, [0.0], [0.0])
    area = shapely.area(service_areas(net, src, 2000.0, method="raster", pixel_m=1.0)[0])
    exact = 2 * 25 * 1000 + np.pi * 25**2
    perimeter = 2 * 1000 + 2 * np.pi * 25
    assert abs(area - exact) < perimeter * 1.0 * 0.3


def test_raster_refuses_bad_settings(hand_network):
    src = snap(hand_network, [100.0], [-30.0])
    with pytest.raises(ValueError, match="method"):
        service_areas(hand_network, src, 300.0, method="hex")
    with pytest.raises(ValueError, match="pixel_m"):
        service_areas(hand_network, src, 300.0, method="raster", pixel_m=0.0)
    far = snap(hand_network, [100.0], [1000.0])  # not snapped: empty either way
    assert service_areas(hand_network, far, 300.0, method="raster")[0].is_empty
