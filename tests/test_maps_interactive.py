"""The HTML map: parsed, not just written. Layers, legend, tooltips, data and images.

Expected values are worked out from the evaluation result directly (e.g. the
residents within 15 minutes' walk of a clinic are summed from the distances),
not read back from the map code.
"""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import shapely
from PIL import Image
from pyproj import Transformer

from maps.errors import MapError
from maps.interactive import coverage_map
from maps.raster import lattice, rasterize_cells
from tests.test_maps_city import make_result

VOID = {"meta", "link", "br", "img", "input", "hr", "area", "base", "col", "embed", "source", "track", "wbr", "param"}


class _Page(HTMLParser):
    """Checks that tags nest properly and collects the text of elements with an id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.by_id: dict[str, str] = {}
        self.attrs_by_tag: dict[str, list[dict]] = {}
        self._capture: list[tuple[str, int, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attrs_by_tag.setdefault(tag, []).append(a)
        if tag in VOID:
            return
        self.stack.append(tag)
        if "id" in a:
            self._capture.append((a["id"], len(self.stack), []))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        depth = len(self.stack)
        self.stack.pop()
        while self._capture and self._capture[-1][1] == depth:
            key, _, parts = self._capture.pop()
            self.by_id[key] = "".join(parts)

    def handle_data(self, data):
        for _, _, parts in self._capture:
            parts.append(data)


def _parse(path) -> tuple[_Page, str]:
    html = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    page.close()
    assert page.errors == [] and page.stack == [], (page.errors, page.stack)
    return page, html


def _overlays(html: str) -> list[str]:
    block = re.search(r"_layers = \{.*?overlays\s*:\s*\{(.*?)\},", html, re.S).group(1)
    return [json.loads(f'"{n}"') for n in re.findall(r'"((?:[^"\\]|\\.)*)"\s*:', block)]


@pytest.fixture(scope="module")
def result():
    return make_result()


@pytest.fixture(scope="module")
def vector_map(result, tmp_path_factory):
    path = tmp_path_factory.mktemp("maps") / "map.html"
    assert coverage_map(result, path) == path
    return _parse(path)


def test_page_is_self_contained_utf8_with_title(vector_map):
    page, html = vector_map
    assert any(m.get("charset", "").lower() == "utf-8" for m in page.attrs_by_tag["meta"])
    # generated city: no basemap, so no outside URL is loaded by the page
    srcs = [a.get("src") for a in page.attrs_by_tag.get("script", [])] + [
        a.get("href") for a in page.attrs_by_tag.get("link", [])
    ]
    assert all(s is None or s.startswith("data:") for s in srcs), srcs
    assert "tile.openstreetmap" not in html and "cdn." not in html.lower().replace("cdn.jsdelivr.net/gh/python-visualization", "")
    assert page.by_id["lc-title"] == "tiny: reach of public services (Generated district, not a real place)"
    meta = json.loads(page.by_id["lc-map-meta"])
    assert meta["basemap"] == "none" and meta["rendering"] == "vector" and meta["generated"] is True


def test_layers_listed_in_layer_control(vector_map, result):
    _, html = vector_map
    names = _overlays(html)
    expected = ["Residents per cell"] + [r.standard.title_en for r in result.results.values()]
    expected += ["Subdistricts"]
    expected += [f"Service areas: {n}" for n in ("Service centre (distance)", "Community station (distance)", "Clinic (walk)", "Elderly care (walk)")]
    expected += [f"Largest uncovered clusters: {n}" for n in ("Service centre (distance)", "Community station (distance)", "Clinic (walk)", "Elderly care (walk)")]
    expected += [
        "Street public service centre (1)",
        "Community public service station (2)",
        "Community health service centre (1)",
        "Community health service station / clinic (1)",
        "Elderly care (day-care centre, nursing home, service station) (1)",
    ]
    assert names == expected
    for plugin in ("L.control.fullscreen", "new L.Control.Measure", "L.control.scale"):
        assert plugin in html


def test_cell_data_and_tooltip_fields(vector_map, result):
    page, html = vector_map
    doc = json.loads(page.by_id["lc-cells"])
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 480
    cells = result.city.cells
    clinic = result.results["clinic-walk"]
    k = 37
    f = next(f for f in doc["features"] if f["id"] == k)
    assert f["properties"]["cell"] == cells["cell_id"][k]
    assert f["properties"]["population"] == f"{cells['population'][k]:,.0f}"
    # s2 is the clinic walk: metres / (1.2 m/s * 60) minutes
    assert f["properties"]["s2"] == f"{clinic.dist_m[k] / 1.2 / 60:.1f} min"
    # the polygon is the cell, in WGS84
    to_ll = Transformer.from_crs(result.city.crs, 4326, always_xy=True)
    x0, y0, x1, y1 = cells.geometry[k].bounds
    lon, lat = to_ll.transform(x0, y0)
    ring = np.array(f["geometry"]["coordinates"][0])
    assert np.min(np.hypot(ring[:, 0] - lon, ring[:, 1] - lat)) < 2e-6
    # tooltips name every field: residents, elderly and the four standards
    specs = json.loads(re.search(r"var specs = (\[.*?\]);\n", html).group(1))
    assert specs[0]["fields"] == ["cell", "population", "elderly", "s0", "s1", "s2", "s3"]
    assert specs[0]["aliases"][3:] == ["Service centre (distance)", "Community station (distance)", "Clinic (walk)", "Elderly care (walk)"]
    assert specs[3]["fields"] == ["cell", "population", "elderly", "s2"]
    # the layer's class per cell is the walk-time band
    bands = {"le15": 0, "15to30": 1, "gt30": 2}
    cls = np.array(specs[3]["cls"])
    populated = clinic.weight > 0
    assert np.array_equal(cls[populated], [bands[b] for b in clinic.band[populated]])
    assert np.all(cls[~populated] == -1)
    # facility popups carry name, kind, capacity and the population served
    assert html.count('let fields = ["id", "name", "kind", "capacity", "serves"];') == 5  # one per kind
    hc = json.loads(re.search(r'_add\((\{"features": \[\{"geometry": \{"coordinates": \[[^]]*\], "type": "Point"\}, "id": "0", "properties": \{"capacity": "Beds 40.*?)\);\n', html).group(1))
    props = hc["features"][0]["properties"]
    assert props["name"] == "社区卫生服务中心" and props["capacity"] == "Beds 40; Doctors 12"
    served = result.results["clinic-walk"].weight[result.results["clinic-walk"].facility == 3].sum()
    assert f"Clinic (walk): {served:,.0f} residents" in props["serves"]


def test_legend_counts_are_the_population_in_each_band(vector_map, result):
    page, html = vector_map
    legend = page.by_id["lc-legend"]
    clinic = result.results["clinic-walk"]
    t = clinic.dist_m / (1.2 * 60)
    pop = result.city.cells["population"].to_numpy()
    assert f"≤ 15 min ({pop[t <= 15].sum():,.0f} residents)" in legend
    assert f"15–30 min ({pop[(t > 15) & (t <= 30)].sum():,.0f} residents)" in legend
    assert f"> 30 min ({pop[~(t <= 30)].sum():,.0f} residents)" in legend
    fx, fy = result.city.facility_xy
    cx, cy = result.city.cell_xy
    inside = np.hypot(cx - fx[0], cy - fy[0]) <= 1250
    assert f"Covered ({pop[inside].sum():,.0f} residents)" in legend
    assert "Largest uncovered clusters" in legend and "Elderly care (day-care centre" in legend
    assert "Guangzhou 2009 social-management reform, item 28" in legend


def test_image_rendering_pixels_show_each_cells_class(result, tmp_path):
    path = coverage_map(result, tmp_path / "img.html", max_vector_cells=100, service_areas=False, standards=["clinic-walk"])
    page, html = _parse(path)
    assert "lc-cells" not in page.by_id
    assert json.loads(page.by_id["lc-map-meta"])["rendering"] == "image"
    overlays = re.findall(r'L\.imageOverlay\(\s*"data:image/png;base64,([^"]+)",\s*(\[\[.*?\]\])', html, re.S)
    assert len(overlays) == 2  # population + the one standard
    img = Image.open(io.BytesIO(base64.b64decode(overlays[1][0]))).convert("RGBA")
    (s, w), (n, e) = json.loads(overlays[1][1])
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    (mx0, mx1), (my0, my1) = to_merc.transform([w, e], [s, n])
    clinic = result.results["clinic-walk"]
    colours = {"le15": (0x1A, 0x98, 0x50), "15to30": (0xFD, 0xAE, 0x61), "gt30": (0xD7, 0x30, 0x27)}
    cx, cy = result.city.cell_xy
    to_merc_city = Transformer.from_crs(result.city.crs, 3857, always_xy=True)
    checked = 0
    for k in range(0, len(cx), 7):
        px, py = to_merc_city.transform(cx[k], cy[k])
        col = int((px - mx0) / (mx1 - mx0) * img.width)
        row = int((my1 - py) / (my1 - my0) * img.height)
        r, g, b, a = img.getpixel((col, row))
        if clinic.weight[k] > 0:
            assert (r, g, b) == colours[clinic.band[k]] and a == 255
        else:
            assert a == 0
        checked += 1
    assert checked > 60


def _notched(geoms: np.ndarray, depth: float = 0.01) -> np.ndarray:
    """Each cell with its bottom edge's midpoint pushed ``depth`` metres inwards.

    The notch is far below a pixel, so the cell under almost every pixel is
    unchanged, but the polygon is no longer a rectangle.
    """
    out = []
    for g in geoms:
        x0, y0, x1, y1 = g.bounds
        out.append(shapely.Polygon([(x0, y0), ((x0 + x1) / 2, y0 + depth), (x1, y0), (x1, y1), (x0, y1)]))
    return np.asarray(out, dtype=object)


def test_raster_lattice_lookup_matches_point_in_polygon(monkeypatch):
    from maps import raster

    result = make_result()
    geoms = np.asarray(result.city.cells.geometry.values)
    fast = rasterize_cells(geoms, result.city.crs, "EPSG:3857")
    lat = lattice(geoms)
    assert lat is not None
    # extra vertices along the edges keep each cell the same rectangle: still the lattice
    dense = lattice(shapely.segmentize(geoms, 60.0))
    assert dense is not None and dense[:4] == pytest.approx(lat[:4])
    assert np.array_equal(dense[4], lat[4]) and np.array_equal(dense[5], lat[5])
    # notched cells are not rectangles: rasterize_cells must take the STR-tree path
    slow_geoms = _notched(geoms)
    assert lattice(slow_geoms) is None
    calls = []
    real = raster._lookup_polygons
    monkeypatch.setattr(raster, "_lookup_polygons", lambda *a: calls.append(1) or real(*a))
    rasterize_cells(slow_geoms, result.city.crs, "EPSG:3857")
    assert calls == [1]
    rasterize_cells(geoms, result.city.crs, "EPSG:3857")
    assert calls == [1]  # the lattice path does not call it
    slow = real(slow_geoms, *_centres(fast, result.city.crs))
    assert np.mean(slow == fast.index) > 0.995  # only pixels straddling a cell edge may differ


def _centres(r, crs):
    h, w = r.shape
    px = (r.bounds[2] - r.bounds[0]) / w
    xs = r.bounds[0] + (np.arange(w) + 0.5) * px
    ys = r.bounds[3] - (np.arange(h) + 0.5) * px
    gx, gy = np.meshgrid(xs, ys)
    return Transformer.from_crs(r.crs, crs, always_xy=True).transform(gx, gy)


def test_chinese_labels_and_real_city_basemap(tmp_path):
    result = make_result(generated=False)
    page, html = _parse(coverage_map(result, tmp_path / "zh.html", lang="zh", service_areas=False))
    assert page.by_id["lc-title"] == "tiny：公共服务可达性"
    assert "社区卫生服务中心 (1)" in _overlays(html)
    assert "≤ 15 分钟" in page.by_id["lc-legend"] and "已覆盖" in page.by_id["lc-legend"]
    # a real place gets OpenStreetMap tiles and its credit by default
    assert "tile.openstreetmap.org" in html and "OpenStreetMap" in html
    assert json.loads(page.by_id["lc-map-meta"])["basemap"] == "osm"
    light = coverage_map(result, tmp_path / "light.html", basemap="light", service_areas=False).read_text(encoding="utf-8")
    assert "basemaps.cartocdn.com" in light and "CARTO" in light


def test_bad_options_name_the_problem(result, tmp_path):
    with pytest.raises(MapError, match="lang='fr'"):
        coverage_map(result, tmp_path / "x.html", lang="fr")
    with pytest.raises(MapError, match="basemap='google'.*osm, light, none"):
        coverage_map(result, tmp_path / "x.html", basemap="google")
    with pytest.raises(MapError, match="not in this result"):
        coverage_map(result, tmp_path / "x.html", standards=["bus-stop"])
    assert not (tmp_path / "x.html").exists()
