"""Batch plans: which cities, standards, scenarios, siting sweeps and tiles to run, checked before any work.

A plan is a YAML file::

    cities:                       # built-in names or city folders (relative to the plan file)
      - demo
      - cities/yuexiu
    standards: [clinic-walk, elderly-circle]      # optional: every standard in the catalogue
    overrides: {clinic-walk: {threshold_min: 20}} # optional
    scenarios:                    # optional: scenario files (relative to the plan) or inline scenarios
      - ../examples/new-clinic-east.yaml
    sweeps:                       # optional: siting sweeps for cost-coverage curves
      - {standard: clinic-walk, problem: mclp, p: {from: 1, to: 20}, cities: [demo]}
    tiles: 16                     # optional: cut every city into 16 tiles; or {cities/guangzhou: 16}
    catalogue: my-district.toml   # optional: a catalogue file (relative to the plan) or a built-in name

Standards, kinds and scenarios are looked up in the plan's catalogue (the
active one, ``seeds`` unless one is in use, when the plan names none). The
plan carries the catalogue to every task, so workers in other processes or on
other machines evaluate the same standards, and its digest is part of every
partition's input hash.

Every city is run as it is (scenario ``base``) and with each scenario made
for it. Everything a user can get wrong (a missing city, an unknown standard,
a scenario for a city not in the plan, a bad sweep) is found here, before any
work starts, and reported as one :class:`BatchPlanError` line per problem.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geo.errors import LifecircleError
from scenarios.catalogue import Catalogue, CatalogueError, active_catalogue, load_catalogue, use_catalogue
from scenarios.model import Scenario, ScenarioError, describe_validation_error, scenario_from_dict
from scenarios.standards import Standard, StandardError, get_standard, resolve_standards

__all__ = [
    "BASE",
    "BatchPlan",
    "BatchPlanError",
    "CityRef",
    "PlanSpec",
    "Sweep",
    "SweepSpec",
    "load_plan",
    "plan_from_dict",
]

BASE = "base"
"""The scenario name of a city run with its own facilities."""

_CONFIG = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BatchPlanError(LifecircleError):
    """A plan that cannot run: the message names the plan file, the field and the problem."""


class _PRange(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: int = Field(alias="from", ge=1)
    to: int = Field(ge=1)
    step: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "_PRange":
        if self.to < self.from_:
            raise ValueError(f"'to' ({self.to}) is smaller than 'from' ({self.from_})")
        return self


class SweepSpec(BaseModel):
    """One siting sweep as written in the plan: a standard, a problem, the values of ``p``."""

    model_config = _CONFIG
    standard: str
    problem: str = "mclp"
    p: list[int] | _PRange
    cities: list[str] | None = None
    solver: str = "greedy"
    time_limit_s: float = Field(default=60.0, gt=0)
    overrides: dict[str, Any] = Field(default_factory=dict)

    @field_validator("p", mode="after")
    @classmethod
    def _positive(cls, v: list[int] | _PRange) -> list[int] | _PRange:
        if isinstance(v, list):
            if not v:
                raise ValueError("give at least one value of p")
            bad = [x for x in v if x < 1]
            if bad:
                raise ValueError(f"values of p must be at least 1, got {bad[0]}")
        return v

    def p_values(self) -> list[int]:
        """The values of ``p``, ascending, each once."""
        if isinstance(self.p, _PRange):
            return list(range(self.p.from_, self.p.to + 1, self.p.step))
        return sorted(set(self.p))


class PlanSpec(BaseModel):
    """The plan file's fields, before cities and scenarios are looked up."""

    model_config = _CONFIG
    cities: list[str] = Field(min_length=1)
    standards: list[str] | None = None
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    scenarios: list[str | dict[str, Any]] = Field(default_factory=list)
    sweeps: list[SweepSpec] = Field(default_factory=list)
    tiles: int | dict[str, int] | None = None
    catalogue: str | None = None


