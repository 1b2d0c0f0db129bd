"""A city built once from a planner's files, kept as a folder, and loaded by every command.

``lifecircle city build --out DIR`` writes one; ``--city DIR`` on every
command reads it back with :func:`load_city_folder`. The folder holds

==========================  ====================================================
``manifest.json``           format version, name, CRS (WKT), data credit,
                            sources with their SHA-256, declarations, counts,
                            warnings, creation time, lifecircle version
``cells.parquet``           the validated population cells (GeoParquet)
``facilities.parquet``      the validated facilities
``units-<level>.parquet``   administrative units, one file per level
``candidates.parquet``      candidate sites (optional)
``boundary.parquet``        the study area (optional)
``network.npz``             the walking network with its attribution
``catalogue.toml``          the catalogue it was built with (kinds, standards, rules)
==========================  ====================================================

All layers are in the city's one metric CRS and already validated, so
loading is reading: GeoParquet decodes 750,000 cells about ten times faster
than unpickling their shapely objects. The folder is written under a
temporary name and renamed into place, so a crash never leaves a half-built
folder that looks whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyarrow.parquet as pq
import shapely
from pyproj import CRS

from layers.city import City
from layers.crs_text import crs_string
from layers.errors import LayerError
from layers.network_io import load_network, network_attribution, save_network

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "is_city_folder", "save_city_folder", "load_city_folder",
           "read_manifest", "file_digest"]

FORMAT = "lifecircle-city"
"""The manifest's ``format`` value."""

FORMAT_VERSION = 1
"""Bumped whenever the folder's layout changes; older folders are refused with what to do."""

MANIFEST = "manifest.json"

CATALOGUE = "catalogue.toml"
"""The catalogue a city folder was built with (kinds, standards, rules)."""

_LAYER_FILES = {"cells": "cells.parquet", "facilities": "facilities.parquet"}


def lifecircle_version() -> str:
    """The installed lifecircle's version ("unknown" when running from a bare checkout)."""
    try:
        return version("lifecircle")
    except PackageNotFoundError:
        return "unknown"


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (an OSM extract can be hundreds of MB)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def is_city_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder with a city manifest."""
    p = Path(path)
    return p.is_dir() and (p / MANIFEST).is_file()


def save_city_folder(
    city: City, folder: str | Path, *, sources: dict[str, Any] | None = None, catalogue: tuple[str, str] | None = None
) -> Path:
    """Write a city to a folder that :func:`load_city_folder` reads.

    Parameters
    ----------
    city : layers.city.City
        A validated city (e.g. from :func:`layers.build.city_from_files`).
    folder : str or pathlib.Path
        Created, or replaced whole if it already holds a city. A folder with
        other content is refused rather than overwritten.
    sources : dict, optional
        Input files by role (``{"grid": path, ...}``); each is recorded with
        its size and SHA-256, so a later reader can tell which data made the
        city. Roles whose value is not an existing file (a place name) are
        recorded as text.
    catalogue : (str, str), optional
        ``(id, TOML text)`` of the catalogue the city was built with, kept as
        ``catalogue.toml`` and named in the manifest (``scenarios.catalogue``).

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    LayerError
        If ``folder`` exists and is not an empty folder or a city folder.
    OSError
        If it cannot be written.
    """
    folder = Path(folder)
    if folder.exists() and not is_city_folder(folder) and (not folder.is_dir() or any(folder.iterdir())):
        raise LayerError(str(folder), "exists and is not a city folder; choose a new or empty folder", field="out")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".partial"))
    try:
        files = _write_layers(city, tmp)
        if catalogue is not None:  # the city keeps the kinds and rules it was validated against
            files[CATALOGUE] = (tmp / CATALOGUE).write_bytes(catalogue[1].encode("utf-8"))
        manifest = _manifest(city, sources or {}, files)
        if catalogue is not None:
            manifest["catalogue"] = {"id": catalogue[0], "file": CATALOGUE,
                                     "sha256": hashlib.sha256(catalogue[1].encode("utf-8")).hexdigest()}
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        _replace_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _write_layers(city: City, folder: Path) -> dict[str, int]:
    """Write every layer; returns each file's size (checked on load to catch truncation)."""
    written = []
    city.cells.to_parquet(folder / _LAYER_FILES["cells"], index=False)
    city.facilities.to_parquet(folder / _LAYER_FILES["facilities"], index=False)
    written += list(_LAYER_FILES.values())
    for level, units in city.units.items():
        name = f"units-{level}.parquet"
        units.to_parquet(folder / name, index=False)
        written.append(name)
    if city.candidates is not None:
        city.candidates.to_parquet(folder / "candidates.parquet", index=False)
        written.append("candidates.parquet")
    if city.boundary is not None:
        gpd.GeoDataFrame(geometry=[city.boundary], crs=city.crs).to_parquet(folder / "boundary.parquet", index=False)
        written.append("boundary.parquet")
    # Uncompressed: three times faster to read, and disk is cheaper than a planner's wait.
    save_network(city.network, folder / "network.npz", attribution=city.attribution, compress=False)
    written.append("network.npz")
    return {name: (folder / name).stat().st_size for name in written}


def _manifest(city: City, sources: dict[str, Any], files: dict[str, int]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": city.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "lifecircle_version": lifecircle_version(),
        "crs": crs_string(city.crs),
        "crs_wkt": city.crs.to_wkt(),
        "attribution": city.attribution,
        "generated": city.generated,
        "population_estimated": city.population_estimated,
        "max_snap_m": city.max_snap_m,
        "units": sorted(city.units),
        "sources": {role: _describe_source(value) for role, value in sources.items() if value is not None},
        "files": files,
        "counts": {
            "cells": len(city.cells),
            "facilities": len(city.facilities),
            "nodes": city.network.n_nodes,
            "edges": city.network.n_edges,
            **{f"units_{level}": len(units) for level, units in city.units.items()},
            **({"candidates": len(city.candidates)} if city.candidates is not None else {}),
        },
        "meta": city.meta,
    }


