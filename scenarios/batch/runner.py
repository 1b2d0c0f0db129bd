"""Run a checked plan on a Dask client: partitions as tasks, finished ones skipped, results on disk.

One partition is one city (or one tile of it) under one scenario, or one
point of a siting sweep. Each becomes a Dask task; a tiled city first gets a
task that cuts it into tile files, and its tile tasks depend on that one.
Partitions already recorded in the manifest with the same input hash are not
run again. The plan's catalogue is sent to the workers once and given to
every task. When every task has finished or failed, the tables are written
from the files on disk (so a resumed run's tables include the earlier work).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenarios.batch.manifest import Manifest
from scenarios.batch.outputs import write_curves, write_failures, write_report, write_summary
from scenarios.batch.plan import BASE, BatchPlan, CityRef
from scenarios.batch.tasks import CellsJob, CutJob, Outcome, SweepJob, cut_city, run_cells, run_sweep_point
from scenarios.batch.tiling import reach_m
from scenarios.model import Scenario

__all__ = ["BatchReport", "RESULTS_VERSION", "plan_jobs", "run_batch"]

RESULTS_VERSION = "1"
"""Bump when the files a partition writes change shape: every partition runs again."""

Progress = Callable[[str, float], None]


@dataclass
class BatchReport:
    """What a batch run did.

    Attributes
    ----------
    partitions : int
        All partitions of the plan (cuts of tiled cities included).
    skipped : list of str
        Finished by an earlier run with the same inputs: not run again.
    ran : list of str
        Run now and finished.
    failed : list of (str, str)
        Partition and cause (the message names the city).
    outputs : dict of str to pathlib.Path
        ``summary``, ``cells``, ``curves`` ... that were written.
    info : dict
        Per partition run now: seconds, the worker's peak memory, host.
    seconds : float
    """

    partitions: int = 0
    skipped: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no partition failed."""
        return not self.failed


def _slug(text: str) -> str:
    """A file-name-safe form of a city or scenario name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "_"


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class _Jobs:
    cuts: list[tuple[CutJob, str]] = field(default_factory=list)
    cells: list[tuple[CellsJob, str, str | None]] = field(default_factory=list)  # job, inputs, cut key
    sweeps: list[tuple[SweepJob, str]] = field(default_factory=list)
    runs: list[tuple[str, str, list, list[str], int]] = field(default_factory=list)  # summary rows per run


def _code_digest() -> str:
    from layers.cache import source_digest

    # the code that computes results is an input too: edited code runs again
    return source_digest(("geo", "layers", "scenarios"))[:16]


def plan_jobs(plan: BatchPlan, code: str | None = None) -> _Jobs:
    """Every partition of the plan as a job with the hash of its inputs.

    Parameters
    ----------
    plan : BatchPlan
    code : str, optional
        Digest of the computing code (default: of ``geo``, ``layers`` and
        ``scenarios``), part of every input hash.
    """
    code = _code_digest() if code is None else code
    # the catalogue defines the standards and kinds every partition is computed with
    cat = plan.catalogue.digest
    columns = tuple(plan.all_standards())
    col_ids = [s.id for s in columns]
    jobs = _Jobs()
    for c in plan.cities:
        runs: list[Scenario | None] = [None] + [s for s in plan.scenarios if s.city == c.ref]
        cut_key = None
        reach = reach_m([s for r in runs for s in plan.standards_of(r)])
        if c.tiles > 1:
            cut_key = f"cut/{c.name}"
            cut_inputs = _digest(RESULTS_VERSION, code, cat, c.fingerprint, c.tiles, reach)
            folder = f"_tiles/{_slug(c.name)}-{cut_inputs[:10]}"
            jobs.cuts.append((CutJob(cut_key, c.name, c.ref, c.fingerprint, c.tiles, reach, folder), cut_inputs))
        for sc in runs:
            name = sc.name if sc else BASE
            standards = tuple(plan.standards_of(sc))
            content = sc.content() if sc else None
            files = []
            for t in range(c.tiles) if c.tiles > 1 else [-1]:
                key = f"cells/{c.name}/{name}" + (f"/t{t}" if t >= 0 else "")
                path = f"cells/{_slug(c.name)}__{_slug(name)}" + (f"__t{t:04d}" if t >= 0 else "") + ".parquet"
                inputs = _digest(RESULTS_VERSION, code, cat, c.fingerprint, content, [s.to_dict() for s in standards],
                                 col_ids, t, c.tiles, reach if t >= 0 else None,
                                 jobs.cuts[-1][1] if t >= 0 else None)
                job = CellsJob(key, c.name, c.ref, c.fingerprint, sc, standards, columns, path, t, reach)
                jobs.cells.append((job, inputs, cut_key if t >= 0 else None))
                files.append(path)
            jobs.runs.append((c.name, name, list(standards), files, c.tiles))
    for sw in plan.sweeps:
        for city_name in sw.cities:
            c: CityRef = plan.city(city_name)
            for p in sw.p:
                key = f"sweep/{c.name}/{sw.standard.id}/{sw.problem}/p{p}"
                path = f"sweeps/points/{_slug(c.name)}__{_slug(sw.standard.id)}__{sw.problem}__p{p:04d}.json"
                inputs = _digest(RESULTS_VERSION, code, cat, c.fingerprint, sw.standard.to_dict(), sw.problem, p,
                                 sw.solver, sw.time_limit_s)
                job = SweepJob(key, c.name, c.ref, c.fingerprint, sw.standard, sw.overrides, sw.problem, p,
                               sw.solver, sw.time_limit_s, path)
                jobs.sweeps.append((job, inputs))
    return jobs


def _dask_key(key: str, inputs: str) -> str:
    return f"{_slug(key)}-{inputs[:8]}"


def _outcome(future, key: str) -> Outcome:
    """The task's outcome; a task Dask gave up on (its workers kept dying) becomes a failure."""
    try:
        return future.result()
    except Exception as exc:  # KilledWorker, a lost connection, a crash outside the task's own catch
        return Outcome(key, False, error=f"{key}: {type(exc).__name__}: {exc}")


