"""Scenarios as YAML files, for planners who keep plans next to their reports.

A scenario file is the plain form of :class:`scenarios.model.Scenario`::

    name: new-clinic-east
    city: demo
    description: Open a health station in the south-east clinic gap.
    standards: [clinic-walk]
    overrides:
      clinic-walk: {threshold_min: 20}
    edits:
      - op: add
        id: HS-NEW-SE
        kind: health_station
        lon: 116.52048
        lat: 18.98333
      - {op: remove, id: EC0008}
      - {op: set_capacity, id: EC0009, field: beds, value: 44}

A file written from a stored scenario carries its ``version``; saving the file
back checks it against the store, so edits made meanwhile by others are not
overwritten (see :meth:`scenarios.store.ScenarioStore.save`).

Errors name the file and the field (``plan.yaml: edits[0].kind: unknown facility kind ...``)
or, for YAML syntax, the file, line and column.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from layers.atomic import write_atomic
from layers.city_folder import is_city_folder
from scenarios.model import Scenario, ScenarioError, scenario_from_dict

__all__ = ["ScenarioFileError", "dump_scenario_yaml", "load_scenario_yaml", "scenario_from_yaml", "scenario_to_yaml"]


class ScenarioFileError(ScenarioError):
    """A scenario file that cannot be read, parsed or validated."""


def scenario_from_yaml(text: str, source: str = "<string>") -> Scenario:
    """Parse and validate a scenario from YAML text.

    Parameters
    ----------
    text : str
        The YAML document.
    source : str
        Name used in error messages (the file name).

    Raises
    ------
    ScenarioFileError
        For a YAML syntax error (with line and column) or an invalid field.
    """
    try:
        # safe_load: a scenario file is data and must never construct objects.
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioFileError(f"{source}: not valid YAML{where}: {problem}") from None
    if data is None:
        raise ScenarioFileError(f"{source}: the file is empty; a scenario needs at least 'name' and 'city'")
    try:
        return scenario_from_dict(data, source)
    except ScenarioError as exc:
        raise ScenarioFileError(str(exc)) from None


def scenario_to_yaml(scenario: Scenario) -> str:
    """The scenario as a YAML document (fields in model order, unset optional fields left out)."""
    data = scenario.model_dump(mode="json")
    for key in ("standards", "results", "version"):
        if data[key] is None:
            del data[key]
    # Each edit lists op and id first (easier to scan) and only the location it
    # uses; a null capacity value stays, it means "unknown".
    data["edits"] = [
        {"op": e.pop("op"), "id": e.pop("id"), **{k: v for k, v in e.items() if v is not None or k == "value"}}
        for e in data["edits"]
    ]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def load_scenario_yaml(path: str | os.PathLike[str]) -> Scenario:
    """Read a scenario from a YAML file.

    Raises
    ------
    ScenarioFileError
        Naming the file: missing, unreadable, not UTF-8, bad YAML, invalid field.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioFileError(f"{p}: no such scenario file") from None
    except UnicodeDecodeError as exc:
        raise ScenarioFileError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ScenarioFileError(f"{p}: cannot read: {exc.strerror}") from None
    scenario = scenario_from_yaml(text, str(p))
    # A city folder named relative to the scenario file is found from the file, wherever the command runs.
    beside = p.parent / scenario.city
    if not Path(scenario.city).is_absolute() and is_city_folder(beside):
        scenario = scenario.model_copy(update={"city": str(beside.resolve())})
    return scenario


def dump_scenario_yaml(scenario: Scenario, path: str | os.PathLike[str]) -> Path:
    """Write a scenario to a YAML file, atomically.

    The text goes to a temporary file in the same folder which then replaces
    ``path``, so an interrupted write never leaves half a scenario behind.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    p = Path(path)
    text = scenario_to_yaml(scenario)
    try:
        write_atomic(p, text)
    except OSError as exc:
        raise ScenarioFileError(f"{p}: cannot write: {exc.strerror}") from None
    return p
