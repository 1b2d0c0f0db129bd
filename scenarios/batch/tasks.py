"""The work of one partition, as it runs on a Dask worker.

Each function here takes plain, picklable job descriptions, reads its inputs
from disk (a city, a tile), writes its output file atomically under the
batch folder, and returns a small :class:`Outcome`. A failure on bad data is
caught and returned as an outcome naming the city and the cause, so that one
bad city does not stop the others; a worker that dies is another matter,
handled by Dask, which runs the task again elsewhere (the atomic writes make
that safe). Each task is given the plan's catalogue (``catalogue=``) and runs
with it active, as a worker process does not share the driver's.
"""

from __future__ import annotations

import functools
import pickle
import resource
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.crs import WGS84
from layers.atomic import atomic_path
from layers.city import City
from scenarios.batch.plan import BASE
from scenarios.batch.schema import cells_columns
from scenarios.catalogue import Catalogue
from scenarios.model import Scenario, apply_edits
from scenarios.standards import Standard

__all__ = [
    "CellsJob",
    "CutJob",
    "Outcome",
    "SweepJob",
    "cells_columns",
    "cut_city",
    "run_cells",
    "run_sweep_point",
]

CELL_COLUMNS = ("city", "scenario", "tile", "cell_id", "population", "elderly")
"""Columns of every cells partition before the per-standard ones (geometry last, WGS84)."""


@dataclass(frozen=True)
class Outcome:
    """What a task reports back.

    Attributes
    ----------
    key : str
        The partition.
    ok : bool
    files : list of str
        Written files, relative to the batch folder.
    error : str
        ``"city 'x', scenario 'y': <cause>"`` when not ok.
    info : dict
        Rows, seconds, the worker's peak memory (MB) and host.
    value : any
        A task's small result (the tile files of a cut).
    """

    key: str
    ok: bool
    files: list[str] = field(default_factory=list)
    error: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    value: Any = None


@dataclass(frozen=True)
class CellsJob:
    """Evaluate one city (or one tile of it) under one scenario and write its cells."""

    key: str
    city: str
    ref: str
    fingerprint: str
    scenario: Scenario | None
    standards: tuple[Standard, ...]
    columns: tuple[Standard, ...]
    path: str
    tile: int = -1
    reach: float = 0.0


@dataclass(frozen=True)
class CutJob:
    """Cut one city into tiles with a halo and write each tile's City to disk."""

    key: str
    city: str
    ref: str
    fingerprint: str
    n_tiles: int
    reach: float
    folder: str


@dataclass(frozen=True)
class SweepJob:
    """One point of a siting sweep: one city, one standard, one ``p``."""

    key: str
    city: str
    ref: str
    fingerprint: str
    standard: Standard
    overrides: dict[str, Any]
    problem: str
    p: int
    solver: str
    time_limit_s: float
    path: str


