"""Facility kinds known to lifecircle, with labels, map symbols and capacity fields.

The kinds come from the active catalogue (``scenarios.catalogue``): the
built-in ``seeds`` catalogue has the five kinds below; a planner's catalogue
may define others (schools, parks, ...). :data:`KINDS` is a live view of the
active kinds, so every lookup (validation, OSM tags, labels) follows the
catalogue a command was given.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "KINDS",
    "CAPACITY_FIELDS",
    "Kind",
    "SEED_KINDS",
    "active_kinds",
    "capacity_fields",
    "kind_label",
    "use_kinds",
]

CAPACITY_FIELDS: tuple[str, ...] = ("beds", "doctors", "floor_area_m2")
"""Numeric capacity fields every facility layer carries (NaN when unknown)."""

Geometry = Literal["point", "polygon"]


@dataclass(frozen=True)
class Kind:
    """One facility kind of a catalogue.

    Attributes
    ----------
    id : str
        The value of a facility's ``kind`` field.
    en, zh : str
        English and Chinese labels.
    symbol : str
        Map symbol: a matplotlib marker letter (``o s D P ^ v * h``).
    colour : str
        Map colour, ``#rrggbb``.
    capacity : tuple of str
        Capacity fields that matter for this kind (a subset of
        :data:`CAPACITY_FIELDS`, or ``staff``-like extra numeric fields).
    geometry : {"point", "polygon"}
        Polygons (parks) are reached from their edge, not their centroid.
    edge_spacing_m : float
        For polygon kinds: access points are placed along the edge at most
        this far apart (entrances given as points are used as they are).
    source : str
        Where the kind is defined.
    note : str
        How the kind is read (or what could not be checked).
    """

    id: str
    en: str
    zh: str
    symbol: str = "o"
    colour: str = "#555555"
    capacity: tuple[str, ...] = field(default_factory=tuple)
    geometry: Geometry = "point"
    edge_spacing_m: float = 25.0
    source: str = ""
    note: str = ""

    def __getitem__(self, key: str) -> str:
        # Older code reads KINDS[k]["en"] / ["zh"]: keep that working.
        if key in ("en", "zh", "symbol", "colour", "geometry", "source"):
            return getattr(self, key)
        raise KeyError(key)


def _seed_kinds() -> dict[str, Kind]:
    with open(Path(__file__).with_name("kinds.toml"), "rb") as f:
        entries = tomllib.load(f)["kind"]
    return {e["id"]: Kind(e["id"], e["en"], e["zh"], e["symbol"], e["colour"], tuple(e.get("capacity", ())),
                          source=e["source"]) for e in entries}


SEED_KINDS: dict[str, Kind] = _seed_kinds()
"""The kinds of the built-in ``seeds`` catalogue."""

_active: dict[str, Kind] = SEED_KINDS


def active_kinds() -> dict[str, Kind]:
    """The kinds of the active catalogue, by id."""
    return _active


@contextmanager
def use_kinds(kinds: Mapping[str, Kind]) -> Iterator[None]:
    """Make ``kinds`` the active kinds inside the block (process-wide, then restored).

    Process-wide rather than per-context on purpose: evaluation runs in thread
    pools, and a command or server works on one catalogue at a time.
    """
    global _active
    before, _active = _active, dict(kinds)
    try:
        yield
    finally:
        _active = before


def set_active_kinds(kinds: Mapping[str, Kind]) -> None:
    """Make ``kinds`` the active kinds until changed again (a server's whole life)."""
    global _active
    _active = dict(kinds)


class _ActiveKinds(Mapping):
    """Read-only mapping over the active kinds (``KINDS[k]["en"]`` works)."""

    def __getitem__(self, key: str) -> Kind:
        return _active[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_active)

    def __len__(self) -> int:
        return len(_active)

    def __repr__(self) -> str:
        return f"KINDS({list(_active)})"


KINDS: Mapping[str, Kind] = _ActiveKinds()
"""Valid values of a facility's ``kind`` field (the active catalogue's kinds)."""


def capacity_fields(kinds: Mapping[str, Kind] | None = None) -> tuple[str, ...]:
    """:data:`CAPACITY_FIELDS` followed by any other capacity field the kinds declare (``social_workers``)."""
    kinds = _active if kinds is None else kinds
    extra = [c for k in kinds.values() for c in k.capacity if c not in CAPACITY_FIELDS]
    return CAPACITY_FIELDS + tuple(dict.fromkeys(extra))


def kind_label(kind: str, lang: str = "en") -> str:
    """Human label of a facility kind in ``lang`` (``"en"`` or ``"zh"``); the id when unknown."""
    k = _active.get(kind)
    return kind if k is None else (k.zh if lang == "zh" else k.en)
