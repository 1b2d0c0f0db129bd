"""A planner's management grid (管理网格): the cells results are reported in, grid cell by grid cell.

Chinese cities manage public services on a base grid of blocks (Guangzhou's
13th Five-Year Plan: 一张基础网格, one base grid for every service;
Nanjing 2011 item 12: facilities covering the city grid by grid, 网格化全覆盖).
The grid is a polygon layer the planner gives (``city build
--management-grid FILE`` keeps it in the city folder; ``--grid-layer FILE``
gives one for a single run). It is held as the unit level :data:`GRID_LEVEL`
of the city, so every population cell carries the id of the grid cell holding
most of its area, and per-unit outputs (completeness, ratio rules whose level
is ``grid``) include it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import geopandas as gpd
from pyproj import CRS

from layers.city import City
from layers.errors import LayerError
from layers.readers import read_layer
from layers.units import _check_unique, _clean_units, assign_cells

__all__ = ["GRID_LEVEL", "read_management_grid", "with_management_grid"]

GRID_LEVEL = "grid"
"""The unit level under which a city holds its management grid."""


def read_management_grid(path: str | Path, crs: CRS, *, coords=None) -> gpd.GeoDataFrame:
    """Read a management grid: polygons with an id (``unit_id``, ``id``, ``code``, ...) or a ``name``.

    Parameters
    ----------
    path : str or pathlib.Path
        Any polygon layer the project reads (GeoPackage, GeoJSON, Shapefile, GeoParquet).
    crs : pyproj.CRS
        The city's metric CRS; the grid is returned in it.
    coords : optional
        Coordinate declaration for files without a CRS (see :mod:`layers.readers`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``unit_id`` (str, unique), ``name``, polygonal ``geometry``.

    Raises
    ------
    LayerError
        Naming file, row and field: not polygons, no id, a repeated id, an empty layer.
    """
    path = Path(path)
    gdf = read_layer(path, coords=coords)
    if len(gdf) == 0:
        raise LayerError(path.name, "the management grid has no cells")
    grid = _clean_units(gdf, path.name, "management grid").to_crs(crs)
    _check_unique(grid, path.name, "management grid")
    return grid.reset_index(drop=True)


def with_management_grid(city: City, grid: gpd.GeoDataFrame, source: str) -> City:
    """The city with ``grid`` as its :data:`GRID_LEVEL` units and every cell's grid id in a ``grid`` column.

    A population cell straddling grid lines counts in the grid cell holding most
    of its area (warned about, as for administrative units).
    """
    cells = assign_cells(city.cells, {GRID_LEVEL: grid}, source)
    return replace(city, cells=cells, units={**city.units, GRID_LEVEL: grid})
