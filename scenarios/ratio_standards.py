"""Ratio standards and supply-aware accessibility on a City.

Two kinds of rule from ``ratio_rules.toml``:

* **ratio rules** per administrative unit (beds per 1,000 elderly in each
  subdistrict, one station per community, ...), evaluated by
  :func:`geo.unit_ratios.evaluate_ratio_rules`;
* **accessibility standards** per cell (beds per 1,000 elderly reachable
  within a 15-minute walk, ...), by E2SFCA (:func:`geo.fca.two_step_fca`) on
  walking distances from bounded network searches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.fca import FCAResult, ServiceClasses, StepDecay, classify_service, two_step_fca
from geo.paths import pair_distances
from geo.unit_ratios import RatioResult, RatioRule, RuleError, capacity_values, evaluate_ratio_rules
from layers.city import City
from scenarios.standards import StandardError

__all__ = [
    "AccessStandard",
    "AccessResult",
    "RatioReport",
    "ratio_rules",
    "access_standards",
    "get_ratio_rule",
    "get_access_standard",
    "evaluate_access",
    "run_ratios",
]

# Luo & Qi (2009) enhanced 2SFCA: three travel-time zones with these weights.
LUO_QI_WEIGHTS = (1.0, 0.68, 0.22)


@dataclass(frozen=True)
class AccessStandard:
    """A per-cell supply-aware accessibility standard (E2SFCA).

    Attributes
    ----------
    id, title_en, title_zh : str
    supply : {"beds", "doctors"}
        Facility capacity field that is shared out.
    kinds : tuple of str
        Facility kinds that supply it.
    demand : {"population", "elderly"}
    per : float
        Accessibility is reported per this many of ``demand`` (1,000 elderly).
    min_value : float
        Cells below it are "covered but under-served".
    catchment_min : float
        Walking catchment in minutes; the decay zones are its thirds.
    speed_mps : float
    unit, source : str
    """

    id: str
    title_en: str
    title_zh: str
    supply: str
    kinds: tuple[str, ...]
    demand: str
    per: float
    min_value: float
    catchment_min: float
    speed_mps: float
    unit: str = ""
    source: str = ""

    @property
    def catchment_m(self) -> float:
        """The catchment as a walking distance in metres."""
        return self.catchment_min * 60.0 * self.speed_mps

    @property
    def column(self) -> str:
        """Prefix of this standard's cell columns."""
        return self.id.replace("-", "_")

    def decay(self) -> StepDecay:
        """Luo & Qi step weights over the catchment's thirds."""
        zones = tuple(self.catchment_min * f for f in (1 / 3, 2 / 3, 1.0))
        return StepDecay.from_minutes(zones, LUO_QI_WEIGHTS, self.speed_mps)

    def to_dict(self) -> dict[str, Any]:
        """The standard's parameters as plain data (JSON-ready)."""
        d = asdict(self)
        d["kinds"] = list(self.kinds)
        return d


def ratio_rules() -> dict[str, RatioRule]:
    """The ratio rules of the active catalogue (``seeds``: ``ratio_rules.toml``), by id."""
    from scenarios.catalogue import active_catalogue

    return active_catalogue().rules


def access_standards() -> dict[str, AccessStandard]:
    """The supply-aware accessibility standards of the active catalogue, by id."""
    from scenarios.catalogue import active_catalogue

    return active_catalogue().access


