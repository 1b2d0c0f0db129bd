"""Standard XYZ (Web Mercator, 256 px) PNG tiles of cells coloured by a standard's result.

A tile is painted pixel by pixel: each pixel centre takes the colour of the
cell whose centre is nearest to it in the max-norm, if that centre lies
within half a cell side (so pixels outside the grid stay transparent). On a regular grid the
nearest centre is the cell containing the pixel, so the tile is the grid
drawn exactly; for ragged edge cells it is the grid drawn to within a pixel.
One k-d tree query of 65,536 points per tile draws it without any polygon;
the pixel-to-cell index of recent tiles is kept, so repainting a tile after
an edit (new colours, same cells) is a gather and a PNG encode.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from pyproj import Transformer
from scipy.spatial import cKDTree

from maps.style import class_colours, rgba_bytes
from scenarios.evaluate import StandardResult, band_index, band_labels
from scenarios.ratio_standards import AccessResult

__all__ = ["ACCESS_COLOURS", "CellTiler", "TILE_SIZE", "cell_classes", "class_rgba", "tile_bounds", "tile_colours"]

TILE_SIZE = 256
_R = 6378137.0
_HALF = math.pi * _R  # half the Web Mercator world width, metres
ALPHA = 0.75  # cells drawn see-through, so the street network under them stays readable


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web Mercator bounds ``(xmin, ymin, xmax, ymax)`` in metres of XYZ tile ``z/x/y``."""
    size = 2 * _HALF / (1 << z)
    xmin = -_HALF + x * size
    ymax = _HALF - y * size
    return xmin, ymax - size, xmin + size, ymax


def cell_classes(result: StandardResult, mode: str) -> tuple[np.ndarray, list[str]]:
    """Per cell, the class index to colour it by, and the class labels.

    Parameters
    ----------
    result : StandardResult
    mode : {"covered", "bands"}
        ``covered``: 0 covered, 1 not covered. ``bands``: the walk-time band
        (the standard's own bands; covered / not covered when it has none).

    Returns
    -------
    classes : numpy.ndarray of int64
    labels : list of str
    """
    labels = band_labels(result.standard) if mode == "bands" else []
    if labels:
        return band_index(result.standard, result.time_min).astype(np.int64), labels
    return np.where(result.covered, 0, 1).astype(np.int64), ["covered", "not covered"]


def class_rgba(n_classes: int, banded: bool) -> np.ndarray:
    """``(n_classes, 4)`` uint8 RGBA of the classes, the colours of the HTML maps."""
    return rgba_bytes(class_colours(n_classes if banded else 0), ALPHA)


ACCESS_COLOURS = ["#969696", "#fdae61", "#1a9850"]
"""E2SFCA classes (out of reach, under-served, served): the colours of the ratio map's accessibility layer."""


