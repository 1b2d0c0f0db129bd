"""The versioned scenario store, on SQLite always and on PostgreSQL when one is reachable.

PostgreSQL: ``bash .ci/postgres.sh`` (as root) starts one; the URL comes from
``LIFECIRCLE_TEST_PG_URL`` (default below). The tests drop and recreate the
store's tables in that database.
"""

from __future__ import annotations

import math
import os
import socket
import threading
from functools import lru_cache

import numpy as np
import pytest
import sqlalchemy as sa

from scenarios.model import AddFacility, MoveFacility, RemoveFacility, Scenario, SetCapacity
from scenarios.store import (
    SCHEMA_VERSION,
    ScenarioNotFoundError,
    ScenarioStore,
    StaleWriteError,
    StoreCorruptError,
    StoreError,
    data_dir,
    default_url,
    store_meta,
    versions,
)

PG_URL = os.environ.get(
    "LIFECIRCLE_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/lifecircle_test"
)


@lru_cache(maxsize=1)
def pg_unreachable() -> str | None:
    """Why no PostgreSQL server can be tried (None when one answers).

    Only "nothing listens there" is a reason to skip: a TCP connect to the
    URL's host and port (or the Unix socket when the URL names no host) that
    is refused or times out. A server that answers but refuses the login or
    lacks the database is a broken test setup, and the tests then fail on it.
    """
    url = sa.engine.make_url(PG_URL)
    port = url.port or 5432
    try:
        if url.host:
            with socket.create_connection((url.host, port), timeout=3):
                pass
        else:  # libpq's default: the Unix socket in /var/run/postgresql
            path = f"/var/run/postgresql/.s.PGSQL.{port}"
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(3)
                sock.connect(path)
    except OSError as exc:  # refused, timed out, no route, no socket file
        where = url.render_as_string(hide_password=True)
        return f"no PostgreSQL server answers at {where} ({exc}); run .ci/postgres.sh or set LIFECIRCLE_TEST_PG_URL"
    return None


def fresh_pg_url() -> str:
    """PG_URL with the store's tables dropped.

    Skips the test when no server answers; any other failure to connect
    (wrong password, missing database) is raised and fails the test.
    """
    reason = pg_unreachable()
    if reason:
        pytest.skip(reason)
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS scenario_edits, scenario_versions, lifecircle_meta CASCADE")
    engine.dispose()
    return PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    """A fresh, empty store's URL, for each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'scenarios.db'}"
    return fresh_pg_url()


@pytest.fixture
def pg_url() -> str:
    """A fresh PostgreSQL store's URL, for PostgreSQL-only behaviour."""
    return fresh_pg_url()


@pytest.fixture
def store(store_url):
    s = ScenarioStore(store_url)
    yield s
    s.close()


def plan(n: int, name: str = "east") -> Scenario:
    """A scenario whose content encodes ``n``, so each version is distinguishable."""
    return Scenario(
        name=name,
        city="demo",
        description=f"revision {n}",
        edits=[AddFacility(id=f"new-{i}", kind="health_station", lon=116.3 + i / 100, lat=39.9, capacities={"doctors": i})
               for i in range(n % 4 + 1)]
        + [MoveFacility(id="es1", x=100.0 * n, y=5.0), RemoveFacility(id="ec1"), SetCapacity(id="hc1", field="beds", value=n)],
        standards=["clinic-walk"],
        overrides={"clinic-walk": {"threshold_min": 10 + n}},
    )


# -- versions ------------------------------------------------------------------------------------


def test_every_save_is_a_new_readable_version(store):
    for n in range(1, 4):
        assert store.save(plan(n), expected_version=n - 1, author="li", message=f"step {n}") == n
    for n in range(1, 4):
        got = store.get("east", version=n)
        assert got.version == n
        assert got.content() == plan(n).content()
    assert store.get("east").content() == plan(3).content()
    hist = store.history("east")
    assert [(h.version, h.author, h.message, h.deleted) for h in hist] == [
        (1, "li", "step 1", False), (2, "li", "step 2", False), (3, "li", "step 3", False)
    ]
    assert hist[0].saved_at <= hist[1].saved_at <= hist[2].saved_at
    assert hist[0].saved_at.tzinfo is not None
    assert store.head_version("east") == 3
    assert store.head_version("nobody") == 0
    assert store.check() == []


