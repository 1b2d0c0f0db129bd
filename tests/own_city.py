"""A small planner's city written as files, shared by the tests of city folders and coordinates.

A 12 x 12 street lattice (120 m blocks) in Futian, Shenzhen, plus a separate
2 x 2 piece 600 m east of it that no facility reaches; 100 m population cells
with subdistrict/community columns; facilities of every kind with capacities;
a units file (two subdistricts, four communities) and a candidates file.
Everything is made here, in UTM 50N, and written in whatever CRS a test asks.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.crs import from_wgs84, to_wgs84
from geo.network import WalkNetwork
from layers.grid import square_grid

UTM50 = CRS.from_epsg(32650)
ORIGIN = tuple(float(c) for c in from_wgs84(114.05, 22.54, UTM50))
STEP = 120.0
N = 12


def network() -> WalkNetwork:
    """The lattice and the stranded 2 x 2 piece, in UTM 50N."""
    ox, oy = ORIGIN
    ii, jj = np.divmod(np.arange(N * N), N)
    x, y = ox + jj * STEP, oy + ii * STEP
    idx = np.arange(N * N).reshape(N, N)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    # the separate piece: four nodes 600 m east of the lattice's east edge
    px = ox + (N - 1) * STEP + 600.0 + np.array([0.0, 100.0, 0.0, 100.0])
    py = oy + np.array([0.0, 0.0, 100.0, 100.0])
    k = N * N
    x, y = np.concatenate([x, px]), np.concatenate([y, py])
    u = np.concatenate([u, k + np.array([0, 0, 1, 2])])
    v = np.concatenate([v, k + np.array([1, 2, 3, 3])])
    return WalkNetwork.from_edges(x, y, u, v, crs=UTM50)


def cells() -> gpd.GeoDataFrame:
    """100 m cells over the lattice and the stranded piece, with units as columns."""
    ox, oy = ORIGIN
    grid = square_grid((ox, oy, ox + (N - 1) * STEP + 700.0, oy + (N - 1) * STEP), 100.0, crs=UTM50)
    cx = shapely.centroid(grid.geometry.values)
    gx, gy = shapely.get_x(cx) - ox, shapely.get_y(cx) - oy
    keep = (gx <= (N - 1) * STEP + 50) | ((gx >= (N - 1) * STEP + 550) & (gy <= 150))
    grid = grid[keep].reset_index(drop=True)
    gx, gy = gx[keep], gy[keep]
    rng = np.random.default_rng(7)
    pop = rng.integers(20, 400, len(grid)).astype(float)
    west = gx < (N - 1) * STEP / 2
    south = gy < (N - 1) * STEP / 2
    return gpd.GeoDataFrame(
        {
            "cell_id": [f"g{i}" for i in range(len(grid))],
            "population": pop,
            "elderly": np.round(pop * 0.2, 1),
            "subdistrict": np.where(west, "SD-W", "SD-E"),
            "community": np.where(west, np.where(south, "C-WS", "C-WN"), np.where(south, "C-ES", "C-EN")),
        },
        geometry=grid.geometry.values,
        crs=UTM50,
    )


def facilities() -> pd.DataFrame:
    """Facilities as x/y in UTM 50N with kinds and capacities."""
    ox, oy = ORIGIN
    rows = [
        ("SC1", "service_centre", 3, 3, None, None), ("SC2", "service_centre", 9, 8, None, None),
        ("SS1", "service_station", 2, 2, None, None), ("SS2", "service_station", 8, 3, None, None),
        ("SS3", "service_station", 3, 9, None, None),
        ("HC1", "health_centre", 5, 5, None, 12.0), ("HS1", "health_station", 10, 10, None, 3.0),
        ("HS2", "health_station", 1, 9, None, 2.0),
        ("EC1", "elderly_care", 4, 7, 40.0, None), ("EC2", "elderly_care", 9, 2, 25.0, None),
    ]
    frame = pd.DataFrame(rows, columns=["id", "kind", "col", "row", "beds", "doctors"])
    # 30 m off the street, so every facility has an access leg
    frame["x"] = ox + frame["col"] * STEP + 30.0
    frame["y"] = oy + frame["row"] * STEP + 40.0
    return frame.drop(columns=["col", "row"])


def units() -> gpd.GeoDataFrame:
    """Subdistrict and community polygons (a 'level' column), dissolved from the cells."""
    c = cells()
    parts = []
    for level in ("subdistrict", "community"):
        d = c.dissolve(by=level).reset_index()
        parts.append(gpd.GeoDataFrame({"unit_id": d[level], "name": d[level] + " 名", "level": level},
                                      geometry=d.geometry.values, crs=UTM50))
    return pd.concat(parts, ignore_index=True)


def write_facilities_csv(path: Path, crs="wgs84", shift=None) -> Path:
    """Facilities as a CSV in WGS84 lon/lat, shifted to GCJ-02/BD-09 when ``shift`` says, or x/y in ``crs``."""
    from geo.chinacoords import wgs84_to_bd09, wgs84_to_gcj02
    from geo.crs import transform_xy

    f = facilities()
    if crs == "wgs84":
        a, b = to_wgs84(f["x"], f["y"], UTM50)
        if shift == "gcj02":
            a, b = wgs84_to_gcj02(a, b)
        elif shift == "bd09":
            a, b = wgs84_to_bd09(a, b)
        cols = ("lon", "lat")
    else:
        a, b = transform_xy(f["x"], f["y"], UTM50, crs)
        cols = ("x", "y")
    out = f.drop(columns=["x", "y"]).assign(**{cols[0]: np.asarray(a), cols[1]: np.asarray(b)})
    out.to_csv(path, index=False, float_format="%.12g")
    return path


def write_city_files(folder: Path) -> dict[str, Path]:
    """Grid (WGS84 GeoPackage), facilities (WGS84 CSV), saved network, units and candidates files."""
    from layers.network_io import save_network

    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "grid": folder / "cells.gpkg",
        "facilities": folder / "sites.csv",
        "network": folder / "streets.npz",
        "units": folder / "units.gpkg",
        "candidates": folder / "candidates.geojson",
    }
    cells().to_crs(4326).to_file(paths["grid"])
    write_facilities_csv(paths["facilities"])
    save_network(network(), paths["network"], attribution="test streets (made up)")
    units().drop(columns=[]).to_crs(4326).to_file(paths["units"])
    ox, oy = ORIGIN
    k = shapely.points(ox + np.array([6.0, 11.0, 0.0]) * STEP + 10, oy + np.array([11.0, 0.0, 5.0]) * STEP + 10)
    gpd.GeoDataFrame({"id": ["K1", "K2", "K3"]}, geometry=k, crs=UTM50).to_crs(4326).to_file(paths["candidates"])
    return paths
