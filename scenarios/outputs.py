"""Write a run to an output folder: GeoPackage, CSV and JSON (coverage, ratio tables, siting)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa

from geo.crs import WGS84
from geo.errors import LifecircleError
from layers.atomic import atomic_path, write_atomic
from layers.crs_text import crs_string
from layers.forked import forked
from layers.polygon_arrays import to_crs
from scenarios.evaluate import CoverageResult, Progress
from scenarios.gpkg_layer import write_gpkg_layer
from scenarios.json_text import dumps_indented
from scenarios.ratio_standards import RatioReport
from scenarios.service_area_layer import standard_service_areas

if TYPE_CHECKING:  # scenarios.siting_result imports this module: the type is for annotations only
    from scenarios.diagnostics import CityDiagnostics, DetourReport
    from scenarios.siting_result import CitySiting

__all__ = [
    "OUTPUT_FORMATS",
    "OutputFormatError",
    "jsonable",
    "summary_document",
    "write_outputs",
    "write_ratio_tables",
    "write_siting",
    "write_diagnostics",
]

OUTPUT_FORMATS = ("gpkg", "parquet")
"""Formats of the map layers: one GeoPackage, or one GeoParquet file per layer."""


class OutputFormatError(LifecircleError):
    """An output format that is not one of :data:`OUTPUT_FORMATS`."""



_PLAIN = frozenset({str, int, bool, type(None)})
"""Types :func:`jsonable` returns unchanged (exact types: numpy's subclasses are converted)."""


def jsonable(value: Any) -> Any:
    """The value as JSON-ready data: numpy scalars become Python ones, NaN/inf become ``None``.

    Parameters
    ----------
    value : any
        A scalar, or mappings/sequences/arrays of them (converted recursively;
        mapping keys become str).

    Returns
    -------
    any
        Data :func:`json.dumps` writes as strict JSON.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        # a gap's cell ids (up to 700,000) without a call per id: nothing to convert, or numpy's integers in C
        if isinstance(value, np.ndarray):
            if value.ndim == 1 and value.dtype.kind in "iub":
                return value.tolist()
        elif set(map(type, value)) <= _PLAIN:
            return list(value)
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def summary_document(result: CoverageResult) -> dict:
    """The run summary as a JSON-ready dict: city provenance and one entry per standard."""
    city = result.city
    standards = []
    for r in result.results.values():
        entry = {k: jsonable(v) for k, v in r.summary().items()}
        entry["largest_gaps"] = [
            {k: jsonable(v) for k, v in row.items() if k != "geometry"}
            for row in r.clusters.drop(columns="geometry").head(5).to_dict("records")
        ]
        standards.append(entry)
    return {
        "city": city.name,
        "generated": city.generated,
        "population_estimated": city.population_estimated,
        "attribution": city.attribution,
        "crs": crs_string(city.crs),
        "cells": len(city.cells),
        "facilities": len(city.facilities),
        "population": jsonable(city.cells["population"].sum()),
        "elderly": jsonable(city.cells["elderly"].sum()),
        "standards": standards,
    }


def _text_columns(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Object columns as text (lists of cell ids, mixed values): GeoPackage has no list type."""
    # Columns of text and missing values (facility ids, band labels) go to
    # Arrow as they are; only the rest are stringified, value by value.
    mixed = [
        c
        for c in frame.columns
        if c != frame.geometry.name
        and frame[c].dtype == object
        and pd.api.types.infer_dtype(frame[c], skipna=True) not in ("string", "empty")
    ]
    if not mixed:
        return frame  # no copy: the cells layer of a city is hundreds of MB
    return frame.assign(**{c: frame[c].map(lambda v: v if v is None or isinstance(v, str) else str(v)) for c in mixed})


def _write_layer(frame: gpd.GeoDataFrame, path: Path, name: str, wkb: pa.Array | None = None) -> None:
    """Append one layer to the GeoPackage in WGS84.

    Written through pyogrio's Arrow path (:func:`scenarios.gpkg_layer.write_gpkg_layer`:
    polygon layers reprojected and encoded as flat arrays, the same file as
    ``write_dataframe(frame.to_crs(WGS84))``).
    """
    write_gpkg_layer(_text_columns(frame), path, name, wkb)


def _write_parquet(frame: gpd.GeoDataFrame, path: Path) -> None:
    """One layer as a GeoParquet file in WGS84 (read directly by QGIS and geopandas).

    Reprojected through :func:`layers.polygon_arrays.to_crs` (``to_crs``'s coordinates bit
    for bit, a third of its time on a city's cells).
    """
    frame = to_crs(_text_columns(frame), WGS84)
    frame.to_parquet(path, index=False, compression="zstd", write_covering_bbox=True)


def write_outputs(
    result: CoverageResult,
    out_dir: str | os.PathLike,
    *,
    service_areas: bool = True,
    ratios: RatioReport | None = None,
    progress: Progress | None = None,
    format: str = "gpkg",  # noqa: A002 (the CLI's --format)
    diagnostics: tuple[CityDiagnostics, DetourReport] | None = None,
    background: bool = False,
    meanwhile: Callable[[], Mapping[str, Path]] | None = None,
    cells_wkb: Callable[[], pa.Array | None] | None = None,
) -> dict[str, Path]:
    """Write ``coverage.gpkg`` (or GeoParquet layers), ``summary.csv`` and ``summary.json``.

    The GeoPackage (in WGS84, so any GIS opens it without setup) holds the
    layers ``cells`` (per-standard results), ``facilities`` (with the weight
    each serves), ``uncovered_clusters`` and, unless disabled,
    ``service_areas`` (straight-line circles for radius standards, walking
    service areas for network standards). With ``format="parquet"`` each of
    those layers is its own GeoParquet file in WGS84, ``<layer>.parquet``.

    Parameters
    ----------
    result : CoverageResult
    out_dir : path-like
        Created if missing.
    service_areas : bool, default True
    ratios : RatioReport, optional
        Ratio rules and accessibility: adds the per-cell accessibility columns
        to ``cells``, one layer ``units_<level>`` per unit level with the
        rules' status and shortfall, and ``ratios.csv`` / ``access.csv``.
    progress : callable, optional
        ``progress(step, fraction)`` as each layer is prepared and written.
    format : {"gpkg", "parquet"}, default "gpkg"
        One GeoPackage, or one GeoParquet file per layer.
    diagnostics : (CityDiagnostics, DetourReport), optional
        From :mod:`scenarios.diagnostics`: the cells layer gains ``piece``,
        ``street_m``, ``far_from_street`` and ``<prefix>_detour``; each
        summary row gains the detour figures and the population on network
        pieces without the standard's facilities; ``summary.json`` gains
        ``checks``. :func:`write_diagnostics` writes the full lists.
    background : bool, default False
        Write the layers (the GeoPackage, or the GeoParquet files) in a forked
        child process (:mod:`layers.forked`) while this process writes the
        tables and runs ``meanwhile``. GDAL holds the GIL while it writes, so
        only a second process overlaps it. For one-shot processes (the
        command line); a server keeps ``False``. If the child fails, its
        error is raised once the tables and ``meanwhile`` are written; the
        layer files are then left as they were before.
    meanwhile : callable, optional
        More writing for this process while the GeoPackage is written (the
        run folder); returns paths to add to the result. Called once, in
        either format.
    cells_wkb : callable, optional
        Returns :func:`scenarios.gpkg_layer.wgs84_polygon_wkb` of
        ``result.city.cells`` (e.g. a future's ``result``: the cells'
        geometry does not depend on the results, so it can be encoded while
        they are computed). Used by the GeoPackage's ``cells`` layer.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"gpkg": ..., "csv": ..., "json": ...}``; with ``format="parquet"``
        one entry per layer (``"cells"``, ``"facilities"``, ...) instead of
        ``"gpkg"``; and what ``meanwhile`` returned.

    Raises
    ------
    OutputFormatError
        ``format`` is not one of :data:`OUTPUT_FORMATS`.
    """
    if format not in OUTPUT_FORMATS:
        raise OutputFormatError(f"format: unknown output format {format!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gpkg = out / "coverage.gpkg"
    say = progress or (lambda step, fraction: None)
    say("preparing cells layer", 0.0)
    cells = result.cells_frame()
    if ratios is not None:
        cells = cells.join(ratios.cell_columns())
    if diagnostics is not None:
        from scenarios.diagnostics import diagnostic_cells

        checks, detours = diagnostics
        flags = diagnostic_cells(result, detours, checks.far_m).drop(columns=["cell_id", "population", "geometry"])
        cells = cells.join(flags)
    layers: dict[str, gpd.GeoDataFrame] = {
        "cells": cells,
        "facilities": result.facilities_frame(),
        "uncovered_clusters": result.clusters_frame(),
    }
    if ratios is not None:
        for level in sorted({r.rule.level for r in ratios.rules.values()}):
            layers[f"units_{level}"] = ratios.units_layer(level)
    if service_areas:
        say("computing service areas", 0.1)
        standards = [r.standard for r in result.results.values()]
        layers["service_areas"] = standard_service_areas(result.city, standards, progress=progress)
    files = {name: out / f"{name}.parquet" for name in layers} if format == "parquet" else {"gpkg": gpkg}
    paths: dict[str, Path] = dict(files)
    # A crash never leaves a half-written file under its final name: each is written to a temporary
    # name that replaces it only when everything succeeded.
    with ExitStack() as files_written:
        temporary = {name: files_written.enter_context(atomic_path(path)) for name, path in files.items()}
        say("writing the layer files" + (" in the background" if background else ""), 0.2)
        # the child has no progress bar to report to: only the calling thread reports layer by layer
        # a geometry column still being encoded in a thread is waited for here: the child has no threads
        encoded = {"cells": cells_wkb()} if cells_wkb is not None and format == "gpkg" else {}
        with forked(_write_layers, layers, temporary, encoded, None if background else say, enabled=background):
            paths.update(_write_tables(result, out, ratios, diagnostics))
            if meanwhile is not None:
                paths.update(meanwhile())
            say("waiting for the layer files", 0.9)
    return paths


def _write_layers(
    layers: Mapping[str, gpd.GeoDataFrame],
    files: Mapping[str, Path],
    encoded: Mapping[str, pa.Array | None],
    say: Progress | None,
) -> None:
    """Every layer, in order: into ``files["gpkg"]`` (one GeoPackage), else each into ``files[name]`` (GeoParquet).

    ``encoded`` holds geometry columns already encoded for the GeoPackage, by layer name.
    """
    for i, (name, frame) in enumerate(layers.items()):
        if say is not None:
            say(f"writing layer {name}", 0.2 + 0.7 * i / len(layers))
        if "gpkg" in files:
            _write_layer(frame, files["gpkg"], name, encoded.get(name))
        else:
            _write_parquet(frame, files[name])


def _write_tables(
    result: CoverageResult,
    out: Path,
    ratios: RatioReport | None,
    diagnostics: tuple[CityDiagnostics, DetourReport] | None,
) -> dict[str, Path]:
    """``summary.csv``, ``summary.json`` and, with ratios, ``ratios.csv`` / ``access.csv``."""
    paths: dict[str, Path] = {}
    summary = result.summary_frame()
    detour_rows = None
    if diagnostics is not None and len(diagnostics[1].summary):
        detour_rows = diagnostics[1].summary.rename(columns=lambda c: c if c == "standard" else f"detour_{c}")
        detour_rows = detour_rows.rename(columns={"detour_population_on_pieces_without": "population_on_pieces_without"})
        summary = summary.merge(detour_rows, on="standard", how="left")
    csv = out / "summary.csv"
    write_atomic(csv, summary.to_csv(index=False))
    js = out / "summary.json"
    doc = summary_document(result)
    if diagnostics is not None:
        doc["checks"] = jsonable(diagnostics[0].as_dict())
        if detour_rows is not None:
            by_id = {row["standard"]: row for row in detour_rows.to_dict("records")}
            for entry in doc["standards"]:
                entry.update({k: jsonable(v) for k, v in by_id.get(entry["standard"], {}).items() if k != "standard"})
    if ratios is not None:
        doc["ratio_rules"] = [{k: jsonable(v) for k, v in row.items()} for row in ratios.rules_frame().to_dict("records")]
        doc["accessibility"] = [{k: jsonable(v) for k, v in row.items()} for row in ratios.access_frame().to_dict("records")]
    write_atomic(js, dumps_indented(doc, indent=2))  # = json.dumps(doc, ensure_ascii=False, indent=2)
    paths.update(csv=csv, json=js)
    if ratios is not None:
        paths.update(write_ratio_tables(ratios, out))
    return paths


def write_ratio_tables(ratios: RatioReport, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``ratios.csv`` (rule status per unit) and ``access.csv`` (accessibility summary).

    Parameters
    ----------
    ratios : RatioReport
    out_dir : path-like
        Created if missing.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"ratios": ..., "access": ...}``.
    """
    out = Path(out_dir)
    paths = {"ratios": out / "ratios.csv", "access": out / "access.csv"}
    write_atomic(paths["ratios"], ratios.units_frame().to_csv(index=False))
    write_atomic(paths["access"], ratios.access_frame().to_csv(index=False))
    return paths


def write_siting(siting: CitySiting, out_dir: str | os.PathLike, *, service_areas: bool = True) -> dict[str, Path]:
    """Write ``sites.gpkg``, ``sites.csv`` and ``siting.json``.

    The GeoPackage is in WGS84 and holds the layers ``sites`` (proposed
    sites), ``newly_covered_cells`` and, unless disabled, ``service_areas``
    (of the new sites).

    Parameters
    ----------
    siting : CitySiting
    out_dir : path-like
        Created if missing.
    service_areas : bool, default True

    Returns
    -------
    dict of str to pathlib.Path
        ``{"gpkg": ..., "csv": ..., "json": ...}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gpkg = out / "sites.gpkg"
    layers = {"sites": siting.sites, "newly_covered_cells": siting.newly_covered_cells}
    if service_areas:
        layers["service_areas"] = siting.service_areas
    with atomic_path(gpkg) as tmp:  # never a half-written file under the final name
        for name, frame in layers.items():
            frame.to_crs(WGS84).to_file(tmp, layer=name, driver="GPKG")
    csv = out / "sites.csv"
    write_atomic(csv, siting.sites.drop(columns="geometry").to_csv(index=False))
    js = out / "siting.json"
    write_atomic(js, json.dumps(siting.to_dict(), ensure_ascii=False, indent=2))
    return {"gpkg": gpkg, "csv": csv, "json": js}


def write_diagnostics(city_checks, detours, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``diagnostics.json`` (network pieces, cells far from streets, detour summary) and ``detours.csv``.

    Parameters
    ----------
    city_checks : scenarios.diagnostics.CityDiagnostics
    detours : scenarios.diagnostics.DetourReport
    out_dir : path-like

    Returns
    -------
    dict of str to pathlib.Path
        ``{"checks": ..., "detours": ...}``; ``detours.csv`` lists every
        cell whose walk is more than ``detours.flag`` times the straight line.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    document = {
        **city_checks.as_dict(),
        "detour_flag": detours.flag,
        "detours": detours.summary.to_dict("records"),
    }
    paths = {"checks": out / "diagnostics.json", "detours": out / "detours.csv"}
    write_atomic(paths["checks"], json.dumps(jsonable(document), ensure_ascii=False, indent=1))
    write_atomic(paths["detours"], detours.above.to_csv(index=False))
    return paths

