"""A coverage run kept so that maps and exports can be drawn again without recomputing it.

``lifecircle cover`` and ``lifecircle demo`` write, beside the GeoPackage and
the summary, what is needed to rebuild the :class:`scenarios.evaluate.CoverageResult`
exactly:

=================  ===========================================================
``run.json``       the city (a city folder or a built-in name), the standards
                   with their parameters as run, the lifecircle version
``results.npz``    per standard, each cell's distance and nearest facility
``clusters.parquet``  the gap clusters as computed
``city/``          the city itself, when the run was made from loose files
=================  ===========================================================

``lifecircle map --results DIR`` and ``lifecircle export --results DIR`` read
it with :func:`load_run`: the city is loaded (a folder read, no network
build), and every standard's result is rebuilt from the stored arrays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from layers.atomic import atomic_path, write_atomic
from layers.cities import is_folder_reference, load_city
from layers.city_folder import lifecircle_version, save_city_folder
from layers.errors import LayerError
from scenarios.evaluate import CoverageResult, standard_result
from scenarios.standards import Standard

__all__ = ["RUN_FILE", "RUN_VERSION", "save_run", "load_run"]

RUN_FILE = "run.json"
RUN_VERSION = 1


def save_run(result: CoverageResult, out_dir: str | Path, city_ref: str | None = None) -> dict[str, Path]:
    """Write what :func:`load_run` needs into a results folder.

    Parameters
    ----------
    result : CoverageResult
    out_dir : str or pathlib.Path
    city_ref : str, optional
        How to load the city again: a city folder or a built-in name. When
        ``None`` (a city built from loose files), the city is saved into
        ``out_dir/city`` and the run refers to that.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"run": run.json}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if city_ref is None:
        save_city_folder(result.city, out / "city")
        city_ref = "city"
    elif is_folder_reference(city_ref):
        city_ref = str(Path(city_ref).resolve())
    arrays: dict[str, np.ndarray] = {}
    for i, r in enumerate(result.results.values()):
        arrays[f"dist_{i}"] = np.asarray(r.dist_m, dtype=np.float64)
        arrays[f"facility_{i}"] = np.asarray(r.facility, dtype=np.int64)
    with atomic_path(out / "results.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    clusters = result.clusters_frame()
    with atomic_path(out / "clusters.parquet") as tmp:
        clusters.to_parquet(tmp, index=False)
    document = {
        "format": "lifecircle-run",
        "format_version": RUN_VERSION,
        "lifecircle_version": lifecircle_version(),
        "city": city_ref,
        "city_name": result.city.name,
        "standards": [r.standard.to_dict() for r in result.results.values()],
        "unreachable_cells": [r.unreachable_cells for r in result.results.values()],
        "cells": len(result.city.cells),
        "facilities": len(result.city.facilities),
    }
    path = write_atomic(out / RUN_FILE, json.dumps(document, ensure_ascii=False, indent=1))
    return {"run": path}


def load_run(out_dir: str | Path, progress=None) -> CoverageResult:
    """Rebuild a coverage run from its results folder.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        A folder written by ``lifecircle cover`` or ``lifecircle demo``.
    progress : callable, optional
        Passed to the city loader.

    Returns
    -------
    CoverageResult
        Equal, array for array, to the run that wrote the folder.

    Raises
    ------
    LayerError
        Not a results folder, a newer format, or a city that no longer
        matches the stored results (different number of cells or facilities).
    """
    out = Path(out_dir)
    source = out.name or str(out)
    doc = _read_run(out, source)
    ref = doc["city"]
    city = load_city(out / ref if ref == "city" else ref, progress=progress)
    if len(city.cells) != doc["cells"] or len(city.facilities) != doc["facilities"]:
        raise LayerError(source, f"the city {ref!r} has changed since this run ({len(city.cells)} cells and "
                         f"{len(city.facilities)} facilities now, {doc['cells']} and {doc['facilities']} then); "
                         "run 'lifecircle cover' again")
    clusters = gpd.read_parquet(out / "clusters.parquet") if (out / "clusters.parquet").exists() else None
    results = {}
    with np.load(out / "results.npz", allow_pickle=False) as arrays:
        for i, entry in enumerate(doc["standards"]):
            standard = _standard(entry)
            mine = None
            if clusters is not None:
                mine = clusters[clusters["standard"] == standard.id].drop(columns="standard").reset_index(drop=True)
            results[standard.id] = standard_result(
                city, standard, arrays[f"dist_{i}"], arrays[f"facility_{i}"],
                unreachable=int(doc["unreachable_cells"][i]), clusters=mine,
            )
    return CoverageResult(city=city, results=results)


def _read_run(out: Path, source: str) -> dict[str, Any]:
    path = out / RUN_FILE
    if not path.is_file():
        raise LayerError(source, f"not a results folder of 'lifecircle cover' (no {RUN_FILE}); run cover with "
                         f"--out {out} first", field="results")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayerError(source, f"{RUN_FILE} cannot be read ({exc}); run 'lifecircle cover' again") from None
    if not isinstance(doc, dict) or doc.get("format") != "lifecircle-run":
        raise LayerError(source, f"{RUN_FILE} is not a lifecircle run record")
    if int(doc.get("format_version", 0)) > RUN_VERSION:
        raise LayerError(source, f"the run was written by a newer lifecircle ({doc.get('lifecircle_version')}); upgrade")
    if not (out / "results.npz").is_file():
        raise LayerError(source, "results.npz is missing; run 'lifecircle cover' again")
    return doc


def _standard(entry: dict[str, Any]) -> Standard:
    data = dict(entry)
    data["kinds"] = tuple(data["kinds"])
    data["bands_min"] = tuple(data.get("bands_min", ()))
    return Standard(**data)
