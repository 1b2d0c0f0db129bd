"""State that every worker of one deployment must agree on: jobs, job results, uploaded layers.

It lives in the configured database (:func:`scenarios.db.make_engine`): a
SQLite file in the data folder for one process, PostgreSQL when several
workers or hosts serve one portal. A job started through one worker is then
visible, and cancellable, through any other: the worker running it polls its
``cancel`` flag.

Rows are small except result and layer bodies (bytes), which are written once
and read whole. Every count that bounds a queue or a store is taken inside the
write transaction that inserts, so two workers cannot both pass a limit.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from scenarios.db import StoreError, make_engine, read_connection, write_connection

__all__ = ["ACTIVE", "JobRow", "QueueFull", "RunRow", "SharedStore"]

ACTIVE = ("queued", "running")
"""Job states that hold a place in the queues."""

metadata = sa.MetaData()

jobs = sa.Table(
    "api_jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    sa.Column("step", sa.String(200), nullable=False, default="queued"),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Column("result_url", sa.Text),
    sa.Column("error", sa.Text),  # JSON {"status", "detail"}
    sa.Column("cancel", sa.Boolean, nullable=False, default=False),
    sa.Column("worker", sa.String(200), nullable=False),
)

results = sa.Table(
    "api_results",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
)

layers = sa.Table(
    "api_layers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("meta", sa.Text, nullable=False),  # JSON: name, type, source, warnings, created
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # GeoParquet in the city's CRS
)


runs = sa.Table(
    "api_runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False, index=True),
    sa.Column("key", sa.Text, nullable=False),  # what the run depends on: identical requests reuse it
    sa.Column("request", sa.Text, nullable=False),  # JSON
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # the pickled results (and city, for uploaded layers)
)


class QueueFull(Exception):
    """A job would pass a queue bound (overall or per key).

    Attributes
    ----------
    scope : str
        ``"server"`` or ``"key"``.
    limit : int
        The bound that was reached.
    """

    def __init__(self, scope: str, limit: int):
        super().__init__(scope)
        self.scope, self.limit = scope, limit


@dataclass(frozen=True)
class JobRow:
    """A job as the shared store knows it."""

    id: str
    owner: str
    kind: str
    state: str
    progress: float
    step: str
    created: float
    started: float | None
    finished: float | None
    result_url: str | None
    error: dict | None
    cancel: bool
    worker: str

    @property
    def done(self) -> bool:
        return self.state not in ACTIVE


@dataclass(frozen=True)
class RunRow:
    """A kept coverage run, its results still pickled."""

    id: str
    owner: str
    key: str
    request: dict
    created: float
    body: bytes


def _run(row: Any) -> RunRow:
    return RunRow(id=row.id, owner=row.owner, key=row.key, request=json.loads(row.request), created=row.created, body=bytes(row.body))


def _job(row: Any) -> JobRow:
    data = dict(row._mapping)
    data["error"] = json.loads(data["error"]) if data["error"] else None
    data["cancel"] = bool(data["cancel"])
    return JobRow(**data)


class SharedStore:
    """The shared tables in one database.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg2://...``).
    """

    def __init__(self, url: str):
        self.engine: Engine = make_engine(url)
        self._last_purge: dict[str, float] = {}
        try:
            with write_connection(self.engine) as conn:
                metadata.create_all(conn)
        except sa.exc.DBAPIError as exc:
            self.engine.dispose()
            raise StoreError(f"cannot open the shared store: {str(exc.orig).strip()}") from None

    def close(self) -> None:
        self.engine.dispose()

    _PURGE_EVERY_S = 10.0

    def due(self, what: str) -> bool:
        """Whether ``what`` (jobs, layers, runs, results) should be purged now: at most every few seconds.

        A purge is a write transaction; doing one on every read would serialise the readers.
        """
        now = time.monotonic()
        last = self._last_purge.get(what, -1e9)
        if now - last < self._PURGE_EVERY_S:
            return False
        self._last_purge[what] = now
        return True

    # -- jobs ------------------------------------------------------------------

    def add_job(self, job_id: str, owner: str, kind: str, worker: str, max_total: int, max_per_owner: int) -> None:
        """Queue a job, unless a bound is reached (:class:`QueueFull`)."""
        with write_connection(self.engine) as conn:
            if self.engine.dialect.name == "postgresql":  # serialise the count-then-insert across workers
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(0x6A6F6273)))
            active = jobs.c.state.in_(ACTIVE)
            total = conn.execute(sa.select(sa.func.count()).where(active)).scalar_one()
            if total >= max_total:
                raise QueueFull("server", max_total)
            mine = conn.execute(sa.select(sa.func.count()).where(active, jobs.c.owner == owner)).scalar_one()
            if mine >= max_per_owner:
                raise QueueFull("key", max_per_owner)
            conn.execute(
                sa.insert(jobs).values(
                    id=job_id, owner=owner, kind=kind, state="queued", progress=0.0, step="queued",
                    created=time.time(), cancel=False, worker=worker,
                )
            )

    def update_job(self, job_id: str, **values: Any) -> None:
        """Set fields of a job (``error`` as a dict)."""
        if "error" in values and values["error"] is not None:
            values["error"] = json.dumps(values["error"])
        with write_connection(self.engine) as conn:
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(**values))

    def start_job(self, job_id: str) -> bool:
        """Mark a queued job running; ``False`` when it was cancelled meanwhile."""
        with write_connection(self.engine) as conn:
            n = conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == "queued", jobs.c.cancel.is_(False))
                .values(state="running", started=time.time(), step="starting")
            ).rowcount
        return n == 1

    def get_job(self, job_id: str) -> JobRow | None:
        with read_connection(self.engine) as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else _job(row)

    def list_jobs(self) -> list[JobRow]:
        with read_connection(self.engine) as conn:
            return [_job(r) for r in conn.execute(sa.select(jobs).order_by(jobs.c.created)).all()]

    def cancel_job(self, job_id: str) -> JobRow | None:
        """Ask a job to stop: a queued one is cancelled at once, a running one by its worker."""
        now = time.time()
        with write_connection(self.engine) as conn:
            conn.execute(
                sa.update(jobs).where(jobs.c.id == job_id, jobs.c.state == "queued")
                .values(state="cancelled", finished=now, step="cancelled", cancel=True)
            )
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id, jobs.c.state == "running").values(cancel=True))
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else _job(row)

    def delete_job(self, job_id: str) -> None:
        with write_connection(self.engine) as conn:
            conn.execute(sa.delete(jobs).where(jobs.c.id == job_id))

    def cancel_requested(self, job_id: str) -> bool:
        with read_connection(self.engine) as conn:
            return bool(conn.execute(sa.select(jobs.c.cancel).where(jobs.c.id == job_id)).scalar())

    def job_counts(self) -> dict[str, int]:
        """Jobs per state."""
        with read_connection(self.engine) as conn:
            rows = conn.execute(sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)).all()
        return {state: int(n) for state, n in rows}

    def purge_jobs(self, ttl_s: float) -> int:
        """Forget finished jobs older than ``ttl_s``; returns how many."""
        with write_connection(self.engine) as conn:
            return conn.execute(
                sa.delete(jobs).where(jobs.c.state.not_in(ACTIVE), jobs.c.finished < time.time() - ttl_s)
            ).rowcount

    def orphaned_jobs(self, worker_prefix: str, alive: set[str]) -> int:
        """Fail the unfinished jobs of workers of this host that are gone (a restart or a kill)."""
        with write_connection(self.engine) as conn:
            rows = conn.execute(
                sa.select(jobs.c.id, jobs.c.worker).where(jobs.c.state.in_(ACTIVE), jobs.c.worker.like(worker_prefix + "%"))
            ).all()
            dead = [r.id for r in rows if r.worker not in alive]
            if dead:
                conn.execute(
                    sa.update(jobs).where(jobs.c.id.in_(dead)).values(
                        state="failed", finished=time.time(), step="stopped",
                        error=json.dumps({"status": 503, "detail": "the server running this job stopped; start it again"}),
                    )
                )
        return len(dead)

    # -- results ---------------------------------------------------------------

    def put_result(self, result_id: str, owner: str, kind: str, media_type: str, body: bytes, per_owner: int) -> None:
        """Keep a job's result; the owner's oldest beyond ``per_owner`` are dropped (only the owner's)."""
        with write_connection(self.engine) as conn:
            conn.execute(sa.insert(results).values(id=result_id, owner=owner, kind=kind, media_type=media_type, created=time.time(), body=body))
            ids = conn.execute(
                sa.select(results.c.id).where(results.c.owner == owner).order_by(results.c.created.desc(), results.c.id).offset(per_owner)
            ).scalars().all()
            if ids:
                conn.execute(sa.delete(results).where(results.c.id.in_(ids)))

    def get_result(self, result_id: str, kind: str) -> tuple[str, bytes] | None:
        """``(media_type, body)`` of a kept result of that kind."""
        with read_connection(self.engine) as conn:
            row = conn.execute(sa.select(results.c.media_type, results.c.body).where(results.c.id == result_id, results.c.kind == kind)).first()
        return None if row is None else (row.media_type, bytes(row.body))

    def purge_results(self, ttl_s: float) -> None:
        with write_connection(self.engine) as conn:
            conn.execute(sa.delete(results).where(results.c.created < time.time() - ttl_s))

    # -- layers ----------------------------------------------------------------

    def put_layer(self, layer_id: str, owner: str, meta: dict, body: bytes, max_layers: int) -> bool:
        """Keep an uploaded layer; ``False`` (nothing kept) when the owner keeps ``max_layers`` already.

        The bound is per owner, so one key filling its share leaves the others theirs.
        """
        with write_connection(self.engine) as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(0x6C617973)))
            if conn.execute(sa.select(sa.func.count()).where(layers.c.owner == owner)).scalar_one() >= max_layers:
                return False
            conn.execute(sa.insert(layers).values(id=layer_id, owner=owner, meta=json.dumps(meta), created=meta["created"], body=body))
        return True

    def get_layer(self, layer_id: str) -> tuple[dict, bytes] | None:
        with read_connection(self.engine) as conn:
            row = conn.execute(sa.select(layers.c.meta, layers.c.body).where(layers.c.id == layer_id)).first()
        return None if row is None else (json.loads(row.meta), bytes(row.body))

    def layer_ids(self, owner: str | None = None) -> list[str]:
        """Ids of the kept layers (of one owner if given), oldest first."""
        query = sa.select(layers.c.id).order_by(layers.c.created)
        if owner is not None:
            query = query.where(layers.c.owner == owner)
        with read_connection(self.engine) as conn:
            return list(conn.execute(query).scalars())

    def delete_layer(self, layer_id: str) -> bool:
        with write_connection(self.engine) as conn:
            return conn.execute(sa.delete(layers).where(layers.c.id == layer_id)).rowcount == 1

    def purge_layers(self, ttl_s: float) -> None:
        with write_connection(self.engine) as conn:
            conn.execute(sa.delete(layers).where(layers.c.created < time.time() - ttl_s))

    # -- coverage runs -----------------------------------------------------------

    def put_run(self, row: RunRow, per_owner: int) -> list[str]:
        """Keep a run; the owner's oldest beyond ``per_owner`` are dropped. Returns the dropped ids."""
        with write_connection(self.engine) as conn:
            conn.execute(sa.insert(runs).values(id=row.id, owner=row.owner, key=row.key, request=json.dumps(row.request),
                                                created=row.created, body=row.body))
            ids = list(conn.execute(
                sa.select(runs.c.id).where(runs.c.owner == row.owner).order_by(runs.c.created.desc(), runs.c.id).offset(per_owner)
            ).scalars())
            if ids:
                conn.execute(sa.delete(runs).where(runs.c.id.in_(ids)))
        return ids

    def get_run(self, run_id: str) -> RunRow | None:
        with read_connection(self.engine) as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        return None if row is None else _run(row)

    def run_exists(self, run_id: str) -> bool:
        with read_connection(self.engine) as conn:
            return conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is not None

    def find_run(self, key: str) -> str | None:
        """The newest run made for ``key``."""
        with read_connection(self.engine) as conn:
            return conn.execute(sa.select(runs.c.id).where(runs.c.key == key).order_by(runs.c.created.desc()).limit(1)).scalar()

    def run_ids(self) -> list[str]:
        with read_connection(self.engine) as conn:
            return list(conn.execute(sa.select(runs.c.id).order_by(runs.c.created)).scalars())

    def delete_run(self, run_id: str) -> bool:
        with write_connection(self.engine) as conn:
            return conn.execute(sa.delete(runs).where(runs.c.id == run_id)).rowcount == 1

    def purge_runs(self, ttl_s: float) -> list[str]:
        with write_connection(self.engine) as conn:
            old = list(conn.execute(sa.select(runs.c.id).where(runs.c.created < time.time() - ttl_s)).scalars())
            if old:
                conn.execute(sa.delete(runs).where(runs.c.id.in_(old)))
        return old
