"""Opening a database for lifecircle's stores: SQLite (one process) or PostgreSQL (several).

One engine recipe for every table lifecircle keeps (the scenario store, and the
API's shared jobs, results and layers), so that each gets the same durability
and locking:

- SQLite runs in WAL mode with ``synchronous=FULL`` (a returned write survives
  a kill and a power cut) and writers begin with ``BEGIN IMMEDIATE``, so a
  check-then-insert is serialised; readers use a snapshot and never block
  writers.
- PostgreSQL gets a pre-pinged pool and a connect timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

__all__ = ["StoreError", "make_engine", "read_connection", "safe_url", "write_connection"]


class StoreError(RuntimeError):
    """A store cannot do what was asked (connection, schema, bad data)."""


def safe_url(url: str | URL) -> str:
    """The URL with any password masked, for logs (never for messages to clients)."""
    return make_url(url).render_as_string(hide_password=True)


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook issue BEGIN itself (pysqlite would defer it
    # to the first write, too late to take the write lock before reading).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock up front (IMMEDIATE) so check-then-insert is
    # serialised; readers use a plain snapshot and never block writers in WAL.
    mode = "IMMEDIATE" if conn.get_execution_options().get("lifecircle_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | URL) -> Engine:
    """An engine for ``sqlite:///file``, ``sqlite://`` (memory) or ``postgresql+psycopg2://...``.

    Raises
    ------
    StoreError
        Unsupported database, or the SQLite file's folder cannot be created.
    """
    url = make_url(url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"timeout": 30.0, "check_same_thread": False}}
        db = url.database
        if db and db != ":memory:" and not db.startswith("file:"):
            try:
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for {safe_url(url)}: {exc.strerror}") from None
        else:  # one shared connection, or every connection would see its own empty database
            kwargs["poolclass"] = StaticPool
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    if backend == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    raise StoreError(f"unsupported database {safe_url(url)}: use sqlite:/// or postgresql+psycopg2://")


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes (on SQLite it holds the write lock from its start)."""
    with engine.connect() as conn:
        conn.execution_options(lifecircle_write=True)
        with conn.begin():
            yield conn


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (a consistent snapshot)."""
    with engine.connect() as conn, conn.begin():
        yield conn
