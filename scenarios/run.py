"""Running scenarios: a saved plan evaluated in full, or a live plan updated edit by edit.

:func:`run_scenario` applies a :class:`scenarios.model.Scenario`'s edits to its
base city, evaluates its standards (with overrides), attaches the summary to
the scenario and, given a store, saves it.

:class:`LiveScenario` is what an interactive client talks to: it keeps, per
standard, an :class:`geo.incremental.IncrementalNearest` state, so adding,
moving or closing one facility updates every standard's per-cell results in
milliseconds instead of re-running the city; its results equal a full
:func:`run_scenario` of the same edits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pydantic import TypeAdapter, ValidationError

from geo.incremental import EuclidReach, IncrementalNearest, NetworkReach
from layers.city import City
from layers.kinds import CAPACITY_FIELDS
from scenarios.evaluate import SEARCH_FACTOR, CoverageResult, StandardResult, evaluate, standard_result
from scenarios.model import (
    AddFacility,
    Edit,
    EditError,
    MoveFacility,
    RemoveFacility,
    Scenario,
    ScenarioError,
    SetCapacity,
    apply_edits,
    describe_validation_error,
)
from scenarios.standards import Standard, resolve_standards

__all__ = [
    "LiveScenario",
    "ScenarioRun",
    "ScenarioRunError",
    "base_of",
    "city_with_facilities",
    "run_scenario",
]

Progress = Callable[[str, float], None]


class ScenarioRunError(ScenarioError):
    """A scenario that cannot be run on the given city (wrong city, unsupported base layers)."""


@dataclass(eq=False)
class ScenarioRun:
    """A scenario evaluated on its city.

    Attributes
    ----------
    scenario : Scenario
        With :attr:`Scenario.results` set to the summary (and ``version`` to
        the stored version when a store was given).
    city : City
        The base city with the scenario's facilities.
    result : CoverageResult
        Per-cell results of every standard.
    version : int or None
        The store version the results belong to.
    """

    scenario: Scenario
    city: City
    result: CoverageResult
    version: int | None = None

    @property
    def name(self) -> str:
        """The scenario's name (with ``@version`` once stored)."""
        return self.scenario.name + (f"@{self.version}" if self.version else "")

    def summary_frame(self) -> pd.DataFrame:
        """One row per standard (see :meth:`StandardResult.summary`)."""
        return self.result.summary_frame()


def city_with_facilities(city: City, facilities: gpd.GeoDataFrame) -> City:
    """The same city with another facility layer: :meth:`layers.city.City.with_facilities`.

    Kept for the callers that import it from here.
    """
    return city.with_facilities(facilities)


def base_of(scenario: Scenario) -> Scenario:
    """The scenario's baseline: same city and standards, no edits."""
    return scenario.model_copy(
        update={"name": f"{scenario.name} (base)", "edits": [], "results": None, "version": None,
                "description": f"Base facilities of {scenario.city}, for comparison with {scenario.name}"}
    )


def _city_references(city: City) -> set[str]:
    """The ways a scenario may name ``city``: its name, and the folder it was loaded from."""
    refs = {city.name}
    folder = city.meta.get("folder")
    if folder:
        refs.add(str(folder))
        refs.add(str(Path(folder).resolve()))
    return refs


def _check_city(scenario: Scenario, city: City) -> None:
    if scenario.city not in _city_references(city):
        raise ScenarioRunError(
            f"scenario '{scenario.name}' is for city '{scenario.city}', but the city given is '{city.name}'"
        )


def _results_document(scenario: Scenario, result: CoverageResult, n_facilities: int) -> dict[str, Any]:
    return {
        "city": result.city.name,
        "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "edits": len(scenario.edits),
        "facilities": n_facilities,
        "standards": {sid: r.summary() for sid, r in result.results.items()},
    }


