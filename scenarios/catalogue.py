"""Catalogues: facility kinds, distance standards, ratio rules and life circles as a planner's data.

A catalogue is one TOML or YAML file::

    [catalogue]
    id = "my-district"
    title_en = "..."; title_zh = "..."
    extends = "seeds"            # optional: a built-in catalogue or a file, whose entries come first

    [speeds]                     # optional (default: the seeds' residents_mps, elderly_mps); any NAME_mps
    [[kind]]      id, en, zh, symbol, colour, capacity, geometry, edge_spacing_m, source
    [[standard]]  id, title_en, title_zh, kinds, mode, threshold_m | threshold_min, speed, weight,
                  bands_min, range_m, source, note
    [[rule]]      a geo.unit_ratios.RatioRule table (see ratio_rules.toml)
    [[accessibility]]  an E2SFCA standard (see ratio_rules.toml)
    [[circle]]    id, title_en, title_zh, walk_m, range_m, population, standards, source, note
    [[catchment]] id, title_en, title_zh, standard, kinds, min_population, max_population, source
    [[grid_rule]] id, title_en, title_zh, standards, min_share, source

Every entry must cite its ``source``. :func:`check_catalogue` returns every
problem, each naming the entry and the field; :func:`load_catalogue` raises
:class:`CatalogueError` with all of them. Built-in catalogues: ``seeds`` (the
four standards and seven rules of the project's source documents, the
default), ``seeds-full`` (seeds plus the documents' remaining rules) and
``gb50180`` (GB 50180-2018's life circles).

:func:`use_catalogue` makes a catalogue the active one (kinds, standards and
rules every command looks up). The types are in
:mod:`scenarios.catalogue_entries`, reading a file in
:mod:`scenarios.catalogue_read`, checking it in :mod:`scenarios.catalogue_check`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from layers.kinds import SEED_KINDS, set_active_kinds, use_kinds
from scenarios.catalogue_check import build_catalogue
from scenarios.catalogue_entries import Catalogue, CatalogueError, CatchmentRule, Circle, GridRule
from scenarios.catalogue_read import BUILTIN, read_catalogue_data, resolved_text

__all__ = [
    "BUILTIN",
    "Catalogue",
    "CatalogueError",
    "CatchmentRule",
    "Circle",
    "GridRule",
    "active_catalogue",
    "builtin_catalogue",
    "check_catalogue",
    "load_catalogue",
    "set_active_catalogue",
    "use_catalogue",
]


def check_catalogue(ref: str | Path) -> list[str]:
    """Every problem of a catalogue file (or built-in name), each naming the entry and field; empty when usable."""
    try:
        data, source = read_catalogue_data(ref)
    except CatalogueError as exc:
        return exc.problems
    return build_catalogue(data, source, "")[1]


def load_catalogue(ref: str | Path) -> Catalogue:
    """Read and validate a catalogue file or a built-in catalogue name.

    Parameters
    ----------
    ref : str or pathlib.Path
        ``seeds``, ``seeds-full``, ``gb50180``, or a ``.toml`` / ``.yaml`` file.

    Raises
    ------
    CatalogueError
        Listing every problem, each naming the entry and field.
    """
    if str(ref) in BUILTIN:
        return builtin_catalogue(str(ref))
    data, source = read_catalogue_data(ref)
    cat, problems = build_catalogue(data, source, "")
    if problems:
        raise CatalogueError(source, problems)
    return _with_text(cat, data)


def _with_text(cat: Catalogue, data: dict[str, Any]) -> Catalogue:
    from dataclasses import replace

    return replace(cat, text=resolved_text(data))


@lru_cache(maxsize=None)
def builtin_catalogue(name: str) -> Catalogue:
    """A built-in catalogue (``seeds``, ``seeds-full``, ``gb50180``), read once."""
    if name not in BUILTIN:
        raise CatalogueError(name, [f"no built-in catalogue '{name}'; built-in are {', '.join(BUILTIN)}"])
    data, source = read_catalogue_data(name)
    cat, problems = build_catalogue(data, source, "")
    if problems:  # a broken built-in is a bug: fail loudly
        raise CatalogueError(source, problems)
    return _with_text(cat, data)


# ------------------------------------------------------------------ the active catalogue
_active: Catalogue | None = None


def active_catalogue() -> Catalogue:
    """The catalogue commands look kinds, standards and rules up in (``seeds`` unless one is in use)."""
    return _active if _active is not None else builtin_catalogue("seeds")


@contextmanager
def use_catalogue(cat: Catalogue | str | Path | None) -> Iterator[Catalogue]:
    """Make ``cat`` the active catalogue (and its kinds the active kinds) inside the block.

    ``None`` keeps the active one. Process-wide, not per thread: evaluation
    runs in thread pools, and a command works on one catalogue.
    """
    global _active
    if cat is None:
        yield active_catalogue()
        return
    if not isinstance(cat, Catalogue):
        cat = load_catalogue(cat)
    before, _active = _active, cat
    try:
        with use_kinds(cat.kinds):
            yield cat
    finally:
        _active = before


def set_active_catalogue(cat: Catalogue) -> None:
    """Make ``cat`` the active catalogue for the rest of the process (a server's city)."""
    global _active
    _active = cat
    set_active_kinds(cat.kinds)


def seed_kinds_table() -> list[dict[str, Any]]:
    """The seeds' kinds as catalogue entries (what ``seeds.toml`` holds), for tests and docs."""
    return [{"id": k.id, "en": k.en, "zh": k.zh, "symbol": k.symbol, "colour": k.colour,
             "capacity": list(k.capacity)} for k in SEED_KINDS.values()]
