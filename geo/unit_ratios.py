"""Ratio rules per administrative unit: supply inside a unit against its demand.

Planning documents set ratio rules beside the radius rules, e.g. 30-40
elderly-care beds per 1,000 elderly, 2-3 general practitioners per 10,000
residents, one community health centre per 30,000-100,000 residents, one
public service station per community. A :class:`RatioRule` states such a rule
as data; :func:`evaluate_ratio_rule` checks it in every unit (any polygons
with an id) and reports pass/fail, the shortfall in supply units and city
totals.

Cells are assigned to the unit containing their representative point (or by a
given unit-id column); facilities to the unit containing them. Units of one
level are expected not to overlap; where they do, the first unit wins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import LifecircleError

__all__ = [
    "CapacityError",
    "DemandError",
    "RatioResult",
    "RatioRule",
    "RuleError",
    "assign_to_units",
    "capacity_values",
    "demand_values",
    "evaluate_ratio_rule",
    "evaluate_ratio_rules",
]

RuleKind = Literal["per_demand", "count_per_demand_range", "count_per_unit", "capacity_per_unit"]
Supply = Literal["count", "beds", "doctors", "floor_area_m2", "social_workers"]
Demand = Literal["population", "elderly"]

RULE_KINDS: tuple[str, ...] = ("per_demand", "count_per_demand_range", "count_per_unit", "capacity_per_unit")
SUPPLIES: tuple[str, ...] = ("count", "beds", "doctors", "floor_area_m2", "social_workers")
DEMANDS: tuple[str, ...] = ("population", "elderly")

# Required supply is a product of decimals (30 * 2800 / 1000); without this
# slack float noise could turn an exact 84 into "85 more beds".
_CEIL_SLACK = 1e-9


class CapacityError(LifecircleError):
    """A facility capacity (``beds``, ``doctors``, ...) is missing, negative or not a number."""


class DemandError(LifecircleError):
    """A cell's demand (``population``, ``elderly``) is missing, negative or not a number."""


class RuleError(LifecircleError):
    """A ratio rule is malformed, or its units or cells cannot be used."""


# ------------------------------------------------------------------ capacities
def _checked_numbers(
    values: Any, ids: Sequence[Any] | None, field_name: str, what: str, error: type[ValueError]
) -> np.ndarray:
    """Values as float64, raising ``error`` naming the first bad row."""
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if arr.dtype.kind in "biuf":  # already numbers: no per-element parsing
        num = arr.astype(np.float64, copy=False)
        raw = None
    else:  # text or mixed, as CSV readers may leave it
        raw = pd.Series(arr.astype(object))
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(num) | (num < 0)
    if not bad.any():
        return num
    if raw is None:
        raw = pd.Series(num)
    i = int(np.flatnonzero(bad)[0])
    who = f"{what} '{ids[i]}'" if ids is not None else f"{what} at row {i}"
    v = raw.iloc[i]
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        problem = "is missing"
    elif not np.isfinite(num[i]):
        problem = f"is not a finite number ({v!r})"
    else:
        problem = f"is negative ({v!r})"
    more = int(bad.sum()) - 1
    tail = f" ({more} more rows have bad '{field_name}' values)" if more else ""
    raise error(f"{who}: field '{field_name}' {problem}{tail}")


def capacity_values(values: Any, ids: Sequence[Any] | None, field_name: str) -> np.ndarray:
    """Validate facility capacities and return them as float64.

    Parameters
    ----------
    values : array_like
        One capacity per facility (numbers; text that parses as a number is
        accepted, as CSV readers sometimes leave it).
    ids : sequence, optional
        Facility ids for error messages; row positions when ``None``.
    field_name : str
        Name of the capacity field (``beds``, ``doctors``), for messages.

    Returns
    -------
    numpy.ndarray of float64

    Raises
    ------
    CapacityError
        Naming the first offending facility id and the field, when a value is
        missing (``None``/NaN), not a number, infinite or negative.
    """
    return _checked_numbers(values, ids, field_name, "facility", CapacityError)


def demand_values(values: Any, ids: Sequence[Any] | None, field_name: str) -> np.ndarray:
    """Validate cell demand (``population``/``elderly``) like :func:`capacity_values`.

    Raises
    ------
    DemandError
        Naming the first offending cell and the field.
    """
    return _checked_numbers(values, ids, field_name, "cell", DemandError)