def _describe_source(value: Any) -> dict[str, Any]:
    p = Path(str(value))
    if p.is_file():
        return {"path": str(p.resolve()), "bytes": p.stat().st_size, "sha256": file_digest(p)}
    return {"path": str(value)}


def _replace_folder(tmp: Path, folder: Path) -> None:
    """Move ``tmp`` to ``folder``, replacing an older city there in two renames."""
    if not folder.exists():
        os.replace(tmp, folder)
        return
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    else:
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a city folder, checked for format and version.

    Raises
    ------
    LayerError
        Not a folder, no or unreadable manifest, another format, or a
        version this lifecircle cannot read (the message says what to do).
    """
    folder = Path(folder)
    source = folder.name or str(folder)
    if not folder.is_dir():
        raise LayerError(source, f"no such city folder: {folder}; make one with 'lifecircle city build --out {folder}'")
    path = folder / MANIFEST
    if not path.is_file():
        raise LayerError(source, f"not a city folder: it has no {MANIFEST}; make one with 'lifecircle city build'")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayerError(source, f"the city folder is damaged: {MANIFEST} cannot be read ({exc}); rebuild it with "
                         "'lifecircle city build'") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise LayerError(source, f"{MANIFEST} is not a lifecircle city manifest")
    found = manifest.get("format_version")
    if not isinstance(found, int):
        raise LayerError(source, f"{MANIFEST} has no valid format_version; rebuild the folder with 'lifecircle city build'")
    if found > FORMAT_VERSION:
        raise LayerError(source, f"the folder was written by a newer lifecircle ({manifest.get('lifecircle_version')}, "
                         f"format {found}); this one reads format {FORMAT_VERSION}: upgrade lifecircle")
    if found < FORMAT_VERSION:
        inputs = ", ".join(f"--{role} {s.get('path')}" for role, s in manifest.get("sources", {}).items() if role != "network")
        raise LayerError(source, f"the folder has the older format {found} (this lifecircle reads {FORMAT_VERSION}); "
                         f"rebuild it with 'lifecircle city build {inputs} --out {folder}'")
    return manifest


def load_city_folder(folder: str | Path) -> City:
    """Read a city written by :func:`save_city_folder`.

    Parameters
    ----------
    folder : str or pathlib.Path

    Returns
    -------
    layers.city.City

    Raises
    ------
    LayerError
        Not a city folder, a format this lifecircle cannot read, or a
        missing or truncated file (the message says to rebuild).
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    source = folder.name or str(folder)
    for name, size in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            raise LayerError(source, f"the city folder is damaged: {name} is missing; rebuild it with 'lifecircle city build'")
        if path.stat().st_size != size:
            raise LayerError(source, f"the city folder is damaged: {name} has {path.stat().st_size} bytes, the manifest "
                             f"says {size}; rebuild it with 'lifecircle city build'")
    crs = CRS.from_wkt(manifest["crs_wkt"])
    try:
        cells = _read(folder, "cells.parquet", crs)
        facilities = _read(folder, "facilities.parquet", crs)
        units = {level: _read(folder, f"units-{level}.parquet", crs) for level in manifest.get("units", [])}
        candidates = _read(folder, "candidates.parquet", crs) if (folder / "candidates.parquet").exists() else None
        boundary = None
        if (folder / "boundary.parquet").exists():
            boundary = _read(folder, "boundary.parquet", crs).geometry.iloc[0]
    except LayerError:
        raise
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise LayerError(source, f"the city folder is damaged ({exc}); rebuild it with 'lifecircle city build'") from None
    network = load_network(folder / "network.npz")
    return City(
        name=manifest["name"],
        crs=crs,
        cells=cells,
        facilities=facilities,
        network=network,
        units=units,
        boundary=boundary,
        candidates=candidates,
        attribution=manifest.get("attribution") or network_attribution(folder / "network.npz"),
        generated=bool(manifest.get("generated", False)),
        population_estimated=bool(manifest.get("population_estimated", False)),
        meta={**manifest.get("meta", {}), "folder": str(folder.resolve())},
        max_snap_m=float(manifest.get("max_snap_m", City.max_snap_m)),
    )


def _read(folder: Path, name: str, crs: CRS) -> gpd.GeoDataFrame:
    """One GeoParquet layer in the manifest's CRS.

    The manifest's WKT is the one truth about the CRS, so the file's PROJJSON
    is never parsed (geopandas builds a CRS from it per file, a third of a
    second for a city's layers) and WKB is decoded straight from the Arrow
    column. A geometry encoding other than WKB goes through geopandas.
    """
    table = pq.read_table(folder / name)
    geo = json.loads((table.schema.metadata or {}).get(b"geo", b"{}"))
    column = geo.get("primary_column")
    if column not in table.column_names or str(geo["columns"][column].get("encoding", "")).upper() != "WKB":
        return gpd.read_parquet(folder / name).set_crs(crs, allow_override=True)
    at = table.column_names.index(column)
    geometry = shapely.from_wkb(table.column(column).to_numpy(zero_copy_only=False))
    frame = table.remove_column(at).to_pandas()
    frame.insert(at, column, gpd.GeoSeries(geometry, index=frame.index, crs=crs))
    return gpd.GeoDataFrame(frame, geometry=column, crs=crs)