def _positive(where: str, name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise StandardError(f"{where}: parameter '{name}' must be a number, got {value!r}") from None
    if not v > 0:
        raise StandardError(f"{where}: parameter '{name}' must be positive, got {v}")
    return v


def get_ratio_rule(rule_id: str, **overrides: Any) -> RatioRule:
    """A ratio rule with thresholds overridden (``min_value``, ``max_value``, ``per``, ``level``).

    For example ``get_ratio_rule("elderly-beds-zhuhai", min_value=40)``.
    """
    rules = ratio_rules()
    if rule_id not in rules:
        raise StandardError(f"unknown ratio rule '{rule_id}'; valid rules are: {', '.join(rules)}")
    allowed = {"min_value", "max_value", "per", "level"}
    unknown = set(overrides) - allowed
    if unknown:
        raise StandardError(f"ratio rule '{rule_id}': unknown parameter(s) {sorted(unknown)}; valid are {sorted(allowed)}")
    clean = {k: (v if k == "level" else _positive(f"ratio rule '{rule_id}'", k, v)) for k, v in overrides.items() if v is not None}
    try:
        return replace(rules[rule_id], **clean)
    except RuleError as exc:
        raise StandardError(str(exc)) from None


def get_access_standard(standard_id: str, **overrides: Any) -> AccessStandard:
    """An accessibility standard with ``min_value``, ``catchment_min`` or ``speed_mps`` overridden."""
    stds = access_standards()
    if standard_id not in stds:
        raise StandardError(f"unknown accessibility standard '{standard_id}'; valid are: {', '.join(stds)}")
    allowed = {"min_value", "catchment_min", "speed_mps"}
    unknown = set(overrides) - allowed
    if unknown:
        raise StandardError(
            f"accessibility standard '{standard_id}': unknown parameter(s) {sorted(unknown)}; valid are {sorted(allowed)}"
        )
    clean = {k: _positive(f"accessibility standard '{standard_id}'", k, v) for k, v in overrides.items() if v is not None}
    return replace(stds[standard_id], **clean)


@dataclass(eq=False)
class AccessResult:
    """An accessibility standard evaluated on every cell."""

    standard: AccessStandard
    fca: FCAResult
    classes: ServiceClasses
    demand: np.ndarray

    def summary(self) -> dict[str, Any]:
        """Population per class (uncovered / under-served / served) and the mean accessibility."""
        s = self.standard
        rows = self.classes.summary.set_index("class")
        total = float(self.demand.sum())
        mean = float((self.fca.accessibility * self.demand).sum() / total) if total > 0 else None
        return {
            "standard": s.id,
            "title": s.title_en,
            "unit": s.unit,
            "min_value": s.min_value,
            "catchment_min": s.catchment_min,
            "mean_accessibility": None if mean is None else round(mean, 3),
            **{f"{k}_population": round(float(v), 1) for k, v in rows["population"].items()},
            **{f"{k}_cells": int(v) for k, v in rows["cells"].items()},
            "facilities_without_demand": len(self.fca.no_demand),
            "source": s.source,
        }


def evaluate_access(city: City, standard: AccessStandard) -> AccessResult:
    """E2SFCA accessibility of every cell of ``city`` for one standard.

    Catchments come from bounded walking-distance searches from each facility
    (:func:`geo.paths.pair_distances`), not from straight lines.

    Raises
    ------
    geo.unit_ratios.CapacityError
        If a supplying facility's capacity is missing, not a number or
        negative (the message names the facility id and field).
    """
    idx = city.facilities_of(standard.kinds)
    fac = city.facilities.iloc[idx]
    supply = capacity_values(fac[standard.supply] if standard.supply in fac else [None] * len(fac),
                             fac["id"].to_numpy(), standard.supply)
    pairs = pair_distances(
        city.network,
        city.snapped_facilities.take(idx),
        city.snapped_cells,
        limit=standard.catchment_m,
    )
    demand = city.cells[standard.demand].to_numpy(dtype=np.float64)
    fca = two_step_fca(
        pairs.to_csr(len(idx), len(city.cells)),
        supply,
        demand,
        standard.decay(),
        scale=standard.per,
        supply_ids=fac["id"].to_numpy(),
        supply_field=standard.supply,
    )
    classes = classify_service(fca, standard.min_value, demand)
    return AccessResult(standard=standard, fca=fca, classes=classes, demand=demand)


@dataclass(eq=False)
class RatioReport:
    """Ratio rules per unit and accessibility per cell for one city."""

    city: City
    rules: dict[str, RatioResult]
    access: dict[str, AccessResult]

    def rules_frame(self) -> pd.DataFrame:
        """One row per ratio rule: city totals and units failing."""
        rows = []
        for rid, r in self.rules.items():
            t = r.totals
            rows.append(
                {
                    "rule": rid,
                    "title": r.rule.title_en,
                    "level": r.rule.level,
                    "units": t.get("units"),
                    "units_pass": t.get("units_pass"),
                    "units_fail": t.get("units_fail"),
                    "units_no_demand": t.get("units_no_demand"),
                    "units_without_facility": len(t.get("units_without_facility", [])),
                    "supply": t.get("supply"),
                    "demand": t.get("demand"),
                    "shortfall": t.get("shortfall"),
                    "source": r.rule.source,
                }
            )
        return pd.DataFrame(rows)

    def units_frame(self) -> pd.DataFrame:
        """Every unit of every rule: status, supply, required, shortfall and message."""
        parts = [r.table.assign(rule=rid, level=r.rule.level) for rid, r in self.rules.items()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def units_layer(self, level: str) -> gpd.GeoDataFrame:
        """The units of ``level`` with one status/shortfall column pair per rule of that level."""
        units = self.city.units[level][["unit_id", "name", "geometry"]].copy()
        for rid, r in self.rules.items():
            if r.rule.level != level:
                continue
            t = r.table.set_index("unit_id")
            p = rid.replace("-", "_")
            units[f"{p}_status"] = units["unit_id"].map(t["status"])
            units[f"{p}_shortfall"] = units["unit_id"].map(t["shortfall"])
            units[f"{p}_message"] = units["unit_id"].map(t["message"])
        return units

    def access_frame(self) -> pd.DataFrame:
        """One row per accessibility standard."""
        return pd.DataFrame([a.summary() for a in self.access.values()])

    def cell_columns(self) -> pd.DataFrame:
        """Per-cell accessibility and class columns (``beds_access_value``, ``beds_access_class``)."""
        cols = {}
        for a in self.access.values():
            p = a.standard.column
            cols[f"{p}_value"] = np.round(a.fca.accessibility, 4)
            cols[f"{p}_class"] = a.classes.label
        return pd.DataFrame(cols, index=self.city.cells.index)


def run_ratios(
    city: City,
    rule_ids: list[str] | None = None,
    access_ids: list[str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> RatioReport:
    """Evaluate ratio rules (per unit) and accessibility standards (per cell).

    Parameters
    ----------
    city : City
        Needs ``city.units`` for the rules' levels; rules whose level the city
        lacks are skipped only when ``rule_ids`` is ``None`` (all rules).
    rule_ids, access_ids : list of str, optional
        Defaults: every rule and every accessibility standard.
    overrides : dict, optional
        Per id, parameters such as ``{"elderly-beds-zhuhai": {"min_value": 40}}``
        or ``{"beds-access": {"catchment_min": 10}}``.

    Returns
    -------
    RatioReport
    """
    overrides = dict(overrides or {})
    known = set(ratio_rules()) | set(access_standards())
    for key in overrides:
        if key not in known:
            raise StandardError(f"overrides given for unknown rule '{key}'; valid are: {', '.join(sorted(known))}")
    if rule_ids is None:
        rules = [get_ratio_rule(r, **overrides.get(r, {})) for r in ratio_rules()]
        rules = [r for r in rules if r.level in city.units]
    else:
        rules = [get_ratio_rule(r, **overrides.get(r, {})) for r in rule_ids]
    try:
        rule_results = evaluate_ratio_rules(rules, city.units, city.facilities, city.cells)
    except RuleError as exc:
        raise StandardError(str(exc)) from None
    ids = list(access_standards()) if access_ids is None else access_ids
    access = {}
    for a in ids:
        std = get_access_standard(a, **overrides.get(a, {}))
        access[a] = evaluate_access(city, std)
    return RatioReport(city=city, rules=rule_results, access=access)
