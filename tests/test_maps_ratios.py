"""Ratio rules and accessibility on the maps, the print page and the summary tables.

Expected shortfalls are worked out by hand from the small test city's cells
(elderly per subdistrict, beds of its one elderly-care home); legend totals
by binning the report's accessibility values directly; served / under-served
populations by summing the cells' demand.
"""

from __future__ import annotations

import json
import math
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader
from shapely.geometry import box
from typer.testing import CliRunner

from maps.errors import MapError
from maps.ratio_layers import access_classes, ratio_layers, ratio_map, summary_rows
from maps.static import export_map
from maps.tables import summary_table, write_summary_table
from scenarios.ratio_standards import run_ratios
from tests.test_maps_city import CELL, CRS, NX, NY, X0, Y0, make_city, make_result


def city_with_communities():
    """The map test city plus three communities: the park (nobody lives there), the north-east, the rest.

    Cells and facilities go to the first community that holds them, so the
    park's cells are the park's, the north-east has no station, and both
    stations are in "rest".
    """
    city = make_city()
    city.units["community"] = gpd.GeoDataFrame(
        {"unit_id": ["park", "ne", "rest"], "name": ["Park 公园", "North-east", "Rest"]},
        geometry=[
            box(X0 + 1000, Y0 + 800, X0 + 1300, Y0 + 1100),
            box(X0 + 2000, Y0 + 1000, X0 + NX * CELL, Y0 + NY * CELL),
            box(X0, Y0, X0 + NX * CELL, Y0 + NY * CELL),
        ],
        crs=CRS,
    )
    return city


@pytest.fixture(scope="module")
def report():
    return run_ratios(city_with_communities())


@pytest.fixture(scope="module")
def result():
    return make_result()


@pytest.fixture(scope="module")
def hand():
    """Shortfalls of the bed rules worked out from the cells: ceil(min * elderly / 1000 - beds)."""
    cells = make_city().cells
    west = cells.loc[cells["subdistrict"] == "west", "elderly"].sum()
    east = cells.loc[cells["subdistrict"] == "east", "elderly"].sum()
    beds_east = 25.0  # the only elderly-care home (eld1, x = 2,300 m) is in the east
    out = {}
    for rid, per_1000 in (("elderly-beds-zhuhai", 30), ("elderly-beds-nanjing", 40)):
        out[rid] = {"west": math.ceil(per_1000 * west / 1000), "east": math.ceil(per_1000 * east / 1000 - beds_east)}
    return out


# --- parsing helpers -----------------------------------------------------------