def _peak_mb() -> float:
    """Peak resident memory of this process so far (the worker), in MB.

    Linux's VmHWM first: ``ru_maxrss`` of a process started by fork and exec
    can carry the parent's high-water mark from before the exec.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1e3
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


def _info(t0: float, **extra: Any) -> dict[str, Any]:
    import socket

    return {"seconds": round(time.perf_counter() - t0, 3), "peak_mb": round(_peak_mb(), 1),
            "host": socket.gethostname(), **extra}


def _failed(key: str, where: str, exc: BaseException, t0: float) -> Outcome:
    from geo.errors import LifecircleError

    cause = str(exc) if isinstance(exc, LifecircleError) else f"{type(exc).__name__}: {exc}"
    detail = "" if isinstance(exc, LifecircleError) else traceback.format_exc(limit=-3)
    return Outcome(key, False, error=f"{where}: {cause}", info=_info(t0, traceback=detail))


@lru_cache(maxsize=2)
def _city(ref: str, fingerprint: str) -> City:
    """The city, loaded once per worker while it is among the last two used.

    ``fingerprint`` is part of the key so a rebuilt city folder is read again.
    """
    from layers.cities import load_city

    return load_city(ref)


@lru_cache(maxsize=4)
def _tile(path: str) -> City:
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _where(city: str, scenario: Scenario | None, tile: int = -1) -> str:
    out = f"city '{city}'"
    if scenario is not None:
        out += f", scenario '{scenario.name}'"
    return out + (f", tile {tile}" if tile >= 0 else "")


def _with_catalogue(task: Callable[..., Outcome]) -> Callable[..., Outcome]:
    """``task`` taking ``catalogue=``: run with that catalogue active, its id in the outcome's info."""

    @functools.wraps(task)
    def run(*args: Any, catalogue: Catalogue | None = None) -> Outcome:
        if catalogue is None:
            return task(*args)
        from scenarios.batch.worker_catalogue import catalogue_active
        from scenarios.catalogue import active_catalogue

        with catalogue_active(catalogue):
            outcome = task(*args)
            active = active_catalogue().id  # read on the worker, inside the task's activation
        return replace(outcome, info={**outcome.info, "catalogue": active})

    return run


