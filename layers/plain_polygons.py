"""A layer of grid cells read as one coordinate array, its polygons built once, in the city's CRS.

Read the general way (:func:`layers.readers.read_layer`), a city's 750,880
cells become polygons in the file's CRS (``shapely.from_wkb``, 0.65-0.86 s),
are checked there, and are built a second time after reprojection. When
every feature of a GIS file is a 2-D polygon of one closed ring of five
points that is a strictly convex quadrilateral, which
:func:`geo.validity.convex_quadrilaterals` proves valid exactly as GEOS
would, this module reads the WKB bytes as one coordinate array (a reshape:
every such polygon is 93 bytes), makes the same checks on the arrays, and
builds the polygons once, after projection. The coordinates are those
``from_wkb`` would hold, projected by the same transformer, so the cells are
the general path's cells bit for bit.

Any other layer (other shapes, holes, multipolygons, z, missing
geometries, no CRS, several layers, CSV, GeoParquet) gives ``None``, and the
caller reads it the general way, with the same results and errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
from pyproj import CRS

from geo.crs import WGS84
from geo.validity import convex_quadrilaterals
from layers.polygon_arrays import project_coords
from layers.readers import check_degree_bounds, is_table

__all__ = ["PlainPolygons", "read_plain_polygons"]

_POINTS = 5  # a closed ring of four corners
_WKB_SIZE = 1 + 4 + 4 + 4 + 16 * _POINTS  # byte order, type, ring count, point count, the points
# The header of a little-endian 2-D Polygon of one ring of five points.
_HEADER = np.array([1, 3, 0, 0, 0, 1, 0, 0, 0, _POINTS, 0, 0, 0], dtype=np.uint8)
_SUFFIXES_ELSEWHERE = {".parquet", ".geoparquet", ".zip"}


@dataclass(frozen=True)
class PlainPolygons:
    """Quadrilateral cells as flat arrays, before any polygon is built.

    Attributes
    ----------
    attributes : pandas.DataFrame
        The layer's columns as :func:`layers.readers.read_layer` reads them
        (index ``0..n-1``), without the geometry.
    rings : numpy.ndarray of float64, shape (n, 5, 2)
        Each cell's ring in the file's CRS, closed.
    crs : pyproj.CRS
        The file's CRS.
    """

    attributes: pd.DataFrame
    rings: np.ndarray
    crs: CRS

    def __len__(self) -> int:
        return self.rings.shape[0]

    def wgs84_bounds(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)``: ``total_bounds`` of the layer in WGS84."""
        xy = self.rings.reshape(-1, 2)
        if not self.crs.is_exact_same(CRS.from_user_input(WGS84)):
            xy = project_coords(xy, self.crs, CRS.from_user_input(WGS84))
        return (float(np.nanmin(xy[:, 0])), float(np.nanmin(xy[:, 1])),
                float(np.nanmax(xy[:, 0])), float(np.nanmax(xy[:, 1])))

    def frame(self, crs: CRS) -> gpd.GeoDataFrame:
        """The layer as a GeoDataFrame in ``crs``: each polygon built once, from projected coordinates.

        Parameters
        ----------
        crs : pyproj.CRS

        Returns
        -------
        geopandas.GeoDataFrame
            The attributes and a ``geometry`` column equal, coordinate for
            coordinate, to ``read_layer(...).to_crs(crs)``'s.
        """
        crs = CRS.from_user_input(crs)
        xy = self.rings.reshape(-1, 2)
        if not self.crs.is_exact_same(crs):
            xy = project_coords(xy, self.crs, crs)
        n = len(self)
        rings = np.arange(0, _POINTS * n + 1, _POINTS, dtype=np.int64)
        polygons = shapely.from_ragged_array(shapely.GeometryType.POLYGON, xy, (rings, np.arange(n + 1, dtype=np.int64)))
        return gpd.GeoDataFrame(self.attributes, geometry=gpd.GeoSeries(polygons, crs=crs), crs=crs)


def read_plain_polygons(path: str | Path, layer: str | None = None) -> PlainPolygons | None:
    """Read a GIS file of quadrilateral cells as flat arrays, or ``None`` if it is anything else.

    Parameters
    ----------
    path : str or pathlib.Path
        A GIS file GDAL reads (GeoPackage, GeoJSON, Shapefile, ...); CSV,
        GeoParquet and zip archives give ``None``.
    layer : str, optional
        As for :func:`layers.readers.read_layer`.

    Returns
    -------
    PlainPolygons or None
        ``None`` whenever the general reader should read the file: other
        geometries, a ring that is not shown to be a convex quadrilateral, no
        CRS, several layers without ``layer``, an unreadable file.

    Raises
    ------
    LayerError
        Longitudes or latitudes out of range (a geographic CRS), exactly
        as the general reader says it.
    """
    path = Path(path)
    if is_table(path) or path.suffix.lower() in _SUFFIXES_ELSEWHERE or not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        names = pyogrio.list_layers(str(path))[:, 0]
        if (layer is None and len(names) != 1) or (layer is not None and layer not in set(names)):
            return None
        meta, table = pyogrio.read_arrow(str(path), layer=layer, columns=[])
        if meta.get("crs") is None or table.num_columns != 1:  # columns=[]: the geometry alone
            return None
        rings = _quadrilateral_rings(table.column(0).combine_chunks())
        if rings is None or not convex_quadrilaterals(rings).all():
            return None
        crs = CRS.from_user_input(meta["crs"])
        # The attributes the way the general reader converts them, so the frames are equal column for column.
        attributes = pyogrio.read_dataframe(str(path), layer=layer, read_geometry=False, use_arrow=True)
    except Exception:  # noqa: BLE001 -- the general reader reads it another way, or says what is wrong
        return None
    if crs.is_geographic:
        source = path.name if layer is None else f"{path.name}:{layer}"
        check_degree_bounds(np.column_stack([_corner(np.minimum, rings), _corner(np.maximum, rings)]), source)
    return PlainPolygons(pd.DataFrame(attributes).reset_index(drop=True), rings, crs)


def _corner(pick: np.ufunc, rings: np.ndarray) -> np.ndarray:
    """Per ring, ``pick`` (min or max) of its points' x and y: its bounding box corner, ``(n, 2)``."""
    out = rings[:, 0].copy()
    for k in range(1, _POINTS - 1):  # the fifth point repeats the first
        pick(out, rings[:, k], out=out)
    return out


def _quadrilateral_rings(wkb: pa.Array) -> np.ndarray | None:
    """The ``(n, 5, 2)`` rings of WKB polygons of one five-point ring each, or ``None`` for anything else."""
    n = len(wkb)
    if n == 0 or wkb.null_count or not (pa.types.is_binary(wkb.type) or pa.types.is_large_binary(wkb.type)):
        return None
    _, offsets_buffer, data_buffer = wkb.buffers()
    kind = np.int64 if pa.types.is_large_binary(wkb.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=kind)[wkb.offset: wkb.offset + n + 1]
    if not np.array_equal(offsets - offsets[0], np.arange(n + 1, dtype=kind) * _WKB_SIZE):
        return None
    records = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]: offsets[0] + n * _WKB_SIZE].reshape(n, _WKB_SIZE)
    if not (records[:, : _HEADER.size] == _HEADER).all():
        return None
    # the points are little-endian doubles (the header said so); copied out to be aligned
    rings = np.ascontiguousarray(records[:, _HEADER.size:]).view("<f8").reshape(n, _POINTS, 2)
    if not (rings[:, 0] == rings[:, -1]).all():
        return None
    return rings.astype(np.float64, copy=False)
