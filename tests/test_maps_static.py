"""Print exports and summary tables: page size and DPI, text layer, CJK fonts, CSV/XLSX."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pypdf import PdfReader

from maps.errors import FontError, MapError
from maps.fonts import find_cjk_font
from maps.static import export_map
from maps.tables import summary_table, write_summary_table
from tests.test_maps_city import make_result

MM_TO_PT = 72 / 25.4


@pytest.fixture(scope="module")
def result():
    return make_result()


def test_png_a4_portrait_300dpi(result, tmp_path):
    path = export_map(result, tmp_path / "map.png")
    img = Image.open(path)
    assert img.size == (2480, 3508)  # A4 at 300 dpi
    assert img.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    arr = np.asarray(img.convert("RGB"))
    # not blank: the band colours of the clinic map are on the page
    colours = {tuple(int(v) for v in c) for c in arr[::7, ::7].reshape(-1, 3)}
    assert len(colours) > 50
    for band_rgb in [(0x1A, 0x98, 0x50), (0xFD, 0xAE, 0x61)]:
        # fill is drawn at alpha 0.85 on white: expected composite colour
        blended = tuple(round(0.85 * c + 0.15 * 255) for c in band_rgb)
        assert any(max(abs(a - b) for a, b in zip(blended, c)) <= 2 for c in colours), band_rgb


def test_png_a3_landscape_size(result, tmp_path):
    img = Image.open(export_map(result, tmp_path / "a3.png", paper="A3", orientation="landscape", dpi=100))
    assert img.size == (round(420 / 25.4 * 100), round(297 / 25.4 * 100))


def test_pdf_is_vector_with_text_layer(result, tmp_path):
    path = export_map(result, tmp_path / "map.pdf", orientation="landscape")
    page = PdfReader(path).pages[0]
    assert float(page.mediabox.width) == pytest.approx(297 * MM_TO_PT, abs=0.5)
    assert float(page.mediabox.height) == pytest.approx(210 * MM_TO_PT, abs=0.5)
    words = page.extract_text()
    assert "tiny: reach of public services (Generated district, not a real place)" in words
    clinic = result.results["clinic-walk"]
    pop = result.city.cells["population"].to_numpy()
    t = clinic.dist_m / 72.0
    assert f"≤ 15 min ({pop[t <= 15].sum():,.0f} residents)" in words
    assert "Largest uncovered clusters" in words and "Community health service centre (1)" in words
    assert "Guangzhou 2009 social-management reform, item 28" in words  # caption: the source clause
    assert "Coverage by standard" in words and f"{clinic.weight[clinic.covered].sum():,.0f}" in words
    # no raster image of the cells in a small-city PDF: the map is vector
    assert not page.images


def test_svg_keeps_text_as_text(result, tmp_path):
    svg = export_map(result, tmp_path / "map.svg", standard="centre-radius").read_text(encoding="utf-8")
    assert "<text" in svg and "Street public service centre within 1.25 km" in svg
    assert "Nanjing 2011 task breakdown" in svg


def test_large_grid_drawn_as_image(result, tmp_path):
    path = export_map(result, tmp_path / "img.pdf", max_vector_cells=10)
    assert len(PdfReader(path).pages[0].images) == 1


@pytest.mark.skipif(find_cjk_font() is None, reason="no CJK font installed (apt-get install fonts-noto-cjk)")
def test_chinese_pdf_embeds_cjk_font(result, tmp_path):
    page = PdfReader(export_map(result, tmp_path / "zh.pdf", lang="zh")).pages[0]
    words = page.extract_text()
    assert "tiny：公共服务可达性（生成的示例城区，并非真实地点）" in words
    assert "≤ 15 分钟" in words and "各标准覆盖情况" in words
    fonts = [str(f.get_object()["/BaseFont"]) for f in page["/Resources"]["/Font"].values()]
    assert any(("CJK" in f or "WenQuanYi" in f or "Han" in f) for f in fonts), fonts


def test_missing_cjk_font_names_the_package(result, tmp_path, monkeypatch):
    import maps.fonts as fonts

    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
    with pytest.raises(FontError, match="apt-get install fonts-noto-cjk"):
        export_map(result, tmp_path / "zh.png", lang="zh")
    with pytest.raises(FontError, match="does not exist"):
        export_map(result, tmp_path / "zh.png", lang="zh", font=tmp_path / "nope.ttf")


def test_bad_export_options(result, tmp_path):
    with pytest.raises(MapError, match="format='tiff'"):
        export_map(result, tmp_path / "x.tiff")
    with pytest.raises(MapError, match="paper='Letter'"):
        export_map(result, tmp_path / "x.png", paper="Letter")
    with pytest.raises(MapError, match="orientation='sideways'"):
        export_map(result, tmp_path / "x.png", orientation="sideways")
    with pytest.raises(MapError, match="not in this result"):
        export_map(result, tmp_path / "x.png", standard="bus-stop")


def test_summary_table_values(result):
    t = summary_table(result)
    assert list(t.columns) == [
        "Standard", "Threshold", "Facilities", "Counted", "Total", "Covered", "Share covered", "Not covered", "Largest gaps"
    ]
    row = t.iloc[2]
    clinic = result.results["clinic-walk"]
    assert row["Standard"] == "Clinic (walk)" and row["Threshold"] == "30 min walk (2,160 m)"
    assert row["Covered"] == round(clinic.weight[clinic.dist_m <= 2160].sum())
    assert row["Not covered"] == round(clinic.weight.sum()) - row["Covered"]
    assert row["Share covered"] == pytest.approx(row["Covered"] / row["Total"], abs=1e-4)
    gaps = clinic.clusters["population"].head(3)
    assert row["Largest gaps"] == "; ".join(f"{v:,.0f}" for v in gaps)
    assert t.iloc[3]["Counted"] == "elderly" and t.iloc[3]["Total"] == round(result.city.cells["elderly"].sum())


def test_summary_csv_and_xlsx_round_trip(result, tmp_path):
    csv = write_summary_table(result, tmp_path / "summary.csv", lang="zh")
    back = pd.read_csv(csv, encoding="utf-8-sig")
    assert back.columns[0] == "标准" and back.iloc[2, 0] == "社区卫生设施（步行）"
    xlsx = write_summary_table(result, tmp_path / "summary.xlsx")
    sheet = pd.read_excel(xlsx, sheet_name="summary")
    pd.testing.assert_frame_equal(sheet, summary_table(result), check_dtype=False)
    import openpyxl

    ws = openpyxl.load_workbook(xlsx)["summary"]
    assert ws["G2"].number_format == "0.0%"
    with pytest.raises(MapError, match=r"\.csv or \.xlsx"):
        write_summary_table(result, tmp_path / "summary.ods")
