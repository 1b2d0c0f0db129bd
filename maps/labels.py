"""Map and report text in English and Simplified Chinese.

Every string a map or export shows comes from here, so a new language is one
more column. Numbers are formatted here too, so that the HTML tooltips, the
PDF legend and the summary table agree.
"""

from __future__ import annotations

import math

from layers.kinds import kind_label
from maps.errors import MapError
from scenarios.standards import Standard

__all__ = ["LANGS", "check_lang", "text", "standard_short", "band_text", "class_labels", "format_reach", "map_title", "kind_text", "unit_text", "threshold_text"]

LANGS = ("en", "zh")

TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "{city}: reach of public services", "zh": "{city}：公共服务可达性"},
    "generated": {"en": "Generated district, not a real place", "zh": "生成的示例城区，并非真实地点"},
    "population": {"en": "Residents", "zh": "常住人口"},
    "elderly": {"en": "Elderly (60+)", "zh": "老年人口（60岁及以上）"},
    "population_grid": {"en": "Residents per cell", "zh": "每格常住人口"},
    "cell": {"en": "Cell", "zh": "网格"},
    "covered": {"en": "Covered", "zh": "已覆盖"},
    "uncovered": {"en": "Not covered", "zh": "未覆盖"},
    "facilities": {"en": "Facilities", "zh": "设施"},
    "facility": {"en": "Facility", "zh": "设施"},
    "name": {"en": "Name", "zh": "名称"},
    "kind": {"en": "Kind", "zh": "类型"},
    "beds": {"en": "Beds", "zh": "床位"},
    "doctors": {"en": "Doctors", "zh": "医生"},
    "floor_area_m2": {"en": "Floor area (m²)", "zh": "建筑面积（平方米）"},
    "serves": {"en": "Serves", "zh": "服务人口"},
    "capacity_all": {"en": "Capacity", "zh": "规模"},
    "service_areas": {"en": "Service areas", "zh": "服务范围"},
    "clusters": {"en": "Largest uncovered clusters", "zh": "最大的未覆盖片区"},
    "cluster": {"en": "Uncovered cluster", "zh": "未覆盖片区"},
    "rank": {"en": "Rank", "zh": "排名"},
    "cells": {"en": "Cells", "zh": "网格数"},
    "standard": {"en": "Standard", "zh": "标准"},
    "source": {"en": "Source", "zh": "依据"},
    "legend": {"en": "Legend", "zh": "图例"},
    "not_reached": {"en": "not within {limit}", "zh": "{limit}内不可达"},
    "minutes": {"en": "{v:.1f} min", "zh": "{v:.1f} 分钟"},
    "metres": {"en": "{v:,.0f} m", "zh": "{v:,.0f} 米"},
    "band_le": {"en": "≤ {a:g} min", "zh": "≤ {a:g} 分钟"},
    "band_between": {"en": "{a:g}–{b:g} min", "zh": "{a:g}–{b:g} 分钟"},
    "band_gt": {"en": "> {a:g} min", "zh": "> {a:g} 分钟"},
    "raster_note": {
        "en": "{n:,} cells drawn as an image; hover details are on clusters and facilities",
        "zh": "共{n:,}个网格以图像显示；片区和设施可查看详情",
    },
    "attribution": {"en": "Data", "zh": "数据"},
    "north": {"en": "N", "zh": "北"},
    "table_title": {"en": "Coverage by standard", "zh": "各标准覆盖情况"},
    "share": {"en": "Share covered", "zh": "覆盖比例"},
    "covered_pop": {"en": "Covered", "zh": "覆盖人口"},
    "uncovered_pop": {"en": "Not covered", "zh": "未覆盖人口"},
    "largest_gap": {"en": "Largest gap", "zh": "最大缺口"},
    "gaps": {"en": "Largest gaps", "zh": "主要缺口"},
    "threshold": {"en": "Threshold", "zh": "标准阈值"},
    "weight": {"en": "Counted", "zh": "统计对象"},
    "weight_population": {"en": "residents", "zh": "常住人口"},
    "weight_elderly": {"en": "elderly", "zh": "老年人口"},
    "facility_count": {"en": "Facilities", "zh": "设施数"},
    "threshold_walk": {"en": "{m:g} min walk ({d:,.0f} m)", "zh": "步行{m:g}分钟（{d:,.0f}米）"},
    "threshold_radius": {"en": "{d:,.0f} m radius", "zh": "半径{d:,.0f}米"},
    "total_pop": {"en": "Total", "zh": "总数"},
    "caption": {"en": "Standard: {title}. Source: {source}", "zh": "标准：{title}。依据：{source}"},
    "unit_subdistrict": {"en": "Subdistricts", "zh": "街道"},
    "unit_community": {"en": "Communities", "zh": "社区"},
    # ratio standards and supply-aware accessibility (maps.ratio_layers, the export tables)
    "rule_layer": {"en": "Ratio rule ({level}): {title}", "zh": "配置标准（{level}）：{title}"},
    "access_layer": {"en": "{title}", "zh": "{title}"},
    "service_layer": {"en": "{title}: served, under-served, out of reach", "zh": "{title}：达标、不足、不可达"},
    "status": {"en": "Result", "zh": "结果"},
    "pass": {"en": "Meets the rule", "zh": "达标"},
    "fail": {"en": "Fails the rule", "zh": "未达标"},
    "no demand": {"en": "No demand (nobody counted lives here)", "zh": "无需求（无统计人口）"},
    "over": {"en": "meets the rule, above the upper end", "zh": "达标，超出上限"},
    "shortfall_msg": {"en": "Shortfall", "zh": "缺口"},
    "needs": {"en": "needs {n:,} more {what}", "zh": "还需{n:,}{what}"},
    "no_facility": {"en": " (no {kinds} facility)", "zh": "（无{kinds}）"},
    "meets": {"en": "meets the rule", "zh": "达标"},
    "no_demand_msg": {"en": "no demand ({demand} is 0)", "zh": "无需求（{demand}为0）"},
    "supply": {"en": "Supply", "zh": "现状供给"},
    "required": {"en": "Required", "zh": "标准要求"},
    "ratio": {"en": "Ratio", "zh": "现状配比"},
    "total_shortfall": {"en": "Total shortfall: {v}", "zh": "合计缺口：{v}"},
    "access_value": {"en": "Accessibility", "zh": "可达供给"},
    "service_class": {"en": "Class", "zh": "类别"},
    "no_reach": {"en": "No facility within {m:g} min", "zh": "{m:g}分钟内无设施"},
    "under_served": {"en": "Within reach but under-served (< {v:g} {unit})", "zh": "可达但不足（<{v:g} {unit}）"},
    "served": {"en": "Served (≥ {v:g} {unit})", "zh": "达标（≥{v:g} {unit}）"},
    "below": {"en": "< {a:g} {unit}", "zh": "<{a:g} {unit}"},
    "between": {"en": "{a:g}–{b:g} {unit}", "zh": "{a:g}–{b:g} {unit}"},
    "above": {"en": "≥ {a:g} {unit}", "zh": "≥{a:g} {unit}"},
    "access_note": {
        "en": "E2SFCA within a {m:g}-minute walk; the standard is {v:g} {unit}. Source: {source}",
        "zh": "步行{m:g}分钟范围内的两步移动搜索法（E2SFCA）；标准为{v:g} {unit}。依据：{source}",
    },
    "rule_note": {"en": "Source: {source}", "zh": "依据：{source}"},
    "target_min": {"en": "≥ {v:g} {unit}", "zh": "≥{v:g} {unit}"},
    "target_range": {"en": "{v:g}–{w:g} {unit}", "zh": "{v:g}–{w:g} {unit}"},
    "target_count_range": {
        "en": "1 facility per {v:,.0f}–{w:,.0f} {demand}",
        "zh": "每{v:,.0f}–{w:,.0f}{demand}1处",
    },
    "target_count_unit": {"en": "≥ {v:g} {what}", "zh": "≥{v:g}处"},
    "in_each": {"en": "{target} in each {level}", "zh": "各{level}：{target}"},
    "within_walk": {"en": "{target} within a {m:g} min walk", "zh": "步行{m:g}分钟内{target}"},
    "units_fail": {"en": "Units failing", "zh": "未达标单元"},
    "shortfall": {"en": "Shortfall", "zh": "缺口"},
    "under_served_pop": {"en": "Under-served", "zh": "可达但不足人口"},
    "level_value": {"en": "City-wide level", "zh": "全市水平"},
    "ratio_table_title": {"en": "Ratio standards and accessibility", "zh": "配置标准与可达供给"},
    "reached": {"en": "served {s}; under-served {u}; out of reach {o}", "zh": "达标{s}；不足{u}；不可达{o}"},
}

