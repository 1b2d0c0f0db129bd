"""city_from_files end to end on small files written to tmp_path."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS

from geo.chinacoords import wgs84_to_gcj02
from geo.crs import from_wgs84, local_tm_crs, project_network, to_wgs84, transform_xy
from geo.network import WalkNetwork
from layers.build import city_from_files
from layers.errors import LayerError, LayerWarning
from layers.grid import square_grid
from layers.network_io import save_network

UTM50 = CRS.from_epsg(32650)
ORIGIN = from_wgs84(114.05, 22.54, UTM50)  # Futian, Shenzhen


def lattice(n=5, step=200.0):
    """An n x n street lattice in UTM 50N with ``step`` metre blocks."""
    ox, oy = (float(c) for c in ORIGIN)
    ii, jj = np.divmod(np.arange(n * n), n)
    x, y = ox + jj * step, oy + ii * step
    idx = np.arange(n * n).reshape(n, n)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return WalkNetwork.from_edges(x, y, u, v, crs=UTM50)


@pytest.fixture
def files(tmp_path):
    net = lattice()
    net_path = save_network(net, tmp_path / "streets.npz")
    grid = square_grid(net.bounds(), 100.0, crs=UTM50)
    grid["population"] = np.arange(len(grid), dtype=float) + 1
    grid_path = tmp_path / "cells.gpkg"
    grid.drop(columns=["row", "col"]).to_crs(4326).to_file(grid_path)
    # facility 0 on a street, facility 1 in a block, facility 2 two km away
    fx = np.array([ORIGIN[0] + 200.0, ORIGIN[0] + 350.0, ORIGIN[0] + 3000.0])
    fy = np.array([ORIGIN[1] + 100.0, ORIGIN[1] + 350.0, ORIGIN[1] + 3000.0])
    lon, lat = to_wgs84(fx, fy, UTM50)
    rows = "\n".join(f"H{i},{k},{float(a)!r},{float(b)!r}" for i, (k, a, b) in enumerate(zip(["health_station", "elderly_care", "elderly_care"], lon, lat)))
    fac_path = tmp_path / "sites.csv"
    fac_path.write_text(f"id,kind,longitude,latitude\n{rows}\n")
    return {"net": net, "net_path": net_path, "grid": grid, "grid_path": grid_path, "fac_path": fac_path, "fx": fx, "fy": fy, "lonlat": (lon, lat)}


def test_city_from_files_end_to_end(files):
    with pytest.warns(LayerWarning) as record:
        # the metric CRS named, so that coordinates can be checked against the UTM ones the files were made in
        city = city_from_files(files["grid_path"], files["fac_path"], network=files["net_path"], name="t", crs=32650)
    messages = [str(w.message) for w in record]
    assert any("cells.gpkg, field 'elderly': no 'elderly' column" in m for m in messages)
    assert any("WGS 84 / UTM zone 50N stretches straight-line distances by up to 0.07" in m for m in messages)
    assert any("sites.csv: 1 of 3 facilities are farther than 500 m" in m and "H2" in m for m in messages)
    assert city.crs == UTM50 and city.name == "t"
    assert len(city.cells) == len(files["grid"])
    assert np.allclose(city.cells.population, files["grid"].population)
    assert np.allclose(city.cells.area, 10_000, rtol=1e-6)  # round trip through WGS84 keeps the squares
    assert np.allclose(city.facility_xy[0], files["fx"], atol=1e-6)
    assert np.allclose(city.facility_xy[1], files["fy"], atol=1e-6)
    assert city.snapped_facilities.ok.tolist() == [True, True, False]
    assert city.snapped_facilities.access[1] == pytest.approx(50.0)
    assert city.network.n_edges == files["net"].n_edges
    assert {w["field"] for w in city.meta["warnings"]} >= {"elderly"}
    assert city.meta["counts"]["facilities"] == 3


def test_gcj02_points_population_and_explicit_crs(files, tmp_path):
    # Facilities given in GCJ-02 (as copied from Amap) land where the WGS84 ones do.
    glon, glat = wgs84_to_gcj02(*files["lonlat"])
    rows = "\n".join(f"{k},{float(a)!r},{float(b)!r}" for k, a, b in zip(["health_station"] * 3, glon, glat))
    fac = tmp_path / "amap.csv"
    fac.write_text(f"kind,lng,lat\n{rows}\n")
    # Population as points (e.g. geocoded households), also in GCJ-02.
    # Two share a 100 m cell of the EPSG:4547 grid, the third is in another.
    bx, by = (np.floor(np.asarray(c) / 100) * 100 for c in transform_xy(*ORIGIN, UTM50, 4547))
    qx, qy = bx + np.array([130.0, 160.0, 450.0]), by + np.array([130.0, 170.0, 450.0])
    plon, plat = wgs84_to_gcj02(*to_wgs84(qx, qy, 4547))
    pop = tmp_path / "people.csv"
    pop.write_text("lon,lat,population,elderly\n" + "\n".join(f"{float(a)!r},{float(b)!r},10,2" for a, b in zip(plon, plat)) + "\n")
    with pytest.warns(LayerWarning) as record:
        city = city_from_files(pop, fac, network=files["net"], coords="gcj02", crs=4547)
    messages = " | ".join(str(w.message) for w in record)
    assert "amap.csv, field 'id': no 'id' column; generated ids f1..f3" in messages
    assert "(ids: f3)" in messages
    assert city.crs.to_epsg() == 4547
    ex, ey = transform_xy(files["fx"], files["fy"], UTM50, 4547)
    assert np.abs(city.facility_xy[0] - ex).max() < 0.01 and np.abs(city.facility_xy[1] - ey).max() < 0.01
    # the network was moved into the city's CRS too
    nx_, ny_ = transform_xy(files["net"].x, files["net"].y, UTM50, 4547)
    assert np.allclose(city.network.x, nx_) and np.allclose(city.network.y, ny_)
    assert sorted(city.cells.population.tolist()) == [10.0, 20.0]
    # the grid starts at the first point's cell (bx + 100, by + 100); the third point is 3 cells on
    assert sorted(city.cells.cell_id) == ["r0c0", "r3c3"]
    assert city.cells.geometry.iloc[0].bounds == pytest.approx((bx + 100, by + 100, bx + 200, by + 200))
    assert city.cells.elderly.sum() == pytest.approx(6.0)
    assert all(g.geom_type == "Polygon" for g in city.cells.geometry)


def test_regrid_polygons(files, tmp_path):
    big = files["grid"].dissolve().explode().reset_index(drop=True)
    big = gpd.GeoDataFrame({"population": [1000.0], "elderly": [100.0]}, geometry=big.geometry, crs=UTM50)
    path = tmp_path / "district.gpkg"
    big.to_file(path)
    with pytest.warns(LayerWarning):
        city = city_from_files(path, files["fac_path"], network=files["net_path"], regrid=True, cell_size=200)
    assert city.cells.population.sum() == pytest.approx(1000.0)
    assert np.allclose(city.cells.area, 40_000)
    assert city.cells.cell_id.str.match(r"r\d+c\d+").all()


def test_layer_elsewhere_is_an_error(files, tmp_path):
    far = tmp_path / "beijing.csv"
    far.write_text("kind,lon,lat\nelderly_care,116.40,39.90\n")
    with pytest.raises(LayerError, match="beijing.csv: the layer does not overlap the walking network"):
        city_from_files(files["grid_path"], far, network=files["net_path"])


def test_network_source_must_be_exactly_one(files):
    with pytest.raises(LayerError, match=r"network: give exactly one of osm=, network= or place= \(got none\)"):
        city_from_files(files["grid_path"], files["fac_path"])
    with pytest.raises(LayerError, match=r"\(got osm, network\)"):
        city_from_files(files["grid_path"], files["fac_path"], osm="x.pbf", network=files["net_path"])


def test_bad_crs_and_bad_layers_are_named(files, tmp_path):
    with pytest.raises(LayerError, match="crs, field 'crs': EPSG:4326 is not a projected CRS in metres"):
        city_from_files(files["grid_path"], files["fac_path"], network=files["net_path"], crs=4326)
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,lon,lat\nhospital,114.05,22.54\n")
    with pytest.raises(LayerError, match="bad.csv, row 1, field 'kind': unknown kind 'hospital'"):
        city_from_files(files["grid_path"], bad, network=files["net_path"])
    with pytest.raises(LayerError, match="missing.npz: file not found"):
        city_from_files(files["grid_path"], files["fac_path"], network=tmp_path / "missing.npz")


def test_osm_path_calls_loader_with_city_crs(files, monkeypatch):
    import layers.osm

    calls = []

    def fake_loader(path, crs=None):
        calls.append((path, crs))
        return project_network(files["net"], crs)

    monkeypatch.setattr(layers.osm, "load_osm_network", fake_loader)
    with pytest.warns(LayerWarning):
        city = city_from_files(files["grid_path"], files["fac_path"], osm="futian.osm.pbf")
    # no crs given and an OSM source: a Transverse Mercator centred on the population layer
    lon0, lat0 = to_wgs84(*(files["grid"].total_bounds.reshape(2, 2).mean(axis=0)), UTM50)
    assert calls == [("futian.osm.pbf", local_tm_crs(float(lon0), float(lat0)))]
    assert city.crs.name == f"lifecircle local TM {round(float(lon0), 2):.2f}E"
    assert city.attribution == "© OpenStreetMap contributors"
    assert city.meta["sources"]["network"] == "futian.osm.pbf"


# ------------------------------------------------------------- geo/crs.py
def test_crs_choice():
    from geo.crs import max_scale_error, metric_crs, utm_crs_for

    assert utm_crs_for(114.05, 22.54).to_epsg() == 32650
    assert utm_crs_for(24.94, 60.17).to_epsg() == 32635  # Helsinki
    assert utm_crs_for(-70.6, -33.4).to_epsg() == 32719  # Santiago, southern hemisphere
    assert utm_crs_for(114.0, 30.0).to_epsg() == 32650  # on the 49/50 border: the standard numbering
    # the default is centred on the data: scale 1 on the meridian 114.05 E, not UTM 50N's 117 E
    local = metric_crs((113.9, 22.4, 114.2, 22.7))
    assert local.name == "lifecircle local TM 114.05E" and local.to_epsg() is None
    box = (113.9, 22.4, 114.2, 22.7)
    assert max_scale_error(local, box) < 1e-5  # 15 km either side: 0.0003 %
    assert max_scale_error(CRS.from_epsg(32650), box) > 7e-4  # UTM at its zone's edge: 0.08 % off
    # 85 km either side of the centre stays within 0.01 %
    assert max_scale_error(local_tm_crs(114.05, 22.55), (113.2, 22.0, 114.9, 23.1)) < 1e-4
    assert metric_crs(None, epsg="EPSG:4547").to_epsg() == 4547
    with pytest.raises(ValueError, match="not a projected CRS in metres"):
        metric_crs(None, epsg=4490)


def test_project_network_keeps_lengths_and_moves_geometry():
    from geo.crs import project_network

    net = lattice(3)
    lines = net.edge_lines
    net = WalkNetwork.from_edges(net.x, net.y, net.u, net.v, geometry=lines, crs=UTM50)
    moved = project_network(net, 4547)
    ex, ey = transform_xy(net.x, net.y, UTM50, 4547)
    assert np.allclose(moved.x, ex) and np.allclose(moved.y, ey)
    assert np.array_equal(moved.length, net.length)
    start = shapely.get_point(moved.geometry, 0)
    assert np.allclose(shapely.get_x(start), moved.x[moved.u]) and np.allclose(shapely.get_y(start), moved.y[moved.u])
    assert project_network(moved, 4547) is moved