@dataclass(frozen=True)
class CityRef:
    """A city of the plan, found but not loaded.

    Attributes
    ----------
    name : str
        The label in outputs (built-in name, or the folder's city name).
    ref : str
        What :func:`layers.cities.load_city` is given (name or absolute folder).
    fingerprint : str
        Digest of the city's inputs: the built-in city's cache key, or the
        folder's manifest and file sizes and times. Part of every partition's
        input hash, so a rebuilt city is run again.
    tiles : int
        1 for a whole-city run, else the number of tiles.
    """

    name: str
    ref: str
    fingerprint: str
    tiles: int = 1

    def matches(self, reference: str) -> bool:
        """Whether a scenario's ``city`` names this city."""
        if reference in (self.name, self.ref):
            return True
        try:
            return os.path.isdir(reference) and Path(reference).resolve() == Path(self.ref).resolve()
        except OSError:
            return False


@dataclass(frozen=True)
class Sweep:
    """One sweep, checked: its standard resolved and its cities found."""

    standard: Standard
    problem: str
    p: list[int]
    cities: list[str]
    solver: str
    time_limit_s: float
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchPlan:
    """A plan ready to run: everything looked up and checked.

    Attributes
    ----------
    source : str
        The plan file (for messages).
    cities : list of CityRef
    standards : list of Standard
        The plan's standards (overrides applied), for every city's ``base`` run
        and for scenarios that name none.
    scenarios : list of Scenario
        Each for one city of the plan (``scenario.city`` is that city's ``ref``).
    sweeps : list of Sweep
    catalogue : Catalogue
        Where the standards, kinds and scenarios were looked up: the plan's
        ``catalogue:`` (or ``--catalogue``), else the catalogue active when
        the plan was checked. Tasks make it active on the workers.
    """

    source: str
    cities: list[CityRef]
    standards: list[Standard]
    scenarios: list[Scenario] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)
    catalogue: Catalogue = field(default_factory=active_catalogue)

    def city(self, name: str) -> CityRef:
        """The city labelled ``name``."""
        return next(c for c in self.cities if c.name == name)

    def standards_of(self, scenario: Scenario | None) -> list[Standard]:
        """The standards a run evaluates: the scenario's own when it names any, else the plan's."""
        if scenario is None or (scenario.standards is None and not scenario.overrides):
            return self.standards
        with use_catalogue(self.catalogue):
            return scenario.resolved_standards()

    def all_standards(self) -> list[Standard]:
        """Every standard some run evaluates, each id once (first seen), in catalogue order.

        They define the per-standard columns of the cells dataset.
        """
        seen: dict[str, Standard] = {}
        for s in self.standards + [s for sc in self.scenarios for s in self.standards_of(sc)]:
            seen.setdefault(s.id, s)
        order = {sid: i for i, sid in enumerate(self.catalogue.standards)}
        return sorted(seen.values(), key=lambda s: order.get(s.id, len(order)))


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _builtin(name: str) -> CityRef | None:
    from layers.cache import cache_key
    from layers.cities import CITIES

    entry = CITIES.get(name.strip().lower())
    if entry is None:
        return None
    return CityRef(entry.name, entry.name, cache_key(entry.name, entry.version, entry.params, entry.sources))


def _folder(folder: Path) -> CityRef:
    from layers.city_folder import MANIFEST, read_manifest

    manifest = read_manifest(folder)
    stats = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file())
    fingerprint = _digest([(folder / MANIFEST).read_text(encoding="utf-8"), stats])
    return CityRef(str(manifest.get("name") or folder.name), str(folder.resolve()), fingerprint)