def run_scenario(
    scenario: Scenario,
    city: City | None = None,
    store: Any | None = None,
    progress: Progress | None = None,
    *,
    author: str | None = None,
) -> ScenarioRun:
    """Evaluate a scenario on its base city.

    Parameters
    ----------
    scenario : Scenario
    city : City, optional
        The base city; default ``layers.cities.load_city(scenario.city)``.
    store : scenarios.store.ScenarioStore, optional
        Where to keep the results. A scenario read from the store whose
        content is unchanged gets the results attached to its version
        (results are derived data, they do not make a new version); a new or
        edited scenario is saved as a new version (expected version
        ``scenario.version``, so a concurrent change raises
        :class:`scenarios.store.StaleWriteError`).
    progress : callable, optional
        ``progress(step, fraction)``.
    author : str, optional
        Recorded with a new version.

    Returns
    -------
    ScenarioRun

    Raises
    ------
    ScenarioRunError
        If ``city`` is not the scenario's city or base layers are given.
    scenarios.model.EditError
        If an edit names an unknown facility (the message names the edit).
    """
    if city is None:
        from layers.cities import load_city  # built-in cities only when no city is given

        city = load_city(scenario.city, progress=progress)
    _check_city(scenario, city)
    standards = scenario.resolved_standards()
    if any(s.mode == "network" for s in standards):
        city.snapped_cells  # noqa: B018 -- snap on the base city once, so every scenario of it shares the result
    facilities = apply_edits(city.facilities, scenario.edits, city.crs)
    scen_city = city.with_facilities(facilities)
    result = evaluate(scen_city, standards, progress=progress)
    out = scenario.model_copy(deep=True)
    out.results = _results_document(scenario, result, len(facilities))
    version = None
    if store is not None:
        version = _store_results(store, out, author)
        out.version = version
    return ScenarioRun(scenario=out, city=scen_city, result=result, version=version)


def _store_results(store: Any, scenario: Scenario, author: str | None) -> int:
    if scenario.version is not None:
        try:
            stored = store.get(scenario.name, scenario.version)
        except LookupError:
            stored = None
        if stored is not None and stored.content() == scenario.content():
            store.save_results(scenario.name, scenario.version, scenario.results)
            return scenario.version
    return store.save(scenario, author=author, message="evaluated")


# ---------------------------------------------------------------------------- live


_EDIT = TypeAdapter(Edit)


