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