# ------------------------------------------------------------------ cells
def _frame(job: CellsJob, cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The evaluated cells in the dataset's one schema: every standard of the plan, typed, WGS84.

    Standards this run did not evaluate are typed nulls, so every file of the
    dataset has the same columns and types (a reader sees one schema).
    """
    n = len(cells)
    data: dict[str, Any] = {
        "city": pd.array([job.city] * n, dtype="string"),
        "scenario": pd.array([job.scenario.name if job.scenario else BASE] * n, dtype="string"),
        "tile": np.full(n, job.tile, dtype=np.int32),
        "cell_id": cells["cell_id"].astype("string").to_numpy(),
        "population": cells["population"].to_numpy(dtype=np.float64),
        "elderly": cells["elderly"].to_numpy(dtype=np.float64),
    }
    # the column set is cells_frame()'s own (scenarios.batch.schema), so the dataset has
    # every per-standard column of cover's cells layer, new ones included
    for name, dtype in cells_columns(job.columns).items():
        if name in cells.columns:
            col = cells[name]
            data[name] = col.astype(dtype) if dtype != "string" else col.astype(object).where(col.notna(), None).astype("string")
        else:
            data[name] = pd.array([None] * n, dtype=dtype) if dtype != "float64" else np.full(n, np.nan)
    frame = gpd.GeoDataFrame(pd.DataFrame(data), geometry=cells.geometry.values, crs=cells.crs)
    return frame.to_crs(WGS84)


def _write(frame: gpd.GeoDataFrame, out: Path, rel: str) -> None:
    """Write a GeoParquet file atomically: a reader never sees half of it."""
    with atomic_path(out / rel) as tmp:
        frame.to_parquet(tmp, index=False, compression="zstd")


def _scenario_city(city: City, scenario: Scenario | None) -> City:
    if scenario is None or not scenario.edits:
        return city
    return city.with_facilities(apply_edits(city.facilities, scenario.edits, city.crs))


@_with_catalogue
def run_cells(job: CellsJob, out: str, cut: Outcome | list[str] | None = None) -> Outcome:
    """Evaluate a city or a tile under a scenario and write its cells partition.

    Parameters
    ----------
    job : CellsJob
    out : str
        The batch folder.
    cut : Outcome or list of str, optional
        For a tile: the cut's outcome (its ``value`` lists the tile files),
        or the tile files when the cut was done by an earlier run.
    catalogue : Catalogue, optional (keyword)
        The plan's catalogue, active while the task runs (so on every task
        of this module).

    Returns
    -------
    Outcome
    """
    from scenarios.batch.tiling import facilities_near
    from scenarios.evaluate import evaluate

    t0 = time.perf_counter()
    where = _where(job.city, job.scenario, job.tile)
    try:
        if job.tile < 0:
            city = _scenario_city(_city(job.ref, job.fingerprint), job.scenario)
        else:
            if isinstance(cut, Outcome):
                if not cut.ok:
                    return Outcome(job.key, False, error=f"{where}: not run, cutting the city into tiles failed")
                cut = cut.value
            # the tile carries the whole facility layer (facilities are few), never the
            # whole city: a tile worker's memory is the tile's
            tile = _tile(str(Path(out) / cut[job.tile]))
            facilities = tile.meta["all_facilities"]
            if job.scenario is not None:
                facilities = apply_edits(facilities, job.scenario.edits, tile.crs)
            city = tile.with_facilities(facilities_near(facilities, tuple(tile.meta["tile_box"]), job.reach))
        result = evaluate(city, list(job.standards))
        frame = _frame(job, result.cells_frame())
        _write(frame, Path(out), job.path)
    except Exception as exc:  # bad data in one partition: reported, the others go on
        return _failed(job.key, where, exc, t0)
    return Outcome(job.key, True, [job.path], info=_info(t0, rows=len(frame)))


@_with_catalogue
def cut_city(job: CutJob, out: str) -> Outcome:
    """Cut a city into tiles (:class:`scenarios.batch.tiling.TiledCity`) and write each as a pickle.

    Each tile's City keeps the whole facility layer in ``meta["all_facilities"]``
    (facilities are few), so a scenario's edits apply to the whole layer
    before the facilities within reach of the tile are picked.

    Returns
    -------
    Outcome
        ``value``: the tile files, relative to ``out``.
    """
    from scenarios.batch.tiling import TiledCity

    t0 = time.perf_counter()
    try:
        city = _city(job.ref, job.fingerprint)
        tiled = TiledCity(city, job.n_tiles, job.reach)
        files = []
        for i in range(len(tiled)):
            tile = tiled.tile(i)
            tile.meta["all_facilities"] = city.facilities
            rel = f"{job.folder}/tile-{i:04d}.pkl"
            with atomic_path(Path(out) / rel) as tmp, open(tmp, "wb") as fh:
                pickle.dump(tile, fh, protocol=pickle.HIGHEST_PROTOCOL)
            files.append(rel)
        sizes = [len(t.cells) for t in tiled.tiles]
    except Exception as exc:
        return _failed(job.key, _where(job.city, None), exc, t0)
    return Outcome(job.key, True, files, info=_info(t0, tiles=len(files), cells_per_tile=sizes), value=files)


# ------------------------------------------------------------------ sweeps
@_with_catalogue
def run_sweep_point(job: SweepJob, out: str) -> Outcome:
    """Site ``p`` new facilities for one standard in one city and write the point of the curve (JSON)."""
    import json

    from layers.atomic import write_atomic
    from scenarios.outputs import jsonable
    from scenarios.siting import site

    t0 = time.perf_counter()
    where = f"city '{job.city}', sweep {job.standard.id} {job.problem} p={job.p}"
    try:
        city = _city(job.ref, job.fingerprint)
        run = site(city, job.standard.id, problem=job.problem, p=job.p, overrides=job.overrides,
                   solver=job.solver, time_limit_s=job.time_limit_s)
        s = run.summary()
        row = {"city": job.city, "standard": job.standard.id, "problem": job.problem, "p": job.p,
               "sites": s["sites"], "total": s["total"], "covered_before": s["covered_before"],
               "covered_after": s["covered_after"], "share_before": s["share_before"],
               "share_after": s["share_after"], "objective": s["objective"], "gap": s["gap"],
               "solver": s["solver"], "status": s["status"], "seconds": s["seconds"]}
        write_atomic(Path(out) / job.path, json.dumps(jsonable(row)))
    except Exception as exc:
        return _failed(job.key, where, exc, t0)
    return Outcome(job.key, True, [job.path], info=_info(t0))