class LiveScenario:
    """A scenario being edited interactively, with every standard kept current.

    Parameters
    ----------
    city : City
        The base city.
    standards : sequence of Standard, optional
        Default: the whole catalogue.
    edits : sequence of Edit, optional
        Edits to replay at the start (e.g. a stored scenario's).
    progress : callable, optional
        ``progress(step, fraction)`` while the initial state is built.

    Examples
    --------
    >>> live = LiveScenario.from_scenario(scenario, city)      # doctest: +SKIP
    >>> live.add("HS-9", "health_station", lon=116.52, lat=18.98)["standards"]["clinic-walk"]["covered"]
    ...                                                         # doctest: +SKIP

    Notes
    -----
    Building the state costs one bounded search per facility (seconds on a
    city of a million street nodes); each edit then costs one search from the
    changed site. Edits are serialised by a lock (the state is shared).
    """

    def __init__(
        self,
        city: City,
        standards: Sequence[Standard] | None = None,
        edits: Sequence[Any] = (),
        progress: Progress | None = None,
    ) -> None:
        self.city = city
        self.standards: list[Standard] = list(standards) if standards is not None else resolve_standards()
        self.edits: list[Any] = []
        self._lock = threading.RLock()
        fac = city.facilities
        self._records: list[dict[str, Any]] = [
            {"id": str(r["id"]), "name": r["name"], "kind": r["kind"], **{c: float(r[c]) for c in CAPACITY_FIELDS}}
            for r in fac[["id", "name", "kind", *CAPACITY_FIELDS]].to_dict("records")
        ]
        fx, fy = city.facility_xy
        self._x, self._y = list(map(float, fx)), list(map(float, fy))
        self._alive = [True] * len(self._records)
        self._slot = {rec["id"]: i for i, rec in enumerate(self._records)}
        self._states: dict[str, IncrementalNearest] = {}
        self._weights: dict[str, np.ndarray] = {}
        self._summary: dict[str, dict[str, Any]] = {}  # per standard, until an edit touches it
        self.last_changed: dict[str, np.ndarray] = {}
        """Per standard touched by the last edit, the cell positions whose nearest facility changed."""
        for i, s in enumerate(self.standards):
            if progress:
                progress(f"indexing {s.id}", i / max(len(self.standards), 1))
            pos = city.facilities_of(s.kinds)
            self._states[s.id] = IncrementalNearest.build(
                self._finder(s), s.threshold_m * SEARCH_FACTOR, pos, fx[pos], fy[pos]
            )
        if progress:
            progress("ready", 1.0)
        for e in edits:
            self.apply(e)

    @classmethod
    def from_scenario(cls, scenario: Scenario, city: City, progress: Progress | None = None) -> "LiveScenario":
        """Start from a scenario's city, standards (with overrides) and edits."""
        _check_city(scenario, city)
        return cls(city, scenario.resolved_standards(), scenario.edits, progress=progress)

    # -- distance rules, shared by standards ---------------------------------------

    def _finder(self, standard: Standard) -> NetworkReach | EuclidReach:
        return self._euclid_reach if standard.mode == "euclidean" else self._network_reach

    @cached_property
    def _euclid_reach(self) -> EuclidReach:
        return EuclidReach(*self.city.cell_xy)

    @cached_property
    def _network_reach(self) -> NetworkReach:
        return NetworkReach(self.city.network, self.city.snapped_cells, self.city.max_snap_m)

    @property
    def network_reach(self) -> NetworkReach:
        """The walking-distance search every network standard of this scenario shares.

        Built on first use. Not thread-safe: searches made outside an edit
        must not overlap with edits (benchmarks time it on its own).
        """
        return self._network_reach

    @property
    def removal_searches(self) -> int:
        """Searches run so far, all standards, because a removal took cells' nearest and second-nearest facility."""
        return sum(st.searches for st in self._states.values())

    # -- edits -----------------------------------------------------------------------

    def add(
        self,
        id: str,
        kind: str,
        *,
        lon: float | None = None,
        lat: float | None = None,
        x: float | None = None,
        y: float | None = None,
        name: str = "",
        capacities: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        """Open a facility; returns the updated summaries (see :meth:`apply`)."""
        return self.apply({"op": "add", "id": id, "kind": kind, "lon": lon, "lat": lat, "x": x, "y": y,
                           "name": name, "capacities": capacities or {}})

    def move(self, id: str, *, lon: float | None = None, lat: float | None = None,
             x: float | None = None, y: float | None = None) -> dict[str, Any]:
        """Move a facility; returns the updated summaries."""
        return self.apply({"op": "move", "id": id, "lon": lon, "lat": lat, "x": x, "y": y})

    def remove(self, id: str) -> dict[str, Any]:
        """Close a facility; returns the updated summaries."""
        return self.apply({"op": "remove", "id": id})

    def set_capacity(self, id: str, field: str, value: float | None) -> dict[str, Any]:
        """Change a capacity field (coverage does not depend on it); returns the summaries."""
        return self.apply({"op": "set_capacity", "id": id, "field": field, "value": value})

    def apply(self, edit: Any, summaries: bool = True) -> dict[str, Any]:
        """Apply one edit (an Edit model or its plain dict) and update every standard it touches.

        Parameters
        ----------
        edit : Edit or dict
        summaries : bool, default True
            Recompute the per-standard summaries (sums over all cells); off,
            ``"standards"`` is left out of the answer.

        Returns
        -------
        dict
            ``{"edit": <the edit as data>, "version": <number of edits applied>,
            "changed_cells": {standard: n}, "standards": {standard: summary}}``;
            summaries as :meth:`summaries`.

        Raises
        ------
        scenarios.model.ScenarioError
            For an invalid edit (the message names the field).
        scenarios.model.EditError
            For an unknown facility id or an added id that already exists;
            the state is left unchanged.
        """
        if isinstance(edit, dict):
            try:
                edit = _EDIT.validate_python(edit)
            except ValidationError as err:
                raise ScenarioError(describe_validation_error(err, "edit")) from None
        with self._lock:
            changed = self._apply(edit)
            self.edits.append(edit)
            self.last_changed = changed
            out = {
                "edit": edit.model_dump(mode="json", exclude_none=True),
                "version": len(self.edits),
                "changed_cells": {sid: int(c.size) for sid, c in changed.items()},
            }
            if summaries:
                out["standards"] = self.summaries()
            return out

    def _find(self, edit: Any) -> int:
        slot = self._slot.get(edit.id)
        if slot is None or not self._alive[slot]:
            raise EditError(f"edit {len(self.edits)} ({edit.op} '{edit.id}'): no facility with id '{edit.id}'")
        return slot

    def _touched(self, kind: str) -> list[Standard]:
        touched = [s for s in self.standards if kind in s.kinds]
        for s in touched:
            self._summary.pop(s.id, None)
        return touched

    def _apply(self, edit: Any) -> dict[str, np.ndarray]:
        changed: dict[str, np.ndarray] = {}
        if isinstance(edit, AddFacility):
            old = self._slot.get(edit.id)
            if old is not None and self._alive[old]:
                raise EditError(f"edit {len(self.edits)} (add '{edit.id}'): facility id '{edit.id}' already exists")
            p = edit.point(self.city.crs)
            slot = len(self._records)
            caps = {c: float(edit.capacities.get(c, np.nan)) for c in CAPACITY_FIELDS}
            self._records.append({"id": edit.id, "name": edit.name or edit.id, "kind": edit.kind, **caps})
            self._x.append(p.x)
            self._y.append(p.y)
            self._alive.append(True)
            self._slot[edit.id] = slot
            for s in self._touched(edit.kind):
                changed[s.id] = self._states[s.id].add(slot, p.x, p.y)
        elif isinstance(edit, MoveFacility):
            slot = self._find(edit)
            p = edit.point(self.city.crs)
            self._x[slot], self._y[slot] = p.x, p.y
            for s in self._touched(self._records[slot]["kind"]):
                changed[s.id] = self._states[s.id].move(slot, p.x, p.y)
        elif isinstance(edit, RemoveFacility):
            slot = self._find(edit)
            self._alive[slot] = False
            for s in self._touched(self._records[slot]["kind"]):
                changed[s.id] = self._states[s.id].remove(slot)
        elif isinstance(edit, SetCapacity):
            slot = self._find(edit)
            self._records[slot][edit.field] = np.nan if edit.value is None else float(edit.value)
        else:
            raise EditError(f"edit {len(self.edits)}: not a facility edit: {edit!r}")
        return changed

    # -- results -----------------------------------------------------------------------

    def facilities(self) -> gpd.GeoDataFrame:
        """The current facility layer (same rows and order as :func:`apply_edits` gives)."""
        keep = np.flatnonzero(self._alive)
        frame = pd.DataFrame([self._records[i] for i in keep], columns=["id", "name", "kind", *CAPACITY_FIELDS])
        geom = gpd.points_from_xy(np.asarray(self._x)[keep], np.asarray(self._y)[keep], crs=self.city.crs)
        return gpd.GeoDataFrame(frame, geometry=geom, crs=self.city.crs)

    def _standard_result(self, standard: Standard, quick: bool = False) -> StandardResult:
        """The standard's result on the current facilities; ``quick``: no gap clusters, no band labels."""
        state = self._states[standard.id]
        alive = np.asarray(self._alive, dtype=bool)
        position = np.cumsum(alive) - 1  # slot -> row of the current facility layer
        facility = np.where(state.slot >= 0, position[np.maximum(state.slot, 0)], -1).astype(np.int64)
        if standard.weight not in self._weights:
            self._weights[standard.weight] = self.city.cells[standard.weight].to_numpy(dtype=np.float64)
        return standard_result(
            self.city,
            standard,
            state.dist.copy(),
            facility,
            unreachable=0 if standard.mode == "euclidean" else self._unreachable,
            clusters=self._no_gaps if quick else None,
            weight=self._weights[standard.weight],
            bands=not quick,
            facilities=self._kinds_frame,
        )

    @property
    def _kinds_frame(self) -> pd.DataFrame:
        """Kinds of the current facilities, in facility-layer row order (what results count)."""
        return pd.DataFrame({"kind": [r["kind"] for r, a in zip(self._records, self._alive) if a]})

    @cached_property
    def _no_gaps(self) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame({"population": []}, geometry=[], crs=self.city.crs)

    @cached_property
    def _unreachable(self) -> int:
        return int(np.count_nonzero(~self.city.snapped_cells.ok))

    def summaries(self) -> dict[str, dict[str, Any]]:
        """Per standard, :meth:`StandardResult.summary` without ``largest_gap``.

        Gap clusters are not redone per edit (they need the cell polygons);
        :meth:`result` has them.
        """
        with self._lock:
            for s in self.standards:
                # only standards an edit touched are summed again (an edit touches one, usually)
                if s.id not in self._summary:
                    r = self._standard_result(s, quick=True)
                    summary = r.summary()
                    summary.pop("largest_gap", None)
                    self._summary[s.id] = summary
            return {s.id: dict(self._summary[s.id]) for s in self.standards}

    def standard_result(self, standard_id: str) -> StandardResult:
        """One standard's per-cell result on the current facilities, without gap clusters (what a live map paints).

        Raises
        ------
        KeyError
            When the scenario does not check ``standard_id``.
        """
        with self._lock:
            standard = next((s for s in self.standards if s.id == standard_id), None)
            if standard is None:
                raise KeyError(standard_id)
            return self._standard_result(standard, quick=True)

    def result(self) -> CoverageResult:
        """Every standard's full result on the current facilities (gap clusters included)."""
        with self._lock:
            city = self.city.with_facilities(self.facilities())
            return CoverageResult(city=city, results={s.id: self._standard_result(s) for s in self.standards})

    def scenario(self, name: str, city_name: str | None = None, description: str = "") -> Scenario:
        """The edits so far as a :class:`Scenario` (to save or run)."""
        overrides = {}
        for s in self.standards:
            base = resolve_standards([s.id])[0]
            diff = {k: getattr(s, k) for k in ("threshold_m", "speed_mps", "mode", "weight") if getattr(s, k) != getattr(base, k)}
            if diff:
                overrides[s.id] = diff
        return Scenario(
            name=name,
            city=city_name or self.city.name,
            description=description,
            edits=list(self.edits),
            standards=[s.id for s in self.standards],
            overrides=overrides,
        )