def test_store_survives_reopening(store_url):
    with ScenarioStore(store_url) as s:
        s.save(plan(1), 0)
        s.save(plan(2), 1)
    with ScenarioStore(store_url) as s:
        assert [h.version for h in s.history("east")] == [1, 2]
        assert s.get("east", 1).content() == plan(1).content()


def test_get_reports_missing_things(store):
    with pytest.raises(ScenarioNotFoundError, match="no scenario named 'east'"):
        store.get("east")
    with pytest.raises(ScenarioNotFoundError, match="no scenario named 'east'"):
        store.history("east")
    store.save(plan(1), 0)
    with pytest.raises(ScenarioNotFoundError, match="scenario 'east' has no version 2"):
        store.get("east", version=2)


def test_list_gives_latest_of_each(store):
    store.save(plan(1, "b-plan"), 0)
    store.save(plan(1, "a-plan"), 0)
    store.save(plan(2, "a-plan"), 1)
    assert [(i.name, i.version) for i in store.list_scenarios()] == [("a-plan", 2), ("b-plan", 1)]


# -- optimistic concurrency -------------------------------------------------------------------------


def test_stale_write_is_refused_with_a_clear_message(store):
    store.save(plan(1), 0)
    mine = store.get("east")
    theirs = store.get("east")
    for n in range(2, 6):
        theirs.description = f"theirs {n}"
        theirs.version = store.save(theirs)
    mine.description = "mine"
    with pytest.raises(StaleWriteError) as info:
        store.save(mine)  # expected version taken from mine.version == 1
    assert str(info.value) == (
        "scenario 'east' is at version 5, you edited version 1; reload and reapply your edits"
    )
    assert (info.value.current, info.value.expected) == (5, 1)
    assert store.get("east").description == "theirs 5"
    with pytest.raises(StaleWriteError, match="already exists at version 5, you saved it as new"):
        store.save(plan(9), expected_version=0)
    with pytest.raises(StaleWriteError, match="is at version 5, you edited version 7"):
        store.save(plan(9), expected_version=7)
    assert store.head_version("east") == 5


def race(writer, n: int = 2) -> dict[int, object]:
    """Run ``writer(k)`` in ``n`` threads; each one's return value or StaleWriteError."""
    outcome: dict[int, object] = {}

    def run(k: int) -> None:
        try:
            outcome[k] = writer(k)
        except StaleWriteError as exc:
            outcome[k] = exc

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcome


def test_two_threads_racing_one_wins(store_url):
    stores = [ScenarioStore(store_url) for _ in range(2)]
    stores[0].save(plan(1), 0)
    barrier = threading.Barrier(2, timeout=30)

    def writer(k: int) -> int:
        s = stores[k].get("east")  # both read version 1
        s.description = f"writer {k}"
        barrier.wait()
        return stores[k].save(s)

    outcome = race(writer)
    winners = [k for k, v in outcome.items() if v == 2]
    losers = [k for k, v in outcome.items() if isinstance(v, StaleWriteError)]
    assert len(winners) == 1 and len(losers) == 1, outcome
    assert stores[0].get("east").description == f"writer {winners[0]}"
    assert [h.version for h in stores[1].history("east")] == [1, 2]
    for s in stores:
        s.close()


def test_unique_constraint_stops_a_writer_that_read_a_stale_head(store, monkeypatch):
    # Simulate the race window: this writer read the head before another writer
    # committed, so its own check passes; the UNIQUE (name, version) insert must refuse it.
    store.save(plan(1), 0)
    store.save(plan(2), 1)
    monkeypatch.setattr(ScenarioStore, "_head", lambda self, conn, name: (1, False))
    with pytest.raises(StaleWriteError, match="is at version 2, you edited version 1") as info:
        store.save(plan(7), expected_version=1)
    assert isinstance(info.value.__context__, sa.exc.IntegrityError)  # refused by the constraint
    monkeypatch.undo()
    assert store.get("east").content() == plan(2).content()
    assert [h.version for h in store.history("east")] == [1, 2]
    assert store.check() == []


