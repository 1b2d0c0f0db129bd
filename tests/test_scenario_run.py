"""Running scenarios on the demo city: the YAML examples, live edits vs full runs, the store, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from scenarios.compare import compare
from scenarios.model import EditError, Scenario, ScenarioError
from scenarios.run import LiveScenario, ScenarioRunError, base_of, run_scenario
from scenarios.store import ScenarioStore, StaleWriteError
from scenarios.yamlio import load_scenario_yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "scenarios" / "examples"

pytestmark = pytest.mark.slow  # the demo city: a few seconds


@pytest.fixture(scope="module")
def city():
    from layers.cities import load_city

    return load_city("demo")


def _compare_example(city, name):
    scenario = load_scenario_yaml(EXAMPLES / f"{name}.yaml")
    return compare(run_scenario(base_of(scenario), city), run_scenario(scenario, city))


def test_new_clinic_raises_clinic_coverage(city):
    comp = _compare_example(city, "new-clinic-east")
    row = comp.table().set_index("standard").loc["clinic-walk"]
    assert row["covered_after"] > row["covered_before"]
    assert row["newly_covered_cells"] > 0 and row["newly_uncovered_cells"] == 0
    assert row["covered_change"] == pytest.approx(row["covered_after"] - row["covered_before"], abs=0.2)
    top = comp.load_changes("clinic-walk", top=1).iloc[0]
    assert (top["id"], top["status"]) == ("HS-NEW-SE", "opened") and top["load_change"] > 0


def test_closing_elderly_centre_lowers_elderly_coverage(city):
    comp = _compare_example(city, "close-elderly-centre")
    row = comp.table().set_index("standard").loc["elderly-circle"]
    assert row["covered_after"] < row["covered_before"]
    assert row["newly_uncovered_cells"] > 0 and row["newly_covered_cells"] == 0
    loads = comp.load_changes("elderly-circle", top=None).set_index("id")
    assert loads.loc["EC0008", "status"] == "closed" and loads.loc["EC0008", "load_after"] == 0
    # what the closed centre served moves elsewhere or is lost, never more
    gained = loads.loc[loads["load_change"] > 0, "load_change"].sum()
    assert gained <= loads.loc["EC0008", "load_before"] + 0.1
    layer = comp.change_layer("elderly-circle")
    assert set(layer["change"]) == {"unchanged", "newly_uncovered"}


def _edits(city, n, seed):
    """A reproducible mix of every edit kind at populated places."""
    rng = np.random.default_rng(seed)
    cx, cy = city.cell_xy
    populated = np.flatnonzero(city.cells["population"].to_numpy() > 0)
    ids = city.facilities["id"].tolist()
    kinds = city.facilities["kind"].tolist()
    out = []
    for i in range(n):
        at = rng.choice(populated)
        x, y = float(cx[at]), float(cy[at])
        op = ["add", "move", "remove", "add", "set_capacity"][i % 5]
        if op == "add":
            kind = ["health_station", "elderly_care", "service_station", "service_centre"][i % 4]
            out.append({"op": "add", "id": f"N{i}", "kind": kind, "x": x, "y": y})
            continue
        j = int(rng.integers(len(ids)))
        fid = ids.pop(j)
        kinds.pop(j)
        if op == "move":
            out.append({"op": "move", "id": fid, "x": x, "y": y})
        elif op == "remove":
            out.append({"op": "remove", "id": fid})
        else:
            out.append({"op": "set_capacity", "id": fid, "field": "beds", "value": 12.0})
    return out


def test_live_edits_equal_a_full_run(city):
    live = LiveScenario(city)  # every standard of the catalogue
    before = live.summaries()
    for edit in _edits(city, 15, seed=5):
        was = {sid: (st.dist.copy(), st.slot.copy()) for sid, st in live._states.items()}
        answer = live.apply(edit)
        assert set(answer["standards"]) == {s.id for s in live.standards}
        for sid, st in live._states.items():  # every cell whose nearest changed is reported
            moved = np.flatnonzero((st.dist != was[sid][0]) | (st.slot != was[sid][1]))
            assert np.isin(moved, live.last_changed.get(sid, [])).all()
            assert answer["changed_cells"].get(sid, 0) == len(live.last_changed.get(sid, []))
    scenario = live.scenario("live-plan")
    full = run_scenario(scenario, city)
    inc = live.result()
    assert inc.city.facilities["id"].tolist() == full.city.facilities["id"].tolist()
    for sid, r in full.result.results.items():
        mine = inc.results[sid]
        np.testing.assert_array_equal(mine.dist_m, r.dist_m)  # identical, not approximately
        np.testing.assert_array_equal(mine.facility, r.facility)
        np.testing.assert_array_equal(mine.load, r.load)
        assert mine.summary() == r.summary()
        quick = dict(r.summary())
        quick.pop("largest_gap")
        assert live.summaries()[sid] == quick
    assert live.summaries() != before


def test_live_refuses_bad_edits_and_keeps_state(city):
    live = LiveScenario.from_scenario(load_scenario_yaml(EXAMPLES / "new-clinic-east.yaml"), city)
    state = live.summaries()
    with pytest.raises(EditError, match="no facility with id 'NOPE'"):
        live.remove("NOPE")
    with pytest.raises(EditError, match="already exists"):
        live.add("HS-NEW-SE", "health_station", x=0.0, y=0.0)
    with pytest.raises(ScenarioError, match="unknown facility kind 'clinic'"):
        live.add("X1", "clinic", x=0.0, y=0.0)
    with pytest.raises(ScenarioError, match="lon and lat must be given together"):
        live.move("HS0001", lon=116.5)
    assert live.summaries() == state and len(live.edits) == 1


def test_store_round_trip(city, tmp_path):
    store = ScenarioStore(f"sqlite:///{tmp_path / 's.db'}")
    scenario = load_scenario_yaml(EXAMPLES / "new-clinic-east.yaml")
    run = run_scenario(scenario, city, store=store)
    assert run.version == 1
    stored = store.get("new-clinic-east")
    assert stored.results["standards"]["clinic-walk"]["covered"] == run.result.results["clinic-walk"].summary()["covered"]
    # re-running an unchanged stored version attaches results to it: no new version
    again = run_scenario(stored, city, store=store)
    assert again.version == 1 and len(store.history("new-clinic-east")) == 1
    # an edited copy is a new version; a writer still on version 1 is refused
    data = stored.content()
    data["edits"].append({"op": "remove", "id": "HS0008"})
    edited = Scenario.model_validate({**data, "version": stored.version})
    assert run_scenario(edited, city, store=store).version == 2
    with pytest.raises(StaleWriteError, match="at version 2, you edited version 1"):
        run_scenario(edited.model_copy(update={"description": "other"}), city, store=store)
    store.close()


def test_wrong_city_is_refused(city):
    scenario = Scenario(name="x", city="helsinki")
    with pytest.raises(ScenarioRunError, match="for city 'helsinki'"):
        run_scenario(scenario, city)


# ------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def cli():
    from api.cli import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_cli_run_file(cli, city, tmp_path):
    res = cli("run", EXAMPLES / "new-clinic-east.yaml", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert "clinic-walk" in res.output and "HS-NEW-SE" in res.output
    doc = json.loads((tmp_path / "comparison.json").read_text(encoding="utf-8"))
    clinic = doc["standards"][0]
    assert clinic["standard"] == "clinic-walk" and clinic["covered_change"] > 0
    assert (tmp_path / "changes.gpkg").exists()
    assert "HS-NEW-SE" in (tmp_path / "map.html").read_text(encoding="utf-8")  # maps.compare.change_map


def test_cli_scenario_flow(cli, city, tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert cli("scenario", "new", "plan", "--city", "demo", "-s", "clinic-walk", "--db", db).exit_code == 0
    res = cli("scenario", "edit", "plan", "--add", "kind=health_station,lon=116.52048,lat=18.98333,name=SE, planned",
              "--expect-version", 1, "--db", db)
    assert res.exit_code == 0, res.output
    stale = cli("scenario", "edit", "plan", "--remove", "HS0008", "--expect-version", 1, "--db", db)
    assert stale.exit_code == 3 and "reload" in stale.output
    assert cli("scenario", "edit", "plan", "--move", "NEW-1", "116.5205,18.9834", "--db", db).exit_code == 0
    res = cli("scenario", "run", "plan", "--db", db)
    assert res.exit_code == 0 and "version 3" in res.output, res.output
    res = cli("scenario", "compare", "plan@3", "--db", db)
    assert res.exit_code == 0 and "NEW-1" in res.output and "opened" in res.output, res.output
    res = cli("scenario", "list", "--db", db)
    assert "plan" in res.output and "yes" in res.output
    assert "name: SE, planned" in cli("scenario", "show", "plan@2", "--db", db).output
    out = tmp_path / "plan.yaml"
    assert cli("scenario", "export", "plan", "--out", out, "--db", db).exit_code == 0
    assert len(load_scenario_yaml(out).edits) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (("--add", "kind=health_station,lon=east,lat=18.9"), "lon must be a number"),
        (("--add", "colour=red"), "unknown key 'colour'"),
        (("--add", "kind=clinic,lon=116.5,lat=18.9"), "unknown facility kind 'clinic'"),
        (("--move", "HS0001", "116.5"), "expected LON,LAT"),
        (("--capacity", "HS0001", "beds"), "expected FIELD=VALUE"),
        ((), "exactly one of"),
    ],
)
def test_cli_bad_edits_are_named(cli, tmp_path, args, message):
    db = f"sqlite:///{tmp_path / 'bad.db'}"
    cli("scenario", "new", "p", "--db", db)
    res = cli("scenario", "edit", "p", *args, "--db", db)
    assert res.exit_code == 2 and message in res.output, res.output
    assert "Traceback" not in res.output
