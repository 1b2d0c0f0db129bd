"""Write a planner-style set of input files for Futian, Shenzhen, around the real OSM roads in ``../shared/data``.

The roads are real (OpenStreetMap, Oct 2024); the population and the
facility list are **made up** (seeded), because no open per-cell population
of Shenzhen ships with the project. The files come in the coordinate systems
a planner in Shenzhen receives them in, to try ``lifecircle city build`` as
the README's "Your own city" walk-through does:

* ``cells.gpkg``: 100 m cells in CGCS2000 3-degree Gauss-Kruger CM 114E
  (EPSG:4547), with ``population``, ``elderly``, ``community``, ``subdistrict``;
* ``facilities.csv``: an Amap-style export in GCJ-02 (``lng``, ``lat``,
  ``kind``, ``name``, ``beds``, ``doctors``);
* ``units.gpkg``: subdistrict and community polygons (``level`` column), EPSG:4547.

Run::

    python bench/futian_inputs.py --out futian-inputs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
OSM = ROOT.parent / "shared" / "data" / "shenzhen-futian-osm" / "shenzhen_futian_nanshan_drive_service.osm"
GK114 = 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E

# Kinds and how many of each to scatter; capacities as a planner's list would carry them.
KIND_COUNTS = {"service_centre": 6, "service_station": 40, "health_centre": 5, "health_station": 25, "elderly_care": 18}
PREFIX = {"service_centre": "SC", "service_station": "SS", "health_centre": "HC", "health_station": "HS", "elderly_care": "EC"}


def make_inputs(out: Path, osm: Path = OSM, seed: int = 2024) -> dict[str, Path]:
    """Write cells.gpkg, facilities.csv and units.gpkg for the area of ``osm``; returns their paths."""
    from geo.chinacoords import wgs84_to_gcj02
    from geo.crs import to_wgs84
    from layers.grid import square_grid
    from layers.osm import load_osm_network

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    net = load_osm_network(osm, crs=GK114)
    # Cells where people live: within 150 m of a street, in the central part of the extract.
    minx, miny, maxx, maxy = net.bounds()
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    box = (cx - 4500, cy - 3500, cx + 4500, cy + 3500)
    grid = square_grid(box, 100.0, crs=GK114)
    centres = shapely.centroid(grid.geometry.values)
    near = shapely.STRtree(net.edge_lines).query(centres, predicate="dwithin", distance=150.0)
    grid = grid.iloc[np.unique(near[0])].reset_index(drop=True)
    x, y = shapely.get_x(shapely.centroid(grid.geometry.values)), shapely.get_y(shapely.centroid(grid.geometry.values))
    population = np.round(rng.gamma(2.0, 120.0, len(grid)))
    grid = gpd.GeoDataFrame(
        {
            "cell_id": [f"FT{i:05d}" for i in range(len(grid))],
            "population": population,
            "elderly": np.round(population * rng.uniform(0.08, 0.22, len(grid))),
            "community": [f"社区{int((a - box[0]) // 1500)}-{int((b - box[1]) // 1500)}" for a, b in zip(x, y)],
            "subdistrict": [f"街道{int((a - box[0]) // 3000)}-{int((b - box[1]) // 3500)}" for a, b in zip(x, y)],
        },
        geometry=grid.geometry.values,
        crs=GK114,
    )
    paths = {"grid": out / "cells.gpkg", "facilities": out / "facilities.csv", "units": out / "units.gpkg"}
    grid.to_file(paths["grid"])
    # Facilities near populated cells, with capacities, exported the way Amap hands them out (GCJ-02).
    rows = []
    for kind, n in KIND_COUNTS.items():
        pick = rng.choice(len(grid), n, replace=False)
        for i, c in enumerate(pick):
            rows.append({"id": f"{PREFIX[kind]}{i + 1:03d}", "kind": kind, "name": f"{kind} {i + 1}",
                         "x": x[c] + rng.uniform(-40, 40), "y": y[c] + rng.uniform(-40, 40),
                         "beds": float(rng.integers(20, 120)) if kind == "elderly_care" else np.nan,
                         "doctors": float(rng.integers(2, 15)) if kind.startswith("health") else np.nan})
    fac = pd.DataFrame(rows)
    lon, lat = to_wgs84(fac["x"], fac["y"], GK114)
    fac["lng"], fac["lat"] = wgs84_to_gcj02(np.asarray(lon), np.asarray(lat))
    fac.drop(columns=["x", "y"]).to_csv(paths["facilities"], index=False, float_format="%.7f")
    units = []
    for level in ("subdistrict", "community"):
        d = grid.dissolve(by=level).reset_index()
        units.append(gpd.GeoDataFrame({"unit_id": d[level], "name": d[level], "level": level}, geometry=d.geometry.values,
                                      crs=GK114))
    pd.concat(units, ignore_index=True).pipe(gpd.GeoDataFrame, crs=GK114).to_file(paths["units"])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("futian-inputs"))
    parser.add_argument("--osm", type=Path, default=OSM)
    args = parser.parse_args()
    for role, path in make_inputs(args.out, args.osm).items():
        print(f"{role:10} {path}")
    print(f"network    {args.osm}")


if __name__ == "__main__":
    main()