@pytest.mark.postgres
def test_postgres_concurrent_transactions_both_reading_the_same_head(pg_url, monkeypatch):
    # (On SQLite the write lock is taken before the head is read, BEGIN IMMEDIATE,
    # so two transactions cannot both read it; the stale-head test covers that path.)
    stores = [ScenarioStore(pg_url) for _ in range(2)]
    stores[0].save(plan(1), 0)
    barrier = threading.Barrier(2, timeout=30)
    real_head = ScenarioStore._head

    def head_then_wait(self, conn, name):
        v = real_head(self, conn, name)
        barrier.wait(timeout=10)  # both transactions have now read version 1 and will insert version 2
        return v

    monkeypatch.setattr(ScenarioStore, "_head", head_then_wait)
    outcome = race(lambda k: stores[k].save(plan(10 + k), expected_version=1))
    monkeypatch.undo()
    winners = [k for k, v in outcome.items() if v == 2]
    assert len(winners) == 1, outcome
    loser = 1 - winners[0]
    assert isinstance(outcome[loser], StaleWriteError)
    assert isinstance(outcome[loser].__context__, sa.exc.IntegrityError)  # refused by the constraint
    assert stores[0].get("east").content() == plan(10 + winners[0]).content()
    assert stores[0].check() == []
    for s in stores:
        s.close()


def test_a_save_is_one_transaction(store, monkeypatch):
    # Make the second statement of the save (the edit rows) fail: the version row
    # inserted just before must be rolled back with it.
    import scenarios.store as store_module

    store.save(plan(1), 0)
    monkeypatch.setattr(store_module, "_edit_row", lambda i, e: {"edit_index": 0, "op": None, "facility_id": "x"})
    with pytest.raises(StoreError, match="saving scenario 'east' failed and was rolled back"):
        store.save(plan(2), 1)
    monkeypatch.undo()
    assert store.head_version("east") == 1
    assert store.save(plan(2), 1) == 2
    assert store.check() == []


# -- delete ---------------------------------------------------------------------------------------------


def test_delete_is_soft_and_keeps_history(store):
    store.save(plan(1), 0)
    store.save(plan(2), 1)
    store.save(plan(1, "other"), 0)
    assert store.delete("east", author="wang", message="dropped") == 3
    assert [i.name for i in store.list_scenarios()] == ["other"]
    assert [(i.name, i.deleted) for i in store.list_scenarios(include_deleted=True)] == [("east", True), ("other", False)]
    with pytest.raises(ScenarioNotFoundError, match="was deleted at version 3; its earlier versions are still readable"):
        store.get("east")
    with pytest.raises(ScenarioNotFoundError, match="version 3 of scenario 'east' is its deletion marker"):
        store.get("east", version=3)
    assert store.get("east", version=2).content() == plan(2).content()
    assert [(h.version, h.deleted, h.author) for h in store.history("east")] == [
        (1, False, None), (2, False, None), (3, True, "wang")
    ]
    with pytest.raises(ScenarioNotFoundError, match="already deleted"):
        store.delete("east")
    with pytest.raises(StaleWriteError, match="is at version 3, you edited version 2"):
        store.save(plan(5), expected_version=2)
    assert store.save(plan(5), expected_version=0) == 4  # brought back on top of the marker
    assert store.get("east").content() == plan(5).content()
    store.delete("east")
    assert store.save(plan(6), expected_version=5) == 6  # or naming the marker's version
    with pytest.raises(StaleWriteError, match="already exists at version 6, you saved it as new"):
        store.save(plan(7), expected_version=0)
    assert store.check() == []


def test_delete_refuses_unknown_and_stale(store):
    with pytest.raises(ScenarioNotFoundError, match="never saved"):
        store.delete("east")
    store.save(plan(1), 0)
    store.save(plan(2), 1)
    with pytest.raises(StaleWriteError, match="is at version 2, you edited version 1"):
        store.delete("east", expected_version=1)
    assert store.get("east").version == 2


# -- results -----------------------------------------------------------------------------------------------


def test_results_are_stored_per_version(store):
    s = plan(1)
    s.results = {"clinic-walk": {"covered": np.float64(0.75), "people": np.int64(1200), "gap": math.nan}}
    store.save(s, 0)
    store.save(plan(2), 1)
    assert store.get("east", 1).results == {"clinic-walk": {"covered": 0.75, "people": 1200, "gap": None}}
    assert store.get("east", 2).results is None
    store.save_results("east", 2, {"clinic-walk": {"covered": 0.5}})
    assert store.get("east").results == {"clinic-walk": {"covered": 0.5}}
    assert [h.has_results for h in store.history("east")] == [True, True]
    assert store.get("east", 1).results["clinic-walk"]["covered"] == 0.75  # untouched
    with pytest.raises(ScenarioNotFoundError, match="no saved version 3"):
        store.save_results("east", 3, {})
    with pytest.raises(StoreError, match=r"results\.x: object cannot be stored as JSON"):
        store.save_results("east", 2, {"x": object()})


