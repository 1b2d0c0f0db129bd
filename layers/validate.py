"""Checking user layers and turning them into the shapes a City expects.

Every check raises :class:`layers.errors.LayerError` naming the file, the row
(1-based, in file order) and the field, or issues a
:class:`layers.errors.LayerWarning` when the problem could be repaired.

Decisions documented here:

* Facilities without an ``id`` column get ids ``f1, f2, ...`` (by row) and a
  warning; a missing ``name`` defaults to the id. ``kind`` is required and is
  matched case-insensitively against :data:`layers.kinds.KINDS` keys or their
  Chinese labels.
* Grid cells without ``elderly`` get ``population * DEFAULT_ELDERLY_SHARE``
  and a warning. Cells without ``cell_id`` get ``c1, c2, ...`` silently (ids
  of cells are only labels).
* Invalid polygons are repaired with :func:`shapely.make_valid` and counted in
  a warning; anything that is not polygonal after repair is an error.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.chinacoords import CHINA_BOX
from geo.validity import is_valid
from layers.areas import area_access_points
from layers.errors import LayerError, describe_rows, warn_layer
from layers.kinds import KINDS, capacity_fields

__all__ = [
    "DEFAULT_ELDERLY_SHARE",
    "validate_facilities",
    "validate_grid",
    "check_lonlat",
    "check_overlap",
    "require_columns",
    "numeric_column",
]

DEFAULT_ELDERLY_SHARE = 0.187
"""Share of residents aged 60+ used when a grid has no ``elderly`` column.

