"""What a catalogue holds: the validated :class:`Catalogue` and its life-circle and service rules.

The file format, reading and checking are in :mod:`scenarios.catalogue`,
:mod:`scenarios.catalogue_read` and :mod:`scenarios.catalogue_check`; this
module has the types only, so that each of those can import them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from geo.errors import LifecircleError
from geo.unit_ratios import RatioRule
from layers.kinds import Kind

__all__ = ["Catalogue", "CatalogueError", "CatchmentRule", "Circle", "GridRule"]


class CatalogueError(LifecircleError):
    """A catalogue file that cannot be used; the message lists every problem (entry and field)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        head = f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Circle:
    """One life-circle level: the standards (facility types with their reach) a complete circle needs."""

    id: str
    title_en: str
    title_zh: str
    walk_m: float
    standards: tuple[str, ...]
    range_m: tuple[float, float] | None = None
    population: tuple[float, float] | None = None
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class CatchmentRule:
    """Population in each facility's catchment (cells whose nearest facility of ``kinds`` it is) within a range."""

    id: str
    title_en: str
    title_zh: str
    kinds: tuple[str, ...]
    min_population: float
    max_population: float | None = None
    mode: str = "network"
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class GridRule:
    """Standards every cell of a planner's management grid must meet (网格化全覆盖), reported grid cell by grid cell."""

    id: str
    title_en: str
    title_zh: str
    standards: tuple[str, ...]
    min_share: float = 1.0
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class Catalogue:
    """A validated catalogue (see the module docstring for the file format)."""

    id: str
    title_en: str
    title_zh: str
    speeds: dict[str, Any]
    kinds: dict[str, Kind]
    standards: dict[str, Any]  # id -> scenarios.standards.Standard
    rules: dict[str, RatioRule]
    access: dict[str, Any]  # id -> scenarios.ratio_standards.AccessStandard
    circles: dict[str, Circle] = field(default_factory=dict)
    catchments: dict[str, CatchmentRule] = field(default_factory=dict)
    grid_rules: dict[str, GridRule] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    source: str = ""
    note: str = ""
    text: str = ""
    """The file's text (what a city folder keeps as ``catalogue.toml``); resolved, without ``extends``."""

    @property
    def digest(self) -> str:
        """SHA-256 of :attr:`text`."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the API's ``GET /catalogue``)."""
        from dataclasses import asdict

        return {
            "id": self.id,
            "title_en": self.title_en,
            "title_zh": self.title_zh,
            "source": self.source,
            "note": self.note,
            "speeds": dict(self.speeds),
            "kinds": [asdict(k) | {"capacity": list(k.capacity)} for k in self.kinds.values()],
            "standards": [s.to_dict() | ({"range_m": list(self.ranges[s.id])} if s.id in self.ranges else {})
                          for s in self.standards.values()],
            "rules": [r.to_dict() for r in self.rules.values()],
            "accessibility": [a.to_dict() for a in self.access.values()],
            "circles": [_plain(asdict(c)) for c in self.circles.values()],
            "catchments": [_plain(asdict(c)) for c in self.catchments.values()],
            "grid_rules": [_plain(asdict(g)) for g in self.grid_rules.values()],
        }


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