# -- integrity and backend details ---------------------------------------------------------------------------


def test_tampering_is_detected(store):
    store.save(plan(1), 0)
    store.save(plan(2), 1)
    with store.engine.begin() as conn:
        conn.execute(sa.update(versions).where(versions.c.version == 1)
                     .values(body=sa.func.replace(versions.c.body, "revision 1", "revision X")))
    with pytest.raises(StoreCorruptError, match="scenario 'east' version 1 .* does not match its checksum"):
        store.get("east", 1)
    assert store.get("east").version == 2
    assert store.check() == ["scenario 'east' version 1: checksum mismatch"]


def test_newer_schema_is_refused(store_url):
    ScenarioStore(store_url).close()
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.update(store_meta).values(value=str(SCHEMA_VERSION + 1)))
    engine.dispose()
    with pytest.raises(StoreError, match="written by a newer lifecircle"):
        ScenarioStore(store_url)


def test_sqlite_runs_in_wal_with_full_sync(tmp_path):
    store = ScenarioStore(f"sqlite:///{tmp_path / 's.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    store.close()


def test_in_memory_sqlite_keeps_data_across_calls():
    with ScenarioStore("sqlite://") as store:
        store.save(plan(1), 0)
        assert store.get("east").version == 1


@pytest.mark.postgres
def test_postgis_geometry_of_edits(pg_url):
    with ScenarioStore(pg_url) as store:
        assert store.has_postgis
        store.save(plan(1), 0)  # adds new-0 at (116.30, 39.9) and new-1 at (116.31, 39.9)
        store.save(plan(2, "west"), 0)  # adds new-0 .. new-2
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT v.name, e.facility_id, ST_X(e.geom), ST_Y(e.geom), ST_SRID(e.geom) "
                "FROM scenario_edits e JOIN scenario_versions v ON v.id = e.version_id "
                "WHERE e.op = 'add' ORDER BY v.name, e.edit_index")).all()
            assert [(r[0], r[1]) for r in rows] == [("east", "new-0"), ("east", "new-1"),
                                                    ("west", "new-0"), ("west", "new-1"), ("west", "new-2")]
            assert [round(r[2], 6) for r in rows] == [116.3, 116.31, 116.3, 116.31, 116.32]
            assert {r[3] for r in rows} == {39.9} and {r[4] for r in rows} == {4326}
            # A portal query: which scenarios open a facility within 500 m of (116.32, 39.9)?
            near = conn.execute(sa.text(
                "SELECT DISTINCT v.name FROM scenario_edits e JOIN scenario_versions v ON v.id = e.version_id "
                "WHERE ST_DWithin(e.geom::geography, ST_SetSRID(ST_MakePoint(116.32, 39.9), 4326)::geography, 500)"
            )).scalars().all()
            assert near == ["west"]  # east's nearest add is 0.01 deg (~850 m) away
            # x/y-only edits carry no geometry
            assert conn.execute(sa.text("SELECT count(*) FROM scenario_edits WHERE op = 'move' AND geom IS NULL")).scalar() == 2


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(StoreError, match=r"cannot open scenario store postgresql\+psycopg2://u:\*\*\*@127\.0\.0\.1:1/x"):
        ScenarioStore("postgresql+psycopg2://u:secret@127.0.0.1:1/x")
    with pytest.raises(StoreError, match="unsupported database"):
        ScenarioStore("mysql://u@localhost/x")


def test_default_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("LIFECIRCLE_DB_URL", raising=False)
    monkeypatch.setenv("LIFECIRCLE_DATA", str(tmp_path / "lc"))
    assert data_dir() == tmp_path / "lc"
    assert default_url() == f"sqlite:///{tmp_path / 'lc' / 'scenarios.db'}"
    with ScenarioStore() as store:
        store.save(plan(1), 0)
    assert (tmp_path / "lc" / "scenarios.db").exists()
    monkeypatch.delenv("LIFECIRCLE_DATA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "lifecircle"
    monkeypatch.setenv("LIFECIRCLE_DB_URL", "sqlite://")
    assert default_url() == "sqlite://"