def _find_city(i: int, reference: str, base: Path, source: str) -> CityRef:
    from layers.cities import CITIES, is_folder_reference

    found = None if is_folder_reference(reference) else _builtin(reference)
    if found is not None:
        return found
    folder = Path(reference) if Path(reference).is_absolute() else base / reference
    if not folder.exists():
        raise BatchPlanError(
            f"{source}: cities[{i}]: '{reference}' is neither a built-in city ({', '.join(sorted(CITIES))}) nor a "
            f"city folder (no {folder}); make one with 'lifecircle city build --out {reference}'"
        )
    try:
        return _folder(folder)
    except LifecircleError as exc:
        raise BatchPlanError(f"{source}: cities[{i}]: {exc}") from None


def _tiles(spec: int | dict[str, int] | None, cities: list[CityRef], base: Path, source: str) -> list[CityRef]:
    from dataclasses import replace

    if spec is None:
        return cities
    if isinstance(spec, int):
        if spec < 1:
            raise BatchPlanError(f"{source}: tiles: the number of tiles must be at least 1, got {spec}")
        return [replace(c, tiles=spec) for c in cities]
    out = list(cities)
    for key, n in spec.items():
        if n < 1:
            raise BatchPlanError(f"{source}: tiles.{key}: the number of tiles must be at least 1, got {n}")
        hits = [j for j, c in enumerate(out) if c.matches(key) or c.matches(str(base / key))]
        if not hits:
            raise BatchPlanError(f"{source}: tiles.{key}: no city of the plan is called '{key}' "
                                 f"(cities: {', '.join(c.name for c in cities)})")
        for j in hits:
            out[j] = replace(out[j], tiles=n)
    return out


def _scenario(i: int, item: str | dict[str, Any], base: Path, source: str) -> Scenario:
    from scenarios.yamlio import load_scenario_yaml

    where = f"{source}: scenarios[{i}]"
    try:
        if isinstance(item, str):
            path = Path(item) if Path(item).is_absolute() else base / item
            return load_scenario_yaml(path)
        return scenario_from_dict(item, where)
    except ScenarioError as exc:
        raise BatchPlanError(f"{where}: {exc}" if isinstance(item, str) else str(exc)) from None


def _sweep(i: int, spec: SweepSpec, cities: list[CityRef], base: Path, source: str) -> Sweep:
    from scenarios.siting import PROBLEMS, SOLVERS

    where = f"{source}: sweeps[{i}]"
    try:
        standard = get_standard(spec.standard, **spec.overrides)
    except StandardError as exc:
        raise BatchPlanError(f"{where}.standard: {exc}") from None
    if spec.problem not in PROBLEMS or spec.problem == "lscp":
        allowed = ", ".join(p for p in PROBLEMS if p != "lscp")
        raise BatchPlanError(f"{where}.problem: '{spec.problem}' cannot be swept over p; choose one of {allowed}")
    if spec.solver not in SOLVERS:
        raise BatchPlanError(f"{where}.solver: unknown solver '{spec.solver}'; choose one of {', '.join(SOLVERS)}")
    names = []
    for ref in spec.cities or [c.name for c in cities]:
        hit = next((c for c in cities if c.matches(ref) or c.matches(str(base / ref))), None)
        if hit is None:
            raise BatchPlanError(f"{where}.cities: '{ref}' is not a city of the plan ({', '.join(c.name for c in cities)})")
        names.append(hit.name)
    return Sweep(standard, spec.problem, spec.p_values(), names, spec.solver, spec.time_limit_s, dict(spec.overrides))


def _catalogue(ref: str | os.PathLike[str] | None, base: Path, where: str) -> Catalogue:
    """The catalogue ``ref`` names (a built-in name, or a file relative to ``base``), else the active one."""
    from scenarios.catalogue import BUILTIN

    if ref is None:
        return active_catalogue()
    path = str(ref) if str(ref) in BUILTIN or Path(ref).is_absolute() else str(base / ref)
    try:
        return load_catalogue(path)
    except CatalogueError as exc:
        raise BatchPlanError(f"{where}: {exc}") from None


