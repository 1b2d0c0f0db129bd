"""Scenario endpoints: CRUD with ETag/If-Match, live edits against full runs, run jobs, comparisons, change maps.

Every number the API returns is checked against the library computing it from
scratch on the same edits (``run_scenario`` / ``compare`` on the demo city),
so the incremental live state and the HTTP plumbing are both under test.
"""

from __future__ import annotations

import csv
import io
import threading

import pytest
from fastapi.testclient import TestClient

from api.problems import ApiProblem
from api.scenario_checks import parse_if_match
from scenarios.compare import compare
from scenarios.model import Scenario
from scenarios.run import base_of, run_scenario
from tests.test_api_coverage import _wait
from tests.test_api_helpers import HEADERS, demo_city, make_app

STANDARDS = ["clinic-walk", "elderly-circle"]
# inside the demo district (WGS84), on its street grid
EAST = {"lon": 116.505, "lat": 18.99}
WEST = {"lon": 116.478, "lat": 18.985}


@pytest.fixture(scope="module")
def app():
    return make_app()


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app)


def _create(client, name: str, **body) -> dict:
    body.setdefault("standards", STANDARDS)
    r = client.post("/scenarios", json={"name": name, **body}, headers=HEADERS)
    assert r.status_code == 201, r.text
    return r.json()


def _edit(client, name: str, edit: dict, version: int | str | None):
    headers = dict(HEADERS)
    if version is not None:
        headers["If-Match"] = f'"{version}"' if isinstance(version, int) else version
    return client.post(f"/scenarios/{name}/edits", json=edit, headers=headers)


def _full_summaries(edits: list[dict], standards=STANDARDS, overrides=None) -> dict[str, dict]:
    scenario = Scenario(name="ref", city="demo", edits=edits, standards=standards, overrides=overrides or {})
    result = run_scenario(scenario, demo_city()).result
    return {sid: r.summary() for sid, r in result.results.items()}


def _assert_summaries_equal(got: dict[str, dict], want: dict[str, dict]) -> None:
    assert set(got) == set(want)
    for sid, summary in got.items():
        for key, value in summary.items():
            assert value == pytest.approx(want[sid][key]), (sid, key)


# ------------------------------------------------------------------ CRUD


def test_create_get_versions_and_etag(client):
    doc = _create(client, "crud-a", description="east clinic", edits=[{"op": "remove", "id": "HS0001"}])
    assert doc["version"] == 1 and doc["city"] == "demo" and doc["edits"][0]["id"] == "HS0001"
    r = client.get("/scenarios/crud-a")
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    assert r.json()["description"] == "east clinic" and r.json()["standards"] == STANDARDS
    history = client.get("/scenarios/crud-a/versions").json()
    assert [v["version"] for v in history] == [1] and history[0]["message"] == "created"
    assert client.get("/scenarios/crud-a/versions/1").headers["etag"] == '"1"'
    assert client.get("/scenarios/crud-a/versions/2").status_code == 404
    names = [s["name"] for s in client.get("/scenarios").json()]
    assert "crud-a" in names


