"""A versioned scenario store in a real database (SQLite by default, PostgreSQL for a shared portal).

Every save appends a new version of the scenario; nothing is ever updated in
place except the derived evaluation results attached to a version. Deleting is
*soft*: it appends a deletion marker (a "tombstone" version), so the scenario
disappears from :meth:`ScenarioStore.list_scenarios` and :meth:`ScenarioStore.get`
but every earlier version stays readable by number and in
:meth:`ScenarioStore.history`, and saving again on top of the marker brings the
name back. There is deliberately no hard delete: the store never loses
committed data.

Concurrency is optimistic. ``save(scenario, expected_version)`` says which
version the edit was based on; if the scenario has moved on, the save is
refused with :class:`StaleWriteError`. Two writers cannot both win: the version
row is inserted in the same transaction that checked the head, and the
``UNIQUE (name, version)`` constraint rejects the second insert even when both
writers read the same head (PostgreSQL, READ COMMITTED). On SQLite write
transactions start with ``BEGIN IMMEDIATE``, so writers are serialised before
they read the head.

Durability. SQLite runs in WAL mode with ``synchronous=FULL``: once ``save``
returns, the version survives the process being killed and also a power
cut (``NORMAL`` would survive a kill but may lose the last commits on power
loss; scenario saves are rare, so the extra fsync is worth it). Every body is
stored with its SHA-256, checked on every read and by :meth:`ScenarioStore.check`.

PostgreSQL. ``ScenarioStore("postgresql+psycopg2://user@host/db")``. On
connecting, the store enables PostGIS (``CREATE EXTENSION IF NOT EXISTS
postgis``; needs a superuser or an extension created beforehand by the DBA) and
gives the ``scenario_edits`` table -- one row per facility edit of every version,
for portal queries such as "which plans open a clinic in this district" -- a
generated ``geom geometry(Point, 4326)`` column from the edit's lon/lat, with a
GiST index. Without PostGIS the store works the same, minus that column
(:attr:`ScenarioStore.has_postgis` says which). Results are ``JSONB`` there.

Where the SQLite file lives: ``$LIFECIRCLE_DB_URL`` if set (any SQLAlchemy URL),
else ``$LIFECIRCLE_DATA/scenarios.db``, else ``scenarios.db`` in the per-user data
folder (platformdirs: ``$XDG_DATA_HOME/lifecircle``, by default ``~/.local/share/lifecircle``),
which the API also uses by default.

The engine recipe (WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` writers) is
:mod:`scenarios.db`; the tables and row conversions are :mod:`scenarios.store_tables`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from geo.errors import LifecircleError
from scenarios.db import StoreError, make_engine, read_connection, safe_url, write_connection
from scenarios.model import Scenario
from scenarios.store_tables import VersionInfo, edits_table, metadata, store_meta, versions
from scenarios.store_tables import edit_row as _edit_row
from scenarios.store_tables import info as _info
from scenarios.store_tables import max_version as _max_version

__all__ = [
    "SCHEMA_VERSION",
    "ScenarioNotFoundError",
    "ScenarioStore",
    "StaleWriteError",
    "StoreCorruptError",
    "StoreError",
    "VersionInfo",
    "data_dir",
    "default_url",
]

SCHEMA_VERSION = 1
"""Layout version of the tables; a store written by a newer layout is refused."""

_PG_SCHEMA_LOCK = 0x6C69666563  # pg_advisory_xact_lock key: serialise DDL of concurrent openers


class StaleWriteError(StoreError, LifecircleError):
    """A save or delete based on a version that is no longer the latest.

    Attributes
    ----------
    name : str
    current : int
        The scenario's latest version in the store (0: none).
    expected : int
        The version the caller's edit was based on.
    """

    def __init__(self, name: str, current: int, expected: int) -> None:
        self.name, self.current, self.expected = name, current, expected
        if expected == 0:
            msg = (
                f"scenario '{name}' already exists at version {current}, you saved it as new; "
                "load it and reapply your edits, or choose another name"
            )
        else:
            msg = (
                f"scenario '{name}' is at version {current}, you edited version {expected}; "
                "reload and reapply your edits"
            )
        super().__init__(msg)


class ScenarioNotFoundError(StoreError, LifecircleError, LookupError):
    """No such scenario, version, or the scenario was deleted."""


class StoreCorruptError(StoreError):
    """A stored version whose checksum does not match its content."""


def data_dir() -> Path:
    """Folder for lifecircle's own data: ``$LIFECIRCLE_DATA``, else the per-user data folder.

    The per-user folder is :func:`platformdirs.user_data_dir` (``$XDG_DATA_HOME/lifecircle``,
    by default ``~/.local/share/lifecircle`` on Linux; ``%LOCALAPPDATA%\\lifecircle`` on Windows).
    """
    if os.environ.get("LIFECIRCLE_DATA"):
        return Path(os.environ["LIFECIRCLE_DATA"]).expanduser()
    return Path(platformdirs.user_data_dir("lifecircle", appauthor=False))


def default_url() -> str:
    """``$LIFECIRCLE_DB_URL``, else a SQLite file ``scenarios.db`` in :func:`data_dir`."""
    if os.environ.get("LIFECIRCLE_DB_URL"):
        return os.environ["LIFECIRCLE_DB_URL"]
    return f"sqlite:///{data_dir() / 'scenarios.db'}"


def _canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(obj: Any, where: str = "results") -> Any:
    """Results as strict JSON: numpy scalars to Python, NaN/inf to null (JSON has neither)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise StoreError(f"{where}: {type(obj).__name__} cannot be stored as JSON")


