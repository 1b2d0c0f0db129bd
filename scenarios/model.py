"""The scenario model: a named plan of facility edits on a base city.

A planner starts from the current facilities of a city, adds a clinic here,
moves a service station there, closes an elderly-care centre, and asks which
standards that plan meets. A :class:`Scenario` records exactly that, as data:
the base city, an ordered list of edits, the standards to evaluate with any
parameter overrides, and (once evaluated) a summary of the results.

:func:`apply_edits` turns a base facility layer plus edits into the scenario's
facility layer. Everything here is pure: no files, no database.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from geo.errors import LifecircleError
from layers.kinds import CAPACITY_FIELDS, KINDS
from scenarios.standards import Standard, StandardError, resolve_standards

if TYPE_CHECKING:
    import geopandas as gpd
    import shapely
    from pyproj import CRS

# geopandas, shapely and pyproj are imported where edits are applied, not at
# import: the store, the YAML reader and the CLI's listing commands read and
# write scenarios without the GIS stack (about a second per process start).

__all__ = [
    "AddFacility",
    "Edit",
    "EditError",
    "MoveFacility",
    "RemoveFacility",
    "Scenario",
    "ScenarioError",
    "SetCapacity",
    "apply_edits",
    "describe_validation_error",
    "scenario_from_dict",
]


class ScenarioError(LifecircleError):
    """A scenario that is not valid (bad field, unknown standard, ...)."""


class EditError(ScenarioError):
    """An edit that cannot be applied to the base facilities (unknown or duplicate id)."""


_MODEL_CONFIG = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown facility kind {kind!r}; valid kinds are: {', '.join(KINDS)}")
    return kind


def _check_amount(value: float | None, what: str) -> float | None:
    # NaN/inf would silently poison capacity sums downstream; refuse them here.
    if value is None:
        return None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {value}")
    return value


class _Located(BaseModel):
    """A location given either as WGS84 ``lon``/``lat`` or as ``x``/``y`` in the city CRS."""

    model_config = _MODEL_CONFIG

    lon: float | None = Field(default=None, ge=-180.0, le=180.0, description="WGS84 longitude, degrees")
    lat: float | None = Field(default=None, ge=-90.0, le=90.0, description="WGS84 latitude, degrees")
    x: float | None = Field(default=None, description="easting in the city's metric CRS, metres")
    y: float | None = Field(default=None, description="northing in the city's metric CRS, metres")

    @model_validator(mode="after")
    def _one_location(self) -> _Located:
        has_ll = self.lon is not None or self.lat is not None
        has_xy = self.x is not None or self.y is not None
        if has_ll and has_xy:
            raise ValueError("give either lon/lat (WGS84) or x/y (city CRS), not both")
        if has_ll and (self.lon is None or self.lat is None):
            raise ValueError("lon and lat must be given together")
        if has_xy and (self.x is None or self.y is None):
            raise ValueError("x and y must be given together")
        if not (has_ll or has_xy):
            raise ValueError("a location is required: lon/lat (WGS84) or x/y (city CRS)")
        for name in ("x", "y"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"{name} must be finite, got {v}")
        return self

    def point(self, crs: CRS) -> shapely.Point:
        """The location as a point in ``crs`` (lon/lat is transformed, x/y taken as is)."""
        import shapely

        if self.lon is not None:
            x, y = _to_crs(crs.to_wkt())(self.lon, self.lat)
            return shapely.Point(x, y)
        return shapely.Point(self.x, self.y)


class AddFacility(_Located):
    """Open a new facility."""

    op: Literal["add"] = "add"
    id: str = Field(min_length=1, description="new facility id, unique in the city")
    name: str = ""
    kind: str = Field(description="one of layers.kinds.KINDS")
    capacities: dict[str, float] = Field(
        default_factory=dict, description="optional beds / doctors / floor_area_m2"
    )

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return _check_kind(v)

    @field_validator("capacities")
    @classmethod
    def _capacities(cls, v: dict[str, float]) -> dict[str, float]:
        for key, value in v.items():
            if key not in CAPACITY_FIELDS:
                raise ValueError(
                    f"unknown capacity field {key!r}; valid fields are: {', '.join(CAPACITY_FIELDS)}"
                )
            _check_amount(value, f"capacity {key!r}")
        return v


class MoveFacility(_Located):
    """Move an existing (or earlier added) facility to a new location."""

    op: Literal["move"] = "move"
    id: str = Field(min_length=1)


class RemoveFacility(BaseModel):
    """Close a facility."""

    model_config = _MODEL_CONFIG

    op: Literal["remove"] = "remove"
    id: str = Field(min_length=1)


class SetCapacity(BaseModel):
    """Change one capacity field of a facility (``value: null`` marks it unknown)."""

    model_config = _MODEL_CONFIG

    op: Literal["set_capacity"] = "set_capacity"
    id: str = Field(min_length=1)
    field: str = Field(description="one of layers.kinds.CAPACITY_FIELDS")
    value: float | None

    @field_validator("field")
    @classmethod
    def _field(cls, v: str) -> str:
        if v not in CAPACITY_FIELDS:
            raise ValueError(f"unknown capacity field {v!r}; valid fields are: {', '.join(CAPACITY_FIELDS)}")
        return v

    @field_validator("value")
    @classmethod
    def _value(cls, v: float | None) -> float | None:
        return _check_amount(v, "value")


Edit = Annotated[AddFacility | MoveFacility | RemoveFacility | SetCapacity, Field(discriminator="op")]
"""One facility edit; the ``op`` field (add, move, remove, set_capacity) says which."""


class Scenario(BaseModel):
    """A named plan: edits to a base city's facilities and the standards to check.

    Attributes
    ----------
    name : str
        Key of the scenario in the store (no ``/`` or control characters).
    description : str
        Free text for people.
    city : str
        Base city name, e.g. ``"demo"``.
    edits : list of Edit
        Applied in order by :func:`apply_edits`.
    standards : list of str or None
        Standard ids to evaluate; ``None`` means every standard in the catalogue.
    overrides : dict
        Per-standard parameter overrides, e.g.
        ``{"clinic-walk": {"threshold_min": 20, "speed_mps": 1.0}}``.
    results : dict or None
        Summary of the last evaluation (set by the evaluator / the store).
    version : int or None
        The store version this scenario was read from; ``None`` if never saved.
        :meth:`scenarios.store.ScenarioStore.save` uses it as the expected
        version when none is passed, so a load-edit-save round trip is
        checked for concurrent changes.
    """

    model_config = _MODEL_CONFIG

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^/\\\x00-\x1f\x7f]+$")
    description: str = ""
    city: str = Field(min_length=1)
    edits: list[Edit] = Field(default_factory=list)
    standards: list[str] | None = None
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    results: dict[str, Any] | None = None
    version: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _no_base_layers(cls, data: Any) -> Any:
        # Edits apply to the city's own facilities. Files and stored versions written when
        # the model still had an (always empty) ``base_layers`` list keep loading.
        if isinstance(data, dict) and "base_layers" in data:
            if data["base_layers"]:
                raise ValueError("base_layers: not supported; edits apply to the city's own facilities "
                                 "(remove the field, or build a city folder with the layer you want as its facilities)")
            data = {k: v for k, v in data.items() if k != "base_layers"}
        return data

    @model_validator(mode="after")
    def _standards_known(self, info: ValidationInfo) -> Scenario:
        # Resolving catches unknown ids, overrides for standards not being run and
        # bad override values, each with a message naming the standard and parameter.
        # Versions read back from the store skip this (context "stored"): they were
        # checked when saved, and a later catalogue change must not hide history.
        if info.context and info.context.get("stored"):
            return self
        try:
            resolve_standards(self.standards)
        except StandardError as exc:
            raise ValueError(f"standards: {exc}") from None
        try:
            resolve_standards(self.standards, self.overrides)
        except StandardError as exc:
            raise ValueError(f"overrides: {exc}") from None
        return self

    def resolved_standards(self) -> list[Standard]:
        """The :class:`scenarios.standards.Standard` objects to evaluate, overrides applied."""
        return resolve_standards(self.standards, self.overrides)

    def content(self) -> dict[str, Any]:
        """The scenario as plain JSON data without ``results`` and ``version``.

        This is what defines a version in the store: two scenarios with the same
        content are the same plan.
        """
        return self.model_dump(mode="json", exclude={"results", "version"})


def describe_validation_error(err: ValidationError, source: str | None = None) -> str:
    """Turn a pydantic error into one line per problem, each naming its field.

    Parameters
    ----------
    err : pydantic.ValidationError
        The error raised while validating a scenario.
    source : str, optional
        Where the data came from (a file name); prefixed to every line.

    Returns
    -------
    str
        e.g. ``"plan.yaml: edits[2].kind: unknown facility kind 'clinic'; ..."``.
    """
    lines = []
    for e in err.errors():
        loc = ""
        for part in e["loc"]:
            if isinstance(part, int):
                loc += f"[{part}]"
            elif part in ("add", "move", "remove", "set_capacity"):
                continue  # the union tag pydantic inserts; the op is already named by the data
            else:
                loc += f".{part}" if loc else str(part)
        msg = e["msg"].removeprefix("Value error, ")
        where = f"{loc}: " if loc else ""
        lines.append(f"{source + ': ' if source else ''}{where}{msg}")
    return "\n".join(lines)


def scenario_from_dict(data: Any, source: str | None = None) -> Scenario:
    """Validate plain data (from YAML, JSON, a request) into a :class:`Scenario`.

    Raises
    ------
    ScenarioError
        With one line per problem, naming ``source`` and the field.
    """
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{source + ': ' if source else ''}a scenario must be a mapping of fields, got {type(data).__name__}"
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(describe_validation_error(err, source)) from None


@lru_cache(maxsize=16)
def _to_crs(crs_wkt: str) -> Any:
    from pyproj import CRS, Transformer

    # always_xy: lon/lat order regardless of the CRS's axis order.
    return Transformer.from_crs(CRS.from_epsg(4326), CRS.from_wkt(crs_wkt), always_xy=True).transform


def _edit_label(i: int, edit: Any) -> str:
    return f"edit {i} ({edit.op} '{edit.id}')"


def apply_edits(facilities: gpd.GeoDataFrame, edits: list[Any], crs: Any) -> gpd.GeoDataFrame:
    """Apply scenario edits, in order, to a facility layer.

    Parameters
    ----------
    facilities : geopandas.GeoDataFrame
        Base facilities with columns ``id``, ``name``, ``kind``, the capacity
        fields and Point ``geometry`` in ``crs`` (as :attr:`layers.city.City.facilities`).
    edits : list of Edit
        :class:`AddFacility`, :class:`MoveFacility`, :class:`RemoveFacility`,
        :class:`SetCapacity`; a later edit may refer to a facility an earlier one added.
    crs : pyproj.CRS or anything pyproj accepts
        The city's metric CRS; WGS84 lon/lat locations are transformed into it.

    Returns
    -------
    geopandas.GeoDataFrame
        A new layer (the input is not modified), index ``0..k-1``; removed rows
        dropped, added rows appended in edit order.

    Raises
    ------
    EditError
        For an unknown facility id, an added id that already exists, or a
        layer in a different CRS; the message names the edit by position.
    """
    import geopandas as gpd
    import pandas as pd
    from pyproj import CRS

    crs = CRS.from_user_input(crs)
    if facilities.crs is not None and CRS.from_user_input(facilities.crs) != crs:
        raise EditError(f"facilities are in {facilities.crs.name!r}, not the city CRS {crs.name!r}")
    out = facilities.copy()
    for col in ("id", "name", "kind", *CAPACITY_FIELDS):
        if col not in out.columns:
            out[col] = pd.Series(dtype="float64" if col in CAPACITY_FIELDS else "object", index=out.index)
    ids = out["id"].astype(str).tolist()
    rows: list[dict[str, Any]] = out.to_dict("records")
    # Plain records keep every edit O(k); one GeoDataFrame is built at the end.
    pos = {fid: i for i, fid in enumerate(ids)}
    if len(pos) != len(ids):
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
        raise EditError(f"base facilities have duplicate id '{dup}'")
    alive = [True] * len(rows)

    def find(i: int, edit: Any) -> int:
        j = pos.get(edit.id)
        if j is None or not alive[j]:
            why = "was removed by an earlier edit" if j is not None else "is not a facility of the base layer or an earlier edit"
            raise EditError(f"{_edit_label(i, edit)}: facility id '{edit.id}' {why}")
        return j

    for i, edit in enumerate(edits):
        if isinstance(edit, AddFacility):
            j = pos.get(edit.id)
            if j is not None and alive[j]:
                raise EditError(f"{_edit_label(i, edit)}: facility id '{edit.id}' already exists")
            row = {col: None for col in out.columns}
            row.update({c: math.nan for c in CAPACITY_FIELDS})
            row.update(id=edit.id, name=edit.name or edit.id, kind=edit.kind, **edit.capacities)
            row[out.geometry.name] = edit.point(crs)
            pos[edit.id] = len(rows)
            rows.append(row)
            alive.append(True)
        elif isinstance(edit, MoveFacility):
            rows[find(i, edit)][out.geometry.name] = edit.point(crs)
        elif isinstance(edit, RemoveFacility):
            alive[find(i, edit)] = False
        elif isinstance(edit, SetCapacity):
            rows[find(i, edit)][edit.field] = math.nan if edit.value is None else edit.value
        else:
            raise EditError(f"edit {i}: not a facility edit: {edit!r}")
    kept = [r for r, a in zip(rows, alive, strict=True) if a]
    result = gpd.GeoDataFrame(
        pd.DataFrame(kept, columns=list(out.columns)), geometry=out.geometry.name, crs=crs
    )
    for col in CAPACITY_FIELDS:
        result[col] = result[col].astype("float64")
    return result.reset_index(drop=True)
