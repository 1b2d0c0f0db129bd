"""Administrative units (subdistricts 街道, communities 社区) of a planner's city.

Ratio rules are checked per unit (beds per 1,000 elderly in each
subdistrict, one station per community, ...), so a city needs its units as
polygons with ids and names, and every cell must know the unit it counts in.
They come from one of two places:

* a **boundary file** (:func:`read_units`): polygons with a ``level`` column
  (``subdistrict`` or ``community``), or a GeoPackage with one layer per
  level named after it; ``unit_id`` (or ``id``) and ``name`` columns;
* **unit columns on the grid** (:func:`units_from_cells`): ``subdistrict`` and
  ``community`` columns holding unit ids, whose cells are merged into the
  unit polygons.

:func:`assign_cells` gives each cell the unit that holds the largest part of
its area. A cell straddling a border counts wholly in one unit; for 100 m
cells against units of square kilometres that moves under 1 % of a unit's
residents, and the share of cells that straddle is reported in the warnings.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from layers.errors import LayerError, warn_layer
from layers.readers import read_layer

__all__ = ["UNIT_LEVELS", "read_units", "units_from_cells", "assign_cells"]

UNIT_LEVELS = ("subdistrict", "community")
"""The levels the ratio rules know, from the larger to the smaller."""

_LEVEL_NAMES = {"subdistrict": "subdistrict", "street": "subdistrict", "街道": "subdistrict", "jiedao": "subdistrict",
                "community": "community", "社区": "community", "shequ": "community"}
_ID_COLUMNS = ("unit_id", "id", "code", "编码", "代码")
_NAME_COLUMNS = ("name", "名称", "unit_name")


def read_units(
    path: str | Path, crs: CRS, *, coords=None, layer: str | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """Read unit polygons by level from a boundary file.

    Parameters
    ----------
    path : str or pathlib.Path
        Polygons with a ``level`` column, or a GeoPackage with one layer per
        level (``subdistrict``, ``community``; 街道 and 社区 are understood).
    crs : pyproj.CRS
        The city's metric CRS; the units are returned in it.
    coords : str or int or pyproj.CRS, optional
        Coordinate declaration (see :mod:`layers.readers`).
    layer : str, optional
        Read only this layer of a multi-layer file (it then needs ``level``).

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        By level, each with ``unit_id`` (str, unique), ``name`` and polygonal
        ``geometry`` in ``crs``.

    Raises
    ------
    LayerError
        Unreadable file, no way to tell the level, unknown level, repeated
        ids, or geometry that is not polygonal.
    """
    path = Path(path)
    layers = _layer_names(path) if layer is None else [layer]
    by_level: dict[str, list[gpd.GeoDataFrame]] = {}
    for name in layers:
        source = path.name if len(layers) == 1 else f"{path.name}:{name}"
        gdf = read_layer(path, layer=name if len(layers) > 1 or layer else None, coords=coords)
        level_col = _column(gdf, ("level", "层级", "级别"))
        if level_col is not None:
            levels = gdf[level_col].astype(str).str.strip().str.lower().map(lambda v: _LEVEL_NAMES.get(v, v))
        elif len(layers) > 1 and _LEVEL_NAMES.get(str(name).lower()) is not None:
            levels = pd.Series(_LEVEL_NAMES[str(name).lower()], index=gdf.index)
        else:
            raise LayerError(
                source,
                "cannot tell the units' level: add a 'level' column (subdistrict or community) or give one "
                "GeoPackage layer per level named subdistrict / community",
                field="level",
            )
        unknown = sorted(set(levels) - set(UNIT_LEVELS))
        if unknown:
            raise LayerError(source, f"unknown level {unknown[0]!r}; use {' or '.join(UNIT_LEVELS)}", field="level")
        for level in UNIT_LEVELS:
            part = gdf[(levels == level).to_numpy()]
            if len(part):
                by_level.setdefault(level, []).append(_clean_units(part, source, level).to_crs(crs))
    if not by_level:
        raise LayerError(path.name, "the file holds no units")
    out = {}
    for level, parts in by_level.items():
        units = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        _check_unique(units, path.name, level)
        out[level] = gpd.GeoDataFrame(units, geometry="geometry", crs=crs)
    return out


def units_from_cells(cells: gpd.GeoDataFrame, levels: tuple[str, ...] = UNIT_LEVELS) -> dict[str, gpd.GeoDataFrame]:
    """Unit polygons made by merging the cells that carry each unit id.

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        Validated cells; any of the ``levels`` columns present are used.
    levels : tuple of str

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        By level: ``unit_id``, ``name`` (the id), ``geometry``. Cells with no
        unit id are left out of every unit.
    """
    out = {}
    for level in levels:
        if level not in cells.columns:
            continue
        ids = cells[level].astype("string")
        keep = ids.notna() & (ids.str.strip() != "")
        if not keep.any():
            continue
        groups = pd.Series(np.arange(len(cells)))[keep.to_numpy()].groupby(ids[keep].to_numpy(), sort=True)
        geoms = cells.geometry.values
        # Grid cells tile the plane without overlaps, which is what coverage_union_all needs.
        polygons = [shapely.coverage_union_all(geoms[idx.to_numpy()]) for _, idx in groups]
        names = list(groups.groups)
        out[level] = gpd.GeoDataFrame({"unit_id": names, "name": names}, geometry=polygons, crs=cells.crs)
    return out


def assign_cells(cells: gpd.GeoDataFrame, units: dict[str, gpd.GeoDataFrame], source: str) -> gpd.GeoDataFrame:
    """Give every cell the id of the unit holding the largest part of its area, per level.

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        Cells in the units' CRS. Existing level columns are replaced.
    units : dict of str to geopandas.GeoDataFrame
        From :func:`read_units`.
    source : str
        The units' file, for warnings.

    Returns
    -------
    geopandas.GeoDataFrame
        ``cells`` with one column per level (``<NA>`` outside every unit).
    """
    cells = cells.copy()
    geoms = cells.geometry.values
    for level, frame in units.items():
        ugeoms = frame.geometry.values
        cell_idx, unit_idx = shapely.STRtree(ugeoms).query(geoms, predicate="intersects")
        area = shapely.area(shapely.intersection(geoms[cell_idx], ugeoms[unit_idx]))
        best = np.full(len(cells), -1, dtype=np.int64)
        if cell_idx.size:
            # Largest overlap first, then the first index among ties, so the choice is stable.
            order = np.lexsort((unit_idx, -area, cell_idx))
            first = np.r_[True, cell_idx[order][1:] != cell_idx[order][:-1]]
            chosen = order[first]
            positive = area[chosen] > 0
            best[cell_idx[chosen][positive]] = unit_idx[chosen][positive]
        ids = frame["unit_id"].astype(str).to_numpy()
        cells[level] = pd.array(np.where(best >= 0, ids[np.maximum(best, 0)], None), dtype="string")
        # Neighbouring units touch a cell along its edges; only a share of its area makes it straddle.
        overlapping = area > 1e-6 * shapely.area(geoms[cell_idx])
        straddling = np.bincount(cell_idx[overlapping], minlength=len(cells)) > 1
        outside = best < 0
        people = cells["population"].to_numpy()
        if outside.any():
            warn_layer(
                source,
                f"{int(outside.sum())} cells ({people[outside].sum():,.0f} residents) lie outside every {level}; "
                "they count in no unit's ratio rules",
                field=level,
                count=int(outside.sum()),
            )
        if straddling.any():
            warn_layer(
                source,
                f"{int(straddling.sum())} cells ({people[straddling].sum():,.0f} residents) straddle a {level} border; "
                "each counts in the unit holding most of its area",
                field=level,
                count=int(straddling.sum()),
            )
    return cells


# ------------------------------------------------------------------ helpers
def _layer_names(path: Path) -> list[str | None]:
    if path.suffix.lower() != ".gpkg" or not path.exists():
        return [None]
    try:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception:  # noqa: BLE001 -- read_layer reports an unreadable file with its reason
        return [None]
    return names if len(names) > 1 else [None]


def _column(gdf: gpd.GeoDataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): c for c in gdf.columns if c != gdf.geometry.name}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _clean_units(gdf: gpd.GeoDataFrame, source: str, level: str) -> gpd.GeoDataFrame:
    geoms = gdf.geometry.values
    bad = ~np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise LayerError(source, f"a {level} unit must be a polygon, got {shapely.get_type_id(geoms[row - 1])!r}",
                         field="geometry", row=row)
    geoms = shapely.make_valid(geoms)
    id_col = _column(gdf, _ID_COLUMNS)
    name_col = _column(gdf, _NAME_COLUMNS)
    if id_col is None and name_col is None:
        raise LayerError(source, f"the {level} units need a 'unit_id' or a 'name' column", field="unit_id")
    ids = gdf[id_col if id_col is not None else name_col].astype(str).str.strip().to_numpy()
    names = gdf[name_col].astype(str).to_numpy() if name_col is not None else ids
    return gpd.GeoDataFrame({"unit_id": ids, "name": names}, geometry=geoms, crs=gdf.crs)


def _check_unique(units: gpd.GeoDataFrame, source: str, level: str) -> None:
    dup = units["unit_id"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0]) + 1
        raise LayerError(source, f"{level} unit_id {units['unit_id'].iloc[row - 1]!r} appears more than once",
                         field="unit_id", row=row)
