"""Catalogues as data: built-in entries cite their clauses, seeds reproduce today's standards, errors name entry and field."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from layers.kinds import KINDS, SEED_KINDS
from scenarios.catalogue import (
    BUILTIN,
    CatalogueError,
    builtin_catalogue,
    check_catalogue,
    load_catalogue,
    use_catalogue,
)
from scenarios.standards import catalogue, resolve_standards

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.mark.parametrize("name", list(BUILTIN))
def test_every_builtin_entry_carries_its_clause(name):
    cat = builtin_catalogue(name)
    entries = [*cat.kinds.values(), *cat.standards.values(), *cat.rules.values(), *cat.access.values(),
               *cat.circles.values(), *cat.catchments.values(), *cat.grid_rules.values()]
    assert entries
    for e in entries:
        assert e.source.strip(), (name, e.id)
        if name == "gb50180":  # a table, clause or appendix of the standard, and a plain word that it is unchecked
            assert "GB 50180-2018" in e.source and re.search(r"Table|clause|Appendix", e.source), e.id
            assert "not checked" in e.note, e.id
        else:
            assert re.search(r"seeds/00[0-4]|item \d+|Zhuhai|Nanjing|Guangzhou", e.source), (name, e.id)


def test_seeds_is_the_default_and_matches_the_historical_files():
    """Parsed independently from standards.toml, the default catalogue's standards are the same values."""
    data = tomllib.loads((ROOT / "scenarios" / "standards.toml").read_text(encoding="utf-8"))
    speeds = data["speeds"]
    assert list(catalogue()) == [e["id"] for e in data["standard"]] == ["centre-radius", "station-radius",
                                                                        "clinic-walk", "elderly-circle"]
    for e in data["standard"]:
        s = catalogue()[e["id"]]
        speed = speeds[f"{e.get('speed', 'residents')}_mps"]
        expected = e.get("threshold_m") or e["threshold_min"] * 60 * speed
        assert (s.threshold_m, s.speed_mps, s.kinds, s.mode, s.source) == (expected, speed, tuple(e["kinds"]),
                                                                           e["mode"], e["source"])
    rules = tomllib.loads((ROOT / "scenarios" / "ratio_rules.toml").read_text(encoding="utf-8"))["rule"]
    assert list(builtin_catalogue("seeds").rules) == [r["id"] for r in rules] and len(rules) == 7
    assert dict(KINDS) == SEED_KINDS


def test_gb50180_levels_and_ranges():
    cat = builtin_catalogue("gb50180")
    walk = {c.id: (c.walk_m, c.range_m, c.population) for c in cat.circles.values()}
    assert walk == {"15min": (800.0, (800.0, 1000.0), (50000.0, 100000.0)), "10min": (500.0, None, (15000.0, 25000.0)),
                    "5min": (300.0, None, (5000.0, 12000.0)), "block": (150.0, (150.0, 250.0), (1000.0, 3000.0))}
    # a range defaults to its stricter end and is stated
    assert cat.standards["gb15-health-centre"].threshold_m == 800.0
    assert cat.ranges["gb15-health-centre"] == (800.0, 1000.0)
    assert cat.standards["gb15-middle-school"].threshold_m == 1000.0  # Table C.0.1 radius
    assert cat.standards["gb10-primary-school"].threshold_m == 500.0
    assert cat.standards["gb5-kindergarten"].threshold_m == 300.0
    assert cat.kinds["park_15min"].geometry == "polygon"


def test_use_catalogue_switches_kinds_and_standards():
    with use_catalogue("gb50180"):
        assert "kindergarten" in KINDS and "gb5-kindergarten" in catalogue()
        assert len(resolve_standards()) == 26
    assert "kindergarten" not in KINDS and len(resolve_standards()) == 4


BAD = """
[catalogue]
id = "bad"
extends = "seeds"

[[kind]]
id = "park"
en = "Park"
zh = "公园"
colour = "green"
geometry = "area"
source = "made up"

[[standard]]
id = "park-walk"
title_en = "Park"
title_zh = "公园"
kinds = ["park", "pool"]
mode = "network"
threshold_min = -5
radius = 3
source = "made up"

[[circle]]
id = "mine"
title_en = "x"
title_zh = "x"
walk_m = 500
standards = ["clinic-walk"]
"""


def test_errors_name_entry_and_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD, encoding="utf-8")
    problems = check_catalogue(path)
    expected = [
        "kind 'park': field 'colour': must be a colour",
        "kind 'park': field 'geometry': must be 'point' or 'polygon', got 'area'",
        "standard 'park-walk': field 'radius': is not a field of this entry",
        "circle 'mine': field 'source': is missing",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)
    with pytest.raises(CatalogueError, match="kind 'park': field 'colour'"):
        load_catalogue(path)
    res = runner.invoke(app, ["catalogue", "check", str(path)])
    assert res.exit_code == 2 and "field 'geometry'" in res.output


def test_standard_field_problems(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD.replace("radius = 3\n", "").replace('colour = "green"', 'colour = "#00aa00"')
                    .replace('geometry = "area"', 'geometry = "polygon"'), encoding="utf-8")
    problems = check_catalogue(path)
    assert any(p.startswith("standard 'park-walk': field 'kinds': unknown kind(s) ['pool']") for p in problems), problems
    assert any(p.startswith("standard 'park-walk': field 'threshold_min': must be a positive number, got -5")
               for p in problems), problems


def test_yaml_catalogue_extends_seeds_and_cli_accepts_it(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "catalogue: {id: mine, extends: seeds}\n"
        "kind:\n  - {id: park, en: Park, zh: 公园, symbol: '*', colour: '#2e7d32', geometry: polygon, source: 'Guangzhou 2009 item 14'}\n"
        "standard:\n  - {id: park-walk, title_en: Park within 500 m, title_zh: 500米内有公园, kinds: [park], mode: network,\n"
        "     threshold_m: 500, source: 'Guangzhou 2009 item 14 (seeds/001)'}\n", encoding="utf-8")
    cat = load_catalogue(path)
    assert list(cat.standards) == ["centre-radius", "station-radius", "clinic-walk", "elderly-circle", "park-walk"]
    assert set(cat.kinds) == set(SEED_KINDS) | {"park"} and len(cat.rules) == 7
    # the resolved text stands alone (what a city folder keeps)
    again = tomllib.loads(cat.text)
    assert "extends" not in again["catalogue"] and len(again["standard"]) == 5
    res = runner.invoke(app, ["catalogue", "check", str(path)])
    assert res.exit_code == 0 and "5 standards" in res.output, res.output
    res = runner.invoke(app, ["standards", "--catalogue", str(path)])
    assert res.exit_code == 0 and "park-walk" in res.output, res.output
