"""Centroids of polygons without holes from their coordinate arrays, as GEOS computes them.

``shapely.centroid`` followed by ``shapely.contains`` (is the centroid inside?)
took 1.3 s for the 750,000 cells of a Guangzhou-sized city. For a polygon
that is one ring, GEOS (``algorithm::Centroid``) sums, over the triangles
fanned from the ring's first vertex ``b``, twice the triangle's signed area
``a2 = (p1 - b) x (p2 - b)`` times the sum of its three corners, and returns
``sum(a2 * corners) / 3 / sum(a2)``. The kernel here does the same
operations in the same order, so every centroid is equal bit for bit
(GEOS multiplies each term by -1 for a clockwise ring; the sums are then
negated exactly and the quotient is the same).

The containment test is answered here only where it is certain: the centroid
lies on the inner side of every edge by far more than rounding could move it,
and the ring winds exactly once around it (the angles its edges subtend add
up to one turn). Then any ray from the centroid crosses the ring once, so
GEOS finds it inside. Every other polygon is left to GEOS.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo.jit import kernel

__all__ = ["shell_centroids"]

_POLYGON = 3  # shapely type id

# |cross| below this share of |edge| * |point - edge start| is "too close to call":
# rounding moves the computed cross product by ~1e-15 of that product.
_MARGIN = 1e-9


def shell_centroids(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroid of every polygon without holes, and whether it is certainly inside.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries

    Returns
    -------
    x, y : numpy.ndarray of float64
        ``shapely.get_x/get_y(shapely.centroid(geoms))`` bit for bit where
        ``inside`` is true; NaN elsewhere.
    inside : numpy.ndarray of bool
        True where the geometry is a polygon without holes, of non-zero area,
        whose centroid ``shapely.contains`` certainly reports inside. False
        means "not decided here" (another type, holes, a centroid on or near
        the boundary or outside, a ring that winds more than once): ask GEOS.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = geoms.size
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    inside = np.zeros(n, dtype=bool)
    todo = np.flatnonzero((shapely.get_type_id(geoms) == _POLYGON) & (shapely.get_num_interior_rings(geoms) == 0))
    if todo.size == 0:
        return x, y, inside
    coords, owner = shapely.get_coordinates(geoms[todo], return_index=True)
    offsets = np.zeros(todo.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=todo.size), out=offsets[1:])
    x[todo], y[todo], inside[todo] = _ring_centroids(np.ascontiguousarray(coords), offsets, _MARGIN)
    return x, y, inside


@kernel
def _ring_centroids(coords, offsets, margin):
    """GEOS's area centroid of each closed ring, and whether it is certainly inside it."""
    n = offsets.size - 1
    cx = np.full(n, np.nan)
    cy = np.full(n, np.nan)
    inside = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        lo, hi = offsets[i], offsets[i + 1]
        if hi - lo < 4:
            continue  # empty, or too few points to enclose an area
        bx, by = coords[lo, 0], coords[lo, 1]
        sx = 0.0
        sy = 0.0
        area2 = 0.0
        for j in range(lo, hi - 1):  # GEOS's order, the degenerate first triangle included
            p1x, p1y = coords[j, 0], coords[j, 1]
            p2x, p2y = coords[j + 1, 0], coords[j + 1, 1]
            a2 = (p1x - bx) * (p2y - by) - (p2x - bx) * (p1y - by)
            sx += a2 * (bx + p1x + p2x)
            sy += a2 * (by + p1y + p2y)
            area2 += a2
        if area2 == 0.0:
            continue  # GEOS falls back to the line centroid
        x = sx / 3 / area2
        y = sy / 3 / area2
        cx[i], cy[i] = x, y
        side = 1.0 if area2 > 0.0 else -1.0  # counter-clockwise: inside is to the left
        turn = 0.0
        sure = True
        for j in range(lo, hi - 1):
            ex, ey = coords[j + 1, 0] - coords[j, 0], coords[j + 1, 1] - coords[j, 1]
            px, py = x - coords[j, 0], y - coords[j, 1]
            cross = ex * py - ey * px
            if side * cross <= margin * np.hypot(ex, ey) * np.hypot(px, py):
                sure = False
                break
            qx, qy = x - coords[j + 1, 0], y - coords[j + 1, 1]
            turn += np.arctan2(side * (px * qy - py * qx), px * qx + py * qy)
        # each edge subtends an angle in (0, pi); they add up to a whole number of turns
        inside[i] = sure and turn < 3.0 * np.pi
    return cx, cy, inside
