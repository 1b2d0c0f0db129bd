"""Service-radius standards: the :class:`Standard` record and lookups in the active catalogue.

A :class:`Standard` is data, not code: which facility kinds satisfy it, whether
distance is a straight line or a network walk, the threshold, the walking
speed, which population column it is weighted by, and its source clause.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from geo.errors import LifecircleError

__all__ = ["Standard", "StandardError", "catalogue", "get_standard", "resolve_standards", "walking_speeds"]


class StandardError(LifecircleError):
    """An unknown standard or an invalid parameter override."""


Mode = Literal["euclidean", "network"]


@dataclass(frozen=True)
class Standard:
    """One service-radius standard.

    Attributes
    ----------
    id : str
        Catalogue key, e.g. ``"clinic-walk"``.
    title_en, title_zh : str
        Labels for tables and maps.
    kinds : tuple of str
        Facility kinds that satisfy the standard.
    mode : {"euclidean", "network"}
        Straight-line distance or walking distance on the network.
    threshold_m : float
        Reach in metres (for walking standards, ``threshold_min`` x speed).
    speed_mps : float
        Walking speed used to turn distances into minutes.
    weight : {"population", "elderly"}
        The cell column the standard is weighted by.
    threshold_min : float or None
        The threshold as stated in minutes, for walking standards.
    bands_min : tuple of float
        Upper edges of walk-time bands to report (e.g. 15 and 30 minutes).
    source : str
        The clause of the planning document the standard comes from.
    speed_source : str
        Where the default walking speed comes from.
    note : str
        How the clause is interpreted.
    """

    id: str
    title_en: str
    title_zh: str
    kinds: tuple[str, ...]
    mode: Mode
    threshold_m: float
    speed_mps: float
    weight: Literal["population", "elderly"] = "population"
    threshold_min: float | None = None
    bands_min: tuple[float, ...] = field(default_factory=tuple)
    source: str = ""
    speed_source: str = ""
    note: str = ""

    @property
    def column(self) -> str:
        """Prefix of this standard's result columns (``clinic_walk``)."""
        return self.id.replace("-", "_")

    def title(self, lang: str = "en") -> str:
        """The title in ``lang`` (``"en"`` or ``"zh"``)."""
        return self.title_zh if lang == "zh" else self.title_en

    def with_overrides(self, **overrides: Any) -> "Standard":
        """Return a copy with thresholds, speed or mode changed.

        Parameters
        ----------
        **overrides
            Any of ``threshold_m``, ``threshold_min``, ``speed_mps``, ``mode``,
            ``weight``. Giving ``threshold_min`` or ``speed_mps`` re-derives
            ``threshold_m`` for walking-time standards.

        Raises
        ------
        StandardError
            For an unknown parameter or an invalid value, naming it.
        """
        allowed = {"threshold_m", "threshold_min", "speed_mps", "mode", "weight"}
        unknown = set(overrides) - allowed
        if unknown:
            raise StandardError(
                f"standard '{self.id}': unknown parameter(s) {sorted(unknown)}; "
                f"valid parameters are {sorted(allowed)}"
            )
        clean = {k: v for k, v in overrides.items() if v is not None}
        for name in ("threshold_m", "threshold_min", "speed_mps"):
            if name in clean:
                try:
                    clean[name] = float(clean[name])
                except (TypeError, ValueError):
                    raise StandardError(
                        f"standard '{self.id}': parameter '{name}' must be a number, got {clean[name]!r}"
                    ) from None
                if not clean[name] > 0:
                    raise StandardError(
                        f"standard '{self.id}': parameter '{name}' must be positive, got {clean[name]}"
                    )
        if "mode" in clean and clean["mode"] not in ("euclidean", "network"):
            raise StandardError(
                f"standard '{self.id}': parameter 'mode' must be 'euclidean' or 'network', got {clean['mode']!r}"
            )
        if "weight" in clean and clean["weight"] not in ("population", "elderly"):
            raise StandardError(
                f"standard '{self.id}': parameter 'weight' must be 'population' or 'elderly', got {clean['weight']!r}"
            )
        new = replace(self, **clean)
        if "threshold_m" not in clean and ("threshold_min" in clean or "speed_mps" in clean):
            if new.threshold_min is not None:
                new = replace(new, threshold_m=new.threshold_min * 60.0 * new.speed_mps)
        elif "threshold_m" in clean and new.threshold_min is not None:
            new = replace(new, threshold_min=new.threshold_m / new.speed_mps / 60.0)
        return new

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON and YAML."""
        d = asdict(self)
        d["kinds"] = list(self.kinds)
        d["bands_min"] = list(self.bands_min)
        return d


def walking_speeds() -> dict[str, Any]:
    """Walking speeds (m/s) and their sources, from the active catalogue."""
    from scenarios.catalogue import active_catalogue

    return dict(active_catalogue().speeds)


def catalogue() -> dict[str, Standard]:
    """All standards of the active catalogue (``seeds`` by default), by id, in catalogue order.

    The catalogue files are read and checked by :mod:`scenarios.catalogue`;
    ``seeds`` keeps its standards in ``standards.toml``.
    """
    from scenarios.catalogue import active_catalogue

    return active_catalogue().standards


def get_standard(standard_id: str, **overrides: Any) -> Standard:
    """Look up a standard by id and apply parameter overrides.

    Raises
    ------
    StandardError
        If the id is not in the catalogue (the message lists the valid ids).
    """
    cat = catalogue()
    if standard_id not in cat:
        raise StandardError(
            f"unknown standard '{standard_id}'; valid standards are: {', '.join(cat)}"
        )
    return cat[standard_id].with_overrides(**overrides) if overrides else cat[standard_id]


def resolve_standards(
    ids: list[str] | None = None, overrides: dict[str, dict[str, Any]] | None = None
) -> list[Standard]:
    """Standards to run: ``ids`` (all when ``None``) with per-standard overrides."""
    overrides = overrides or {}
    for sid in overrides:
        if ids is not None and sid not in ids:
            raise StandardError(f"overrides given for standard '{sid}', which is not being run")
    chosen = list(catalogue()) if ids is None else list(ids)
    return [get_standard(sid, **overrides.get(sid, {})) for sid in chosen]
