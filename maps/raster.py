"""Draw many grid cells as an image instead of as polygons.

A city of 750,000 cells cannot go into a web page as 750,000 GeoJSON
polygons (hundreds of MB, minutes to open). Instead every pixel of an image
in the *map's* projection (Web Mercator for Leaflet, the city's metric CRS for
print) is assigned the cell under its centre, once; each map layer then only
picks a colour per cell. Regular grids are looked up by row and column, any
other polygons by an STR-tree point-in-polygon query.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import shapely
from PIL import Image
from pyproj import CRS, Transformer

__all__ = ["CellRaster", "rasterize_cells", "class_rgba", "class_png", "png_data_uri", "lattice"]

# A lattice index (rows x columns of the bounding box) larger than this falls
# back to the point-in-polygon path rather than allocating a huge table.
_MAX_LATTICE = 50_000_000
_REL_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class CellRaster:
    """Which cell lies under each pixel.

    Attributes
    ----------
    index : numpy.ndarray of int32, shape (height, width)
        Cell position under each pixel centre, ``-1`` where there is none.
        Row 0 is the northern edge.
    bounds : tuple of float
        ``(xmin, ymin, xmax, ymax)`` of the image in ``crs``.
    crs : pyproj.CRS
    """

    index: np.ndarray
    bounds: tuple[float, float, float, float]
    crs: CRS

    @property
    def shape(self) -> tuple[int, int]:
        return self.index.shape

    def classes(self, cell_class: np.ndarray) -> np.ndarray:
        """Per pixel class from per cell class (``-1`` = nothing drawn)."""
        lut = np.concatenate([[-1], np.asarray(cell_class, dtype=np.int64)])
        return lut[self.index + 1]


def lattice(geoms: np.ndarray) -> tuple[float, float, float, float, np.ndarray, np.ndarray] | None:
    """Origin, cell size, row and column of cells forming one regular axis-aligned grid.

    Returns ``(x0, y0, w, h, row, col)``, or ``None`` when the polygons are not
    identical axis-aligned rectangles on a common lattice.
    """
    if geoms.size == 0:
        return None
    b = shapely.bounds(geoms)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    w0, h0 = float(np.median(w)), float(np.median(h))
    if not (w0 > 0 and h0 > 0):
        return None
    if np.any(np.abs(w - w0) > _REL_TOL * w0) or np.any(np.abs(h - h0) > _REL_TOL * h0):
        return None
    if np.any(np.abs(shapely.area(geoms) - w * h) > _REL_TOL * w0 * h0):
        return None  # not rectangles
    x0, y0 = float(b[:, 0].min()), float(b[:, 1].min())
    fc, fr = (b[:, 0] - x0) / w0, (b[:, 1] - y0) / h0
    col, row = np.rint(fc), np.rint(fr)
    if np.any(np.abs(fc - col) > 1e-4) or np.any(np.abs(fr - row) > 1e-4):
        return None
    return x0, y0, w0, h0, row.astype(np.int64), col.astype(np.int64)


def _lookup_lattice(lat, sx: np.ndarray, sy: np.ndarray) -> np.ndarray | None:
    x0, y0, w, h, row, col = lat
    nrow, ncol = int(row.max()) + 1, int(col.max()) + 1
    if nrow * ncol > _MAX_LATTICE:
        return None
    table = np.full((nrow, ncol), -1, dtype=np.int32)
    table[row, col] = np.arange(row.size, dtype=np.int32)
    c = np.floor((sx - x0) / w).astype(np.int64)
    r = np.floor((sy - y0) / h).astype(np.int64)
    inside = (c >= 0) & (c < ncol) & (r >= 0) & (r < nrow)
    out = np.full(sx.shape, -1, dtype=np.int32)
    out[inside] = table[r[inside], c[inside]]
    return out


def _lookup_polygons(geoms: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    out = np.full(sx.shape, -1, dtype=np.int32)
    tree = shapely.STRtree(geoms)
    pts = shapely.points(sx.ravel(), sy.ravel())
    pt, poly = tree.query(pts, predicate="within")
    flat = out.ravel()
    flat[pt] = poly  # where polygons overlap, the last one wins
    return flat.reshape(sx.shape)


def rasterize_cells(
    geoms,
    crs,
    target_crs=None,
    *,
    oversample: float = 2.0,
    max_pixels: int = 4_000_000,
) -> CellRaster:
    """Assign to every pixel of an image the cell under its centre.

    Parameters
    ----------
    geoms : array_like of shapely.Polygon
        Cell polygons in ``crs`` (their order gives the cell positions).
    crs : pyproj.CRS or str or int
        CRS of ``geoms``.
    target_crs : optional
        Projection of the image; ``crs`` when omitted. Use ``"EPSG:3857"``
        for a Leaflet image overlay.
    oversample : float, default 2
        Pixels per cell width (about), so cell edges stay crisp.
    max_pixels : int, default 4,000,000
        Upper bound on width x height; pixels grow beyond that.

    Returns
    -------
    CellRaster
    """
    geoms = np.asarray(geoms, dtype=object)
    src = CRS.from_user_input(crs)
    dst = src if target_crs is None else CRS.from_user_input(target_crs)
    sxmin, symin, sxmax, symax = shapely.total_bounds(geoms)
    lat = lattice(geoms)
    cell = lat[2] if lat is not None else float(np.sqrt(np.median(shapely.area(geoms))))
    same = src == dst
    to_dst = None if same else Transformer.from_crs(src, dst, always_xy=True)
    if same:
        bounds = (sxmin, symin, sxmax, symax)
    else:
        bounds = to_dst.transform_bounds(sxmin, symin, sxmax, symax, densify_pts=21)
    scale = (bounds[2] - bounds[0]) / max(sxmax - sxmin, 1e-9)  # target units per source metre
    px = cell * scale / oversample
    width = max(1, int(np.ceil((bounds[2] - bounds[0]) / px)))
    height = max(1, int(np.ceil((bounds[3] - bounds[1]) / px)))
    if width * height > max_pixels:
        grow = np.sqrt(width * height / max_pixels)
        px *= grow
        width = max(1, int(np.ceil((bounds[2] - bounds[0]) / px)))
        height = max(1, int(np.ceil((bounds[3] - bounds[1]) / px)))
    bounds = (bounds[0], bounds[3] - height * px, bounds[0] + width * px, bounds[3])
    xs = bounds[0] + (np.arange(width) + 0.5) * px
    ys = bounds[3] - (np.arange(height) + 0.5) * px
    gx, gy = np.meshgrid(xs, ys)
    if same:
        sx, sy = gx, gy
    else:
        to_src = Transformer.from_crs(dst, src, always_xy=True)
        sx, sy = to_src.transform(gx, gy)
    index = _lookup_lattice(lat, sx, sy) if lat is not None else None
    if index is None:
        index = _lookup_polygons(geoms, sx, sy)
    return CellRaster(index=index, bounds=tuple(float(v) for v in bounds), crs=dst)


def class_rgba(raster: CellRaster, cell_class: np.ndarray, rgba: np.ndarray) -> np.ndarray:
    """An RGBA image ``(height, width, 4)`` uint8 of per-cell classes (``-1`` transparent)."""
    palette = np.vstack([[0, 0, 0, 0], np.asarray(rgba, dtype=np.uint8)])
    return palette[raster.classes(cell_class) + 1]


def class_png(raster: CellRaster, cell_class: np.ndarray, rgba: np.ndarray) -> bytes:
    """A palette PNG of per-cell classes.

    Parameters
    ----------
    raster : CellRaster
    cell_class : numpy.ndarray of int
        Class of every cell, ``-1`` for cells not drawn (transparent).
    rgba : numpy.ndarray of uint8, shape (k, 4)
        Colour of each class; at most 255 classes.

    Returns
    -------
    bytes
        PNG data (palette image: a few bytes per pixel run, so even a
        city-sized layer is a few hundred kB).
    """
    rgba = np.asarray(rgba, dtype=np.uint8)
    if rgba.shape[0] > 255:
        raise ValueError(f"at most 255 classes can be drawn, got {rgba.shape[0]}")
    pix = raster.classes(cell_class)
    img = Image.fromarray((pix + 1).astype(np.uint8))  # "L"; putpalette makes it "P"; 0 = transparent
    palette = np.vstack([[0, 0, 0, 0], rgba])
    img.putpalette(palette[:, :3].ravel().tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG", transparency=bytes(palette[:, 3].tolist()))
    return buf.getvalue()


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for embedding an image in HTML."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