def test_names_with_spaces_are_linked_encoded(client):
    doc = _create(client, "plan b?#1")
    self_link = next(link["href"] for link in doc["links"] if link["rel"] == "self")
    assert self_link.endswith("/scenarios/plan%20b%3F%231")
    assert client.get(self_link).json()["name"] == "plan b?#1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"edits": [{"op": "add", "id": "N1", "kind": "clinic", **EAST}]}, "body.edits.0.add.kind"),
        ({"edits": [{"op": "set_capacity", "id": "EC0001", "field": "beds", "value": -5}]}, "body.edits.0.set_capacity.value"),
        ({"edits": [{"op": "add", "id": "N1", "kind": "health_station", "capacities": {"beds": -1}, **EAST}]}, "body.edits.0.add.capacities"),
        ({"edits": [{"op": "remove", "id": "HS0001"}, {"op": "remove", "id": "NOPE"}]}, "body.edits.1"),
        ({"edits": [{"op": "add", "id": "N1", "kind": "health_station", "lon": 100.0, "lat": 30.0}]}, "body.edits.0"),
        ({"standards": ["no-such-standard"]}, "body.standards"),
        ({"overrides": {"clinic-walk": {"threshold_min": 20}}, "standards": ["elderly-circle"]}, "body.overrides"),
        ({"city": "helsinki"}, "body.city"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(client, body, field):
    body.setdefault("standards", STANDARDS)
    r = client.post("/scenarios", json={"name": "bad", **body}, headers=HEADERS)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert any(e["field"].startswith(field) for e in r.json()["errors"]), r.json()
    assert client.get("/scenarios/bad").status_code == 404


def test_create_conflict_and_reserved_name(client):
    _create(client, "dup")
    r = client.post("/scenarios", json={"name": "dup"}, headers=HEADERS)
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    r = client.post("/scenarios", json={"name": "compare"}, headers=HEADERS)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.name"


def test_writes_need_the_api_key(client):
    _create(client, "auth")
    wrong = {"X-API-Key": "not-the-key-123"}
    assert client.post("/scenarios", json={"name": "auth2"}).status_code == 401
    assert client.post("/scenarios", json={"name": "auth2"}, headers=wrong).status_code == 403
    assert client.put("/scenarios/auth", json={}, headers={"If-Match": '"1"'}).status_code == 401
    assert client.delete("/scenarios/auth", headers={"If-Match": '"1"', **wrong}).status_code == 403
    assert client.post("/scenarios/auth/edits", json={"op": "remove", "id": "HS0001"}, headers={"If-Match": '"1"'}).status_code == 401
    assert client.post("/scenarios/auth/run").status_code == 401
    assert client.get("/scenarios/auth").status_code == 200  # reads are open by default
    assert client.get("/scenarios/auth").headers["etag"] == '"1"'  # nothing was written


def test_reads_need_a_key_when_configured():
    c = TestClient(make_app(reads_require_key=True))
    assert c.get("/scenarios").status_code == 401
    assert c.get("/scenarios", headers=HEADERS).status_code == 200


# ------------------------------------------------------------------ If-Match


def test_two_clients_editing_one_scenario_nothing_is_lost(app):
    alice, bob = TestClient(app), TestClient(app)
    _create(alice, "shared")
    v_alice = alice.get("/scenarios/shared").headers["etag"]
    v_bob = bob.get("/scenarios/shared").headers["etag"]
    assert v_alice == v_bob == '"1"'
    r = _edit(alice, "shared", {"op": "add", "id": "A1", "kind": "health_station", **EAST}, v_alice)
    assert r.status_code == 201 and r.headers["etag"] == '"2"'
    r = _edit(bob, "shared", {"op": "add", "id": "B1", "kind": "elderly_care", **WEST}, v_bob)
    assert r.status_code == 412
    assert r.json()["detail"].startswith("scenario 'shared' is at version 2, you sent 1")
    # Bob reloads and reapplies: both edits are kept, in order
    v_bob = bob.get("/scenarios/shared").headers["etag"]
    r = _edit(bob, "shared", {"op": "add", "id": "B1", "kind": "elderly_care", **WEST}, v_bob)
    assert r.status_code == 201 and r.json()["version"] == 3
    doc = alice.get("/scenarios/shared").json()
    assert [e["id"] for e in doc["edits"]] == ["A1", "B1"]
    assert [v["version"] for v in alice.get("/scenarios/shared/versions").json()] == [1, 2, 3]


def test_concurrent_edits_on_one_version_one_wins(app):
    _create(TestClient(app), "race")
    answers: list[int] = []
    barrier = threading.Barrier(4)

    def edit(i: int) -> None:
        c = TestClient(app)
        barrier.wait()
        answers.append(_edit(c, "race", {"op": "add", "id": f"R{i}", "kind": "health_station", **EAST}, 1).status_code)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201, 412, 412, 412]
    doc = TestClient(app).get("/scenarios/race").json()
    assert doc["version"] == 2 and len(doc["edits"]) == 1


def test_missing_and_stale_if_match(client):
    _create(client, "guarded")
    for r in (
        client.put("/scenarios/guarded", json={"description": "x"}, headers=HEADERS),
        client.delete("/scenarios/guarded", headers=HEADERS),
        _edit(client, "guarded", {"op": "remove", "id": "HS0001"}, None),
    ):
        assert r.status_code == 428, r.text
        assert r.json()["errors"][0]["field"] == "header.If-Match"
    for bad in ('"7"', "abc", '"0", "5"'):
        r = client.put("/scenarios/guarded", json={"description": "x"}, headers={**HEADERS, "If-Match": bad})
        assert r.status_code == 412 and "is at version 1" in r.json()["detail"]
    assert client.get("/scenarios/guarded").headers["etag"] == '"1"'
    r = client.put("/scenarios/guarded", json={"description": "any"}, headers={**HEADERS, "If-Match": "*"})
    assert r.status_code == 200 and r.headers["etag"] == '"2"'


