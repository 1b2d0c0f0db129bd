"""Conversions between WGS84 and the Chinese web-map datums GCJ-02 and BD-09.

Maps published in mainland China (Amap/Gaode, Tencent, Google Maps China) use
**GCJ-02**, WGS84 shifted by a deliberately obfuscated, non-linear offset of
typically 100-700 m. Baidu Maps adds a second offset on top, **BD-09**. Point
data copied from these services (POI lists, geocoder output) must be shifted
back to WGS84 before it can be combined with OpenStreetMap or surveyed data.

The forward GCJ-02 formula is the widely published one (Krasovsky ellipsoid
constants ``a = 6378245``, ``ee = 0.00669342162296594323``); BD-09 is the
published rotation/scale on top of GCJ-02. Neither has a closed-form inverse:
:func:`gcj02_to_wgs84` iterates the forward transform to a fixed point (the
offset varies slowly, so each step gains about three orders of magnitude) and
is exact to well below a millimetre.

Out-of-China rule
-----------------
GCJ-02 only shifts points inside mainland China. Like the reference
implementations (coordtransform, eviltransform) we use the rectangle
``72.004 <= lon <= 137.8347`` and ``0.8293 <= lat <= 55.8271``: points outside
it are returned unchanged by every function here, including the BD-09 ones
(Baidu's offsets are only defined for Chinese map data). The rectangle also
covers some neighbouring countries; data there that really is WGS84 should
simply not be declared as GCJ-02/BD-09. For the inverse transforms the test is
applied to the *given* (shifted) coordinate, as the reference libraries do.

All functions take and return ``(lon, lat)`` in degrees as numpy arrays (scalars
are accepted and broadcast) and are fully vectorised.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "in_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
]

# Krasovsky 1940 ellipsoid, as used by the published GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09's angular perturbation constant (pi * 3000 / 180).
_X_PI = np.pi * 3000.0 / 180.0

CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)
"""``(min_lon, min_lat, max_lon, max_lat)`` outside which nothing is shifted."""

# Fixed-point iteration of the inverse stops when the forward transform of the
# estimate reproduces the input to this many degrees (1e-11 deg ~ 1 micrometre).
_INVERSE_TOL_DEG = 1e-11
_INVERSE_MAX_ITER = 30


def _as_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return lon.copy(), lat.copy()


def in_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Whether points fall in the rectangle where GCJ-02 applies a shift.

    Parameters
    ----------
    lon, lat : array_like
        Degrees.

    Returns
    -------
    numpy.ndarray of bool
    """
    lon, lat = _as_arrays(lon, lat)
    x0, y0, x1, y1 = CHINA_BOX
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset ``(dlon, dlat)`` in degrees at WGS84 position ``(lon, lat)``."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    # The raw values are metres on the Krasovsky ellipsoid; turn them into degrees.
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS84 coordinates to GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        GCJ-02 degrees; points outside China are returned unchanged.
    """
    lon, lat = _as_arrays(lon, lat)
    inside = in_china(lon, lat)
    dlon, dlat = _gcj_offset(lon[inside], lat[inside])
    lon[inside] += dlon
    lat[inside] += dlat
    return lon, lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Shift GCJ-02 coordinates back to WGS84 (iterative exact inverse).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        WGS84 degrees such that :func:`wgs84_to_gcj02` reproduces the input to
        about 1e-11 degrees (micrometres). Points outside China are unchanged.

    Notes
    -----
    Fixed-point iteration ``w <- w - (gcj(w) - g)`` starting from ``w = g``.
    The offset's derivative is of order 1e-5, so the error shrinks by about
    that factor per step; two or three steps suffice in practice.
    """
    glon, glat = _as_arrays(lon, lat)
    shape = glon.shape
    glon, glat = glon.ravel(), glat.ravel()
    out_lon, out_lat = glon.copy(), glat.copy()
    todo = np.flatnonzero(in_china(glon, glat))

    def to_gcj(wlon, wlat):
        dlon, dlat = _gcj_offset(wlon, wlat)
        return wlon + dlon, wlat + dlat

    out_lon[todo], out_lat[todo] = _fixed_point_inverse(to_gcj, glon[todo], glat[todo], glon[todo], glat[todo])
    return out_lon.reshape(shape), out_lat.reshape(shape)


def _fixed_point_inverse(forward, lon, lat, target_lon, target_lat) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x) = target`` by ``x <- x - (forward(x) - target)``, from ``(lon, lat)``.

    Converges when ``forward`` is the identity plus a slowly varying offset
    (the GCJ-02 and BD-09 shifts: their derivatives are ~1e-5). Each point
    stops once it reproduces its target to :data:`_INVERSE_TOL_DEG`.
    """
    lon, lat = np.array(lon, dtype=np.float64), np.array(lat, dtype=np.float64)
    todo = np.arange(lon.size)
    for _ in range(_INVERSE_MAX_ITER):
        if todo.size == 0:
            break
        flon, flat = forward(lon[todo], lat[todo])
        err_lon, err_lat = flon - target_lon[todo], flat - target_lat[todo]
        lon[todo] -= err_lon
        lat[todo] -= err_lat
        # only points that have not converged are iterated again
        todo = todo[(np.abs(err_lon) > _INVERSE_TOL_DEG) | (np.abs(err_lat) > _INVERSE_TOL_DEG)]
    return lon, lat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 coordinates to Baidu's BD-09.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        BD-09 degrees; points outside China are unchanged.
    """
    lon, lat = _as_arrays(lon, lat)
    inside = in_china(lon, lat)
    x, y = lon[inside], lat[inside]
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    lon[inside] = z * np.cos(theta) + 0.0065
    lat[inside] = z * np.sin(theta) + 0.006
    return lon, lat


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu BD-09 coordinates to GCJ-02.

    This is the published closed-form inverse, which undoes
    :func:`gcj02_to_bd09` only to a few decimetres; :func:`bd09_to_wgs84`
    refines it by iteration.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        GCJ-02 degrees; points outside China are unchanged.
    """
    lon, lat = _as_arrays(lon, lat)
    inside = in_china(lon, lat)
    x, y = lon[inside] - 0.0065, lat[inside] - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    lon[inside] = z * np.cos(theta)
    lat[inside] = z * np.sin(theta)
    return lon, lat


def _bd09_to_gcj02_exact(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> GCJ-02: the closed form refined by fixed-point iteration of the forward formula."""
    blon, blat = _as_arrays(lon, lat)
    shape = blon.shape
    blon, blat = blon.ravel(), blat.ravel()
    glon, glat = _fixed_point_inverse(gcj02_to_bd09, *bd09_to_gcj02(blon, blat), blon, blat)
    return glon.reshape(shape), glat.reshape(shape)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 coordinates to Baidu's BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat : array_like
        WGS84 degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        BD-09 degrees; points outside China are unchanged.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu BD-09 coordinates to WGS84 (exact iterative inverse).

    Parameters
    ----------
    lon, lat : array_like
        BD-09 degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        WGS84 degrees such that :func:`wgs84_to_bd09` reproduces the input to
        about 1e-11 degrees. Points outside China are unchanged.
    """
    return gcj02_to_wgs84(*_bd09_to_gcj02_exact(lon, lat))
