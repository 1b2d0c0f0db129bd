"""Population grid and administrative units (街道 subdistricts, 社区 communities) of a generated district."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import Polygon

from layers.cities.generator.layout import COMPOUND, OLD, Layout
from layers.cities.generator.names import unique_names

__all__ = ["Units", "make_units", "make_cells", "CELL_M"]

CELL_M = 100.0
"""Side of a population grid cell, metres."""

SUBDISTRICT_W_M = 2200.0  # subdistricts are about 2.2 km x 2.3 km of blocks
SUBDISTRICT_H_M = 2300.0


@dataclass(eq=False)
class Units:
    """Subdistrict and community of every block, plus the unit tables."""

    block_subdistrict: np.ndarray
    block_community: np.ndarray
    subdistricts: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame


def _range_ring(layout: Layout, i0: int, i1: int, j0: int, j1: int) -> Polygon:
    """Outline of the blocks in columns ``i0..i1-1`` and rows ``j0..j1-1``, through the arterial corners."""
    X, Y = layout.X, layout.Y
    south = [(X[j0, i], Y[j0, i]) for i in range(i0, i1 + 1)]
    east = [(X[j, i1], Y[j, i1]) for j in range(j0 + 1, j1 + 1)]
    north = [(X[j1, i], Y[j1, i]) for i in range(i1 - 1, i0 - 1, -1)]
    west = [(X[j, i0], Y[j, i0]) for j in range(j1 - 1, j0, -1)]
    return Polygon(south + east + north + west)


def make_units(layout: Layout, rng: np.random.Generator, crs: CRS) -> Units:
    """Group blocks into subdistricts (rectangles of blocks) and communities (1-2 blocks).

    Parameters
    ----------
    layout : Layout
    rng : numpy.random.Generator
    crs : pyproj.CRS

    Returns
    -------
    Units
    """
    m, n = layout.m, layout.n
    col_groups = np.array_split(np.arange(m), max(1, min(m, int(round(layout.width / SUBDISTRICT_W_M)))))
    row_groups = np.array_split(np.arange(n), max(1, min(n, int(round(layout.height / SUBDISTRICT_H_M)))))
    sd_rect, cm_rect, cm_sd = [], [], []
    block_sd = np.empty(m * n, dtype=np.int64)
    block_cm = np.empty(m * n, dtype=np.int64)
    for rows in row_groups:
        for cols in col_groups:
            sd = len(sd_rect)
            sd_rect.append((cols[0], cols[-1] + 1, rows[0], rows[-1] + 1))
            # Communities: pairs of neighbouring blocks along a row.
            for j in rows:
                for pair in np.array_split(cols, max(1, int(np.ceil(cols.size / 2)))):
                    block_cm[j * m + pair] = len(cm_rect)
                    block_sd[j * m + pair] = sd
                    cm_rect.append((pair[0], pair[-1] + 1, j, j + 1))
                    cm_sd.append(sd)

    river_zone = shapely.union_all([r.buffer(150.0) for r in layout.rivers])
    sd_geom = np.array([_range_ring(layout, *r) for r in sd_rect], dtype=object)
    cm_geom = np.array([_range_ring(layout, *r) for r in cm_rect], dtype=object)
    riverside = shapely.intersects(cm_geom, river_zone)
    sd_names = [f"{nm} Subdistrict" for nm in unique_names(len(sd_rect), rng, theme="subdistrict")]
    cm_base = np.array(unique_names(len(cm_rect), rng, theme="community"), dtype=object)
    n_river = int(riverside.sum())
    cm_base[riverside] = unique_names(n_river, rng, theme="riverside", taken=set(cm_base[~riverside]))
    subdistricts = gpd.GeoDataFrame(
        {"unit_id": [f"SD{k + 1:03d}" for k in range(len(sd_rect))], "name": sd_names},
        geometry=sd_geom, crs=crs,
    )  # fmt: skip
    communities = gpd.GeoDataFrame(
        {
            "unit_id": [f"CM{k + 1:04d}" for k in range(len(cm_rect))],
            "name": [f"{nm} Community" for nm in cm_base],
            "subdistrict": subdistricts["unit_id"].to_numpy()[np.array(cm_sd)],
        },
        geometry=cm_geom,
        crs=crs,
    )
    return Units(block_sd, block_cm, subdistricts, communities)


def make_cells(
    layout: Layout,
    units: Units,
    rng: np.random.Generator,
    crs: CRS,
    target_population: float | None = None,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """100 m population cells over residential blocks, away from rivers.

    A block's residents (its gross density times its area) are shared among
    the cells whose centre lies in it, with +-30 % noise per cell; the
    elderly are the block's elderly share of each cell's residents.

    Parameters
    ----------
    layout : Layout
    units : Units
    rng : numpy.random.Generator
    crs : pyproj.CRS
    target_population : float, optional
        Rescale so that the total is exactly this.

    Returns
    -------
    cells : geopandas.GeoDataFrame
        ``cell_id``, ``population``, ``elderly``, ``subdistrict``, ``community``, geometry.
    block : numpy.ndarray of int64
        Block of every cell.
    """
    nx = int(np.floor(layout.width / CELL_M))
    ny = int(np.floor(layout.height / CELL_M))
    col, row = np.meshgrid(np.arange(nx), np.arange(ny))
    col, row = col.ravel(), row.ravel()
    cx = layout.x0 + (col + 0.5) * CELL_M
    cy = layout.y0 + (row + 0.5) * CELL_M

    residential = np.flatnonzero((layout.land_use == OLD) | (layout.land_use == COMPOUND))
    tree = shapely.STRtree(layout.quads[residential])
    dry = ~shapely.contains_xy(layout.river_zone, cx, cy)
    cx, cy, col, row = cx[dry], cy[dry], col[dry], row[dry]
    pt_idx, quad_idx = tree.query(shapely.points(cx, cy), predicate="intersects")
    pt_idx, first = np.unique(pt_idx, return_index=True)  # a centre on a shared edge counts once
    block = residential[quad_idx[first]]
    cx, cy, col, row = cx[pt_idx], cy[pt_idx], col[pt_idx], row[pt_idx]

    weight = rng.uniform(0.7, 1.3, block.size)
    block_total = np.bincount(block, weights=weight, minlength=layout.n_blocks)
    block_pop = layout.density * layout.area_km2
    population = block_pop[block] * weight / block_total[block]
    if target_population is not None:
        population *= target_population / population.sum()
    share = np.clip(layout.elderly_share[block] * rng.uniform(0.9, 1.1, block.size), 0.0, 1.0)
    half = CELL_M / 2
    cells = gpd.GeoDataFrame(
        {
            "cell_id": pd.Series(row, dtype=str).str.zfill(4) + "_" + pd.Series(col, dtype=str).str.zfill(4),
            "population": population,
            "elderly": population * share,
            "subdistrict": units.subdistricts["unit_id"].to_numpy()[units.block_subdistrict[block]],
            "community": units.communities["unit_id"].to_numpy()[units.block_community[block]],
        },
        geometry=shapely.box(cx - half, cy - half, cx + half, cy + half),
        crs=crs,
    )
    return cells, block
