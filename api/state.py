"""What the running API holds: the city, uploaded layers, coverage runs, jobs.

The loaded city and its reach index are read only after startup and shared by
all requests. Jobs, job results, uploaded layers and coverage runs live in
the shared store (:mod:`api.shared`: the SQLite file in the data folder, or
the configured PostgreSQL), so every worker of a deployment sees the same;
each worker keeps decoded layers and runs in small caches
(:class:`api.registry.LruRegistry`). A :class:`Run` (a coverage run or a
ratio report) never changes: what is derived from it is made once, and its
files (GeoPackage, maps) are written once into its folder of the data
directory.

The data folder is ``data_dir`` when configured, else the per-user data folder
(:func:`scenarios.store.data_dir`, via platformdirs), so scenarios, layers and
results survive a restart by default.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from api.config import ApiConfig
from api.jobs import JobManager
from api.observability import Metrics
from api.reach import ReachIndex
from api.registry import LruRegistry
from api.schemas.common import FacilityRef
from api.shared import RunRow, SharedStore
from geo.crs import WGS84
from layers.city import City
from scenarios.evaluate import CoverageResult
from scenarios.store import data_dir as user_data_dir

__all__ = [
    "AppState",
    "LayerStore",
    "Run",
    "RunStore",
    "StoredLayer",
    "coverage_cells",
    "coverage_facilities",
    "coverage_summary",
    "load_configured_city",
    "store_url",
    "wgs84_frame",
]

log = logging.getLogger("lifecircle.api")


def wgs84_frame(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy in WGS84 with JSON-safe columns and a built spatial index.

    Columns holding objects other than text (dates, lists, ...) become text;
    the spatial index is built here so that concurrent readers never race to
    build it.
    """
    out = gdf.to_crs(WGS84) if gdf.crs is not None else gdf.set_crs(WGS84)
    out = out.reset_index(drop=True)
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            continue
        out[col] = s.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)).astype(object)
    out.sindex  # noqa: B018 - build now, not inside a request
    return out


@dataclass(eq=False)
class StoredLayer:
    """An uploaded layer, validated and in the city's CRS."""

    id: str
    name: str
    type: str  # facilities | grid | units
    frame: gpd.GeoDataFrame
    source: str
    warnings: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    _wgs84: gpd.GeoDataFrame | None = None

    @property
    def wgs84(self) -> gpd.GeoDataFrame:
        if self._wgs84 is None:
            self._wgs84 = wgs84_frame(self.frame)
        return self._wgs84


R = TypeVar("R")  # what a run holds: a CoverageResult or a RatioReport
T = TypeVar("T")


@dataclass(eq=False)
class Run(Generic[R]):
    """A finished result kept under an id, and the files made from it: a coverage run or a ratio report.

    ``key`` says what the result was made from (identical requests share a
    run), ``request`` is the request as JSON, ``folder`` holds its files
    (GeoPackage, maps). A run never changes, so what is derived from it (WGS84
    frames, summaries) is made once, by :meth:`derived`.
    """

    id: str
    key: str
    result: R
    request: dict
    folder: Path
    created: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)

    def derived(self, name: str, make: Callable[[R], T]) -> T:
        """``make(result)``, made on first use under the run's lock and kept under ``name``."""
        with self.lock:
            if name not in self._derived:
                self._derived[name] = make(self.result)
            return self._derived[name]


def coverage_summary(run: Run[CoverageResult]) -> dict:
    """:func:`scenarios.outputs.summary_document` of a coverage run, made once (tens of ms)."""
    from scenarios.outputs import summary_document

    return run.derived("summary", summary_document)


def coverage_cells(run: Run[CoverageResult]) -> gpd.GeoDataFrame:
    """A coverage run's per-cell results in WGS84."""
    return run.derived("cells_wgs84", lambda result: wgs84_frame(result.cells_frame()))


def coverage_facilities(run: Run[CoverageResult]) -> gpd.GeoDataFrame:
    """A coverage run's facilities with the population each serves, in WGS84."""
    return run.derived("facilities_wgs84", lambda result: wgs84_frame(result.facilities_frame()))


