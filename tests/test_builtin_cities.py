"""Both built-in cities, checked against independent computations.

For every cell: our walking distance to the nearest facility equals networkx's
Dijkstra on the same streets (with every snapped point inserted into its
edge) within 1 mm, and straight-line coverage equals a brute-force check over
all facility-cell pairs.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from geo.paths import nearest_source
from layers.cities import load_city
from scenarios.evaluate import evaluate
from scenarios.standards import catalogue
from tests.test_paths import _split_graph

pytestmark = pytest.mark.slow

CITIES = ["demo", "helsinki"]


@pytest.fixture(scope="module", params=CITIES)
def city(request):
    return load_city(request.param)


def _kinds_present(city, kinds):
    return len(city.facilities_of(kinds)) > 0


@pytest.mark.parametrize("standard_id", ["clinic-walk", "elderly-circle"])
def test_network_distance_every_cell_equals_networkx(city, standard_id):
    std = catalogue()[standard_id]
    pos = city.facilities_of(std.kinds)
    if pos.size == 0:
        pytest.skip(f"{city.name} has no {std.kinds} facilities (reported in city.meta)")
    sources = city.snapped_facilities.take(pos)
    cells = city.snapped_cells
    ours = nearest_source(city.network, sources, cells)  # unbounded: every reachable cell

    g = _split_graph(city.network, {"s": sources, "t": cells})
    ref = nx.multi_source_dijkstra_path_length(g, {("s", int(i)) for i in np.flatnonzero(sources.ok)})
    expected = np.array([ref.get(("t", j), np.inf) for j in range(len(cells))])

    assert np.isfinite(expected).sum() > 0.9 * len(cells)
    np.testing.assert_array_equal(np.isfinite(ours.dist), np.isfinite(expected))
    fin = np.isfinite(expected)
    np.testing.assert_allclose(ours.dist[fin], expected[fin], rtol=0, atol=1e-3)


def test_network_standards_agree_with_bounded_run(city):
    """evaluate()'s bounded search gives the same distances as the unbounded run, up to its limit."""
    result = evaluate(city, [catalogue()["clinic-walk"]])
    r = result.results["clinic-walk"]
    pos = city.facilities_of(r.standard.kinds)
    full = nearest_source(city.network, city.snapped_facilities.take(pos), city.snapped_cells)
    within = full.dist <= 2 * r.standard.threshold_m
    np.testing.assert_allclose(r.dist_m[within], full.dist[within], rtol=0, atol=1e-9)
    assert np.isinf(r.dist_m[~within]).all()


@pytest.mark.parametrize("standard_id", ["centre-radius", "station-radius"])
def test_euclidean_coverage_equals_brute_force(city, standard_id):
    std = catalogue()[standard_id]
    r = evaluate(city, [std]).results[standard_id]
    pos = city.facilities_of(std.kinds)
    cx, cy = city.cell_xy
    fx, fy = (a[pos] for a in city.facility_xy)
    if pos.size == 0:
        assert not r.covered.any()
        return
    # every facility-cell pair, no spatial index
    d = np.hypot(cx[:, None] - fx[None, :], cy[:, None] - fy[None, :])
    best = d.min(axis=1)
    np.testing.assert_array_equal(r.covered, best <= std.threshold_m)
    near = best <= 2 * std.threshold_m
    np.testing.assert_allclose(r.dist_m[near], best[near], rtol=0, atol=1e-9)
    weight = city.cells[std.weight].to_numpy()
    assert r.summary()["covered"] == pytest.approx(weight[best <= std.threshold_m].sum(), abs=0.1)
