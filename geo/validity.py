"""``shapely.is_valid`` with a shortcut for the cells of a grid.

GEOS's validity check builds a topology graph per polygon: about 1.5 us a
cell, over a second for a city's 750,000 cells. Almost all of them are
quadrilaterals. A ring of four distinct corners whose every turn has the same
strict sign is a convex quadrilateral: simple, closed and of positive area,
hence valid (with four corners the turns cannot add up to two full turns, so
a self-crossing ring always has turns of both signs). Those are answered by
one compiled pass; every other polygon, and any turn too close to straight to
be sure of its sign, goes to GEOS. The answers are GEOS's answers.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import ArrayLike

from geo.jit import kernel

__all__ = ["convex_quadrilaterals", "is_valid"]

_POLYGON = 3  # shapely.get_type_id of a Polygon
# A turn is trusted as strict when its cross product exceeds this share of
# the product of the two sides' lengths (sin of the turn angle).
_MIN_SIN = 1e-9


@kernel
def _convex_quads(xy: np.ndarray, min_sin: float) -> np.ndarray:
    """Per ring of five points (``(n, 5, 2)``), whether it is a strictly convex quadrilateral."""
    n = xy.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for k in range(n):
        if xy[k, 4, 0] != xy[k, 0, 0] or xy[k, 4, 1] != xy[k, 0, 1]:
            continue
        sign = 0
        ok = True
        for c in range(4):
            a = (c + 3) % 4
            b = (c + 1) % 4
            ux, uy = xy[k, c, 0] - xy[k, a, 0], xy[k, c, 1] - xy[k, a, 1]
            vx, vy = xy[k, b, 0] - xy[k, c, 0], xy[k, b, 1] - xy[k, c, 1]
            cross = ux * vy - uy * vx
            size = np.sqrt(ux * ux + uy * uy) * np.sqrt(vx * vx + vy * vy)
            # NaN coordinates fail these comparisons and go to GEOS
            if not (abs(cross) > min_sin * size):
                ok = False
                break
            s = 1 if cross > 0 else -1
            if sign == 0:
                sign = s
            elif s != sign:
                ok = False
                break
        out[k] = ok
    return out


def convex_quadrilaterals(rings: np.ndarray) -> np.ndarray:
    """Which closed rings of five points are strictly convex quadrilaterals (hence valid polygons).

    Parameters
    ----------
    rings : numpy.ndarray of float64, shape (n, 5, 2)
        Each polygon's only ring, closed (the fifth point repeats the first).

    Returns
    -------
    numpy.ndarray of bool
        ``True`` where the ring is sure to be a valid polygon's shell;
        ``False`` means "not shown", for GEOS to decide.
    """
    return _convex_quads(np.ascontiguousarray(rings, dtype=np.float64), _MIN_SIN)


def is_valid(geoms: ArrayLike) -> np.ndarray:
    """Whether each geometry is valid, exactly as :func:`shapely.is_valid` says.

    Parameters
    ----------
    geoms : array_like of shapely geometries

    Returns
    -------
    numpy.ndarray of bool
    """
    geoms = np.asarray(geoms, dtype=object)
    quads = np.flatnonzero((shapely.get_type_id(geoms) == _POLYGON) & (shapely.get_num_coordinates(geoms) == 5))
    out = np.zeros(geoms.size, dtype=bool)
    if quads.size:
        xy = shapely.get_coordinates(geoms[quads]).reshape(quads.size, 5, 2)
        out[quads] = convex_quadrilaterals(xy)
    rest = np.flatnonzero(~out)
    if rest.size:
        out[rest] = shapely.is_valid(geoms[rest])
    return out