# ------------------------------------------------------------------ the rule
@dataclass(frozen=True)
class RatioRule:
    """One ratio rule, as data (the scenarios catalogue builds these from TOML).

    Attributes
    ----------
    id : str
        Catalogue key, e.g. ``"elderly-beds-zhuhai"``.
    kind : {"per_demand", "count_per_demand_range", "count_per_unit"}
        * ``per_demand``: at least ``min_value`` of ``supply`` per ``per``
          demand (30 beds per 1,000 elderly: ``supply="beds"``,
          ``demand="elderly"``, ``per=1000``, ``min_value=30``). ``max_value``,
          if given, is the upper end of a range (2-3 doctors per 10,000): it
          is reported (``over``), never a failure.
        * ``count_per_demand_range``: one facility per ``min_value`` to
          ``max_value`` demand (one health centre per 30,000-100,000
          residents). A unit passes with at least ``ceil(demand / max_value)``
          facilities, i.e. no facility serves more than ``max_value`` people;
          more than ``max(1, floor(demand / min_value))`` is reported as
          ``over``. ``supply`` must be ``"count"``.
        * ``count_per_unit``: at least ``min_value`` (default 1) facilities in
          every unit with demand ("one residents' committee, one station").
    supply : {"count", "beds", "doctors"}
        What is counted among the unit's facilities of ``kinds``.
    kinds : tuple of str
        Facility kinds that supply the rule.
    demand : {"population", "elderly"}
        The cell column the rule is measured against.
    per : float
        Demand units per ratio (``per_demand`` only), e.g. 1000.
    min_value, max_value : float
        See ``kind``.
    level : str
        Unit level the rule applies to (``"subdistrict"``, ``"community"``,
        or any key of a city's units).
    title_en, title_zh, source, note : str
        Labels, the planning clause and how it is interpreted.
    qualify_field, qualify_min : str and float, optional
        Count only facilities whose ``qualify_field`` is at least
        ``qualify_min`` (a station of at least 300 m2 of ``floor_area_m2``).
    target_share : float, optional
        The rule is a target for this share of units (30 % of villages);
        ``totals["target_met"]`` says whether the passing share reaches it.
    """

    id: str
    kind: RuleKind
    supply: Supply
    kinds: tuple[str, ...]
    demand: Demand = "population"
    per: float = 1.0
    min_value: float = 1.0
    max_value: float | None = None
    level: str = "subdistrict"
    title_en: str = ""
    title_zh: str = ""
    source: str = ""
    note: str = ""
    qualify_field: str | None = None
    qualify_min: float | None = None
    target_share: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(self.kinds))
        where = f"ratio rule '{self.id}'"
        if self.kind not in RULE_KINDS:
            raise RuleError(f"{where}: kind must be one of {RULE_KINDS}, got {self.kind!r}")
        if self.supply not in SUPPLIES:
            raise RuleError(f"{where}: supply must be one of {SUPPLIES}, got {self.supply!r}")
        if self.demand not in DEMANDS:
            raise RuleError(f"{where}: demand must be one of {DEMANDS}, got {self.demand!r}")
        if not self.kinds:
            raise RuleError(f"{where}: kinds must name at least one facility kind")
        for name in ("per", "min_value", "max_value"):
            v = getattr(self, name)
            if v is None:
                continue
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise RuleError(f"{where}: {name} must be a positive number, got {v!r}")
        if self.kind in ("count_per_unit", "count_per_demand_range") and self.supply != "count":
            raise RuleError(f"{where}: kind '{self.kind}' counts facilities; supply must be 'count'")
        if self.kind == "capacity_per_unit" and self.supply == "count":
            raise RuleError(f"{where}: kind 'capacity_per_unit' sums a capacity; supply must not be 'count'")
        if (self.qualify_field is None) != (self.qualify_min is None):
            raise RuleError(f"{where}: give qualify_field and qualify_min together")
        if self.target_share is not None and not 0 < self.target_share <= 1:
            raise RuleError(f"{where}: target_share must be a share in (0, 1], got {self.target_share!r}")
        if self.kind == "count_per_demand_range":
            if self.max_value is None:
                raise RuleError(f"{where}: count_per_demand_range needs max_value (demand served by one facility at most)")
            if self.max_value < self.min_value:
                raise RuleError(f"{where}: max_value {self.max_value} is below min_value {self.min_value}")
        if self.kind == "per_demand" and self.max_value is not None and self.max_value < self.min_value:
            raise RuleError(f"{where}: max_value {self.max_value} is below min_value {self.min_value}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RatioRule:
        """Build a rule from plain data (a TOML/JSON table), rejecting unknown keys."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise RuleError(
                f"ratio rule '{data.get('id', '?')}': unknown key(s) {sorted(unknown)}; valid keys are {sorted(known)}"
            )
        missing = {"id", "kind", "supply", "kinds"} - set(data)
        if missing:
            raise RuleError(f"ratio rule '{data.get('id', '?')}': missing key(s) {sorted(missing)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON, YAML and TOML."""
        d = asdict(self)
        d["kinds"] = list(self.kinds)
        return d

    def required(self, demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Least and most supply this rule asks of units with ``demand``.

        Returns
        -------
        least, most : numpy.ndarray
            ``most`` is ``inf`` where the rule sets no upper end. Both are 0
            where demand is 0 (such units are reported as "no demand").
        """
        demand = np.asarray(demand, dtype=np.float64)
        has = demand > 0
        if self.kind == "per_demand":
            least = self.min_value * demand / self.per
            most = (
                np.full(demand.shape, np.inf)
                if self.max_value is None
                else self.max_value * demand / self.per
            )
        elif self.kind == "count_per_demand_range":
            least = np.ceil(demand / self.max_value - _CEIL_SLACK)
            most = np.maximum(1.0, np.floor(demand / self.min_value + _CEIL_SLACK))
        else:  # count_per_unit, capacity_per_unit
            least = np.full(demand.shape, float(self.min_value))
            most = np.full(demand.shape, np.inf if self.max_value is None else float(self.max_value))
        return np.where(has, least, 0.0), np.where(has, most, np.inf)


# ------------------------------------------------------------------ units
def _representative_points(geoms: np.ndarray) -> np.ndarray:
    """Centroid where it lies inside the polygon, else a point on the surface."""
    pts = shapely.centroid(geoms)
    outside = ~shapely.contains(geoms, pts)
    if outside.any():
        pts[outside] = shapely.point_on_surface(geoms[outside])
    return pts


def assign_to_units(points: np.ndarray, units: gpd.GeoDataFrame) -> np.ndarray:
    """Row position of the unit containing each point (``-1`` for none).

    Points on a shared boundary go to the unit listed first.

    Parameters
    ----------
    points : numpy.ndarray of shapely.Point
    units : geopandas.GeoDataFrame
        Unit polygons in the points' CRS.

    Returns
    -------
    numpy.ndarray of int64
    """
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(units) == 0:
        return out
    tree = shapely.STRtree(units.geometry.values)
    pt_idx, unit_idx = tree.query(points, predicate="intersects")
    # keep the lowest unit position per point
    order = np.lexsort((unit_idx, pt_idx))
    pt_idx, unit_idx = pt_idx[order], unit_idx[order]
    first = np.ones(pt_idx.size, dtype=bool)
    first[1:] = pt_idx[1:] != pt_idx[:-1]
    out[pt_idx[first]] = unit_idx[first]
    return out


def _cell_units(
    cells: gpd.GeoDataFrame, units: gpd.GeoDataFrame, unit_ids: np.ndarray, column: str | None
) -> np.ndarray:
    """Unit position of every cell, from a unit-id column or by point in polygon."""
    if column is not None and column in cells.columns:
        pos = pd.Index(unit_ids).get_indexer(cells[column].astype(str).to_numpy())
        return pos.astype(np.int64)
    return assign_to_units(_representative_points(cells.geometry.values), units)


def _check_units(units: gpd.GeoDataFrame, level: str) -> np.ndarray:
    if "unit_id" not in units.columns:
        raise RuleError(f"units of level '{level}': missing column 'unit_id'")
    ids = units["unit_id"].astype(str).to_numpy()
    dup = pd.Index(ids).duplicated()
    if dup.any():
        raise RuleError(f"units of level '{level}': unit_id '{ids[dup][0]}' appears more than once")
    return ids


# ------------------------------------------------------------------ results
@dataclass(eq=False)
class RatioResult:
    """One ratio rule evaluated in every unit of its level.

    Attributes
    ----------
    rule : RatioRule
    table : pandas.DataFrame
        One row per unit: ``unit_id``, ``name``, ``demand``, ``facilities``
        (count of the rule's kinds inside), ``supply``, ``required`` (least
        supply; for counts an integer), ``required_max`` (``inf`` when open),
        ``ratio`` (supply per ``per`` demand for ``per_demand`` rules, demand
        per facility for counts; NaN without demand), ``status``
        (``"pass"``, ``"fail"`` or ``"no demand"``), ``shortfall`` (supply
        units missing, rounded up; 0 when passing), ``over`` (supply above
        the rule's upper end) and ``message``.
    totals : dict
        City-wide figures: ``demand``, ``supply``, ``facilities``,
        ``ratio``, ``shortfall`` (sum over units), ``units``, ``units_pass``,
        ``units_fail``, ``units_no_demand``, ``units_without_facility`` (ids
        of units with demand and no facility of the rule's kinds),
        ``facilities_outside`` (facilities of the kinds in no unit),
        ``demand_outside`` (demand in cells in no unit).
    """

    rule: RatioRule
    table: pd.DataFrame
    totals: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> pd.DataFrame:
        """Rows of units that fail the rule."""
        return self.table[self.table["status"] == "fail"]


def _unit_word(rule: RatioRule, n: float) -> str:
    if rule.supply == "count":
        return "facility" if n == 1 else "facilities"
    if rule.supply == "beds":
        return "bed" if n == 1 else "beds"
    if rule.supply == "doctors":
        return "doctor" if n == 1 else "doctors"
    if rule.supply == "social_workers":
        return "social worker" if n == 1 else "social workers"
    return "m2 of floor area"


def _messages(rule: RatioRule, status: np.ndarray, shortfall: np.ndarray, n_fac: np.ndarray) -> list[str]:
    out = []
    kinds = "/".join(rule.kinds)
    for st, short, nf in zip(status, shortfall, n_fac):
        if st == "no demand":
            out.append(f"no demand ({rule.demand} is 0)")
        elif st == "pass":
            out.append("meets the rule")
        else:
            msg = f"needs {int(short)} more {_unit_word(rule, short)}"
            if nf == 0:
                msg += f" (no {kinds} facility)"
            out.append(msg)
    return out


def evaluate_ratio_rule(
    rule: RatioRule,
    units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    unit_column: str | None = None,
) -> RatioResult:
    """Check one ratio rule in every unit.

    Parameters
    ----------
    rule : RatioRule
    units : geopandas.GeoDataFrame
        Polygons of the rule's level with ``unit_id`` (and optionally
        ``name``), in the same CRS as cells and facilities.
    facilities : geopandas.GeoDataFrame
        Points with ``id``, ``kind`` and, for rules counting capacity, the
        ``beds`` / ``doctors`` column.
    cells : geopandas.GeoDataFrame
        Polygons with the rule's demand column (``population`` / ``elderly``).
    unit_column : str, optional
        Column of ``cells`` holding unit ids; defaults to ``rule.level``
        when the cells have such a column. Otherwise cells are assigned by
        their representative point.

    Returns
    -------
    RatioResult

    Raises
    ------
    CapacityError
        When a facility of the rule's kinds has a missing, negative or
        non-numeric capacity that the rule counts (naming the facility id).
    RuleError
        When a needed column is missing or unit ids repeat.
    """
    unit_ids = _check_units(units, rule.level)
    for col in ("kind",) if rule.supply == "count" else ("kind", rule.supply):
        if col not in facilities.columns:
            raise RuleError(f"ratio rule '{rule.id}': facilities have no '{col}' column")
    if rule.demand not in cells.columns:
        raise RuleError(f"ratio rule '{rule.id}': cells have no '{rule.demand}' column")

    n_units = len(units)
    fac = facilities[facilities["kind"].isin(list(rule.kinds)).to_numpy()]
    if rule.qualify_field is not None:  # e.g. only stations of at least 300 m2
        if rule.qualify_field not in fac.columns:
            raise RuleError(f"ratio rule '{rule.id}': facilities have no '{rule.qualify_field}' column")
        size = pd.to_numeric(fac[rule.qualify_field], errors="coerce").to_numpy(dtype=np.float64)
        fac = fac[np.nan_to_num(size, nan=-np.inf) >= rule.qualify_min]
    # without an id column, name facilities by their row label in the full table
    fac_ids = fac["id"].astype(str).to_numpy() if "id" in fac.columns else [f"row {i}" for i in fac.index]
    if rule.supply == "count":
        amount = np.ones(len(fac))
    else:
        amount = capacity_values(fac[rule.supply], fac_ids, rule.supply)
    fac_unit = assign_to_units(fac.geometry.values, units)
    inside = fac_unit >= 0
    supply = np.bincount(fac_unit[inside], weights=amount[inside], minlength=n_units)
    n_fac = np.bincount(fac_unit[inside], minlength=n_units)

    cell_ids = cells["cell_id"].astype(str).to_numpy() if "cell_id" in cells.columns else None
    dem_values = demand_values(cells[rule.demand], cell_ids, rule.demand)
    column = unit_column if unit_column is not None else rule.level
    cell_unit = _cell_units(cells, units, unit_ids, column)
    cin = cell_unit >= 0
    demand = np.bincount(cell_unit[cin], weights=dem_values[cin], minlength=n_units)

    least, most = rule.required(demand)
    has = demand > 0
    status = np.where(~has, "no demand", np.where(supply >= least - _CEIL_SLACK, "pass", "fail"))
    shortfall = np.where(status == "fail", np.ceil(least - supply - _CEIL_SLACK), 0.0).astype(np.int64)
    over = has & (supply > most + _CEIL_SLACK)
    with np.errstate(divide="ignore", invalid="ignore"):
        if rule.kind == "per_demand":
            ratio = np.where(has, supply / demand * rule.per, np.nan)
        else:
            ratio = np.where(has & (n_fac > 0), demand / np.maximum(n_fac, 1), np.nan)

    table = pd.DataFrame(
        {
            "unit_id": unit_ids,
            "name": units["name"].astype(str).to_numpy() if "name" in units.columns else unit_ids,
            "demand": demand,
            "facilities": n_fac.astype(np.int64),
            "supply": supply,
            "required": least,
            "required_max": most,
            "ratio": ratio,
            "status": status,
            "shortfall": shortfall,
            "over": over,
            "message": _messages(rule, status, shortfall, n_fac),
        }
    )
    total_demand = float(demand.sum())
    total_supply = float(supply.sum())
    if rule.kind == "per_demand":
        city_ratio = total_supply / total_demand * rule.per if total_demand > 0 else float("nan")
    else:
        city_ratio = total_demand / int(n_fac.sum()) if n_fac.sum() > 0 else float("nan")
    totals = {
        "demand": total_demand,
        "supply": total_supply,
        "facilities": int(n_fac.sum()),
        "ratio": city_ratio,
        "shortfall": int(shortfall.sum()),
        "units": n_units,
        "units_pass": int((status == "pass").sum()),
        "units_fail": int((status == "fail").sum()),
        "units_no_demand": int((~has).sum()),
        "units_without_facility": unit_ids[has & (n_fac == 0)].tolist(),
        "facilities_outside": int((~inside).sum()),
        "demand_outside": float(dem_values[~cin].sum()),
    }
    if rule.target_share is not None:  # a target for a share of the units, not for each
        with_demand = int(has.sum())
        share = totals["units_pass"] / with_demand if with_demand else float("nan")
        totals.update(share_pass=share, target_share=rule.target_share, target_met=bool(share >= rule.target_share))
    return RatioResult(rule=rule, table=table, totals=totals)


def evaluate_ratio_rules(
    rules: Sequence[RatioRule],
    units: dict[str, gpd.GeoDataFrame],
    facilities: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
) -> dict[str, RatioResult]:
    """Check several rules, each in the units of its level.

    Parameters
    ----------
    rules : sequence of RatioRule
    units : dict of str to geopandas.GeoDataFrame
        Units by level (as in ``City.units``).
    facilities, cells : geopandas.GeoDataFrame
        See :func:`evaluate_ratio_rule`.

    Returns
    -------
    dict of str to RatioResult
        By rule id, in the order given.

    Raises
    ------
    RuleError
        If a rule's level has no units (the message lists the levels there are).
    """
    out: dict[str, RatioResult] = {}
    for rule in rules:
        if rule.level not in units:
            raise RuleError(
                f"ratio rule '{rule.id}' applies to level '{rule.level}', but the city has units "
                f"only for {sorted(units) or 'no level'}"
            )
        out[rule.id] = evaluate_ratio_rule(rule, units[rule.level], facilities, cells)
    return out