# Short names for tooltips and table rows, where the catalogue's full titles
# are too long; a standard not listed here falls back to its title.
SHORT: dict[str, dict[str, str]] = {
    "centre-radius": {"en": "Service centre (distance)", "zh": "街道服务中心（距离）"},
    "station-radius": {"en": "Community station (distance)", "zh": "社区服务站（距离）"},
    "clinic-walk": {"en": "Clinic (walk)", "zh": "社区卫生设施（步行）"},
    "elderly-circle": {"en": "Elderly care (walk)", "zh": "养老设施（步行）"},
}


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise :class:`MapError` naming the choices."""
    if lang not in LANGS:
        raise MapError(f"lang={lang!r} is not supported; use one of {', '.join(LANGS)}")
    return lang


def text(key: str, lang: str = "en", **values) -> str:
    """The label ``key`` in ``lang``, with ``values`` formatted in."""
    return TEXT[key][check_lang(lang)].format(**values)


def standard_short(standard: Standard, lang: str = "en") -> str:
    """A short name of a standard for tooltips and tables."""
    return SHORT.get(standard.id, {}).get(lang) or standard.title(lang)


def band_text(standard: Standard, lang: str = "en") -> list[str]:
    """Human labels of a standard's walk-time bands, in band order."""
    edges = list(standard.bands_min)
    if not edges:
        return []
    out = [text("band_le", lang, a=edges[0])]
    out += [text("band_between", lang, a=a, b=b) for a, b in zip(edges[:-1], edges[1:])]
    out.append(text("band_gt", lang, a=edges[-1]))
    return out


