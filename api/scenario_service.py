"""The scenarios one API instance keeps: the store, live scenarios, full runs.

:class:`ScenarioService` opens the scenario store on first use and keeps, in
memory, the :class:`scenarios.run.LiveScenario` of recently edited scenarios
(edits then cost milliseconds) and recent full runs (comparisons and maps of
the same plan share them). The scenario routes (:mod:`api.routes.scenarios`)
and the workbench reach it through the :data:`scenario_service` dependency.
"""

from __future__ import annotations

import json
import logging
import threading

from api.jobs import Progress
from api.problems import ApiProblem
from api.registry import LruRegistry
from api.security import app_singleton
from api.state import AppState, store_url
from scenarios.compare import Comparison, compare
from scenarios.model import Scenario
from scenarios.run import LiveScenario, ScenarioRun, base_of, run_scenario
from scenarios.store import ScenarioStore, StoreError

__all__ = ["NAME_PATTERN", "ScenarioService", "content_key", "scenario_service"]

log = logging.getLogger("lifecircle.api")

NAME_PATTERN = r"^[^/\\\x00-\x1f\x7f]+$"
"""What a scenario name may hold: no slash, backslash or control character (it is a path segment)."""
LIVE_KEPT = 16  # live scenarios kept in memory (least recently edited dropped first)
RUNS_KEPT = 16  # full runs kept for comparisons and maps


def content_key(scenario: Scenario) -> str:
    """What a run depends on: city, edits, standards, overrides (not the name or description)."""
    data = scenario.content()
    return json.dumps({k: data[k] for k in ("city", "edits", "standards", "overrides")}, sort_keys=True)


class ScenarioService:
    """What the scenario routes keep for one API instance: the store, live scenarios, full runs.

    Parameters
    ----------
    state : AppState
        The scenario store lives at ``config.scenario_db_url`` or in
        ``state.data_dir/scenarios.db``.
    """

    def __init__(self, state: AppState):
        self.state = state
        self._store: ScenarioStore | None = None
        self._lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}
        self._live: LruRegistry[str, tuple[int, LiveScenario]] = LruRegistry(LIVE_KEPT)  # by name: (version, live)
        self._runs: LruRegistry[str, ScenarioRun] = LruRegistry(RUNS_KEPT)  # by content_key

    @property
    def store(self) -> ScenarioStore:
        """The store, opened on first use (503 problem when it cannot be reached)."""
        with self._lock:
            if self._store is None:
                try:
                    self._store = ScenarioStore(store_url(self.state.config, self.state.data_dir))
                except StoreError as exc:
                    log.error("scenario store: %s", exc)  # the database's address is for operators only
                    raise ApiProblem(503, "the scenario store is not available; the incident was logged") from None
            return self._store

    def name_lock(self, name: str) -> threading.Lock:
        """A lock serialising live edits of one scenario in this process."""
        with self._lock:
            return self._name_locks.setdefault(name, threading.Lock())

    def live(self, scenario: Scenario) -> LiveScenario:
        """The live state of the scenario's stored version (rebuilt if the store moved on)."""
        kept = self._live.get(scenario.name)
        if kept is not None and kept[0] == scenario.version:
            return kept[1]
        live = LiveScenario.from_scenario(scenario, self.state.city)
        self.keep_live(scenario.name, scenario.version, live)
        return live

    def keep_live(self, name: str, version: int | None, live: LiveScenario | None) -> None:
        """Remember ``live`` as the state of ``name`` at ``version`` (``None``: forget it)."""
        if live is not None and version is not None:
            self._live.put(name, (version, live))
        else:
            self._live.pop(name)

    def has_run(self, scenario: Scenario) -> bool:
        """Whether a full run of the plan is kept (so answering with it is cheap)."""
        return content_key(scenario) in self._runs

    def full_run(self, scenario: Scenario, progress: Progress | None = None) -> ScenarioRun:
        """A full :func:`run_scenario` of the plan (kept: identical plans share it)."""
        key = content_key(scenario)
        run = self._runs.get(key)
        if run is not None:
            return run
        run = run_scenario(scenario, self.state.city, progress=progress)
        self._runs.put(key, run)
        return run

    def comparison(self, a: Scenario, b: Scenario | None, progress: Progress | None = None) -> Comparison:
        """``a`` against its base facilities, or ``a`` ("before") against ``b`` ("after"), from kept full runs."""
        label_a = f"{a.name}@{a.version}"
        if b is None:
            base = self.full_run(base_of(a), progress)
            return compare(base, self.full_run(a, progress), name_a="current facilities", name_b=label_a)
        return compare(self.full_run(a, progress), self.full_run(b, progress), name_a=label_a, name_b=f"{b.name}@{b.version}")


scenario_service = app_singleton("lifecircle_scenarios", ScenarioService)
"""Dependency: the :class:`ScenarioService` of the app serving the request."""
