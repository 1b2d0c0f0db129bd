"""Reading user layers from GeoPackage, GeoJSON, Shapefile, GeoParquet and CSV.

:func:`read_layer` returns a GeoDataFrame in the file's own CRS, or in WGS84
when the data was declared in a Chinese web-map datum (GCJ-02, BD-09) and had
to be shifted. Callers reproject to the city's metric CRS. Every failure is a
:class:`layers.errors.LayerError` naming the file.

Declaring coordinates (``coords``)
----------------------------------
``"wgs84"`` (EPSG:4326), ``"cgcs2000"`` (EPSG:4490, China's geodetic datum,
within centimetres of WGS84), ``"gcj02"`` (Amap/Gaode, Tencent), ``"bd09"``
(Baidu), or any CRS pyproj understands (``"EPSG:4547"``, ``4547``).

A city's own local coordinate system (城市独立坐标系) is given as a file
holding its WKT or PROJ definition (``coords="city.prj"``).

* Vector files carry their CRS and are read in it. ``coords`` is needed only
  when the file has none (e.g. a Shapefile without ``.prj``), or to say that
  geographic coordinates labelled WGS84 are really GCJ-02/BD-09 (Amap and
  Baidu exports, and every GeoJSON, claim WGS84). A declaration that
  contradicts the file's CRS is an error naming both: a wrong guess would move
  the whole layer, so lifecircle never picks one of the two for the user.
* CSV files have no CRS: their longitude/latitude columns are taken as WGS84
  unless ``coords`` says otherwise; with a projected ``coords`` the columns
  are x/y in that CRS.

:func:`layer_coords` decides which declaration applies to which file when a
command takes one per layer plus a shorthand for every CSV.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.chinacoords import bd09_to_wgs84, gcj02_to_wgs84
from layers.errors import LayerError
from layers.validate import check_lonlat, numeric_column

__all__ = ["read_layer", "parse_coords", "layer_coords", "is_table", "check_degree_bounds", "LON_NAMES", "LAT_NAMES", "CoordsSpec"]

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
"""Column names recognised as longitude / x (case-insensitive, in this order)."""
LAT_NAMES = ("lat", "latitude", "y", "纬度")
"""Column names recognised as latitude / y (case-insensitive, in this order)."""

_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_PARQUET_SUFFIXES = {".parquet", ".geoparquet"}
# Columns whose text must survive as text ("007" is not 7).
_TEXT_COLUMNS = ("id", "cell_id", "name", "kind", "subdistrict", "community")
# Chinese datums whose data is expected inside China (used by the swap check).
_CHINESE = {"gcj02", "bd09", "cgcs2000"}
_SHIFTS = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


class CoordsSpec:
    """A parsed ``coords`` declaration: a CRS plus an optional datum shift.

    Attributes
    ----------
    crs : pyproj.CRS
        The CRS the raw numbers are in (EPSG:4326 for GCJ-02 and BD-09, whose
        numbers are degrees that still need :attr:`shift`).
    shift : str or None
        ``"gcj02"`` or ``"bd09"`` when the coordinates must be shifted to WGS84.
    chinese : bool
        Whether the declaration implies the data lies in China.
    """

    def __init__(self, crs: CRS, shift: str | None = None, chinese: bool = False, label: str | None = None):
        self.crs = crs
        self.shift = shift
        self.chinese = chinese
        self.label = label or shift or crs.to_string()


def parse_coords(coords: str | int | CRS | None, source: str = "coords") -> CoordsSpec | None:
    """Turn a ``coords`` declaration into a :class:`CoordsSpec`.

    Parameters
    ----------
    coords : str or int or pyproj.CRS or None
        See the module notes. ``None`` means "not declared".
    source : str
        For the error message.

    Returns
    -------
    CoordsSpec or None

    Raises
    ------
    LayerError
        If the declaration is not understood.
    """
    if coords is None:
        return None
    if isinstance(coords, CoordsSpec):
        return coords
    if isinstance(coords, (str, Path)):
        key = str(coords).strip().lower().replace("-", "").replace("_", "")
        if key == "wgs84":
            return CoordsSpec(CRS.from_epsg(4326), label="wgs84")
        if key == "cgcs2000":
            return CoordsSpec(CRS.from_epsg(4490), chinese=True, label="cgcs2000")
        if key in _SHIFTS:
            return CoordsSpec(CRS.from_epsg(4326), shift=key, chinese=True)
        definition = _definition_file(Path(str(coords).strip()), source)
        if definition is not None:
            return CoordsSpec(_crs_from(definition, f"the definition in {Path(coords).name}", source), label=Path(coords).name)
    return CoordsSpec(_crs_from(coords, repr(coords), source))


def _crs_from(value, what: str, source: str) -> CRS:
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise LayerError(
            source,
            f"coordinate system {what} is not understood ({exc}); use wgs84, cgcs2000, gcj02, bd09, an EPSG code "
            "or a file holding a WKT or PROJ definition",
            field="coords",
        ) from None


def _definition_file(path: Path, source: str) -> str | None:
    """The text of a CRS definition file (a city's local system as WKT or PROJ), or None if ``path`` is no file."""
    try:
        exists = path.is_file()
    except OSError:  # a long WKT or PROJ string is no file name
        return None
    if not exists:
        if path.suffix.lower() in (".prj", ".wkt", ".proj", ".txt"):
            raise LayerError(source, f"coordinate system file not found: {path}", field="coords")
        return None
    text = path.read_text(encoding="utf-8-sig").strip()
    if not text:
        raise LayerError(source, f"coordinate system file {path.name} is empty", field="coords")
    return text


def is_table(path: str | Path) -> bool:
    """Whether ``path`` is a delimited text table (CSV/TSV), whose coordinates carry no CRS."""
    return Path(path).suffix.lower() in _CSV_SUFFIXES


def layer_coords(path: str | Path, declared: str | int | CRS | None, csv_default: str | int | CRS | None):
    """The coordinate declaration that applies to one input file.

    Parameters
    ----------
    path : str or pathlib.Path
        The layer's file.
    declared : str or int or pyproj.CRS, optional
        The declaration made for this layer (``--grid-coords`` and the like).
        It always wins.
    csv_default : str or int or pyproj.CRS, optional
        The shorthand for every CSV input (``--coords``). It applies to CSV
        files only: a GIS file states its own CRS, and reinterpreting it would
        move the whole layer (a WGS84 grid read as GCJ-02 lands ~600 m away).

    Returns
    -------
    str or int or pyproj.CRS or None
    """
    if declared is not None:
        return declared
    return csv_default if is_table(path) else None


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    coords: str | int | CRS | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one layer of a GIS file or a CSV of points.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.gpkg``, ``.geojson``/``.json``, ``.shp``, ``.zip`` holding a
        Shapefile, ``.parquet``/``.geoparquet``, or ``.csv``/``.tsv``/``.txt``
        (other formats GDAL reads are tried too).
    layer : str, optional
        Layer name in a multi-layer file (GeoPackage) or the ``.shp`` member
        of a zip holding several.
    coords : str or int or pyproj.CRS, optional
        Coordinate system of the data; see the module notes.
    lon_col, lat_col : str, optional
        CSV coordinate columns; by default detected from :data:`LON_NAMES`
        and :data:`LAT_NAMES`.

    Returns
    -------
    geopandas.GeoDataFrame
        Index ``0..n-1`` in file order, CRS set; WGS84 when a GCJ-02/BD-09
        shift was applied. CSV coordinate columns are dropped (the geometry
        holds them).

    Raises
    ------
    LayerError
        Missing or empty file, unreadable file, ambiguous layer, missing
        coordinate columns, bad coordinates, no CRS where one is needed.
    """
    path = Path(path)
    source = path.name if layer is None else f"{path.name}:{layer}"
    if not path.exists():
        raise LayerError(source, f"file not found: {path}")
    if path.is_file() and path.stat().st_size == 0:
        raise LayerError(source, "the file is empty")
    spec = parse_coords(coords, source)
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return _read_csv(path, source, spec, lon_col, lat_col)
    if suffix in _PARQUET_SUFFIXES:
        gdf = _read_parquet(path, source)
    elif suffix == ".zip":
        gdf = _read_vector(_zip_member(path, layer, source), None, source)
    else:
        gdf = _read_vector(str(path), layer, source)
    return _apply_coords(gdf.reset_index(drop=True), spec, source)


# ------------------------------------------------------------------ formats
def _read_vector(target: str, layer: str | None, source: str) -> gpd.GeoDataFrame:
    try:
        layers = pyogrio.list_layers(target)
        if layer is None and len(layers) > 1:
            names = ", ".join(str(n) for n in layers[:, 0])
            raise LayerError(source, f"the file holds several layers ({names}); say which one with layer=")
        if layer is not None and layer not in set(layers[:, 0]):
            names = ", ".join(str(n) for n in layers[:, 0])
            raise LayerError(source, f"no layer named {layer!r}; the file holds: {names}")
        gdf = _read_frame(target, layer)
    except LayerError:
        raise
    except Exception as exc:  # pyogrio/GDAL raise several types for unreadable data
        raise LayerError(source, f"cannot read the file: {exc}") from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise LayerError(source, "the layer has no geometry column", field="geometry")
    return gdf


def _read_frame(target: str, layer: str | None) -> gpd.GeoDataFrame:
    """Read through pyogrio's Arrow path (about 40 % less CPU for 750,000 polygons).

    A driver or column type the Arrow path refuses is read feature by feature instead.
    """
    try:
        return gpd.read_file(target, layer=layer, engine="pyogrio", use_arrow=True)
    except Exception:  # noqa: BLE001 -- the classic reader below reports real problems
        return gpd.read_file(target, layer=layer, engine="pyogrio")


def _zip_member(path: Path, layer: str | None, source: str) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if m.lower().endswith(".shp") and not m.startswith("__MACOSX")]
    except zipfile.BadZipFile:
        raise LayerError(source, "not a valid zip archive") from None
    if layer is not None:
        members = [m for m in members if Path(m).stem == layer or m == layer]
    if not members:
        raise LayerError(source, "the zip archive holds no Shapefile (.shp)" + (f" named {layer!r}" if layer else ""))
    if len(members) > 1:
        raise LayerError(source, f"the zip archive holds several Shapefiles ({', '.join(members)}); say which one with layer=")
    return f"/vsizip/{path.resolve()}/{members[0]}"


def _read_parquet(path: Path, source: str) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(path)
    except ValueError as exc:  # geopandas: "Missing geo metadata" for plain Parquet
        raise LayerError(source, f"not a GeoParquet file: {exc}") from None
    except Exception as exc:
        raise LayerError(source, f"cannot read the file: {exc}") from None


def _read_table(path: Path, source: str) -> pd.DataFrame:
    """A CSV as a DataFrame, trying UTF-8 (with or without BOM) then GB18030."""
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    last: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            header = pd.read_csv(path, sep=sep, nrows=0, encoding=encoding)
            text = {c: str for c in header.columns if str(c).strip().lower() in _TEXT_COLUMNS}
            return pd.read_csv(path, sep=sep, encoding=encoding, dtype=text, skipinitialspace=True)
        except UnicodeDecodeError as exc:
            last = exc
        except pd.errors.EmptyDataError:
            raise LayerError(source, "the file has no header row") from None
        except pd.errors.ParserError as exc:
            raise LayerError(source, f"cannot parse the table: {exc}") from None
    raise LayerError(source, f"cannot decode the text as UTF-8 or GB18030: {last}")


def _find_column(df: pd.DataFrame, given: str | None, names: tuple[str, ...], what: str, source: str) -> str:
    columns = [str(c) for c in df.columns]
    if given is not None:
        if given in columns:
            return given
        raise LayerError(source, f"{what} column {given!r} not found (columns present: {', '.join(columns)})", field=given)
    lower = {c.strip().lower(): c for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    raise LayerError(
        source,
        f"no {what} column found; looked for {', '.join(names)} (any case). Columns present: "
        f"{', '.join(columns)}. Name it with {'lon_col' if what == 'longitude' else 'lat_col'}=",
        field=names[0],
    )


def _read_csv(path: Path, source: str, spec: CoordsSpec | None, lon_col: str | None, lat_col: str | None) -> gpd.GeoDataFrame:
    df = _read_table(path, source)
    if len(df) == 0:
        raise LayerError(source, "the layer has no records")
    lon_name = _find_column(df, lon_col, LON_NAMES, "longitude", source)
    lat_name = _find_column(df, lat_col, LAT_NAMES, "latitude", source)
    x = numeric_column(df[lon_name], source, lon_name, allow_missing=False, minimum=None)
    y = numeric_column(df[lat_name], source, lat_name, allow_missing=False, minimum=None)
    spec = spec or CoordsSpec(CRS.from_epsg(4326))
    if spec.crs.is_geographic:
        check_lonlat(x, y, source, lon_field=lon_name, lat_field=lat_name, china=spec.chinese)
    if spec.shift is not None:
        x, y = _SHIFTS[spec.shift](x, y)
    attrs = df.drop(columns=[lon_name, lat_name]).reset_index(drop=True)
    return gpd.GeoDataFrame(attrs, geometry=shapely.points(x, y), crs=spec.crs)


# ---------------------------------------------------------------- CRS logic
def _apply_coords(gdf: gpd.GeoDataFrame, spec: CoordsSpec | None, source: str) -> gpd.GeoDataFrame:
    if spec is None:
        if gdf.crs is None:
            raise LayerError(
                source,
                "the file has no coordinate reference system (e.g. a Shapefile without .prj); "
                "declare it with coords= (wgs84, cgcs2000, gcj02, bd09 or an EPSG code)",
                field="crs",
            )
    elif gdf.crs is None:
        gdf = gdf.set_crs(spec.crs)
    elif spec.shift is not None:
        # GCJ-02/BD-09 numbers are degrees in a WGS84-like frame; GeoJSON labels
        # them WGS84 by definition, so that label is expected and not a conflict.
        if not gdf.crs.is_geographic:
            raise LayerError(
                source,
                f"the file says its CRS is {_crs_name(gdf.crs)} (projected) but coords={spec.label} was declared, "
                "which is for longitude/latitude in degrees; remove the declaration or fix the file",
                field="crs",
            )
        gdf = gdf.to_crs(spec.crs)
    elif not gdf.crs.equals(spec.crs, ignore_axis_order=True):
        raise LayerError(
            source,
            f"the file says its CRS is {_crs_name(gdf.crs)} but coords={spec.label} ({_crs_name(spec.crs)}) was "
            "declared; they disagree, and guessing would move the layer. Remove the declaration to use the file's "
            "CRS, or fix the file's CRS (e.g. in QGIS: Layer > Set CRS) and read it again",
            field="crs",
        )
    if gdf.crs.is_geographic and len(gdf):
        _check_geographic(gdf, source, chinese=bool(spec and spec.chinese))
    if spec is not None and spec.shift is not None:
        geoms = shapely.transform(gdf.geometry.values, lambda xy: np.column_stack(_SHIFTS[spec.shift](xy[:, 0], xy[:, 1])))
        gdf = gdf.set_geometry(geoms, crs=CRS.from_epsg(4326))
    return gdf


def _crs_name(crs: CRS) -> str:
    """``EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E)``, or the name alone for a CRS without a code."""
    code = crs.to_epsg(min_confidence=90)
    return f"EPSG:{code} ({crs.name})" if code else repr(crs.name)


def _check_geographic(gdf: gpd.GeoDataFrame, source: str, chinese: bool) -> None:
    """Range/swap checks on every feature's bounding box, in degrees."""
    geoms = gdf.geometry.values
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return
    b = shapely.bounds(geoms)
    # Features without geometry are left to the validators; give them a
    # harmless coordinate so that row numbers stay aligned.
    b[~present] = 0.0 if not chinese else np.nanmean(b[present], axis=0)
    check_degree_bounds(b, source, chinese)


def check_degree_bounds(bounds: np.ndarray, source: str, chinese: bool = False) -> None:
    """Range and swap checks on features' bounding boxes ``(n, 4)`` in degrees.

    Raises
    ------
    LayerError
        A longitude or latitude out of range, or the two swapped (see
        :func:`layers.validate.check_lonlat`).
    """
    check_lonlat(bounds[:, 0], bounds[:, 1], source, lon_field="x", lat_field="y", china=chinese)
    check_lonlat(bounds[:, 2], bounds[:, 3], source, lon_field="x", lat_field="y")