def class_labels(standard: Standard, lang: str = "en") -> list[str]:
    """Legend labels of a standard's map classes: bands if it has them, else covered / not."""
    return band_text(standard, lang) or [text("covered", lang), text("uncovered", lang)]


def format_reach(standard: Standard, dist_m: float, time_min: float, limit_m: float, lang: str = "en") -> str:
    """A cell's reach under a standard: minutes for walks, metres for radii.

    ``limit_m`` is how far the search went; beyond it the value is unknown
    and the text says "not within <limit>".
    """
    walk = standard.mode == "network"
    if not math.isfinite(dist_m):
        limit = text("minutes", lang, v=limit_m / standard.speed_mps / 60.0) if walk else text("metres", lang, v=limit_m)
        return text("not_reached", lang, limit=limit.replace(".0 ", " "))
    return text("minutes", lang, v=time_min) if walk else text("metres", lang, v=dist_m)


def map_title(city_name: str, generated: bool, lang: str = "en", title: str | None = None) -> str:
    """The title of a map: ``title`` or the default, marked when the city is generated."""
    base = title or text("title", lang, city=city_name)
    if generated:
        sep = "（" if lang == "zh" else " ("
        end = "）" if lang == "zh" else ")"
        base = f"{base}{sep}{text('generated', lang)}{end}"
    return base


def unit_text(level: str, lang: str = "en") -> str:
    """Label of an administrative level (the level id itself if unknown)."""
    key = f"unit_{level}"
    return text(key, lang) if key in TEXT else level


def threshold_text(standard: Standard, lang: str = "en") -> str:
    """The threshold as planners state it: minutes of walking, or a radius."""
    if standard.mode == "network" and standard.threshold_min is not None:
        return text("threshold_walk", lang, m=standard.threshold_min, d=standard.threshold_m)
    return text("threshold_radius", lang, d=standard.threshold_m)


def kind_text(kind: str, lang: str = "en") -> str:
    """Label of a facility kind (the kind id itself if unknown)."""
    try:
        return kind_label(kind, lang)
    except KeyError:
        return kind