def _meta(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="lc-map-meta">(.*?)</script>', html, re.DOTALL).group(1))


def _geojson_docs(html: str) -> list[dict]:
    """Every GeoJSON FeatureCollection folium put in the page's script."""
    dec = json.JSONDecoder()
    docs = []
    for m in re.finditer(r"_add\(\s*(?=\{)", html):
        doc, _ = dec.raw_decode(html, m.end())
        if doc.get("type") == "FeatureCollection":
            docs.append(doc)
    return docs


def _rule_docs(html: str) -> list[dict]:
    """The units of each ratio-rule layer, in layer order."""
    return [d for d in _geojson_docs(html) if d["features"] and "status_key" in d["features"][0]["properties"]]


def _section(meta: dict, startswith: str) -> dict:
    found = [s for s in meta["legend"] if s["layer"].startswith(startswith)]
    assert len(found) == 1, [s["layer"] for s in meta["legend"]]
    return found[0]


@pytest.fixture(scope="module")
def page_en(result, report, tmp_path_factory):
    path = ratio_map(result, report, tmp_path_factory.mktemp("ratios") / "r.html", basemap="none")
    return path.read_text(encoding="utf-8")


# --- HTML map ------------------------------------------------------------------


def test_rule_layers_named_and_grouped_by_level(page_en, report):
    meta = _meta(page_en)
    layers = [s["layer"] for s in meta["legend"] if s["layer"].startswith("Ratio rule")]
    expected_sub = [f"Ratio rule (Subdistricts): {r.rule.title_en}" for r in report.rules.values() if r.rule.level == "subdistrict"]
    expected_com = [f"Ratio rule (Communities): {r.rule.title_en}" for r in report.rules.values() if r.rule.level == "community"]
    assert layers == expected_sub + expected_com and len(expected_com) == 1
    # only the first rule's layer is shown when the page opens
    assert [s["shown"] for s in meta["legend"] if s["layer"] in layers] == [True] + [False] * (len(layers) - 1)


def test_unit_tooltips_carry_the_hand_worked_shortfall(page_en, hand):
    docs = _rule_docs(page_en)
    # one document per rule, in the layer order: the two bed rules come first
    for doc, rid in zip(docs[:2], ("elderly-beds-zhuhai", "elderly-beds-nanjing")):
        by_name = {f["properties"]["name"]: f["properties"] for f in doc["features"]}
        west, east = by_name["West 西区"], by_name["East 东区"]
        assert west["status_key"] == east["status_key"] == "fail"
        assert west["message"] == f"needs {hand[rid]['west']} more beds (no elderly_care facility)"
        assert east["message"] == f"needs {hand[rid]['east']} more beds"
        assert west["supply"] == "0 beds" and east["supply"] == "25 beds"


def test_rule_legend_counts_and_total_shortfall(page_en, hand, report):
    meta = _meta(page_en)
    sec = _section(meta, "Ratio rule (Subdistricts): At least 30 elderly-care beds")
    counts = {e["label"]: e["total"] for e in sec["entries"]}
    assert counts == {"Meets the rule": 0, "Fails the rule": 2}
    total = sum(hand["elderly-beds-zhuhai"].values())
    assert f"Total shortfall: {total} beds" in sec["note"]
    assert report.rules["elderly-beds-zhuhai"].rule.source in sec["note"]


def test_no_demand_unit_is_shown_distinctly(page_en):
    meta = _meta(page_en)
    sec = _section(meta, "Ratio rule (Communities)")
    counts = {e["label"]: e["total"] for e in sec["entries"]}
    assert counts == {"Meets the rule": 1, "Fails the rule": 1, "No demand (nobody counted lives here)": 1}
    colours = {e["label"]: e["colour"] for e in sec["entries"]}
    assert len(set(colours.values())) == 3
    doc = next(d for d in _rule_docs(page_en) if d["features"][0]["properties"]["name"] == "Park 公园")
    by_name = {f["properties"]["name"]: f["properties"] for f in doc["features"]}
    assert by_name["Park 公园"]["status_key"] == "no demand"
    assert by_name["Park 公园"]["message"] == "no demand (population is 0)"
    assert by_name["North-east"]["message"] == "needs 1 more facility (no service_station facility)"
    assert by_name["Rest"]["status_key"] == "pass"


def test_accessibility_legend_in_the_standards_unit(page_en, report):
    meta = _meta(page_en)
    ar = report.access["beds-access"]
    # the value layer is named after the standard (the service-class layer's name is longer)
    sec = next(s for s in meta["legend"] if s["layer"] == ar.standard.title_en)
    labels = [e["label"] for e in sec["entries"]]
    assert labels == [
        "No facility within 15 min",
        "< 15 beds per 1,000 elderly",
        "15–30 beds per 1,000 elderly",
        "30–45 beds per 1,000 elderly",
        "45–60 beds per 1,000 elderly",
        "≥ 60 beds per 1,000 elderly",
    ]
    # totals: elderly per class, binned here from the report's values
    a, d, reach = ar.fca.accessibility, ar.demand, ar.fca.reach
    edges = [15.0, 30.0, 45.0, 60.0]
    expected = [d[reach == 0].sum()]
    expected += [d[(reach > 0) & (a >= lo) & (a < hi)].sum() for lo, hi in zip([-np.inf, *edges], [*edges, np.inf])]
    assert [e["total"] for e in sec["entries"]] == pytest.approx(expected)
    assert all(e["unit"] == "elderly" for e in sec["entries"])
    assert "30 beds per 1,000 elderly" in sec["note"]


def test_service_class_layer_matches_the_report(page_en, report):
    meta = _meta(page_en)
    for ar in report.access.values():
        sec = next(s for s in meta["legend"] if s["layer"] == f"{ar.standard.title_en}: served, under-served, out of reach")
        summary = ar.summary()
        assert [e["total"] for e in sec["entries"]] == pytest.approx(
            [summary["uncovered_population"], summary["under-served_population"], summary["served_population"]], abs=0.05
        )
        assert sec["entries"][2]["label"] == f"Served (≥ {ar.standard.min_value:g} {ar.standard.unit})"


def test_cell_tooltips_give_the_value_per_cell(page_en, report):
    doc = json.loads(re.search(r'<script type="application/json" id="lc-ratio-cells">(.*?)</script>', page_en, re.DOTALL).group(1))
    assert len(doc["features"]) == len(report.city.cells)
    ar = report.access["beds-access"]
    props = [f["properties"] for f in sorted(doc["features"], key=lambda f: f["id"])]
    best = int(np.argmax(ar.fca.accessibility))
    assert props[best]["a0"] == f"{ar.fca.accessibility[best]:,.1f} beds per 1,000 elderly"
    assert props[best]["cell"] == report.city.cells["cell_id"].iloc[best]
    # the cells travel once: one document, and the coverage map's own
    assert page_en.count('id="lc-ratio-cells"') == 1 and page_en.count('id="lc-cells"') == 1


def test_value_classes_break_at_the_standard(report):
    ar = report.access["doctors-access"]
    c = access_classes(ar)
    a = ar.fca.accessibility
    drawn = c.cell_class >= 0
    # at or above the standard (2 doctors per 10,000) is class 3 or higher, below it 1-2, out of reach 0
    meets = drawn & ar.fca.covered & (a >= 2.0)
    assert np.all(c.cell_class[meets] >= 3)
    assert np.all(np.isin(c.cell_class[drawn & ar.fca.covered & (a < 2.0)], [1, 2]))
    assert np.all(c.cell_class[drawn & ~ar.fca.covered] == 0)
    assert np.all(c.cell_class[~(ar.demand > 0)] == -1)


def test_chinese_labels(result, report, hand, tmp_path):
    html = ratio_map(result, report, tmp_path / "zh.html", lang="zh").read_text(encoding="utf-8")
    meta = _meta(html)
    names = [s["layer"] for s in meta["legend"]]
    assert "配置标准（街道）：每千名老人拥有养老床位不少于30张" in names
    sec = next(s for s in meta["legend"] if s["layer"] == "步行15分钟内每千名老人可达养老床位")
    assert sec["entries"][2]["label"] == "15–30 张/千名老人"
    docs = _rule_docs(html)
    west = next(f["properties"] for f in docs[0]["features"] if f["properties"]["name"] == "West 西区")
    assert west["message"] == f"还需{hand['elderly-beds-zhuhai']['west']}张床位（无养老服务设施）"
    assert west["status"] == "未达标"


def test_large_grids_draw_accessibility_as_images(result, report, tmp_path):
    from maps.interactive import coverage_map

    small = coverage_map(result, tmp_path / "a.html", max_vector_cells=10).read_text(encoding="utf-8")
    layers = ratio_layers(report, max_vector_cells=10)
    big = coverage_map(result, tmp_path / "b.html", max_vector_cells=10, extra_layers=layers).read_text(encoding="utf-8")
    # two layers per accessibility standard, each one image
    assert big.count("L.imageOverlay") - small.count("L.imageOverlay") == 2 * len(report.access)
    assert 'id="lc-ratio-cells"' not in big


def test_bad_requests(result, report):
    with pytest.raises(MapError, match="not in this report"):
        ratio_layers(report, rules=["no-such-rule"])
    with pytest.raises(MapError, match="not supported"):
        ratio_layers(report, lang="fr")
    other = run_ratios(_smaller_city())
    with pytest.raises(MapError, match="not on the cells"):
        ratio_map(result, other, "never.html")


def _smaller_city():
    city = make_city()
    city.cells = city.cells.iloc[:100].copy()
    return city


# --- summary tables and the print page -----------------------------------------------


def _served(ar):
    """Demand in cells within reach and at or above the standard, summed here."""
    ok = ar.fca.covered & (ar.fca.accessibility >= ar.standard.min_value)
    return ar.demand[ok].sum(), ar.demand[ar.fca.covered & ~ok].sum(), ar.demand[~ar.fca.covered].sum()


def test_summary_table_rows(result, report, hand):
    table = summary_table(result, ratios=report)
    n_cov = len(result.results)
    assert len(table) == n_cov + len(report.rules) + len(report.access)
    assert list(table.columns[-4:]) == ["Units failing", "Shortfall", "Under-served", "City-wide level"]
    rows = table.set_index("Standard")
    zhuhai = rows.loc["At least 30 elderly-care beds per 1,000 elderly"]
    assert zhuhai["Units failing"] == "2 / 2"
    assert zhuhai["Shortfall"] == f"{sum(hand['elderly-beds-zhuhai'].values())} beds"
    assert zhuhai["Largest gaps"] == f"West 西区 {hand['elderly-beds-zhuhai']['west']} beds; East 东区 {hand['elderly-beds-zhuhai']['east']} beds"
    station = rows.loc["One community public service station per community"]
    assert station["Units failing"] == "1 / 2"  # the park has no demand, so it is not counted
    for ar in report.access.values():
        served, under, out = _served(ar)
        row = rows.loc[ar.standard.title_en]
        assert row["Covered"] == round(served) and row["Under-served"] == round(under) and row["Not covered"] == round(out)
    # coverage rows keep their numbers, without ratio figures
    assert table["Units failing"].iloc[:n_cov].eq("–").all()
    pd.testing.assert_frame_equal(table.iloc[:n_cov, :9], summary_table(result), check_dtype=False)


def test_summary_csv_and_xlsx_hold_the_ratio_rows(result, report, hand, tmp_path):
    csv = write_summary_table(result, tmp_path / "s.csv", ratios=report)
    back = pd.read_csv(csv, encoding="utf-8-sig")
    assert len(back) == len(result.results) + len(report.rules) + len(report.access)
    nanjing = back[back["Standard"] == "40 elderly-care beds per 1,000 elderly"].iloc[0]
    assert nanjing["Shortfall"] == f"{sum(hand['elderly-beds-nanjing'].values())} beds"
    xlsx = write_summary_table(result, tmp_path / "s.xlsx", lang="zh", ratios=report)
    sheet = pd.read_excel(xlsx, sheet_name="summary")
    assert {"未达标单元", "缺口", "全市水平"} <= set(sheet.columns)
    assert f"{sum(hand['elderly-beds-nanjing'].values())}张床位" in set(sheet["缺口"])


def test_pdf_page_has_the_ratio_table(result, report, hand, tmp_path):
    pdf = export_map(result, tmp_path / "p.pdf", ratios=report)
    page = " ".join(PdfReader(pdf).pages[0].extract_text().split())
    assert "Ratio standards and accessibility" in page
    assert "Units failing" in page and "Coverage by standard" in page
    for rid, sf in hand.items():
        assert f"{sum(sf.values())} beds" in page, rid
    served, _, _ = _served(report.access["doctors-access"])
    assert f"served {served:,.0f};" in page
    # without a report, no ratio table
    plain = " ".join(PdfReader(export_map(result, tmp_path / "q.pdf")).pages[0].extract_text().split())
    assert "Ratio standards" not in plain


def test_summary_rows_city_wide_ratio(report):
    rows = summary_rows(report).set_index("standard")
    t = report.rules["elderly-beds-zhuhai"].totals
    # 25 beds for all the city's elderly
    assert rows.loc["At least 30 elderly-care beds per 1,000 elderly", "level_value"] == f"{25 / t['demand'] * 1000:,.1f} beds per 1,000 elderly"


# --- command line ----------------------------------------------------------------


runner = CliRunner()


@pytest.fixture
def tiny_city(monkeypatch):
    import layers.cities

    monkeypatch.setattr(layers.cities, "load_city", lambda name="demo", progress=None, cache=True: city_with_communities())


def test_export_ratios_flag(tiny_city, tmp_path, hand):
    from api.cli import app

    out = tmp_path / "page.pdf"
    res = runner.invoke(app, ["export", "--out", str(out), "--ratios"])
    assert res.exit_code == 0, res.output
    assert "Ratio standards and accessibility" in PdfReader(out).pages[0].extract_text()
    back = pd.read_csv(tmp_path / "page-summary.csv", encoding="utf-8-sig")
    assert f"{sum(hand['elderly-beds-zhuhai'].values())} beds" in set(back["Shortfall"])


def test_map_ratios_flag_and_error_without_units(tiny_city, tmp_path, monkeypatch):
    from api.cli import app

    out = tmp_path / "m.html"
    res = runner.invoke(app, ["map", "--out", str(out), "--ratios", "-s", "clinic-walk", "--no-service-areas"])
    assert res.exit_code == 0, res.output
    assert any(s["layer"].startswith("Ratio rule") for s in _meta(out.read_text(encoding="utf-8"))["legend"])

    import layers.cities

    def no_units(name="demo", progress=None, cache=True):
        city = make_city()
        city.units = {}
        return city

    monkeypatch.setattr(layers.cities, "load_city", no_units)
    res = runner.invoke(app, ["export", "--out", str(tmp_path / "p.png"), "--ratios"])
    assert res.exit_code == 2 and "has no administrative units" in res.output and "Traceback" not in res.output


# --- in a browser ---------------------------------------------------------------------


@pytest.mark.browser
def test_accessibility_layers_draw_in_chromium(page_en, tmp_path):
    """Switching an accessibility layer on draws its cells, without a JavaScript error."""
    browser = pytest.importorskip("tests.test_maps_browser")  # skips when Chromium is absent
    from tests.workbench_helpers import chromium

    page = tmp_path / "r.html"
    page.write_text(page_en, encoding="utf-8")
    with chromium() as drv:
        log = browser._open(drv, page.as_uri())
        assert browser._errors(log) == []
        drv.execute_script("window.map = Object.values(window).find(v => v instanceof L.Map);")
        count = "let n = 0; map.eachLayer(l => { if (l.feature && l.feature.geometry.type === 'Polygon') n++; }); return n;"
        before = drv.execute_script(count)
        drv.execute_script(
            "Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
            ".find(e => e.textContent.trim() === 'Elderly-care beds per 1,000 elderly within a 15-minute walk')"
            ".querySelector('input').click();"
        )
        populated = int((make_city().cells["elderly"] > 0).sum())
        assert drv.execute_script(count) - before == populated
        assert browser._errors(drv.get_log("browser")) == []
