"""The tables of the scenario store and the conversions of their rows (see :mod:`scenarios.store`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from scenarios.model import AddFacility, MoveFacility

__all__ = ["VersionInfo", "edit_row", "edits_table", "info", "max_version", "metadata", "store_meta", "versions"]


@dataclass(frozen=True)
class VersionInfo:
    """One version of a scenario, without its content.

    Attributes
    ----------
    name : str
    version : int
        1, 2, ... per scenario.
    saved_at : datetime
        UTC time of the commit.
    author, message : str or None
        Who saved it and why, as given to :meth:`ScenarioStore.save`.
    deleted : bool
        True for a deletion marker.
    has_results : bool
        Whether evaluation results are stored with this version.
    """

    name: str
    version: int
    saved_at: datetime
    author: str | None
    message: str | None
    deleted: bool
    has_results: bool


metadata = sa.MetaData()

versions = sa.Table(
    "scenario_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("author", sa.String(200)),
    sa.Column("message", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False),
    # The canonical JSON text, not a JSON column, so the checksum covers exact bytes.
    sa.Column("body", sa.Text),
    sa.Column("body_sha256", sa.String(64)),
    sa.Column("results", sa.JSON().with_variant(JSONB(), "postgresql")),
    # The guarantee behind optimistic concurrency: one row per (scenario, version).
    sa.UniqueConstraint("name", "version", name="uq_scenario_version"),
    sa.CheckConstraint("version >= 1", name="ck_version_positive"),
)

edits_table = sa.Table(
    "scenario_edits",
    metadata,
    sa.Column("version_id", sa.Integer, sa.ForeignKey("scenario_versions.id"), nullable=False),
    sa.Column("edit_index", sa.Integer, nullable=False),
    sa.Column("op", sa.String(20), nullable=False),
    sa.Column("facility_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(50)),
    sa.Column("lon", sa.Double),
    sa.Column("lat", sa.Double),
    sa.Column("x", sa.Double),
    sa.Column("y", sa.Double),
    sa.PrimaryKeyConstraint("version_id", "edit_index"),
)

store_meta = sa.Table(
    "lifecircle_meta",
    metadata,
    sa.Column("key", sa.String(50), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def _utc(ts: datetime) -> datetime:
    # SQLite keeps no zone; every timestamp was written in UTC.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def info(row: Any) -> VersionInfo:
    return VersionInfo(
        name=row.name,
        version=row.version,
        saved_at=_utc(row.saved_at),
        author=row.author,
        message=row.message,
        deleted=bool(row.deleted),
        has_results=row.results is not None,
    )


def max_version(conn: Connection, name: str) -> int:
    """Latest version number of ``name`` (a deletion marker counts), 0 if none."""
    head = conn.execute(sa.select(sa.func.max(versions.c.version)).where(versions.c.name == name)).scalar()
    return int(head or 0)


def edit_row(i: int, edit: Any) -> dict[str, Any]:
    located = isinstance(edit, (AddFacility, MoveFacility))
    return {
        "edit_index": i,
        "op": edit.op,
        "facility_id": edit.id,
        "kind": edit.kind if isinstance(edit, AddFacility) else None,
        "lon": edit.lon if located else None,
        "lat": edit.lat if located else None,
        "x": edit.x if located else None,
        "y": edit.y if located else None,
    }
