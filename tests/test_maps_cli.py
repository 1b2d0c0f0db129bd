"""``lifecircle map`` and ``lifecircle export`` on the small test city."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from tests.test_maps_city import make_city

runner = CliRunner()


@pytest.fixture(autouse=True)
def tiny_city(monkeypatch):
    import layers.cities

    monkeypatch.setattr(layers.cities, "load_city", lambda name="demo", progress=None, cache=True: make_city())


def test_map_command_writes_html(tmp_path):
    out = tmp_path / "m.html"
    res = runner.invoke(app, ["map", "--out", str(out), "--lang", "zh", "-s", "clinic-walk", "--no-service-areas"])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    meta = json.loads(re.search(r'<script type="application/json" id="lc-map-meta">(.*?)</script>', html).group(1))
    assert meta["standards"] == ["clinic-walk"] and meta["lang"] == "zh" and meta["basemap"] == "none"


def test_export_command_writes_page_and_tables(tmp_path):
    out = tmp_path / "page.png"
    res = runner.invoke(app, ["export", "--out", str(out), "--dpi", "72", "--paper", "A3", "--orientation", "landscape"])
    assert res.exit_code == 0, res.output
    assert Image.open(out).size == (round(420 / 25.4 * 72), round(297 / 25.4 * 72))
    assert (tmp_path / "page-summary.csv").exists() and (tmp_path / "page-summary.xlsx").exists()


def test_cli_errors_are_one_line(tmp_path):
    res = runner.invoke(app, ["export", "--out", str(tmp_path / "p.png"), "--paper", "Letter"])
    assert res.exit_code == 2
    assert "paper='Letter' is not known" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["map", "--out", str(tmp_path / "m.html"), "--basemap", "google"])
    assert res.exit_code == 2 and "basemap='google'" in res.output