def plan_from_dict(
    data: Any,
    source: str = "<plan>",
    base: str | os.PathLike[str] = ".",
    catalogue: str | os.PathLike[str] | None = None,
) -> BatchPlan:
    """Check a plan given as plain data and look up its cities, standards and scenarios.

    Parameters
    ----------
    data : any
        The parsed YAML.
    source : str
        Where it came from, for messages.
    base : path-like
        The folder relative paths in the plan start from (the plan file's).
    catalogue : path-like, optional
        A catalogue (built-in name or file, relative to the working folder)
        used instead of the plan's ``catalogue:`` (the CLI's ``--catalogue``).

    Returns
    -------
    BatchPlan

    Raises
    ------
    BatchPlanError
        One line per problem, naming ``source`` and the field.
    """
    base = Path(base)
    if not isinstance(data, dict):
        raise BatchPlanError(f"{source}: a plan must be a mapping with at least 'cities:', got {type(data).__name__}")
    try:
        spec = PlanSpec.model_validate(data)
    except ValidationError as err:
        raise BatchPlanError(describe_validation_error(err, source)) from None
    if catalogue is not None:
        cat = _catalogue(catalogue, Path.cwd(), "--catalogue")
    else:
        cat = _catalogue(spec.catalogue, base, f"{source}: catalogue")
    # standards, kinds (of scenario edits) and sweeps are looked up in the plan's catalogue
    with use_catalogue(cat):
        return _checked(spec, source, base, cat)


def _checked(spec: PlanSpec, source: str, base: Path, cat: Catalogue) -> BatchPlan:
    cities = [_find_city(i, ref, base, source) for i, ref in enumerate(spec.cities)]
    seen: dict[str, int] = {}
    for i, c in enumerate(cities):
        if c.name in seen:
            raise BatchPlanError(f"{source}: cities[{i}]: a second city named '{c.name}' (cities[{seen[c.name]}]); "
                                 "outputs are keyed by city name")
        seen[c.name] = i
    cities = _tiles(spec.tiles, cities, base, source)
    try:
        standards = resolve_standards(spec.standards, spec.overrides)
    except StandardError as exc:
        field_name = "overrides" if "overrides" in str(exc) or spec.standards is None else "standards"
        raise BatchPlanError(f"{source}: {field_name}: {exc}") from None
    scenarios = []
    names: set[str] = set()
    for i, item in enumerate(spec.scenarios):
        sc = _scenario(i, item, base, source)
        home = next((c for c in cities if c.matches(sc.city) or c.matches(str(base / sc.city))), None)
        if home is None:
            raise BatchPlanError(f"{source}: scenarios[{i}]: scenario '{sc.name}' is for city '{sc.city}', "
                                 f"which is not in cities: ({', '.join(c.name for c in cities)})")
        if sc.name == BASE or sc.name in names:
            raise BatchPlanError(f"{source}: scenarios[{i}]: the name '{sc.name}' is "
                                 f"{'kept for the city as it is' if sc.name == BASE else 'used twice'}; rename it")
        names.add(sc.name)
        scenarios.append(sc.model_copy(update={"city": home.ref}))
    sweeps = [_sweep(i, s, cities, base, source) for i, s in enumerate(spec.sweeps)]
    return BatchPlan(source=source, cities=cities, standards=standards, scenarios=scenarios, sweeps=sweeps,
                     catalogue=cat)


def load_plan(path: str | os.PathLike[str], catalogue: str | os.PathLike[str] | None = None) -> BatchPlan:
    """Read and check a plan file (see the module docstring for its form).

    ``catalogue`` (a built-in name or a file relative to the working folder)
    replaces the plan's ``catalogue:``; see :func:`plan_from_dict`.

    Raises
    ------
    BatchPlanError
        The file is missing or not YAML, or a field is wrong (named).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BatchPlanError(f"{p}: no such plan file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchPlanError(f"{p}: cannot read the plan: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise BatchPlanError(f"{p}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return plan_from_dict(data, str(p), p.parent, catalogue)
