"""What the workbench's endpoints share: a scenario's live state by name, and results kept per scenario version.

A workbench view (ratio rules per unit, E2SFCA accessibility, gap clusters,
an export) is computed on the scenario's facilities *now*: the city with the
facility layer of its live state. Those results depend only on the
scenario's version, so they are kept per ``(name, version)`` and a later
edit (a new version) never reads an older one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Path

from api.problems import ApiProblem
from api.registry import LruRegistry
from api.scenario_service import NAME_PATTERN, ScenarioService
from api.security import app_singleton
from api.state import AppState
from layers.city import City
from scenarios.model import Scenario
from scenarios.run import LiveScenario, base_of
from scenarios.store import ScenarioNotFoundError, StoreError

__all__ = ["NameP", "ViewCache", "etag_headers", "live_scenario", "view_cache"]

VIEWS_KEPT = 32
"""Results kept per app (a city with a scenario's facilities, a ratio report, an accessibility result...)."""

NameP = Path(min_length=1, max_length=200, pattern=NAME_PATTERN, description="Scenario name.")

T = TypeVar("T")


def live_scenario(service: ScenarioService, name: str) -> tuple[Scenario, LiveScenario]:
    """The scenario's latest version and its live state (404, 422 or 503 problems).

    Call under ``service.name_lock(name)`` so that no edit is half applied.
    """
    try:
        scenario = service.store.get(name)
    except ScenarioNotFoundError as exc:
        raise ApiProblem(404, str(exc)) from None
    except StoreError:
        raise ApiProblem(503, "the scenario store failed; the incident was logged") from None
    if scenario.city != service.state.city.name:
        raise ApiProblem(422, f"scenario '{name}' is for city '{scenario.city}'; this server runs '{service.state.city.name}'")
    return scenario, service.live(scenario)


def etag_headers(version: int) -> dict[str, str]:
    """``ETag`` of a scenario version, not cached (the next edit changes the answer)."""
    return {"ETag": f'"{version}"', "Cache-Control": "no-store"}


class ViewCache:
    """Results computed on one scenario version, kept (least recently used dropped) for one app."""

    def __init__(self, state: AppState):
        self.state = state
        self._kept: LruRegistry[tuple, Any] = LruRegistry(VIEWS_KEPT)

    def get(self, key: tuple, make: Callable[[], T]) -> T:
        """The result kept under ``key``, made by ``make()`` when none is (two requests may both make it)."""
        return self._kept.get_or_make(key, make)

    def city(self, scenario: Scenario, live: LiveScenario) -> City:
        """The city with the scenario's current facilities (its version's)."""
        return self.get(("city", scenario.name, scenario.version), lambda: self.state.city.with_facilities(live.facilities()))

    @staticmethod
    def base_key(scenario: Scenario) -> tuple[str, str]:
        """Names the baseline of ``scenario``: its standards and overrides (not its name, edits or version)."""
        content = scenario.content()
        return ("base", json.dumps([content.get(k) for k in ("standards", "overrides")], sort_keys=True))

    def base(self, scenario: Scenario) -> LiveScenario:
        """The city's own facilities under the scenario's standards, as a live state ("current facilities")."""
        return self.get(self.base_key(scenario), lambda: LiveScenario.from_scenario(base_of(scenario), self.state.city))


view_cache = app_singleton("lifecircle_workbench_views", ViewCache)
"""Dependency: the :class:`ViewCache` of the app serving the request."""
