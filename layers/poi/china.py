"""Amap (高德) and Baidu (百度) POI exports: CSV rows to facilities by a type table.

An Amap export row carries ``name``, ``typecode`` (``090100``, or several as
``090100|090101``), ``type`` (``医疗保健服务;综合医院;综合医院``) and a
``location`` of ``"lng,lat"`` in GCJ-02 (or ``lng``/``lat`` columns). A Baidu
row carries ``name``, ``tag`` (``医疗;综合医院``) and ``lng``/``lat`` (or
``location``) in BD-09. Coordinates are shifted to WGS84
(:mod:`geo.chinacoords`) unless ``coords`` says they already are.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.chinacoords import bd09_to_wgs84, gcj02_to_wgs84
from layers.errors import LayerError
from layers.kinds import CAPACITY_FIELDS, KINDS
from layers.poi.result import FACILITY_COLUMNS, PoiImport, build_report, empty_facilities
from layers.poi.tables import DEFAULT_TABLES, CodeTable, choose_kind, read_code_table
from layers.readers import LAT_NAMES, LON_NAMES, _read_table

__all__ = ["import_china_pois"]

_SHIFT = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84, "wgs84": None}
_DEFAULT_COORDS = {"amap": "gcj02", "baidu": "bd09"}
_CODE_COLUMNS = {"amap": ("typecode", "type_code", "类型编码"), "baidu": ("tag", "标签", "type", "类型")}
_LABEL_COLUMNS = {"amap": ("type", "类型"), "baidu": ()}
_NAME_COLUMNS = ("name", "名称")
_ID_COLUMNS = ("id", "uid", "poi_id")


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def import_china_pois(
    path: str | Path,
    source: str,
    table: str | Path | CodeTable | None = None,
    *,
    coords: str | None = None,
    kinds=None,
) -> PoiImport:
    """Read an Amap or Baidu POI export into a facilities layer by a type table.

    Parameters
    ----------
    path : str or pathlib.Path
        The export as CSV (UTF-8 or GB18030).
    source : {"amap", "baidu"}
    table : path or CodeTable, optional
        Default ``layers/poi_tables/amap.csv`` or ``baidu.csv``.
    coords : {"gcj02", "bd09", "wgs84"}, optional
        The export's datum; default GCJ-02 for Amap, BD-09 for Baidu.
    kinds : mapping, optional
        The kinds in force (default: the active catalogue's).

    Returns
    -------
    PoiImport
        Facilities in WGS84 and the report of every row (see :class:`PoiImport`).

    Raises
    ------
    LayerError
        An unreadable file, no type column, or an unknown ``coords``.
    """
    if source not in _DEFAULT_COORDS:
        raise LayerError(str(source), "POI source must be 'amap' or 'baidu'", field="source")
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise LayerError(str(path), "file not found")
    coords = (coords or _DEFAULT_COORDS[source]).lower().replace("-", "").replace("_", "")
    if coords not in _SHIFT:
        raise LayerError(name, f"unknown coordinates {coords!r}; use gcj02, bd09 or wgs84", field="coords")
    if not isinstance(table, CodeTable):
        table = read_code_table(table or DEFAULT_TABLES[source], source)
    kinds = KINDS if kinds is None else kinds
    frame = _read_table(path, name)
    code_col = _column(frame, _CODE_COLUMNS[source])
    if code_col is None:
        raise LayerError(name, f"no POI type column; looked for {', '.join(_CODE_COLUMNS[source])} (columns present: "
                         f"{', '.join(map(str, frame.columns))})", field=_CODE_COLUMNS[source][0])
    lon, lat = _lonlat(frame, name)
    shift = _SHIFT[coords]
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    if shift is not None and ok.any():
        lon[ok], lat[ok] = shift(lon[ok], lat[ok])
    label_col = _column(frame, _LABEL_COLUMNS[source])
    name_col, id_col = _column(frame, _NAME_COLUMNS), _column(frame, _ID_COLUMNS)
    report, rows = [], []
    for i, rec in enumerate(frame.to_dict("records")):
        code, label, entry = _entry(source, table, rec.get(code_col), rec.get(label_col) if label_col else None)
        if not ok[i]:
            report.append((code, label, "no location", ""))
            continue
        if entry is None:
            report.append((code, label, "unmapped", ""))
            continue
        kind = choose_kind(entry.kinds, kinds)
        if kind is None:
            report.append((code, label, "kind not in catalogue", "|".join(entry.kinds)))
            continue
        report.append((code, label, "mapped", kind))
        fid = str(rec[id_col]) if id_col is not None and _text(rec.get(id_col)) else f"{source}/{i + 1}"
        rows.append({"id": fid, "name": _text(rec.get(name_col)) if name_col else "", "kind": kind,
                     **{f: float("nan") for f in CAPACITY_FIELDS}, "source_type": code,
                     "geometry": shapely.Point(lon[i], lat[i])})
    facilities = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)[FACILITY_COLUMNS + ["geometry"]] if rows \
        else empty_facilities()
    return PoiImport(facilities, build_report(report), str(path), table.source)


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()


def _entry(source: str, table: CodeTable, code_value, label_value):
    """The POI's type code, its label, and the table entry of the first code that has one."""
    codes = [c.strip() for c in _text(code_value).split("|")] or [""]
    labels = [c.strip() for c in _text(label_value).split("|")]
    if source == "amap":
        # Amap writes a six-digit code; spreadsheets drop the leading zero (090100 -> 90100).
        codes = [c.zfill(6) if c.isdigit() else c for c in codes]
    for k, code in enumerate(codes):
        entry = table.lookup(code) if code else None
        if entry is not None:
            return code, labels[k] if k < len(labels) else "", entry
    return codes[0], labels[0] if labels else "", None


def _lonlat(frame: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude per row (NaN where missing or unparsable)."""
    loc = _column(frame, ("location", "坐标", "lnglat"))
    lon_col, lat_col = _column(frame, LON_NAMES), _column(frame, LAT_NAMES)
    if lon_col is not None and lat_col is not None:
        return (pd.to_numeric(frame[lon_col], errors="coerce").to_numpy(dtype=float, copy=True),
                pd.to_numeric(frame[lat_col], errors="coerce").to_numpy(dtype=float, copy=True))
    if loc is not None:
        parts = frame[loc].astype("string").str.split(",", n=1, expand=True)
        if parts.shape[1] < 2:
            parts[1] = None
        return (pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float, copy=True),
                pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float, copy=True))
    raise LayerError(source, "no coordinates: give a 'location' column of 'lng,lat' or lng and lat columns",
                     field="location")
