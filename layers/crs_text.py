"""A CRS's ``to_string()``, worked out once per CRS.

``pyproj.CRS.to_string()`` looks for an authority code first
(``to_authority(min_confidence=100)``), which searches PROJ's whole database
when the CRS has none, as the data-centred Transverse Mercator every city
built from files gets: 0.15-0.4 s per call. A ``cover`` run wrote the same
text three times (the city's meta, the city folder's manifest, summary.json).
"""

from __future__ import annotations

from pyproj import CRS

__all__ = ["crs_string"]

_KNOWN: dict[tuple[str, str], str] = {}
_MAX_KNOWN = 64


def crs_string(crs: CRS) -> str:
    """``crs.to_string()``, remembered for the process.

    Parameters
    ----------
    crs : pyproj.CRS

    Returns
    -------
    str
        The authority code (``EPSG:4547``) when PROJ knows one, else the
        definition the CRS was made from: exactly what ``to_string()`` returns.
    """
    # to_string() depends on the definition (the WKT) and, without an authority
    # code, on the text the CRS was made from (srs): both are in the key
    key = (crs.srs, crs.to_wkt())
    text = _KNOWN.get(key)
    if text is None:
        if len(_KNOWN) >= _MAX_KNOWN:
            _KNOWN.clear()
        text = _KNOWN[key] = crs.to_string()
    return text