class ScenarioStore:
    """Versioned scenarios in SQLite or PostgreSQL.

    Parameters
    ----------
    url : str or sqlalchemy URL, optional
        Database URL; default :func:`default_url` (a SQLite file in the data dir).
        ``sqlite:///path.db``, ``sqlite://`` (in memory, for tests) or
        ``postgresql+psycopg2://user:pass@host:port/db``.

    Raises
    ------
    StoreError
        If the database cannot be reached or was written by a newer lifecircle.

    Examples
    --------
    >>> store = ScenarioStore("sqlite://")
    >>> v = store.save(Scenario(name="plan-a", city="demo"), expected_version=0)
    >>> s = store.get("plan-a"); s.description = "east side"
    >>> store.save(s)  # expected version taken from s.version
    2
    """

    def __init__(self, url: str | URL | None = None) -> None:
        self.url = make_url(url or default_url())
        self.backend = self.url.get_backend_name()
        self.has_postgis = False
        self.engine = self._make_engine()
        self._init_schema()
        if self.backend == "postgresql":
            self.has_postgis = self._enable_postgis()

    # -- connection -----------------------------------------------------------

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for logs."""
        return safe_url(self.url)

    def _make_engine(self) -> Engine:
        return make_engine(self.url)

    def _write(self):
        return write_connection(self.engine)

    def _read(self):
        return read_connection(self.engine)

    def _init_schema(self) -> None:
        try:
            with self._write() as conn:
                if self.backend == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
                metadata.create_all(conn)
                found = conn.execute(
                    sa.select(store_meta.c.value).where(store_meta.c.key == "schema_version")
                ).scalar_one_or_none()
                if found is None:
                    conn.execute(sa.insert(store_meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
                elif int(found) > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.safe_url} was written by a newer lifecircle (schema {found}, "
                        f"this one knows {SCHEMA_VERSION}); upgrade lifecircle"
                    )
        except DBAPIError as exc:
            self.engine.dispose()
            raise StoreError(f"cannot open scenario store {self.safe_url}: {str(exc.orig).strip()}") from None

    def _enable_postgis(self) -> bool:
        ddl = [
            "CREATE EXTENSION IF NOT EXISTS postgis",
            # ST_MakePoint is NULL for x/y-only edits (STRICT), so those rows get no geometry.
            "ALTER TABLE scenario_edits ADD COLUMN IF NOT EXISTS geom geometry(Point, 4326) "
            "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED",
            "CREATE INDEX IF NOT EXISTS ix_scenario_edits_geom ON scenario_edits USING gist (geom)",
        ]
        try:
            with self._write() as conn:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
                for stmt in ddl:
                    conn.exec_driver_sql(stmt)
        except DBAPIError as exc:
            warnings.warn(
                f"{self.safe_url}: PostGIS not available ({str(exc.orig).strip()}); "
                "scenario edits are stored without a geometry column",
                stacklevel=3,
            )
            return False
        return True

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> ScenarioStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScenarioStore({self.safe_url!r})"

    # -- reading ----------------------------------------------------------------

    @staticmethod
    def _head_row(conn: Connection, name: str) -> Any:
        return conn.execute(
            sa.select(versions).where(versions.c.name == name).order_by(versions.c.version.desc()).limit(1)
        ).first()

    def _head(self, conn: Connection, name: str) -> tuple[int, bool]:
        """The head (version, is a deletion marker) as a writer's transaction sees it.

        Between this read and the insert is the race window the unique
        constraint closes; tests widen it by wrapping this method.
        """
        row = self._head_row(conn, name)
        return (0, False) if row is None else (row.version, bool(row.deleted))

    def head_version(self, name: str) -> int:
        """The latest version of ``name`` (its deletion marker if deleted); 0 if never saved."""
        with self._read() as conn:
            return _max_version(conn, name)

    def get(self, name: str, version: int | None = None) -> Scenario:
        """Read a scenario: the latest version, or the given one.

        Returns
        -------
        Scenario
            With :attr:`Scenario.version` set and the version's results, if any.

        Raises
        ------
        ScenarioNotFoundError
            Unknown name or version, or the scenario (latest) was deleted.
        StoreCorruptError
            If the stored content does not match its checksum.
        """
        with self._read() as conn:
            if version is None:
                row = self._head_row(conn, name)
            else:
                row = conn.execute(
                    sa.select(versions).where(versions.c.name == name, versions.c.version == version)
                ).first()
        if row is None:
            if version is None:
                raise ScenarioNotFoundError(f"no scenario named '{name}' ")
            raise ScenarioNotFoundError(f"scenario '{name}' has no version {version}")
        if row.deleted:
            if version is None:
                raise ScenarioNotFoundError(
                    f"scenario '{name}' was deleted at version {row.version}; "
                    f"its earlier versions are still readable (history('{name}'))"
                )
            raise ScenarioNotFoundError(f"version {version} of scenario '{name}' is its deletion marker")
        return self._decode(row)

    def _decode(self, row: Any) -> Scenario:
        if row.body is None or _sha256(row.body) != row.body_sha256:
            raise StoreCorruptError(
                f"scenario '{row.name}' version {row.version} in {self.safe_url} does not match its checksum"
            )
        data = json.loads(row.body)
        data["results"] = row.results
        data["version"] = row.version
        # Stored versions were valid when saved; don't re-check standard ids
        # against today's catalogue, or a renamed standard would make history unreadable.
        return Scenario.model_validate(data, context={"stored": True})

    def history(self, name: str) -> list[VersionInfo]:
        """All versions of ``name``, oldest first, deletion markers included.

        Raises
        ------
        ScenarioNotFoundError
            If ``name`` was never saved.
        """
        with self._read() as conn:
            rows = conn.execute(
                sa.select(versions).where(versions.c.name == name).order_by(versions.c.version)
            ).all()
        if not rows:
            raise ScenarioNotFoundError(f"no scenario named '{name}' ")
        return [_info(r) for r in rows]

    def list_scenarios(self, include_deleted: bool = False) -> list[VersionInfo]:
        """The latest version of every scenario, by name.

        Parameters
        ----------
        include_deleted : bool
            Also list deleted scenarios (their deletion marker is the latest version).
        """
        latest = (
            sa.select(versions.c.name, sa.func.max(versions.c.version).label("head"))
            .group_by(versions.c.name)
            .subquery()
        )
        query = (
            sa.select(versions)
            .join(latest, sa.and_(versions.c.name == latest.c.name, versions.c.version == latest.c.head))
            .order_by(versions.c.name)
        )
        if not include_deleted:
            query = query.where(versions.c.deleted.is_(False))
        with self._read() as conn:
            return [_info(r) for r in conn.execute(query).all()]

    # -- writing --------------------------------------------------------------------

    def save(
        self,
        scenario: Scenario,
        expected_version: int | None = None,
        *,
        author: str | None = None,
        message: str | None = None,
    ) -> int:
        """Store ``scenario`` as a new version, if nobody saved it since ``expected_version``.

        Parameters
        ----------
        scenario : Scenario
            Its ``results``, if set, are stored with the new version.
        expected_version : int, optional
            The version the edit was based on: 0 for a new scenario (or to
            bring back a deleted one: the new version follows its deletion
            marker). Default:
            ``scenario.version`` (set by :meth:`get`), or 0 if that is None.
        author, message : str, optional
            Recorded in :meth:`history`.

        Returns
        -------
        int
            The new version number (``expected_version + 1``).

        Raises
        ------
        StaleWriteError
            If the scenario's latest version is not ``expected_version``
            (someone else saved or deleted it meanwhile).
        """
        expected = expected_version if expected_version is not None else (scenario.version or 0)
        body = _canonical_json(scenario.content())
        results = None if scenario.results is None else _plain(scenario.results)
        edit_rows = [_edit_row(i, e) for i, e in enumerate(scenario.edits)]
        return self._append(
            scenario.name, expected, author, message, body=body, results=results, edit_rows=edit_rows
        )

    def delete(
        self, name: str, expected_version: int | None = None, *, author: str | None = None, message: str | None = None
    ) -> int:
        """Soft-delete ``name`` by appending a deletion marker; returns the marker's version.

        Earlier versions stay readable with ``get(name, version)`` and in
        :meth:`history`. ``expected_version=None`` deletes whatever the latest
        version is; give it to refuse deleting a version you have not seen.

        Raises
        ------
        ScenarioNotFoundError
            If there is no such scenario or it is already deleted.
        StaleWriteError
            If ``expected_version`` is given and is not the latest.
        """
        with self._read() as conn:
            head = self._head_row(conn, name)
        if head is None or head.deleted:
            state = "was never saved" if head is None else f"is already deleted (version {head.version})"
            raise ScenarioNotFoundError(f"cannot delete scenario '{name}': it {state}")
        expected = head.version if expected_version is None else expected_version
        return self._append(name, expected, author, message, body=None, results=None, edit_rows=[])

    def _append(
        self,
        name: str,
        expected: int,
        author: str | None,
        message: str | None,
        *,
        body: str | None,
        results: Any,
        edit_rows: list[dict[str, Any]],
    ) -> int:
        new = expected + 1
        try:
            with self._write() as conn:
                current, deleted = self._head(conn, name)
                if deleted and expected == 0 and body is not None:
                    # Saving "as new" over a deleted name brings it back; the
                    # unique constraint still settles two such saves racing.
                    expected, new = current, current + 1
                if current != expected:
                    raise StaleWriteError(name, current, expected)
                if body is None and current == 0:
                    raise ScenarioNotFoundError(f"cannot delete scenario '{name}': it was never saved")
                inserted = conn.execute(
                    sa.insert(versions).values(
                        name=name,
                        version=new,
                        saved_at=datetime.now(UTC),
                        author=author,
                        message=message,
                        deleted=body is None,
                        body=body,
                        body_sha256=None if body is None else _sha256(body),
                        results=results,
                    )
                )
                version_id = inserted.inserted_primary_key[0]
                if edit_rows:
                    conn.execute(sa.insert(edits_table), [{**r, "version_id": version_id} for r in edit_rows])
        except IntegrityError as exc:
            # Another writer read the same head and committed version `new` first;
            # the unique constraint made our insert fail and the transaction rolled back.
            current = self.head_version(name)
            if current >= new:  # `expected` may have been moved onto a deletion marker above
                raise StaleWriteError(name, current, expected) from None
            raise StoreError(f"saving scenario '{name}' failed and was rolled back: {exc.orig}") from exc
        return new

    def save_results(self, name: str, version: int, results: dict[str, Any]) -> None:
        """Attach evaluation results to an existing version (replacing earlier results).

        Results are derived from the version's content, so replacing them does
        not change the version itself. NaN and infinities are stored as null.

        Raises
        ------
        ScenarioNotFoundError
            Unknown name or version, or a deletion marker.
        """
        plain = _plain(results)
        with self._write() as conn:
            updated = conn.execute(
                sa.update(versions)
                .where(versions.c.name == name, versions.c.version == version, versions.c.deleted.is_(False))
                .values(results=plain)
            ).rowcount
        if updated != 1:
            raise ScenarioNotFoundError(f"scenario '{name}' has no saved version {version} to attach results to")

    # -- integrity ------------------------------------------------------------------

    def check(self) -> list[str]:
        """Look for damage: database integrity, checksums, gaps in version numbers.

        Returns
        -------
        list of str
            One line per problem; empty when the store is sound.
        """
        problems: list[str] = []
        with self._read() as conn:
            if self.backend == "sqlite":
                verdict = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").all()]
                if verdict != ["ok"]:
                    problems += [f"sqlite integrity_check: {v}" for v in verdict]
            rows = conn.execute(
                sa.select(versions.c.name, versions.c.version, versions.c.deleted, versions.c.body, versions.c.body_sha256)
                .order_by(versions.c.name, versions.c.version)
            ).all()
        seen: dict[str, int] = {}
        for r in rows:
            if r.version != seen.get(r.name, 0) + 1:
                problems.append(f"scenario '{r.name}': version {r.version} follows version {seen.get(r.name, 0)}")
            seen[r.name] = r.version
            if not r.deleted and (r.body is None or _sha256(r.body) != r.body_sha256):
                problems.append(f"scenario '{r.name}' version {r.version}: checksum mismatch")
        return problems
