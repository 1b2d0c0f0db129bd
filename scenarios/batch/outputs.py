"""A batch's tables and figures, built from the partitions on disk.

- ``summary.csv``: one row per city, scenario and standard; population (or
  elderly) covered and total are exact sums (:func:`math.fsum`, which does not
  depend on the order of the cells), so a city run in tiles gives the same
  row as the city run whole.
- ``sweeps/curves.csv`` and ``sweeps/<standard>.png``: cost-coverage curves,
  share covered against new sites, one line per city.
- ``failures.csv``: the partitions that failed and why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from layers.atomic import atomic_path, write_atomic
from scenarios.standards import Standard

__all__ = ["SUMMARY_COLUMNS", "coverage_row", "write_curves", "write_failures", "write_summary"]

SUMMARY_COLUMNS = ["city", "scenario", "standard", "covered", "total", "share", "weight", "mode", "threshold_m",
                   "cells", "tiles"]


def coverage_row(weight, covered) -> tuple[float, float]:
    """Exact ``(covered, total)`` of one standard: correctly rounded sums of the weights."""
    w = weight.to_numpy(dtype="float64")
    c = covered.to_numpy(dtype="bool", na_value=False)
    return math.fsum(w[c]), math.fsum(w)


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def write_summary(out: Path, runs: Sequence[tuple[str, str, Sequence[Standard], Sequence[str], int]]) -> Path:
    """Write ``summary.csv`` for the finished runs.

    Parameters
    ----------
    out : pathlib.Path
        The batch folder.
    runs : sequence of (city, scenario, standards, files, tiles)
        Each run whose partitions all finished, with its cells files
        (relative to ``out``).

    Returns
    -------
    pathlib.Path
    """
    rows = []
    for city, scenario, standards, files, tiles in runs:
        cols = ["population", "elderly"] + [f"{s.column}_covered" for s in standards]
        frame = pd.concat([pq.read_table(out / f, columns=cols).to_pandas() for f in files], ignore_index=True)
        for s in standards:
            covered, total = coverage_row(frame[s.weight], frame[f"{s.column}_covered"])
            rows.append({"city": city, "scenario": scenario, "standard": s.id, "covered": round(covered, 1),
                         "total": round(total, 1), "share": round(covered / total, 6) if total > 0 else None,
                         "weight": s.weight, "mode": s.mode, "threshold_m": round(s.threshold_m, 1),
                         "cells": len(frame), "tiles": tiles})
    return _csv(pd.DataFrame(rows, columns=SUMMARY_COLUMNS), out / "summary.csv")


def write_failures(out: Path, failures: Sequence[tuple[str, str]]) -> Path | None:
    """Write ``failures.csv`` (partition, error), or remove an old one when nothing failed."""
    path = out / "failures.csv"
    if not failures:
        path.unlink(missing_ok=True)
        return None
    return _csv(pd.DataFrame(list(failures), columns=["partition", "error"]), path)


def write_curves(out: Path, files: Sequence[str]) -> list[Path]:
    """Cost-coverage curves of the sweeps: ``sweeps/curves.csv`` and one PNG per standard and problem.

    Parameters
    ----------
    out : pathlib.Path
    files : sequence of str
        The sweep points' JSON files (relative to ``out``).

    Returns
    -------
    list of pathlib.Path
        The table and the figures.
    """
    if not files:
        return []
    rows = [json.loads((out / f).read_text(encoding="utf-8")) for f in files]
    table = pd.DataFrame(rows).sort_values(["standard", "problem", "city", "p"], ignore_index=True)
    written = [_csv(table, out / "sweeps" / "curves.csv")]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for (standard, problem), group in table.groupby(["standard", "problem"], sort=True):
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
        for city, line in group.groupby("city", sort=True):
            ax.plot(line["p"], 100 * line["share_after"].astype(float), marker="o", ms=3, label=city)
        ax.set_xlabel("new facilities (p)")
        ax.set_ylabel("share covered (%)")
        ax.set_title(f"{standard}: cost-coverage ({problem})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="city")
        fig.tight_layout()
        path = out / "sweeps" / f"{standard}-{problem}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
        written.append(path)
    return written


def write_report(out: Path, report: dict) -> Path:
    """``batch.json``: what ran, what was skipped and what failed."""
    return write_atomic(out / "batch.json", json.dumps(report, indent=1, default=str))
