"""What a scenario request must pass before it is stored or run, as problems naming the field.

``If-Match`` against the stored version (428 missing, 412 stale), a request
body's content as a :class:`scenarios.model.Scenario` of the loaded city
(unknown ids, kinds, locations outside the city: 422), ``NAME[@VERSION]``
references in query parameters, and whether a run is too large for the
request (then a job).
"""

from __future__ import annotations

import math
import re
from typing import Any

from api.problems import ApiProblem
from api.scenario_service import ScenarioService
from api.state import AppState
from scenarios.model import (
    AddFacility,
    EditError,
    MoveFacility,
    Scenario,
    ScenarioError,
    apply_edits,
    scenario_from_dict,
)
from scenarios.store import ScenarioNotFoundError

__all__ = [
    "check_city_name",
    "check_runnable",
    "checked_scenario",
    "is_large",
    "outside_city",
    "parse_if_match",
    "scenario_ref",
    "stale_version",
]


def stale_version(name: str, current: int, sent: str) -> ApiProblem:
    """The 412 problem of a change based on version ``sent`` while the scenario is at ``current``."""
    return ApiProblem(
        412,
        f"scenario '{name}' is at version {current}, you sent {sent}; reload it (GET /scenarios/{name}) and reapply your change",
        errors=[{"field": "header.If-Match", "message": f"the current version is \"{current}\""}],
    )


# A strong ETag only: RFC 9110 (13.1.1) says a weak one never matches If-Match.
_ETAG = re.compile(r'^\s*"?\s*(\d{1,9})\s*"?\s*$')


def parse_if_match(if_match: str | None, name: str, current: int, method: str) -> int:
    """The version an ``If-Match`` header names, checked against the ``current`` one.

    Returns
    -------
    int
        ``current`` when the header matches it (or is ``*``).

    Raises
    ------
    ApiProblem
        428 when the header is missing, 412 when it names no current version.
    """
    if if_match is None or not if_match.strip():
        raise ApiProblem(
            428,
            f"{method} on scenario '{name}' needs an If-Match header with the version you changed, "
            f"as GET /scenarios/{name} gave it in its ETag (If-Match: \"{current}\")",
            errors=[{"field": "header.If-Match", "message": "missing"}],
        )
    if if_match.strip() == "*":
        return current
    sent = []
    for part in if_match.split(","):
        if part.strip().startswith("W/"):
            raise stale_version(name, current, f"the weak ETag {part.strip()!r}, which never matches If-Match (send the strong \"{current}\")")
        m = _ETAG.match(part)
        if m is None:
            raise stale_version(name, current, f"If-Match {if_match.strip()!r}, which is not a version ETag such as \"3\"")
        sent.append(int(m.group(1)))
    if current not in sent:
        raise stale_version(name, current, " or ".join(map(str, sent)))
    return current


def check_city_name(state: AppState, city: str | None) -> str:
    """The loaded city's name; 422 when the request named another city."""
    if city is not None and city != state.city.name:
        raise ApiProblem(422, f"city '{city}': this server runs scenarios on its loaded city '{state.city.name}' only",
                         errors=[{"field": "body.city", "message": f"must be '{state.city.name}'"}])
    return state.city.name


def outside_city(state: AppState, edit: Any) -> str | None:
    """Why an added or moved facility's location is refused (outside the loaded city), or ``None``."""
    import shapely

    if not isinstance(edit, (AddFacility, MoveFacility)):
        return None
    p = edit.point(state.city.crs)
    if math.isfinite(p.x) and math.isfinite(p.y) and shapely.contains_xy(state.reach.area, p.x, p.y):
        return None
    where = f"lon {edit.lon:g}, lat {edit.lat:g}" if edit.lon is not None else f"x {edit.x:g}, y {edit.y:g}"
    return f"the location ({where}) lies outside the loaded city '{state.city.name}' (more than {state.reach.margin_m:g} m beyond its boundary)"


_EDIT_AT = re.compile(r"^edit (\d+)")


def checked_scenario(state: AppState, name: str, city: str | None, data: dict[str, Any]) -> Scenario:
    """A request's scenario content as a Scenario of the loaded city (422 problems naming the field).

    ``data`` holds the content's fields (description, edits, standards,
    overrides) in JSON form; ``city`` is the one the request named, if any.
    """
    data = {**data, "name": name, "city": check_city_name(state, city)}
    try:
        scenario = scenario_from_dict(data)
    except ScenarioError as exc:
        lines = str(exc).splitlines()
        raise ApiProblem(422, "; ".join(lines), errors=[{"field": "body." + ln.split(":")[0] if ":" in ln else "body", "message": ln} for ln in lines]) from None
    for i, edit in enumerate(scenario.edits):
        why = outside_city(state, edit)
        if why:
            raise ApiProblem(422, f"edits[{i}] ({edit.op} '{edit.id}'): {why}", errors=[{"field": f"body.edits.{i}", "message": why}])
    try:
        apply_edits(state.city.facilities, scenario.edits, state.city.crs)
    except EditError as exc:
        m = _EDIT_AT.match(str(exc))
        field = f"body.edits.{m.group(1)}" if m else "body.edits"
        raise ApiProblem(422, str(exc), errors=[{"field": field, "message": str(exc)}]) from None
    return scenario


def is_large(state: AppState, scenarios: list[Scenario]) -> bool:
    """Whether full runs of ``scenarios`` pass the in-request limit (``limits.sync_max_cell_standards``): a job then."""
    n = len(state.city.cells) * sum(len(s.resolved_standards()) for s in scenarios)
    return n > state.config.limits.sync_max_cell_standards


_REF = re.compile(r"^(?P<name>.+?)(?:@(?P<version>\d{1,9}))?$")


def scenario_ref(service: ScenarioService, ref: str, field: str) -> Scenario:
    """``NAME`` or ``NAME@VERSION`` from a query parameter, read from the store."""
    m = _REF.match(ref)
    if m is None:
        raise ApiProblem(422, f"{field}: give a scenario as NAME or NAME@VERSION", errors=[{"field": f"query.{field}", "message": "NAME or NAME@VERSION"}])
    version = int(m["version"]) if m["version"] else None
    if version == 0:
        raise ApiProblem(422, f"{field}: versions start at 1", errors=[{"field": f"query.{field}", "message": "versions start at 1"}])
    try:
        return service.store.get(m["name"], version)
    except ScenarioNotFoundError as exc:
        raise ApiProblem(404, f"{field}: {exc}", errors=[{"field": f"query.{field}", "message": str(exc)}]) from None


def check_runnable(state: AppState, *scenarios: Scenario) -> None:
    """422 when a stored scenario is for another city than the loaded one."""
    for s in scenarios:
        if s.city != state.city.name:
            raise ApiProblem(422, f"scenario '{s.name}' is for city '{s.city}'; this server runs '{state.city.name}'")