class LayerStore:
    """Uploaded layers in the shared store, decoded once per worker (a small LRU cache).

    Parameters
    ----------
    shared : SharedStore
    capacity : int
        Most layers kept per API key (``limits.max_layers``).
    ttl_s : float
        Layers older than this are dropped.
    crs : CRS
        The city's CRS, in which layers are stored.
    """

    _CACHED = 16

    def __init__(self, shared: SharedStore, capacity: int, ttl_s: float):
        self.shared = shared
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._cache: LruRegistry[str, StoredLayer] = LruRegistry(self._CACHED)

    def add(self, layer: StoredLayer, owner: str) -> bool:
        """Keep ``layer``; ``False`` when the store is full."""
        buf = io.BytesIO()
        layer.frame.to_parquet(buf)
        meta = {"name": layer.name, "type": layer.type, "source": layer.source, "warnings": layer.warnings, "created": layer.created}
        if not self.shared.put_layer(layer.id, owner, meta, buf.getvalue(), self.capacity):
            return False
        self._cache.put(layer.id, layer)
        return True

    def get(self, layer_id: str) -> StoredLayer | None:
        """The layer, or ``None`` when unknown (to any worker) or expired."""
        self.purge()
        found = self.shared.get_layer(layer_id)
        if found is None:  # deleted or expired through another worker: forget the cached copy too
            self._cache.pop(layer_id)
            return None
        cached = self._cache.get(layer_id)
        if cached is not None:
            return cached
        meta, body = found
        frame = gpd.read_parquet(io.BytesIO(body))
        layer = StoredLayer(id=layer_id, name=meta["name"], type=meta["type"], frame=frame, source=meta["source"],
                            warnings=list(meta["warnings"]), created=meta["created"])
        _ = layer.wgs84  # built before other threads read it
        self._cache.put(layer_id, layer)
        return layer

    def purge(self) -> None:
        if self.shared.due("layers"):
            self.shared.purge_layers(self.ttl_s)

    def ids(self, owner: str | None = None) -> list[str]:
        self.purge()
        return self.shared.layer_ids(owner)

    def values(self) -> list[StoredLayer]:
        return [lay for lay in (self.get(i) for i in self.ids()) if lay is not None]

    def remove(self, layer_id: str) -> bool:
        self._cache.pop(layer_id)
        return self.shared.delete_layer(layer_id)


class RunStore:
    """Coverage runs in the shared store, unpickled once per worker (a small LRU cache).

    A run over the loaded city is stored without it (the results only) and
    rebuilt on this worker's city; a run over uploaded layers carries its own.

    Parameters
    ----------
    shared : SharedStore
    per_owner : int
        Runs kept per API key (``limits.max_runs``); a key's oldest go first.
    ttl_s : float
    city : City
        The loaded city.
    data_dir : Path
        Runs' files live in ``runs/<id>`` under it.
    """

    _CACHED = 32

    def __init__(self, shared: SharedStore, per_owner: int, ttl_s: float, city: City, data_dir: Path):
        self.shared, self.per_owner, self.ttl_s = shared, per_owner, ttl_s
        self.city, self.data_dir = city, data_dir
        self._cache: LruRegistry[str, Run[CoverageResult]] = LruRegistry(self._CACHED)

    def add(self, run: Run[CoverageResult], owner: str = "local") -> None:
        """Keep ``run``, dropping the owner's oldest beyond the limit."""
        city = None if run.result.city is self.city else run.result.city
        body = pickle.dumps((city, run.result.results), protocol=pickle.HIGHEST_PROTOCOL)
        row = RunRow(id=run.id, owner=owner, key=run.key, request=run.request, created=run.created, body=body)
        for dropped in self.shared.put_run(row, self.per_owner):
            self._forget(dropped)
        self._cache.put(run.id, run)

    def _forget(self, run_id: str) -> None:
        self._cache.pop(run_id)
        shutil.rmtree(self.data_dir / "runs" / run_id, ignore_errors=True)

    def purge(self) -> None:
        if self.shared.due("runs"):
            for run_id in self.shared.purge_runs(self.ttl_s):
                self._forget(run_id)

    def get(self, run_id: str) -> Run[CoverageResult] | None:
        """The run, or ``None`` when unknown (to every worker) or expired."""
        self.purge()
        cached = self._cache.get(run_id)
        if cached is not None:
            if self.shared.run_exists(run_id):  # another worker may have deleted it
                return cached
            self._forget(run_id)
            return None
        row = self.shared.get_run(run_id)
        if row is None:
            return None
        city, results = pickle.loads(row.body)  # written by this server's own code into its own store
        folder = self.data_dir / "runs" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        run = Run(id=run_id, key=row.key, result=CoverageResult(city=city or self.city, results=results),
                          request=row.request, folder=folder, created=row.created)
        self._cache.put(run_id, run)
        return run

    def find_key(self, key: str) -> Run[CoverageResult] | None:
        """A kept run made for ``key`` (identical requests share it)."""
        run_id = self.shared.find_run(key)
        return None if run_id is None else self.get(run_id)

    def values(self) -> list[Run[CoverageResult]]:
        self.purge()
        return [run for run in (self.get(i) for i in self.shared.run_ids()) if run is not None]

    def remove(self, run_id: str) -> bool:
        found = self.shared.delete_run(run_id)
        self._forget(run_id)
        return found


