"""The same city in every coordinate system planners in China use gives the same per-cell results.

Reference: the WGS84 GeoPackage grid and WGS84 CSV facilities. Each variant
writes the same cells and facilities in another CRS family and must give the
same walking and straight-line distances cell by cell: within 1 cm for
projected and geodetic inputs, within the GCJ-02/BD-09 inverse's own few
centimetres for shifted ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import CRS, Geod

from geo.chinacoords import wgs84_to_bd09, wgs84_to_gcj02
from layers.build import city_from_files
from layers.errors import LayerError
from scenarios.evaluate import evaluate
from scenarios.standards import resolve_standards
from tests import own_city

pytestmark = pytest.mark.filterwarnings("ignore::layers.errors.LayerWarning")


def _distances(city) -> dict[str, np.ndarray]:
    result = evaluate(city, resolve_standards())
    return {sid: r.dist_m for sid, r in result.results.items()}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return own_city.write_city_files(tmp_path_factory.mktemp("own"))


@pytest.fixture(scope="module")
def reference(files):
    city = city_from_files(files["grid"], files["facilities"], network=files["network"])
    return city, _distances(city)


def _shifted_grid(path, shift):
    """The grid with every vertex moved to GCJ-02 or BD-09, labelled WGS84 as Amap/Baidu exports are."""
    import shapely

    fn = wgs84_to_gcj02 if shift == "gcj02" else wgs84_to_bd09
    g = own_city.cells().to_crs(4326)
    moved = shapely.transform(g.geometry.values, lambda xy: np.column_stack(fn(xy[:, 0], xy[:, 1])))
    g.set_geometry(moved, crs=4326).to_file(path)
    return path


VARIANTS = {
    # name: (grid CRS or shift, facilities CSV CRS, declarations, tolerance in metres)
    "cgcs2000-geographic": ("EPSG:4490", "wgs84", {"coords": "cgcs2000"}, 0.01),
    "gauss-kruger-3-degree": ("EPSG:4547", "EPSG:4547", {"facilities_coords": "EPSG:4547"}, 0.01),
    "gauss-kruger-6-degree": ("EPSG:4498", "EPSG:4498", {"coords": "EPSG:4498"}, 0.01),
    "utm-50n": ("EPSG:32650", "EPSG:32650", {"facilities_coords": "EPSG:32650"}, 0.01),
    "gcj02": ("gcj02", "gcj02", {"grid_coords": "gcj02", "coords": "gcj02"}, 0.05),
    "bd09": ("bd09", "bd09", {"grid_coords": "bd09", "facilities_coords": "bd09"}, 0.05),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_crs_family_gives_the_wgs84_results(name, files, reference, tmp_path):
    grid_crs, fac_crs, declared, tol = VARIANTS[name]
    if grid_crs in ("gcj02", "bd09"):
        grid = _shifted_grid(tmp_path / "cells.geojson", grid_crs)
    else:
        grid = tmp_path / "cells.gpkg"
        own_city.cells().to_crs(grid_crs).to_file(grid)
    if fac_crs in ("gcj02", "bd09"):
        sites = own_city.write_facilities_csv(tmp_path / "sites.csv", shift=fac_crs)
    elif fac_crs == "wgs84":
        sites = own_city.write_facilities_csv(tmp_path / "sites.csv")
    else:
        sites = own_city.write_facilities_csv(tmp_path / "sites.csv", crs=fac_crs)
    city = city_from_files(grid, sites, network=files["network"], **declared)
    ref_city, ref = reference
    assert city.crs.equals(ref_city.crs)  # the analysis CRS is centred on the data, whatever it came in
    cx, cy = city.cell_xy
    rx, ry = ref_city.cell_xy
    assert np.hypot(cx - rx, cy - ry).max() < tol
    fx, fy = city.facility_xy
    gx, gy = ref_city.facility_xy
    assert np.hypot(fx - gx, fy - gy).max() < tol
    got = _distances(city)
    for sid, d0 in ref.items():
        d = got[sid]
        assert np.array_equal(np.isfinite(d), np.isfinite(d0)), sid
        both = np.isfinite(d0)
        assert np.abs(d[both] - d0[both]).max() < 2 * tol, sid


def test_gcj02_facilities_leave_a_wgs84_grid_where_it_is(files, reference, tmp_path):
    """Regression: --coords gcj02 once shifted a WGS84 GeoPackage grid by ~600 m too."""
    sites = own_city.write_facilities_csv(tmp_path / "amap.csv", shift="gcj02")
    city = city_from_files(files["grid"], sites, network=files["network"], coords="gcj02")
    ref_city, ref = reference
    cx, cy = city.cell_xy
    rx, ry = ref_city.cell_xy
    assert np.array_equal(cx, rx) and np.array_equal(cy, ry)  # the grid was not touched
    fx, fy = city.facility_xy
    assert np.hypot(fx - ref_city.facility_xy[0], fy - ref_city.facility_xy[1]).max() < 0.05
    got = _distances(city)
    for sid, d0 in ref.items():
        both = np.isfinite(d0)
        assert np.abs(got[sid][both] - d0[both]).max() < 0.1, sid


def test_conflicting_declaration_names_both_crs(files):
    with pytest.raises(LayerError, match=r"cells.gpkg, field 'crs': the file says its CRS is EPSG:4326 \(WGS 84\) "
                                         r"but coords=EPSG:4547 .*CGCS2000 / 3-degree Gauss-Kruger CM 114E"):
        city_from_files(files["grid"], files["facilities"], network=files["network"], grid_coords="EPSG:4547")


def test_projected_grid_is_read_in_its_own_crs(files, reference, tmp_path):
    """A GeoPackage in EPSG:4547 needs no declaration, and --coords (for CSVs) does not reinterpret it."""
    grid = tmp_path / "gk.gpkg"
    own_city.cells().to_crs(4547).to_file(grid)
    city = city_from_files(grid, files["facilities"], network=files["network"], coords="wgs84")
    rx, ry = reference[0].cell_xy
    cx, cy = city.cell_xy
    assert np.hypot(cx - rx, cy - ry).max() < 0.01


def test_straight_lines_match_the_ellipsoid_to_a_hundredth_of_a_percent(reference):
    """Projected straight-line distances in the city's CRS against geodesics on WGS84."""
    from geo.crs import to_wgs84

    city, _ = reference
    cx, cy = city.cell_xy
    fx, fy = city.facility_xy
    i = np.arange(len(cx))
    j = i % len(fx)
    planar = np.hypot(cx - fx[j], cy - fy[j])
    lon1, lat1 = to_wgs84(cx, cy, city.crs)
    lon2, lat2 = to_wgs84(fx[j], fy[j], city.crs)
    _, _, geodesic = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    far = geodesic > 100
    assert np.abs(planar[far] / geodesic[far] - 1).max() < 1e-4
    # UTM 50N over the same place is 0.08 % off: the reason for the data-centred default
    from geo.crs import transform_xy

    ux1, uy1 = transform_xy(cx, cy, city.crs, CRS.from_epsg(32650))
    ux2, uy2 = transform_xy(fx[j], fy[j], city.crs, CRS.from_epsg(32650))
    assert np.abs(np.hypot(ux1 - ux2, uy1 - uy2)[far] / geodesic[far] - 1).max() > 5e-4