18.70 % is mainland China's figure in the Seventh National Population Census
(2020, National Bureau of Statistics communique no. 5). Supply a real column
wherever one exists: local shares range from under 10 % to over 30 %.
"""

_POLYGONAL = ("Polygon", "MultiPolygon")


def _rows(mask: np.ndarray) -> np.ndarray:
    """1-based row numbers where ``mask`` is true."""
    return np.flatnonzero(mask) + 1


def _fail_rows(mask: np.ndarray, source: str, field: str, describe) -> None:
    """Raise a LayerError at the first row where ``mask`` holds.

    ``describe(i)`` words the problem for 0-based position ``i``; the message
    ends with the list of all affected rows.
    """
    rows = _rows(mask)
    raise LayerError(source, f"{describe(rows[0] - 1)} (rows {describe_rows(rows)})", field=field, row=int(rows[0]))


def require_columns(df: pd.DataFrame, columns: tuple[str, ...] | list[str], source: str) -> None:
    """Raise if any of ``columns`` is missing, listing the columns present."""
    for col in columns:
        if col not in df.columns:
            present = ", ".join(str(c) for c in df.columns if c != "geometry") or "none"
            raise LayerError(source, f"required column is missing (columns present: {present})", field=col)


def _require_rows(df: pd.DataFrame, source: str) -> None:
    if len(df) == 0:
        raise LayerError(source, "the layer has no records")


def numeric_column(
    values: pd.Series,
    source: str,
    field: str,
    *,
    labels: pd.Series | None = None,
    allow_missing: bool = True,
    minimum: float | None = 0.0,
) -> np.ndarray:
    """Parse a column as float64, raising on text, missing or too-small values.

    Parameters
    ----------
    values : pandas.Series
        The raw column (numbers or text such as ``"12"``).
    source, field : str
        For error messages.
    labels : pandas.Series, optional
        Record labels (e.g. facility ids) to quote in messages.
    allow_missing : bool, default True
        Whether empty cells (NaN, ``""``) are allowed; they become NaN.
    minimum : float or None, default 0
        Smallest allowed value.

    Returns
    -------
    numpy.ndarray of float64
    """
    raw = values.reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype):
        # numbers are never blank text: no per-value string conversion
        parsed = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        blank = pd.Series(np.isnan(parsed))
    else:
        blank = raw.isna() | (raw.astype(str).str.strip() == "")
        parsed = pd.to_numeric(raw.where(~blank), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def fail(mask: np.ndarray, problem: str) -> None:
        rows = _rows(mask)
        first = rows[0] - 1
        who = f"{labels.iloc[first]!r}: " if labels is not None else ""
        more = f" (also rows {describe_rows(rows[1:])})" if rows.size > 1 else ""
        raise LayerError(source, f"{who}{problem.format(value=raw.iloc[first])}{more}", field=field, row=int(rows[0]))

    bad_text = ~blank.to_numpy() & ~np.isfinite(parsed)
    if bad_text.any():
        fail(bad_text, "value {value!r} is not a finite number")
    if not allow_missing and blank.any():
        fail(blank.to_numpy(), "value is missing")
    if minimum is not None:
        low = np.isfinite(parsed) & (parsed < minimum)
        if low.any():
            fail(low, f"value {{value}} is below the minimum {minimum:g}")
    return parsed


def _check_geometry(gdf: gpd.GeoDataFrame, source: str, allowed: tuple[str, ...], what: str) -> None:
    geoms = gdf.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        _fail_rows(missing, source, "geometry", lambda r: "geometry is missing or empty")
    types = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"])
    # compare type ids, not names: no string array per geometry
    bad = ~np.isin(types, np.flatnonzero(np.isin(names, allowed)))
    if bad.any():
        found = ", ".join(sorted(set(names[types[bad]])))
        _fail_rows(bad, source, "geometry", lambda r: f"{what} must be {' or '.join(allowed)} geometries, found {found}")


def _ids(values: pd.Series | None, n: int, prefix: str, source: str, field: str) -> pd.Series:
    """Unique string ids: the column as text, or ``prefix + row`` when absent."""
    if values is None:
        return pd.Series([f"{prefix}{i + 1}" for i in range(n)], dtype=object)
    ids = values.reset_index(drop=True)
    text = _id_texts(ids)
    blank = ids.isna().to_numpy() | (text == "")
    if blank.any():
        _fail_rows(blank, source, field, lambda r: "id is empty")
    ids = pd.Series(text, dtype=object)
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        first = ids[dup].iloc[0]
        rows = _rows((ids == first).to_numpy())
        raise LayerError(source, f"id {first!r} is used by more than one record (rows {describe_rows(rows)})", field=field, row=int(rows[1]))
    return ids.astype(object)


def _id_texts(ids: pd.Series) -> np.ndarray:
    """:func:`_id_text` of every value, as an object array; vectorised for the usual dtypes.

    Integers and integral floats print as integers, text is stripped; values
    of other kinds go through :func:`_id_text` one by one. Missing values
    come out as ``"nan"`` (the caller reports them from ``isna``).
    """
    dtype = ids.dtype
    if pd.api.types.is_integer_dtype(dtype) and not ids.isna().any():
        return ids.to_numpy(dtype=np.int64).astype(str).astype(object)
    if pd.api.types.is_float_dtype(dtype):
        v = ids.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(v) & (np.abs(v) < 2**53) & (v == np.round(v))
        out = np.empty(v.size, dtype=object)
        out[whole] = v[whole].astype(np.int64).astype(str)
        rest = np.flatnonzero(~whole)
        out[rest] = [_id_text(float(x)) for x in v[rest]]
        return out
    if pd.api.types.is_string_dtype(dtype) and pd.api.types.infer_dtype(ids, skipna=True) in ("string", "empty"):
        return ids.str.strip().to_numpy(dtype=object, na_value="nan")
    return np.array([_id_text(v) for v in ids], dtype=object)


def _id_text(value) -> str:
    # Spreadsheets turn 7 into 7.0; an id read that way should still be "7".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _kinds(values: pd.Series, source: str, kinds=None) -> pd.Series:
    kinds = KINDS if kinds is None else kinds  # the active catalogue's kinds unless given
    lookup = {k.lower(): k for k in kinds}
    lookup.update({v["zh"]: k for k, v in kinds.items()})
    text = values.reset_index(drop=True).astype("string").str.strip()
    mapped = text.str.lower().map(lookup)
    bad = mapped.isna().to_numpy()
    if bad.any():
        valid = ", ".join(kinds)
        _fail_rows(bad, source, "kind", lambda r: f"unknown kind {text.iloc[r]!r}; valid kinds are: {valid}")
    return mapped.astype(object)


def validate_facilities(gdf: gpd.GeoDataFrame, source: str, kinds=None) -> gpd.GeoDataFrame:
    """Check a facilities layer and return it in the City's shape.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Points with at least a ``kind`` column; optional ``id``, ``name`` and
        capacity columns (:data:`layers.kinds.CAPACITY_FIELDS`).
    source : str
        File or layer name for messages.
    kinds : mapping of str to layers.kinds.Kind, optional
        Valid kinds (a catalogue's); default the active catalogue's. Polygons
        of polygon kinds become access points on their edge (layers.areas).

    Returns
    -------
    geopandas.GeoDataFrame
        Index ``0..k-1``; columns ``id`` (str, unique), ``name``, ``kind``,
        ``beds``, ``doctors``, ``floor_area_m2`` (float, NaN when unknown),
        any other columns of the input, then ``geometry``. Same CRS.

    Raises
    ------
    LayerError
        Empty layer, missing ``kind``, unknown kind, non-point or missing
        geometry, empty or duplicate ids, capacities that are not numbers
        or are negative.
    """
    _require_rows(gdf, source)
    require_columns(gdf, ["kind"], source)
    gdf = area_access_points(gdf.reset_index(drop=True), kinds)
    _check_geometry(gdf, source, ("Point",), "facilities")
    if "id" in gdf.columns:
        ids = _ids(gdf["id"], len(gdf), "f", source, "id")
    else:
        ids = _ids(None, len(gdf), "f", source, "id")
        warn_layer(source, f"no 'id' column; generated ids f1..f{len(gdf)} from the row numbers", field="id", count=len(gdf))
    kind_ids = _kinds(gdf["kind"], source, kinds)
    if "name" in gdf.columns:
        names = gdf["name"].astype(object).where(gdf["name"].notna() & (gdf["name"].astype(str).str.strip() != ""), ids)
    else:
        names = ids.copy()
    out = {"id": ids, "name": names.astype(str), "kind": kind_ids}
    for col in capacity_fields(kinds):
        if col in gdf.columns:
            out[col] = numeric_column(gdf[col], source, col, labels=ids)
        else:
            out[col] = np.full(len(gdf), np.nan)
    extra = [c for c in gdf.columns if c not in out and c != gdf.geometry.name]
    frame = pd.DataFrame(out)
    for c in extra:
        frame[c] = gdf[c].to_numpy()
    return gpd.GeoDataFrame(frame, geometry=gdf.geometry.values, crs=gdf.crs)


def _repair_polygons(gdf: gpd.GeoDataFrame, source: str) -> np.ndarray:
    values = gdf.geometry.values
    invalid = ~is_valid(values)
    if not invalid.any():
        return values  # nothing to repair: no copy of the layer
    geoms = values.copy()
    # method="structure" rebuilds rings into valid polygons and drops
    # collapsed parts, so a bow-tie becomes two triangles, not lines.
    geoms[invalid] = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
    warn_layer(
        source,
        f"{invalid.sum()} invalid polygons were repaired with make_valid (rows {describe_rows(_rows(invalid))})",
        field="geometry",
        count=int(invalid.sum()),
    )
    return geoms


def validate_grid(
    gdf: gpd.GeoDataFrame, source: str, *, elderly_share: float = DEFAULT_ELDERLY_SHARE, proven_valid: bool = False
) -> gpd.GeoDataFrame:
    """Check a population layer (grid cells or any polygons).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons with a ``population`` column; optional ``elderly``,
        ``cell_id``, ``subdistrict``, ``community``.
    source : str
        File or layer name for messages.
    elderly_share : float, default :data:`DEFAULT_ELDERLY_SHARE`
        Share used to estimate ``elderly`` when the column is absent.
    proven_valid : bool, default False
        The caller has shown every polygon valid (as
        :func:`layers.plain_polygons.read_plain_polygons` does for grid
        cells), so the validity check and repair are skipped.

    Returns
    -------
    geopandas.GeoDataFrame
        Index ``0..n-1``; columns ``cell_id`` (str), ``population``,
        ``elderly`` (float), any other input columns, ``geometry``
        (valid polygons). Same CRS.

    Raises
    ------
    LayerError
        Empty layer, missing ``population``, population or elderly missing,
        non-numeric or negative, elderly above population, non-polygon or
        missing geometry, duplicate cell ids.
    """
    _require_rows(gdf, source)
    require_columns(gdf, ["population"], source)
    gdf = gdf.reset_index(drop=True)
    _check_geometry(gdf, source, _POLYGONAL, "population cells")
    ids = _ids(gdf["cell_id"] if "cell_id" in gdf.columns else None, len(gdf), "c", source, "cell_id")
    pop = numeric_column(gdf["population"], source, "population", allow_missing=False)
    if "elderly" in gdf.columns:
        elderly = numeric_column(gdf["elderly"], source, "elderly", allow_missing=False)
        above = elderly > pop * (1 + 1e-9) + 1e-9
        if above.any():
            _fail_rows(above, source, "elderly", lambda r: f"elderly {elderly[r]:g} exceeds population {pop[r]:g}")
    else:
        elderly = pop * elderly_share
        warn_layer(
            source,
            f"no 'elderly' column; estimated as {elderly_share:.1%} of population (national census share)",
            field="elderly",
            count=len(gdf),
        )
    # proven_valid: the caller showed every polygon valid (layers.plain_polygons: convex quadrilaterals)
    geoms = gdf.geometry.values if proven_valid else _repair_polygons(gdf, source)
    if geoms is not gdf.geometry.values:  # repaired: check what make_valid made
        _check_geometry(gpd.GeoDataFrame(geometry=geoms), source, _POLYGONAL, "population cells (after repair)")
    frame = pd.DataFrame({"cell_id": ids, "population": pop, "elderly": elderly})
    for c in gdf.columns:
        if c not in frame.columns and c != gdf.geometry.name:
            frame[c] = gdf[c].to_numpy()
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=gdf.crs)


def check_lonlat(
    lon: np.ndarray,
    lat: np.ndarray,
    source: str,
    *,
    lon_field: str = "lon",
    lat_field: str = "lat",
    china: bool = False,
) -> None:
    """Check longitude/latitude values: finite, in range and not swapped.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        Degrees, one per record.
    source, lon_field, lat_field : str
        For messages.
    china : bool, default False
        The data is declared in a Chinese datum (GCJ-02, BD-09, CGCS2000), so
        it is expected inside China; then data that lies outside China but
        would lie inside with the columns exchanged is reported as swapped
        (everywhere in China longitude exceeds latitude).

    Raises
    ------
    LayerError
        Missing or non-finite values, latitude outside [-90, 90] (flagged as
        swapped when the longitude column holds valid latitudes), longitude
        outside [-180, 180], or a swapped/outside-China Chinese dataset.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    for values, field in ((lon, lon_field), (lat, lat_field)):
        bad = ~np.isfinite(values)
        if bad.any():
            _fail_rows(bad, source, field, lambda r: "coordinate is missing or not a number")
    if max(np.abs(lon).max(initial=0), np.abs(lat).max(initial=0)) > 1000:
        # Degrees never exceed 180; numbers this large are projected metres.
        big = (np.abs(lon) > 180) | (np.abs(lat) > 90)
        _fail_rows(
            big,
            source,
            lon_field,
            lambda r: f"coordinates ({lon[r]:g}, {lat[r]:g}) are not degrees but look like projected metres; "
            "declare the CRS with coords='EPSG:...'",
        )
    bad_lat = np.abs(lat) > 90
    if bad_lat.any():
        hint = ""
        if np.all(np.abs(lon) <= 90) and np.all(np.abs(lat) <= 180):
            hint = f"the columns look swapped ('{lat_field}' holds longitudes, '{lon_field}' latitudes): "
        _fail_rows(bad_lat, source, lat_field, lambda r: f"{hint}latitude {lat[r]:g} is out of range [-90, 90]")
    bad_lon = np.abs(lon) > 180
    if bad_lon.any():
        _fail_rows(bad_lon, source, lon_field, lambda r: f"longitude {lon[r]:g} is out of range [-180, 180]")
    if china and lon.size:
        x0, y0, x1, y1 = CHINA_BOX
        inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
        if not inside.any():
            swapped = (lat >= x0) & (lat <= x1) & (lon >= y0) & (lon <= y1)
            if swapped.all():
                problem = (
                    f"no point lies in China but all would with longitude and latitude exchanged; "
                    f"the columns '{lon_field}' and '{lat_field}' look swapped"
                )
            else:
                problem = (
                    f"the data is declared in a Chinese coordinate system but no point lies in China "
                    f"(first point: lon {lon[0]:g}, lat {lat[0]:g})"
                )
            raise LayerError(source, problem, field=lon_field)
        if not inside.all():
            rows = _rows(~inside)
            warn_layer(
                source,
                f"{(~inside).sum()} points lie outside China and were not shifted (rows {describe_rows(rows)})",
                field=lon_field,
                count=int((~inside).sum()),
            )


def check_overlap(
    layer_bounds: tuple[float, float, float, float],
    network_bounds: tuple[float, float, float, float],
    source: str,
) -> None:
    """Raise if a layer's bounding box does not meet the network's.

    Parameters
    ----------
    layer_bounds, network_bounds : tuple of 4 floats
        ``(minx, miny, maxx, maxy)`` in the same CRS.
    source : str
        The layer's name for the message.

    Raises
    ------
    LayerError
        When the boxes are disjoint: the layer is somewhere else (wrong CRS
        declared, swapped columns, wrong city).
    """
    ax0, ay0, ax1, ay1 = (float(b) for b in layer_bounds)
    bx0, by0, bx1, by1 = (float(b) for b in network_bounds)
    if ax1 < bx0 or bx1 < ax0 or ay1 < by0 or by1 < ay0:
        gap = max(bx0 - ax1, ax0 - bx1, by0 - ay1, ay0 - by1, 0.0)
        raise LayerError(
            source,
            f"the layer does not overlap the walking network: layer bounds "
            f"({ax0:.0f}, {ay0:.0f}, {ax1:.0f}, {ay1:.0f}), network bounds "
            f"({bx0:.0f}, {by0:.0f}, {bx1:.0f}, {by1:.0f}), at least {gap:.0f} apart; "
            f"check the declared coordinate system and the lon/lat columns",
        )