def store_url(config: ApiConfig, data_dir: Path) -> str:
    """The database of scenarios and shared state: configured, else ``scenarios.db`` in the data folder."""
    return config.scenario_db_url or f"sqlite:///{data_dir / 'scenarios.db'}"


def clean_stale_temp(data_dir: Path, older_than_s: float = 3600.0) -> int:
    """Remove upload temp folders left by a killed process, and this server's old temporary data folders.

    Folders younger than ``older_than_s`` may belong to another worker's upload in progress and are kept.
    """
    now = time.time()
    stale = [p for p in (data_dir / "uploads").glob("tmp*") if p.is_dir()]
    # data folders of servers that ran without one configured (before it defaulted to a durable one)
    stale += [p for p in Path(tempfile.gettempdir()).glob("lifecircle-api-*") if p.is_dir() and p.stat().st_uid == os.getuid()]
    removed = 0
    for p in stale:
        try:
            if now - p.stat().st_mtime > older_than_s:
                shutil.rmtree(p, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


def load_configured_city(config: ApiConfig) -> City:
    """The city named by the configuration (built-in, or from layer files)."""
    if config.city_files is not None:
        from layers.build import city_from_files

        f = config.city_files
        return city_from_files(f.grid, f.facilities, osm=f.osm, network=f.network, coords=f.coords, crs=f.crs, name=f.name)
    from layers.cities import load_city

    return load_city(config.city)


class AppState:
    """Shared state of one API instance.

    Parameters
    ----------
    config : ApiConfig
    city : City, optional
        The city to serve; loaded from the configuration when omitted.
    """

    def __init__(self, config: ApiConfig, city: City | None = None):
        self.config = config
        self.city = city if city is not None else load_configured_city(config)
        # Build every lazily cached structure of the city now: requests only read.
        _ = (self.city.snapped_cells, self.city.snapped_facilities, self.city.network.csr, self.city.cell_xy)
        self.reach = ReachIndex(self.city, margin_m=config.outside_margin_m)
        self.data_dir = Path(config.data_dir).expanduser() if config.data_dir is not None else user_data_dir()
        for sub in ("runs", "uploads"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        removed = clean_stale_temp(self.data_dir)
        log.info("lifecircle API data folder: %s%s", self.data_dir, f" (removed {removed} stale temporary folders)" if removed else "")
        self.metrics = Metrics()
        limits, ttl = config.limits, config.result_ttl_s
        self.shared = SharedStore(store_url(config, self.data_dir))
        self.layers = LayerStore(self.shared, limits.max_layers, ttl)
        self.runs = RunStore(self.shared, limits.max_runs, ttl, self.city, self.data_dir)
        self.jobs = JobManager(
            self.shared, config.job_workers, ttl,
            max_queued=limits.max_queued_jobs, max_per_owner=limits.max_jobs_per_key,
            memory_limit=int(limits.job_memory_mb * 1e6), on_memory=self.metrics.job_rss.set,
        )
        alive = {self.jobs.worker}
        failed = self.shared.orphaned_jobs(self.jobs.worker.rsplit(":", 1)[0] + ":", alive | _live_workers())
        if failed:
            log.warning("%d jobs of a stopped server were marked failed", failed)
        self.city_cells = wgs84_frame(self.city.cells)
        self.city_facilities = wgs84_frame(self.city.facilities)
        f = self.city_facilities
        self.facility_refs = [
            FacilityRef(id=str(i), name=str(n), kind=str(k), lon=float(g.x), lat=float(g.y))
            for i, n, k, g in zip(f["id"], f["name"], f["kind"], f.geometry, strict=True)
        ]
        self.city_units = {level: wgs84_frame(gdf) for level, gdf in self.city.units.items()}
        self.map_lock = threading.Lock()  # matplotlib/folium exports one at a time
        # in-request coverage runs at once: more would only fight over the GIL
        # and starve the cheap requests
        self.compute_slots = threading.BoundedSemaphore(config.job_workers)
        # a map not made yet, asked for without a key: one at a time, the others get a 429
        self.open_render_slot = threading.Lock()

    def new_run_folder(self) -> tuple[str, Path]:
        """A fresh run id and its (created) folder."""
        run_id = uuid.uuid4().hex
        folder = self.data_dir / "runs" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        return run_id, folder

    def close(self) -> None:
        """Ask running jobs to stop (at server shutdown); the state stays usable."""
        self.jobs.cancel_all()


def _live_workers() -> set[str]:
    """``host:pid`` of every process on this host, so that only the jobs of dead workers are failed."""
    import socket

    import psutil

    host = socket.gethostname()
    return {f"{host}:{pid}" for pid in psutil.pids()}

