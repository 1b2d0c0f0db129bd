"""A planner's city on real Shenzhen streets (../shared/data), from files in three coordinate systems.

Skipped when ``../shared`` is not beside the checkout (the data is not part of
the project). The roads are real OpenStreetMap data; population and
facilities are made up by ``bench/futian_inputs.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
OSM = ROOT.parent / "shared" / "data" / "shenzhen-futian-osm" / "shenzhen_futian_nanshan_drive_service.osm"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not OSM.exists(), reason="../shared/data (real Shenzhen roads) is not beside this checkout"),
    pytest.mark.filterwarnings("ignore::layers.errors.LayerWarning"),
]


def _inputs_module():
    spec = importlib.util.spec_from_file_location("futian_inputs", ROOT / "bench" / "futian_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def futian(tmp_path_factory):
    from api.cli import app

    root = tmp_path_factory.mktemp("futian")
    paths = _inputs_module().make_inputs(root / "inputs", OSM)
    folder = root / "cities" / "futian"
    res = CliRunner().invoke(app, ["city", "build", "--grid", str(paths["grid"]), "--facilities", str(paths["facilities"]),
                                   "--facilities-coords", "gcj02", "--osm", str(OSM), "--units", str(paths["units"]),
                                   "--name", "福田区", "--out", str(folder)])
    assert res.exit_code == 0, res.output
    return paths, folder, res.output


def test_roads_only_futian_is_in_82_pieces_and_says_so(futian):
    from layers.cities import load_city
    from scenarios.diagnostics import city_diagnostics

    _, folder, output = futian
    city = load_city(folder)
    assert city.attribution == "© OpenStreetMap contributors"
    d = city_diagnostics(city)
    assert d.n_pieces == 82  # as found independently when the issue was filed
    assert "82 (" in output
    # stranded residents: on pieces without a health facility, counted from the cells themselves
    from geo.diagnostics import piece_of

    cell_piece = piece_of(city.network, city.snapped_cells)
    fac = city.facilities
    health = fac["kind"].isin(["health_centre", "health_station"]).to_numpy()
    pieces = set(piece_of(city.network, city.snapped_facilities)[health].tolist())
    stranded = (cell_piece >= 0) & ~np.isin(cell_piece, list(pieces))
    from scenarios.diagnostics import detour_report
    from scenarios.evaluate import evaluate
    from scenarios.standards import resolve_standards

    report = detour_report(evaluate(city, resolve_standards(["clinic-walk"])))
    row = report.summary.set_index("standard").loc["clinic-walk"]
    assert row["population_on_pieces_without"] == pytest.approx(city.cells["population"].to_numpy()[stranded].sum())
    assert row["population_on_pieces_without"] > 0


def test_gcj02_facilities_land_on_their_wgs84_places(futian):
    """The GCJ-02 export, declared, lands within centimetres of where the generator put the sites."""
    import pandas as pd

    from geo.chinacoords import gcj02_to_wgs84, wgs84_to_gcj02
    from layers.cities import load_city

    paths, folder, _ = futian
    city = load_city(folder)
    raw = pd.read_csv(paths["facilities"])
    lon, lat = gcj02_to_wgs84(raw["lng"].to_numpy(), raw["lat"].to_numpy())
    back_lon, back_lat = wgs84_to_gcj02(lon, lat)
    assert np.abs(back_lon - raw["lng"]).max() < 1e-7 and np.abs(back_lat - raw["lat"]).max() < 1e-7
    got = city.facilities.to_crs(4326)
    assert np.abs(got.geometry.x.to_numpy() - lon).max() < 1e-9
    assert np.abs(got.geometry.y.to_numpy() - lat).max() < 1e-9


def test_elderly_circle_on_real_streets_equals_networkx(futian):
    """The elderly standard on a real street pattern: every cell's walk equals networkx's Dijkstra.

    Helsinki (the built-in real city) has no elderly-care facility, so its elderly check is skipped
    there; here the streets are real and the 18 elderly-care sites are placed by the input generator.
    """
    import networkx as nx

    from geo.paths import nearest_source
    from layers.cities import load_city
    from scenarios.evaluate import evaluate
    from scenarios.standards import catalogue
    from tests.test_paths import _split_graph

    _, folder, _ = futian
    city = load_city(folder)
    std = catalogue()["elderly-circle"]
    pos = city.facilities_of(std.kinds)
    assert pos.size == 18
    sources = city.snapped_facilities.take(pos)
    ours = nearest_source(city.network, sources, city.snapped_cells)
    g = _split_graph(city.network, {"s": sources, "t": city.snapped_cells})
    ref = nx.multi_source_dijkstra_path_length(g, {("s", int(i)) for i in np.flatnonzero(sources.ok)})
    expected = np.array([ref.get(("t", j), np.inf) for j in range(len(city.snapped_cells))])
    np.testing.assert_array_equal(np.isfinite(ours.dist), np.isfinite(expected))
    fin = np.isfinite(expected)
    np.testing.assert_allclose(ours.dist[fin], expected[fin], rtol=0, atol=1e-3)
    # the standard: covered when the walk takes at most 10 minutes at the elderly pace
    r = evaluate(city, [std]).results["elderly-circle"]
    limit = std.threshold_min * 60.0 * std.speed_mps
    np.testing.assert_array_equal(r.covered, expected <= limit)
    assert 0 < r.covered.sum() < len(r.covered)