def test_parse_if_match():
    assert parse_if_match('"3"', "p", 3, "PUT") == 3
    assert parse_if_match('"1", "3"', "p", 3, "PUT") == 3
    assert parse_if_match("*", "p", 8, "PUT") == 8
    # RFC 9110 13.1.1: If-Match uses the strong comparison, so a weak ETag never matches
    for value, status in ((None, 428), ("  ", 428), ('"2"', 412), ("x3", 412), ('W/"3"', 412)):
        with pytest.raises(ApiProblem) as exc:
            parse_if_match(value, "p", 3, "PUT")
        assert exc.value.status == status


def test_replace_keeps_history(client):
    _create(client, "replace-me", edits=[{"op": "remove", "id": "HS0001"}])
    r = client.put("/scenarios/replace-me", json={"description": "v2", "edits": [], "standards": ["clinic-walk"]},
                   headers={**HEADERS, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["edits"] == []
    assert client.get("/scenarios/replace-me/versions/1").json()["edits"][0]["id"] == "HS0001"
    r = client.put("/scenarios/replace-me", json={"name": "other"}, headers={**HEADERS, "If-Match": '"2"'})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.name"
    r = client.put("/scenarios/replace-me", json={"edits": [{"op": "move", "id": "NOPE", **EAST}]}, headers={**HEADERS, "If-Match": '"2"'})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.edits.0"
    assert client.put("/scenarios/never-made", json={}, headers={**HEADERS, "If-Match": '"1"'}).status_code == 404


def test_delete_is_soft_and_guarded(client):
    _create(client, "to-delete")
    assert client.delete("/scenarios/to-delete", headers={**HEADERS, "If-Match": '"4"'}).status_code == 412
    assert client.delete("/scenarios/to-delete", headers={**HEADERS, "If-Match": '"1"'}).status_code == 204
    r = client.get("/scenarios/to-delete")
    assert r.status_code == 404 and "deleted" in r.json()["detail"]
    assert client.get("/scenarios/to-delete/versions/1").status_code == 200
    assert [v["deleted"] for v in client.get("/scenarios/to-delete/versions").json()] == [False, True]
    assert "to-delete" not in [s["name"] for s in client.get("/scenarios").json()]
    assert "to-delete" in [s["name"] for s in client.get("/scenarios?deleted=true").json()]
    assert client.delete("/scenarios/to-delete", headers={**HEADERS, "If-Match": '"2"'}).status_code == 404


# ------------------------------------------------------------------ live edits


def test_live_edits_equal_a_full_run(client):
    """After every edit the returned summaries equal run_scenario on the same edits."""
    overrides = {"clinic-walk": {"threshold_min": 15}}
    _create(client, "live", overrides=overrides)
    edits = [
        {"op": "add", "id": "N1", "kind": "health_station", "name": "New clinic", **EAST},
        {"op": "move", "id": "HS0002", **WEST},
        {"op": "remove", "id": "EC0003"},
        {"op": "set_capacity", "id": "EC0004", "field": "beds", "value": 80},
        {"op": "add", "id": "N2", "kind": "elderly_care", "capacities": {"beds": 30}, **EAST},
        {"op": "remove", "id": "N1"},
    ]
    version = 1
    for k, edit in enumerate(edits):
        r = _edit(client, "live", edit, version)
        assert r.status_code == 201, r.text
        got = r.json()
        version = got["version"]
        assert version == k + 2 and r.headers["etag"] == f'"{version}"' and got["edits"] == k + 1
        want = _full_summaries(edits[: k + 1], overrides=overrides)
        _assert_summaries_equal(got["standards"], want)
    assert got["standards"]["clinic-walk"]["threshold_min"] == 15
    assert [e["id"] for e in client.get("/scenarios/live").json()["edits"]] == [e["id"] for e in edits]


def test_live_edit_changes_coverage_where_expected(client):
    """Closing every clinic leaves the walking clinic standard with nobody covered."""
    _create(client, "no-clinics", standards=["clinic-walk"])
    fac = demo_city().facilities
    clinics = fac.loc[fac["kind"].isin(["health_centre", "health_station"]), "id"].tolist()
    version = 1
    for fid in clinics:
        r = _edit(client, "no-clinics", {"op": "remove", "id": fid}, version)
        version = r.json()["version"]
    summary = r.json()["standards"]["clinic-walk"]
    assert summary["covered"] == 0 and summary["facilities"] == 0
    assert summary["uncovered"] == pytest.approx(float(demo_city().cells["population"].sum()), abs=0.1)


def test_bad_live_edits_leave_the_scenario_unchanged(client):
    _create(client, "careful")
    cases = [
        ({"op": "remove", "id": "NOPE"}, "body.id"),
        ({"op": "add", "id": "HS0001", "kind": "health_station", **EAST}, "body.id"),  # id taken
        ({"op": "add", "id": "X", "kind": "hospital", **EAST}, "body.add.kind"),
        ({"op": "set_capacity", "id": "EC0001", "field": "beds", "value": -1}, "body.set_capacity.value"),
        ({"op": "set_capacity", "id": "EC0001", "field": "nurses", "value": 3}, "body.set_capacity.field"),
        ({"op": "add", "id": "X", "kind": "health_station", "x": 0.0, "y": 0.0}, "body"),
        ({"op": "teleport", "id": "EC0001"}, "body"),
    ]
    for edit, field in cases:
        r = _edit(client, "careful", edit, 1)
        assert r.status_code == 422, (edit, r.text)
        assert r.json()["errors"][0]["field"].startswith(field), r.json()
    assert client.get("/scenarios/careful").headers["etag"] == '"1"'
    # the live state did not keep any refused edit: the next one still equals a full run
    edit = {"op": "remove", "id": "HS0003"}
    r = _edit(client, "careful", edit, 1)
    assert r.status_code == 201
    _assert_summaries_equal(r.json()["standards"], _full_summaries([edit]))


def test_live_state_follows_a_replace(client):
    """A PUT between edits (new content) is picked up by the next live edit."""
    _create(client, "swap")
    assert _edit(client, "swap", {"op": "remove", "id": "HS0001"}, 1).status_code == 201
    r = client.put("/scenarios/swap", json={"edits": [{"op": "remove", "id": "EC0001"}], "standards": STANDARDS},
                   headers={**HEADERS, "If-Match": '"2"'})
    assert r.status_code == 200
    edit = {"op": "remove", "id": "HS0001"}  # allowed again: the replace dropped the first removal
    r = _edit(client, "swap", edit, 3)
    assert r.status_code == 201, r.text
    _assert_summaries_equal(r.json()["standards"], _full_summaries([{"op": "remove", "id": "EC0001"}, edit]))


def test_unknown_scenario_is_404(client):
    assert client.get("/scenarios/ghost").status_code == 404
    assert client.get("/scenarios/ghost/versions").status_code == 404
    assert _edit(client, "ghost", {"op": "remove", "id": "HS0001"}, 1).status_code == 404
    assert client.post("/scenarios/ghost/run", headers=HEADERS).status_code == 404


# ------------------------------------------------------------------ runs, comparisons, maps


def test_run_job_gives_summaries_and_cells(client):
    edits = [{"op": "add", "id": "N1", "kind": "health_station", **EAST}]
    _create(client, "to-run", edits=edits)
    r = client.post("/scenarios/to-run/run", headers=HEADERS)
    assert r.status_code == 202 and r.headers["location"].endswith(f"/jobs/{r.json()['id']}")
    job = _wait(client, r.headers["location"])
    assert job["state"] == "succeeded", job
    run = client.get(job["result"]).json()
    want = _full_summaries(edits)
    assert run["request"] == {"scenario": "to-run", "version": 1}
    for got in run["summary"]:
        assert got["covered"] == pytest.approx(want[got["standard"]]["covered"])
        assert got["largest_gap"] == pytest.approx(want[got["standard"]]["largest_gap"])
    cells_link = next(link["href"] for link in run["links"] if link["rel"] == "items")
    page = client.get(cells_link + "?limit=5").json()
    assert page["numberMatched"] == len(demo_city().cells)
    doc = client.get("/scenarios/to-run").json()
    assert doc["version"] == 1 and doc["results"]["standards"]["clinic-walk"]["covered"] == pytest.approx(want["clinic-walk"]["covered"])


def test_compare_with_base_and_between_versions(client):
    _create(client, "cmp", edits=[{"op": "remove", "id": "HS0002"}])
    r = _edit(client, "cmp", {"op": "add", "id": "N1", "kind": "health_station", **EAST}, 1)
    assert r.status_code == 201
    city = demo_city()
    v1 = Scenario(name="cmp", city="demo", standards=STANDARDS, edits=[{"op": "remove", "id": "HS0002"}])
    v2 = v1.model_copy(update={"edits": [*v1.edits, *Scenario(name="t", city="demo", edits=[{"op": "add", "id": "N1", "kind": "health_station", **EAST}]).edits]})
    run1, run2 = run_scenario(v1, city), run_scenario(v2, city)

    # a alone: against the city's current facilities
    got = client.get("/scenarios/compare", params={"a": "cmp@1", "cell_ids": "true"}).json()
    want = compare(run_scenario(base_of(v1), city), run1)
    assert got["before"] == "current facilities" and got["after"] == "cmp@1"
    clinic = next(s for s in got["standards"] if s["standard"] == "clinic-walk")
    ch = want.changes["clinic-walk"]
    assert clinic["newly_uncovered"]["cells"] == ch.newly_uncovered.size > 0
    assert clinic["newly_uncovered"]["cell_ids"] == city.cells["cell_id"].to_numpy()[ch.newly_uncovered].tolist()
    # independently: cells covered by the base run and not by the scenario run
    base_cov = run_scenario(base_of(v1), city).result.results["clinic-walk"].covered
    assert clinic["newly_uncovered"]["cells"] == int((base_cov & ~run1.result.results["clinic-walk"].covered).sum())

    # a@1 against the latest (a@2)
    got = client.get("/scenarios/compare", params={"a": "cmp@1", "b": "cmp"}).json()
    table = compare(run1, run2).table()
    assert got["before"] == "cmp@1" and got["after"] == "cmp@2"
    for row, want_row in zip(got["table"], table.to_dict("records"), strict=True):
        for key in ("covered_before", "covered_after", "covered_change", "newly_covered_cells", "newly_uncovered_cells"):
            assert row[key] == pytest.approx(want_row[key]), key
    assert "cell_ids" not in got["standards"][0]["newly_covered"]

    r = client.get("/scenarios/compare", params={"a": "cmp@1", "b": "cmp@2", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["standard"] for row in rows] == list(table["standard"])


def test_compare_refusals(client):
    r = client.get("/scenarios/compare", params={"a": "ghost"})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "query.a"
    _create(client, "cmp-ref")
    r = client.get("/scenarios/compare", params={"a": "cmp-ref", "b": "cmp-ref@9"})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "query.b"
    assert client.get("/scenarios/compare").status_code == 422


def test_change_maps(client):
    _create(client, "mapped", standards=["clinic-walk"], edits=[{"op": "remove", "id": "HS0002"}])
    r = client.get("/scenarios/mapped/map.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "lc-map-meta" in r.text and "current facilities" in r.text
    r = client.get("/scenarios/compare/map.html", params={"a": "mapped@1", "b": "mapped", "lang": "zh"})
    assert r.status_code == 200 and "mapped@1" in r.text
    assert client.get("/scenarios/ghost/map.html").status_code == 404


def test_store_url_from_config(tmp_path):
    """The store is the configured database (here a SQLite file), shared by two app instances."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    one, two = TestClient(make_app(scenario_db_url=url)), TestClient(make_app(scenario_db_url=url))
    _create(one, "persisted")
    assert two.get("/scenarios/persisted").headers["etag"] == '"1"'
    assert (tmp_path / "shared.db").exists()


def test_store_failure_is_a_503_problem(client, monkeypatch):
    from scenarios.store import ScenarioStore, StoreError

    def lost(self, include_deleted=False):
        raise StoreError("sqlite:////srv/secret/scenarios.db: server closed the connection unexpectedly")

    monkeypatch.setattr(ScenarioStore, "list_scenarios", lost)
    r = client.get("/scenarios")
    assert r.status_code == 503 and "scenario store failed" in r.json()["detail"]
    assert "/srv/secret" not in r.text and "sqlite" not in r.text  # server paths are for the log only
    assert r.headers["content-type"] == "application/problem+json"


def test_messages_name_no_server_path(client):
    r = client.get("/scenarios/never-saved-here")
    assert r.status_code == 404 and "never-saved-here" in r.json()["detail"]
    assert "sqlite" not in r.text and str(client.app.state.lifecircle.data_dir) not in r.text


def test_dot_names_are_refused(client):
    for name in (".", ".."):
        r = client.post("/scenarios", json={"name": name}, headers=HEADERS)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.name"


def test_large_comparisons_and_maps_run_as_jobs():
    """Above the in-request limit a comparison or map is a job; its result URL then answers at once."""
    c = TestClient(make_app(limits={"sync_max_cell_standards": 0}))
    _create(c, "big", standards=["clinic-walk"], edits=[{"op": "remove", "id": "HS0002"}])
    r = c.get("/scenarios/compare", params={"a": "big"})  # open read, but it would be a job: jobs need a key
    assert r.status_code == 401 and "background job" in r.json()["detail"]
    r = c.get("/scenarios/compare", params={"a": "big"}, headers=HEADERS)
    assert r.status_code == 202
    job = _wait(c, r.headers["location"])
    assert job["state"] == "succeeded" and job["result"].endswith("a=big%401")
    r = c.get(job["result"])
    assert r.status_code == 200 and r.json()["after"] == "big@1"
    r = c.get("/scenarios/big/map.html", headers=HEADERS)
    assert r.status_code == 202
    job = _wait(c, r.headers["location"])
    r = c.get(job["result"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
