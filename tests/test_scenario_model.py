"""Scenario model: validation messages, apply_edits against a reference model, YAML round trips."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS

from layers.kinds import CAPACITY_FIELDS, KINDS
from scenarios.model import (
    AddFacility,
    EditError,
    MoveFacility,
    RemoveFacility,
    Scenario,
    ScenarioError,
    SetCapacity,
    apply_edits,
    scenario_from_dict,
)
from scenarios.yamlio import (
    ScenarioFileError,
    dump_scenario_yaml,
    load_scenario_yaml,
    scenario_from_yaml,
    scenario_to_yaml,
)

UTM51 = CRS.from_epsg(32651)  # central meridian 123 E
EXAMPLES = Path(__file__).resolve().parents[1] / "scenarios" / "examples"


def base_facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["hc1", "es1", "ec1"],
            "name": ["Health centre", "Station", "Care home"],
            "kind": ["health_centre", "service_station", "elderly_care"],
            "beds": [20.0, np.nan, 50.0],
            "doctors": [8.0, np.nan, np.nan],
            "floor_area_m2": [1500.0, 300.0, np.nan],
        },
        geometry=[shapely.Point(1000, 2000), shapely.Point(1500, 2500), shapely.Point(3000, 100)],
        crs=UTM51,
    )


def minimal(**extra) -> dict:
    return {"name": "plan", "city": "demo", **extra}


def error_of(data: dict, source: str | None = "plan.yaml") -> str:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source)
    return str(info.value)


# -- validation ---------------------------------------------------------------------------


def test_valid_scenario_parses_every_edit_kind():
    s = scenario_from_dict(
        minimal(
            edits=[
                {"op": "add", "id": "n1", "kind": "health_station", "lon": 123.0, "lat": 0.0, "capacities": {"doctors": 2}},
                {"op": "move", "id": "es1", "x": 10, "y": 20},
                {"op": "remove", "id": "ec1"},
                {"op": "set_capacity", "id": "hc1", "field": "beds", "value": 30},
            ],
            standards=["clinic-walk"],
            overrides={"clinic-walk": {"threshold_min": 20, "speed_mps": 1.0}},
        )
    )
    assert [type(e) for e in s.edits] == [AddFacility, MoveFacility, RemoveFacility, SetCapacity]
    (std,) = s.resolved_standards()
    assert std.id == "clinic-walk"
    assert std.threshold_m == pytest.approx(20 * 60 * 1.0)


@pytest.mark.parametrize(
    "data, expected",
    [
        (minimal(edits=[{"op": "add", "id": "n", "kind": "clinic", "x": 0, "y": 0}]), "edits[0].kind: unknown facility kind 'clinic'"),
        (minimal(edits=[{"op": "add", "id": "n", "kind": "elderly_care", "x": 0, "y": 0, "capacities": {"chairs": 1}}]), "edits[0].capacities: unknown capacity field 'chairs'"),
        (minimal(edits=[{"op": "add", "id": "n", "kind": "elderly_care", "x": 0, "y": 0, "capacities": {"beds": -3}}]), "edits[0].capacities: capacity 'beds' must be a finite number >= 0"),
        (minimal(edits=[{"op": "set_capacity", "id": "a", "field": "beds", "value": -1}]), "edits[0].value: value must be a finite number >= 0"),
        (minimal(edits=[{"op": "set_capacity", "id": "a", "field": "nurses", "value": 1}]), "edits[0].field: unknown capacity field 'nurses'"),
        (minimal(edits=[{"op": "remove", "id": "a"}, {"op": "move", "id": "a", "lon": 1.0}]), "edits[1]: lon and lat must be given together"),
        (minimal(edits=[{"op": "move", "id": "a", "lon": 1.0, "lat": 2.0, "x": 1.0, "y": 1.0}]), "edits[0]: give either lon/lat (WGS84) or x/y (city CRS), not both"),
        (minimal(edits=[{"op": "move", "id": "a"}]), "edits[0]: a location is required"),
        (minimal(edits=[{"op": "move", "id": "a", "lon": 200.0, "lat": 0.0}]), "edits[0].lon: Input should be less than or equal to 180"),
        (minimal(edits=[{"op": "fly", "id": "a"}]), "edits[0]: Input tag 'fly'"),
        (minimal(edits=[{"op": "remove", "id": ""}]), "edits[0].id: String should have at least 1 character"),
        (minimal(standards=["no-such"]), "standards: unknown standard 'no-such'"),
        (minimal(overrides={"clinic-walk": {"speed_mps": -1}}), "overrides: standard 'clinic-walk': parameter 'speed_mps' must be positive"),
        (minimal(standards=["centre-radius"], overrides={"clinic-walk": {"speed_mps": 1}}), "overrides: overrides given for standard 'clinic-walk', which is not being run"),
        (minimal(colour="red"), "colour: Extra inputs are not permitted"),
        ({"name": "plan"}, "city: Field required"),
        (minimal(name="a/b"), "name: String should match pattern"),
    ],
)
def test_invalid_field_is_named(data, expected):
    msg = error_of(data)
    assert msg.startswith("plan.yaml: ")
    assert expected in msg


def test_non_mapping_is_refused():
    assert "must be a mapping" in error_of(["not", "a", "scenario"])  # type: ignore[arg-type]


# -- apply_edits ----------------------------------------------------------------------------


def test_wgs84_location_lands_in_city_crs():
    # On UTM 51N's central meridian at the equator the projection is exactly (500000, 0).
    out = apply_edits(base_facilities(), [AddFacility(id="n", kind="health_station", lon=123.0, lat=0.0)], UTM51)
    p = out.geometry.iloc[-1]
    assert p.x == pytest.approx(500000.0, abs=1e-6)
    assert p.y == pytest.approx(0.0, abs=1e-6)
    # Moving 1 degree north along the meridian: the meridian arc length (110574.4 m) times k0 = 0.9996.
    out = apply_edits(base_facilities(), [MoveFacility(id="hc1", lon=123.0, lat=1.0)], UTM51)
    p = out.geometry.iloc[0]
    assert p.x == pytest.approx(500000.0, abs=1e-6)
    assert p.y == pytest.approx(110574.4 * 0.9996, abs=1.0)


def test_edits_apply_in_order_and_leave_input_alone():
    base = base_facilities()
    before = base.copy()
    edits = [
        AddFacility(id="n1", name="New clinic", kind="health_station", x=10, y=20, capacities={"doctors": 3}),
        MoveFacility(id="n1", x=11, y=21),
        RemoveFacility(id="es1"),
        SetCapacity(id="hc1", field="beds", value=25),
        SetCapacity(id="ec1", field="beds", value=None),
        RemoveFacility(id="n1"),
        AddFacility(id="n1", kind="elderly_care", x=5, y=6),  # the id is free again
    ]
    out = apply_edits(base, edits, UTM51)
    assert out["id"].tolist() == ["hc1", "ec1", "n1"]
    assert list(out.index) == [0, 1, 2]
    assert out.crs == UTM51
    assert out.loc[0, "beds"] == 25.0
    assert math.isnan(out.loc[1, "beds"])
    assert out.loc[2, "kind"] == "elderly_care"
    assert out.loc[2, "name"] == "n1"  # defaults to the id
    assert (out.geometry.iloc[2].x, out.geometry.iloc[2].y) == (5.0, 6.0)
    assert all(out[c].dtype == "float64" for c in CAPACITY_FIELDS)
    assert base.equals(before)


@pytest.mark.parametrize(
    "edits, expected",
    [
        ([MoveFacility(id="zz", x=0, y=0)], "edit 0 (move 'zz'): facility id 'zz' is not a facility of the base layer"),
        ([RemoveFacility(id="hc1"), SetCapacity(id="hc1", field="beds", value=1)], "edit 1 (set_capacity 'hc1'): facility id 'hc1' was removed by an earlier edit"),
        ([AddFacility(id="hc1", kind="health_centre", x=0, y=0)], "edit 0 (add 'hc1'): facility id 'hc1' already exists"),
        ([AddFacility(id="n", kind="health_centre", x=0, y=0)] * 2, "edit 1 (add 'n'): facility id 'n' already exists"),
    ],
)
def test_bad_edit_is_named(edits, expected):
    with pytest.raises(EditError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        apply_edits(base_facilities(), edits, UTM51)


def test_layer_in_other_crs_is_refused():
    with pytest.raises(EditError, match="not the city CRS"):
        apply_edits(base_facilities().to_crs(4326), [], UTM51)


# A reference model of the edit semantics on plain dicts, independent of apply_edits.
IDS = ["hc1", "es1", "ec1", "n1", "n2"]
edit_st = st.one_of(
    st.builds(AddFacility, id=st.sampled_from(IDS), kind=st.sampled_from(list(KINDS)),
              x=st.integers(0, 9), y=st.integers(0, 9)),
    st.builds(MoveFacility, id=st.sampled_from(IDS), x=st.integers(0, 9), y=st.integers(0, 9)),
    st.builds(RemoveFacility, id=st.sampled_from(IDS)),
    st.builds(SetCapacity, id=st.sampled_from(IDS), field=st.sampled_from(CAPACITY_FIELDS),
              value=st.one_of(st.none(), st.integers(0, 100).map(float))),
)


def reference(edits):
    fac = {
        r.id: {"kind": r.kind, "xy": (r.geometry.x, r.geometry.y), **{c: getattr(r, c) for c in CAPACITY_FIELDS}}
        for r in base_facilities().itertuples()
    }
    for e in edits:
        if isinstance(e, AddFacility):
            if e.id in fac:
                return None
            fac[e.id] = {"kind": e.kind, "xy": (e.x, e.y), **{c: math.nan for c in CAPACITY_FIELDS}}
        elif e.id not in fac:
            return None
        elif isinstance(e, MoveFacility):
            fac[e.id]["xy"] = (e.x, e.y)
        elif isinstance(e, RemoveFacility):
            del fac[e.id]  # re-adding appends at the end, as dict insertion does
        else:
            fac[e.id][e.field] = math.nan if e.value is None else e.value
    return fac


@settings(max_examples=100, deadline=None)
@given(st.lists(edit_st, max_size=8))
def test_apply_edits_matches_reference(edits):
    expected = reference(edits)
    if expected is None:
        with pytest.raises(EditError):
            apply_edits(base_facilities(), edits, UTM51)
        return
    out = apply_edits(base_facilities(), edits, UTM51)
    assert out["id"].tolist() == list(expected)
    for row in out.itertuples():
        want = expected[row.id]
        assert row.kind == want["kind"]
        assert (row.geometry.x, row.geometry.y) == want["xy"]
        for c in CAPACITY_FIELDS:
            got = getattr(row, c)
            assert (math.isnan(got) and math.isnan(want[c])) or got == want[c]


# -- YAML --------------------------------------------------------------------------------------


def full_scenario() -> Scenario:
    return scenario_from_dict(
        minimal(
            description="两个新站点 / two new stations",
            edits=[
                {"op": "add", "id": "n1", "name": "东区卫生站", "kind": "health_station", "lon": 123.5, "lat": 31.25,
                 "capacities": {"doctors": 2, "floor_area_m2": 250.5}},
                {"op": "move", "id": "es1", "x": 10.25, "y": 20},
                {"op": "remove", "id": "ec1"},
                {"op": "set_capacity", "id": "hc1", "field": "beds", "value": None},
            ],
            standards=["clinic-walk", "elderly-circle"],
            overrides={"clinic-walk": {"threshold_min": 20}},
            results={"clinic-walk": {"covered_share": 0.8125}},
        )
    )


def test_yaml_round_trip(tmp_path):
    s = full_scenario()
    path = dump_scenario_yaml(s, tmp_path / "sub" / "plan.yaml")
    text = path.read_text(encoding="utf-8")
    assert "东区卫生站" in text  # readable, not \u-escaped
    assert text.index("op: add") < text.index("id: n1") < text.index("kind: health_station")
    assert load_scenario_yaml(path) == s
    assert scenario_from_yaml(scenario_to_yaml(s)) == s
    assert [p.name for p in path.parent.iterdir()] == ["plan.yaml"]  # no temporary file left behind


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("name: plan\ncity: demo\nedits:\n  - op: add\n    id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioFileError, match=r"broken\.yaml: not valid YAML at line \d+, column \d+"):
        load_scenario_yaml(p)


def test_yaml_field_error_names_file_and_field(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: plan\ncity: demo\nedits:\n  - {op: add, id: x, kind: hospital, x: 1, y: 2}\n", encoding="utf-8")
    with pytest.raises(ScenarioFileError, match=r"bad\.yaml: edits\[0\]\.kind: unknown facility kind 'hospital'"):
        load_scenario_yaml(p)


@pytest.mark.parametrize(
    "content, expected",
    [(None, "no such scenario file"), ("", "the file is empty"), ("- a\n- b\n", "must be a mapping"),
     (b"name: \xff\xfe", "not UTF-8 text")],
)
def test_yaml_unreadable_file(tmp_path, content, expected):
    p = tmp_path / "x.yaml"
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif content is not None:
        p.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioFileError, match=f"x.yaml: .*{expected}"):
        load_scenario_yaml(p)


def test_yaml_never_constructs_objects(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("name: !!python/object/apply:os.system ['true']\ncity: demo\n", encoding="utf-8")
    with pytest.raises(ScenarioFileError, match="not valid YAML"):
        load_scenario_yaml(p)


# -- worked examples ---------------------------------------------------------------------------------


# batch-*.yaml are batch plans (lifecircle batch), not scenarios; tests/test_batch.py checks them
@pytest.mark.parametrize("path", sorted(p for p in EXAMPLES.glob("*.yaml") if not p.name.startswith("batch-")),
                         ids=lambda p: p.name)
def test_examples_are_valid(path):
    s = load_scenario_yaml(path)
    assert s.city == "demo"
    assert s.name == path.stem
    assert s.edits, "a worked example should change something"


@pytest.mark.slow
def test_examples_do_what_their_descriptions_say():
    """Each worked example applies to the demo city and moves its standard the stated way."""
    import dataclasses

    demo = pytest.importorskip("layers.cities.demo")
    from scenarios.evaluate import evaluate_standard

    city = demo.build_demo()
    effect = {}
    for name in ("new-clinic-east", "close-elderly-centre"):
        s = load_scenario_yaml(EXAMPLES / f"{name}.yaml")
        facilities = apply_edits(city.facilities, s.edits, city.crs)
        (std,) = s.resolved_standards()
        before = evaluate_standard(city, std).summary()
        after = evaluate_standard(dataclasses.replace(city, facilities=facilities), std).summary()
        effect[name] = (before, after, facilities)
    before, after, facilities = effect["new-clinic-east"]
    assert len(facilities) == len(city.facilities) + 1
    # The new station lies inside the district, in the designed clinic gap.
    gap = next(g for g in city.meta["designed_gaps"] if g["sort"] == "clinic_gap")
    p = facilities.geometry.iloc[-1]
    assert math.hypot(p.x - gap["x"], p.y - gap["y"]) < gap["radius_m"]
    assert after["covered"] > before["covered"] + 10_000
    assert after["share_le15"] > before["share_le15"]
    before, after, facilities = effect["close-elderly-centre"]
    assert "EC0008" not in set(facilities["id"])
    assert city.facilities.set_index("id").loc[["EC0008", "EC0009"], "beds"].tolist() == [27.0, 17.0]
    assert facilities.set_index("id").loc["EC0009", "beds"] == 44.0  # the merged places
    lost = before["covered"] - after["covered"]
    assert 0 < lost < 0.005 * before["total"]


def test_base_layers_of_older_files_load_when_empty_and_are_refused_otherwise():
    assert "base_layers" not in scenario_from_dict(minimal(base_layers=[])).content()
    with pytest.raises(ScenarioError, match="base_layers: not supported"):
        scenario_from_dict(minimal(base_layers=["mine"]))