def run_batch(
    plan: BatchPlan,
    out: str | Path,
    client: "distributed.Client",  # noqa: F821 -- lazily imported
    progress: Progress | None = None,
    *,
    code: str | None = None,
) -> BatchReport:
    """Run every partition of ``plan`` not finished yet, then write the tables.

    Parameters
    ----------
    plan : BatchPlan
        From :func:`scenarios.batch.plan.load_plan`.
    out : path-like
        The batch folder (on a file system every worker sees).
    client : distributed.Client
    progress : callable, optional
        ``progress(message, fraction)`` as partitions finish.
    code : str, optional
        Digest of the computing code, part of every input hash (default: of
        the ``geo``, ``layers`` and ``scenarios`` sources, so edited code
        runs again; tests pin it, the tree being edited meanwhile).

    Returns
    -------
    BatchReport
    """
    from distributed import as_completed

    t0 = time.perf_counter()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda message, fraction: None)
    manifest = Manifest(out)
    jobs = plan_jobs(plan, code)
    report = BatchReport(partitions=len(jobs.cuts) + len(jobs.cells) + len(jobs.sweeps))
    todo: dict[Any, tuple[str, str]] = {}  # future -> (key, inputs)
    # Passed with every task (a worker process does not share this one's active catalogue). Not
    # scattered: scattered data has no task to recompute it from, so a killed worker holding it
    # cancelled every task that needed it ("already forgotten"); a catalogue is a few kilobytes.
    catalogue = plan.catalogue

    cut_inputs: dict[str, Any] = {}  # cut key -> future, or the tile files of a finished cut
    needs_cut = {cut for job, inputs, cut in jobs.cells if cut and not manifest.done(job.key, inputs)}
    for job, inputs in jobs.cuts:
        if manifest.done(job.key, inputs):
            report.skipped.append(job.key)
            cut_inputs[job.key] = manifest.files(job.key)
        elif job.key not in needs_cut:  # every tile finished before: the tiles are not needed
            report.skipped.append(job.key)
        else:
            fut = client.submit(cut_city, job, str(out), catalogue=catalogue, key=_dask_key(job.key, inputs),
                                pure=False)
            todo[fut] = (job.key, inputs)
            cut_inputs[job.key] = fut
    for job, inputs, cut in jobs.cells:
        if manifest.done(job.key, inputs):
            report.skipped.append(job.key)
            continue
        fut = client.submit(run_cells, job, str(out), cut_inputs.get(cut) if cut else None, catalogue=catalogue,
                            key=_dask_key(job.key, inputs), pure=False)
        todo[fut] = (job.key, inputs)
    for job, inputs in jobs.sweeps:
        if manifest.done(job.key, inputs):
            report.skipped.append(job.key)
            continue
        fut = client.submit(run_sweep_point, job, str(out), catalogue=catalogue, key=_dask_key(job.key, inputs),
                            pure=False)
        todo[fut] = (job.key, inputs)

    total = len(todo)
    say(f"{total} to run, {len(report.skipped)} done before", 0.0 if total else 1.0)
    for n, fut in enumerate(as_completed(list(todo)), start=1):
        key, inputs = todo[fut]
        outcome = _outcome(fut, key)
        if outcome.ok:
            manifest.record(key, inputs, outcome.files, {k: v for k, v in outcome.info.items() if k != "traceback"})
            report.ran.append(key)
        else:
            report.failed.append((key, outcome.error))
        report.info[key] = outcome.info
        say(f"{'failed' if not outcome.ok else 'done'} {key}", n / total)

    _write_tables(plan, jobs, manifest, out, report)
    report.seconds = time.perf_counter() - t0
    write_report(out, {"partitions": report.partitions, "ran": report.ran, "skipped": report.skipped,
                       "failed": [{"partition": k, "error": e} for k, e in report.failed],
                       "seconds": round(report.seconds, 3)})
    return report


def _write_tables(plan: BatchPlan, jobs: _Jobs, manifest: Manifest, out: Path, report: BatchReport) -> None:
    """summary.csv over the runs whose partitions all finished; curves; failures."""
    by_path = {job.path: (job.key, inputs) for job, inputs, _ in jobs.cells}
    complete = [r for r in jobs.runs if all(manifest.done(*by_path[f]) for f in r[3])]
    report.outputs["summary"] = write_summary(out, complete)
    report.outputs["cells"] = out / "cells"
    points = [job.path for job, inputs in jobs.sweeps if manifest.done(job.key, inputs)]
    for path in write_curves(out, points):
        report.outputs[path.name] = path
    failures = write_failures(out, report.failed)
    if failures is not None:
        report.outputs["failures"] = failures
