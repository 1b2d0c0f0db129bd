"""Point-to-segment distance and foot, operation by operation as GEOS computes them.

Compiled (numba) so that the segment-grid search of :mod:`geo.edge_grid` can
call them per candidate; the results equal ``shapely.distance`` and
``shapely.line_locate_point`` / ``line_interpolate_point`` to the last bit,
so equal distances stay equal and ties resolve as GEOS resolves them.
"""

from __future__ import annotations

import numpy as np

from geo.jit import kernel

__all__ = ["segment_distance", "segment_distances", "point_segment", "foot_on_segment", "feet"]

# The kernels below release the GIL (see geo.jit), so that
# geo.snap.snap_in_threads runs them on every core; distances round as GEOS's do.


def segment_distance(
    px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
) -> np.ndarray:
    """Point-to-segment distances, computed exactly as GEOS computes them.

    This is ``geos::algorithm::Distance::pointToSegment`` expression by
    expression (same operations in the same order), so that results equal
    ``shapely.distance`` to the last bit and equal distances stay equal.
    The arrays broadcast against each other.
    """
    px, py, ax, ay, bx, by = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (px, py, ax, ay, bx, by)))
    out = np.empty(px.shape)
    segment_distances(px.ravel(), py.ravel(), ax.ravel(), ay.ravel(), bx.ravel(), by.ravel(), out.reshape(-1))
    return out


@kernel
def point_segment(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """GEOS's ``Distance::pointToSegment`` for one point and one segment."""
    if ax == bx and ay == by:  # zero-length segment: distance to its one point
        dx, dy = px - ax, py - ay
        return np.sqrt(dx * dx + dy * dy)
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    r = ((px - ax) * dx + (py - ay) * dy) / len2
    if r <= 0.0:
        ex, ey = ax - px, ay - py
        return np.sqrt(ex * ex + ey * ey)
    if r >= 1.0:
        ex, ey = bx - px, by - py
        return np.sqrt(ex * ex + ey * ey)
    return abs(((ay - py) * dx - (ax - px) * dy) / len2) * np.sqrt(len2)


@kernel
def segment_distances(px, py, ax, ay, bx, by, out):
    for i in range(px.size):
        out[i] = point_segment(px[i], py[i], ax[i], ay[i], bx[i], by[i])


@kernel
def foot_on_segment(px, py, ax, ay, bx, by):
    """Fraction along a one-segment line and its foot, as GEOS computes them.

    ``GEOSProjectNormalized`` (``LengthIndexOfPoint`` on one segment) then
    ``GEOSInterpolateNormalized`` (``LengthLocationMap``), operation by
    operation; a zero-length line gives fraction 0 and its one point (the
    ``nan`` GEOS returns there is mapped to 0, as :func:`geo.snap.snap` does).
    """
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    seg_len = np.sqrt(len2)
    if seg_len == 0.0:
        return 0.0, ax, ay
    if px == ax and py == ay:
        r = 0.0
    elif px == bx and py == by:
        r = 1.0
    else:
        r = ((px - ax) * dx + (py - ay) * dy) / len2  # LineSegment::projectionFactor
    measure = 0.0 if r <= 0.0 else (r * seg_len if r <= 1.0 else seg_len)
    frac = min(max(measure / seg_len, 0.0), 1.0)
    along = frac * seg_len
    along = 0.0 if along <= 0.0 else along / seg_len
    if along <= 0.0:
        return frac, ax, ay
    if along >= 1.0:
        return frac, bx, by
    return frac, (bx - ax) * along + ax, (by - ay) * along + ay


@kernel
def feet(x, y, edge, seg_xy, edge_seg, frac, sx, sy):
    """:func:`foot_on_segment` of every point on the first segment of its edge."""
    for i in range(x.size):
        s = edge_seg[edge[i]]
        frac[i], sx[i], sy[i] = foot_on_segment(x[i], y[i], seg_xy[s, 0], seg_xy[s, 1], seg_xy[s, 2], seg_xy[s, 3])
