"""Layers of plain polygons reprojected as one flat coordinate array.

``GeoDataFrame.to_crs`` on a city's cells (750,000 polygons) gathers every
coordinate, projects them, then rebuilds each polygon from a copy with
``set_coordinates``. For plain 2-D polygons without holes (grid cells, census
blocks) the same numbers come from one ``get_coordinates`` pass, the same
pyproj transform split over the usable cores (pyproj releases the GIL; each
point's result depends only on that point) and one
``shapely.from_ragged_array``: the same coordinates bit for bit, in the same
rings. Any other layer (points, multipolygons, holes, z, missing or empty
geometries) goes through ``to_crs`` unchanged.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo.threads import over_cores

__all__ = ["plain_polygons", "polygon_arrays", "project_coords", "to_crs"]

_POLYGON = 3  # shapely type id

_MIN_CHUNK = 100_000
"""Fewest points per thread when projecting: below this a thread costs more than it saves."""


def plain_polygons(geoms: np.ndarray) -> bool:
    """Whether ``geoms`` are all 2-D, non-empty polygons (the flat-array paths' input).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries

    Returns
    -------
    bool
        ``False`` for an empty array, any other type, a missing, empty or 3-D geometry.
    """
    if geoms.size == 0:
        return False
    return bool((shapely.get_type_id(geoms) == _POLYGON).all()
                and not shapely.has_z(geoms).any() and not shapely.is_empty(geoms).any())


def polygon_arrays(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates, ring offsets and polygon offsets (``shapely.to_ragged_array``'s layout).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely polygons
        2-D and non-empty (see :func:`plain_polygons`).

    Returns
    -------
    coords : numpy.ndarray of float64, shape (n, 2)
    ring_offsets : numpy.ndarray of int64
        Start of each ring in ``coords`` (length rings + 1).
    geom_offsets : numpy.ndarray of int64
        Start of each polygon's rings in ``ring_offsets`` (length polygons + 1).

    Notes
    -----
    Polygons without holes (grid cells) take one ``get_coordinates`` pass,
    each polygon one ring: about 8x faster than ``to_ragged_array`` at
    750,000 cells. Any hole: ``to_ragged_array``.
    """
    if shapely.get_num_interior_rings(geoms).any():
        _, coords, (ring_offsets, geom_offsets) = shapely.to_ragged_array(geoms)
        return coords, ring_offsets, geom_offsets
    return _shell_arrays(geoms)


def _shell_arrays(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`polygon_arrays` of polygons without holes: one ring each."""
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    ring_offsets = np.zeros(geoms.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=geoms.size), out=ring_offsets[1:])
    return coords, ring_offsets, np.arange(geoms.size + 1, dtype=np.int64)


def project_coords(coords: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """``coords`` (n x 2) projected from ``src`` to ``dst`` as ``GeoDataFrame.to_crs`` projects them.

    Parameters
    ----------
    coords : numpy.ndarray of float64, shape (n, 2)
        x (longitude) first.
    src, dst : pyproj.CRS

    Returns
    -------
    numpy.ndarray of float64, shape (n, 2)

    Notes
    -----
    geopandas calls ``Transformer.from_crs(src, dst, always_xy=True).transform``
    on the x and y columns; slices of them in threads give the same numbers.
    """
    t = Transformer.from_crs(src, dst, always_xy=True)
    out = np.empty_like(coords, dtype=np.float64)

    def part(s: slice) -> None:
        out[s, 0], out[s, 1] = t.transform(coords[s, 0], coords[s, 1])

    over_cores(part, coords.shape[0], _MIN_CHUNK)
    return out


def to_crs(frame: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """``frame.to_crs(crs)``, through flat arrays for a layer of plain polygons without holes.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        With a CRS.
    crs : pyproj.CRS

    Returns
    -------
    geopandas.GeoDataFrame
        Equal to ``frame.to_crs(crs)``: the same columns and index, every
        coordinate bit for bit, every ring in the same order.
    """
    crs = CRS.from_user_input(crs)
    geoms = frame.geometry.values._data
    if (frame.crs is None or frame.crs.is_exact_same(crs) or not plain_polygons(geoms)
            or shapely.get_num_interior_rings(geoms).any()):
        return frame.to_crs(crs)
    coords, ring_offsets, geom_offsets = _shell_arrays(geoms)
    projected = project_coords(coords, frame.crs, crs)
    polygons = shapely.from_ragged_array(shapely.GeometryType.POLYGON, projected, (ring_offsets, geom_offsets))
    out = frame.copy()
    out.geometry = gpd.GeoSeries(polygons, index=frame.index, crs=crs, name=frame.geometry.name)
    return out