def tile_colours(result: StandardResult | AccessResult, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell class and the ``(k, 4)`` RGBA of the classes, for one tile mode.

    Parameters
    ----------
    result : StandardResult or AccessResult
        A standard's result (modes ``covered`` and ``bands``) or an E2SFCA
        accessibility result (mode ``access``: out of reach / under-served / served).
    mode : {"covered", "bands", "access"}
    """
    if mode == "access":
        return result.classes.code.astype(np.int64), rgba_bytes(ACCESS_COLOURS, ALPHA)
    classes, labels = cell_classes(result, mode)
    return classes, class_rgba(len(labels), mode == "bands" and len(labels) > 2)


def _png(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", compress_level=1)  # speed over a few bytes
    return buf.getvalue()


@dataclass
class CellTiler:
    """Cell centres of one city in Web Mercator, indexed for painting tiles.

    Build once per city with :meth:`from_city` (seconds at 750,000 cells);
    :meth:`render` is then cheap and thread-safe (read-only).
    """

    tree: cKDTree
    bounds: tuple[float, float, float, float]
    radius: float  # Web Mercator metres within which a pixel belongs to its nearest cell
    kept: int = 256  # pixel-to-cell indexes kept (256 kB each): a repaint after an edit only recolours
    _index: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_city(cls, city) -> "CellTiler":
        """Index the cells of a :class:`layers.city.City`."""
        x, y = city.cell_xy
        to_merc = Transformer.from_crs(city.crs, "EPSG:3857", always_xy=True)
        mx, my = to_merc.transform(np.asarray(x, float), np.asarray(y, float))
        pts = np.column_stack([mx, my])
        geom = city.cells.geometry
        if len(geom) and geom.iloc[0].geom_type in ("Polygon", "MultiPolygon"):
            side = float(np.sqrt(np.median(geom.area)))
        elif len(pts) > 1:
            side = float(np.median(cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=2)[0][:, 1]))
        else:
            side = 100.0
        lat = np.degrees(np.arctan(np.sinh(np.median(my) / _R))) if len(my) else 0.0
        scale = 1.0 / math.cos(math.radians(lat))  # ground metres -> Web Mercator metres here
        radius = side * scale * 0.5 * 1.03  # half a side in the max-norm, a little slack for grids turned off north
        bounds = (float(mx.min() - radius), float(my.min() - radius), float(mx.max() + radius), float(my.max() + radius))
        return cls(cKDTree(pts), bounds, radius)

    def cells_of_tile(self, z: int, x: int, y: int) -> np.ndarray:
        """``(256, 256)`` int32: the cell row painted at each pixel, ``-1`` for none (kept: do not modify)."""
        with self._lock:
            kept = self._index.get((z, x, y))
            if kept is not None:
                self._index.move_to_end((z, x, y))
                return kept
        out = self._cells_of_tile(z, x, y)
        out.flags.writeable = False
        with self._lock:
            self._index[(z, x, y)] = out
            while len(self._index) > self.kept:
                self._index.popitem(last=False)
        return out

    def _cells_of_tile(self, z: int, x: int, y: int) -> np.ndarray:
        out = np.full((TILE_SIZE, TILE_SIZE), -1, dtype=np.int32)
        xmin, ymin, xmax, ymax = tile_bounds(z, x, y)
        bx0, by0, bx1, by1 = self.bounds
        if xmax < bx0 or xmin > bx1 or ymax < by0 or ymin > by1:
            return out
        step = (xmax - xmin) / TILE_SIZE
        cx = xmin + (np.arange(TILE_SIZE) + 0.5) * step
        cy = ymax - (np.arange(TILE_SIZE) + 0.5) * step
        # only the pixels over the grid's bounds are looked up
        cols = np.flatnonzero((cx >= bx0) & (cx <= bx1))
        rows = np.flatnonzero((cy >= by0) & (cy <= by1))
        if not len(cols) or not len(rows):
            return out
        gx, gy = np.meshgrid(cx[cols], cy[rows])
        # max-norm: the nearest centre is the square holding the pixel, and edges stay straight (not round)
        dist, idx = self.tree.query(np.column_stack([gx.ravel(), gy.ravel()]), p=np.inf, distance_upper_bound=self.radius)
        idx = np.where(np.isfinite(dist), idx, -1).reshape(len(rows), len(cols))
        out[np.ix_(rows, cols)] = idx
        return out

    def tiles_of(self, cells: np.ndarray, z: int) -> np.ndarray:
        """``(k, 2)`` int: the distinct ``(x, y)`` of the zoom-``z`` tiles the given cell rows paint pixels in."""
        pts = self.tree.data[np.asarray(cells, dtype=np.int64)]
        if not len(pts):
            return np.empty((0, 2), dtype=np.int64)
        n = 1 << z
        size = 2 * _HALF / n
        found = []
        # a cell paints within ``radius`` of its centre: the tiles of its box's four corners hold all of it
        for dx in (-self.radius, self.radius):
            for dy in (-self.radius, self.radius):
                tx = np.floor((pts[:, 0] + dx + _HALF) / size)
                ty = np.floor((_HALF - (pts[:, 1] + dy)) / size)
                found.append(np.column_stack([tx, ty]))
        tiles = np.unique(np.clip(np.concatenate(found), 0, n - 1).astype(np.int64), axis=0)
        return tiles

    def render(self, z: int, x: int, y: int, classes: np.ndarray, rgba: np.ndarray) -> bytes:
        """A PNG tile painting cell ``i`` in ``rgba[classes[i]]`` (transparent off the grid).

        Parameters
        ----------
        z, x, y : int
            XYZ tile address (Web Mercator, y down).
        classes : numpy.ndarray of int
            Per cell, a row of ``rgba``; negative: not drawn.
        rgba : numpy.ndarray
            ``(k, 4)`` uint8 colours.
        """
        cell = self.cells_of_tile(z, x, y)
        img = np.zeros((TILE_SIZE, TILE_SIZE, 4), dtype=np.uint8)
        hit = cell >= 0
        if hit.any():
            k = classes[cell[hit]]
            ok = k >= 0
            sub = np.zeros((int(hit.sum()), 4), dtype=np.uint8)
            sub[ok] = rgba[k[ok]]
            img[hit] = sub
        return _png(img)
