"""Facility kinds known to lifecircle, with English and Chinese labels."""

from __future__ import annotations

__all__ = ["KINDS", "CAPACITY_FIELDS", "kind_label"]

KINDS: dict[str, dict[str, str]] = {
    "service_centre": {"en": "Street public service centre", "zh": "街道公共服务中心"},
    "service_station": {"en": "Community public service station", "zh": "社区公共服务站"},
    "health_centre": {"en": "Community health service centre", "zh": "社区卫生服务中心"},
    "health_station": {"en": "Community health service station / clinic", "zh": "社区卫生服务站"},
    "elderly_care": {"en": "Elderly care (day-care centre, nursing home, service station)", "zh": "养老服务设施"},
}
"""Valid values of a facility's ``kind`` field."""

CAPACITY_FIELDS: tuple[str, ...] = ("beds", "doctors", "floor_area_m2")
"""Optional numeric capacity fields of a facility."""


def kind_label(kind: str, lang: str = "en") -> str:
    """Human label of a facility kind in ``lang`` (``"en"`` or ``"zh"``)."""
    return KINDS[kind][lang]
