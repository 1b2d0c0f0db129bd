"""``lifecircle batch PLAN.yaml --out DIR``: many cities, scenarios and siting sweeps on Dask. Thin.

    lifecircle batch plan.yaml --out results/                       # a LocalCluster on this machine
    lifecircle batch plan.yaml --out results/ --workers 8
    lifecircle batch plan.yaml --out /shared/results --scheduler tcp://10.0.0.5:8786
    lifecircle batch plan.yaml --out results/ --catalogue gb50180   # instead of the plan's catalogue:

The plan is checked (cities, standards, scenarios, sweeps) and the cluster
reached before any work starts; either problem is one line and exit code 2.
Partitions that fail are listed and the others finish; the exit code is then 1.
A rerun skips the partitions already finished from the same inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.cli.console import console, err_console, fail, progress_bar, user_errors

__all__ = ["batch_command", "register"]

PARTIAL_EXIT = 1
"""Exit code when some partitions failed (the others finished and are written)."""


def batch_command(
    plan: Path = typer.Argument(..., help="The batch plan (YAML): cities, standards, scenarios, sweeps, tiles."),
    out: Path = typer.Option(..., "--out", help="Output folder (shared by all workers when on several machines)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Workers of a LocalCluster on this machine "
                                          "(default: the usable cores)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler, "
                                            "e.g. tcp://10.0.0.5:8786 (instead of a LocalCluster)."),
    # declared here (not by the app-wide --catalogue wrapper, which would only make it active in this
    # process): it fills the plan's catalogue, which every task carries to its worker
    catalogue: Optional[str] = typer.Option(None, "--catalogue", help="Catalogue of kinds and standards: a "
                                            "TOML/YAML file or a built-in name (seeds, seeds-full, gb50180); "
                                            "replaces the plan's catalogue:. Default: the plan's, else seeds."),
) -> None:
    """Run a batch plan on Dask: a partitioned GeoParquet dataset of cells, summary.csv and cost-coverage curves."""
    from scenarios.batch import load_plan, open_client, run_batch

    with user_errors():
        checked = load_plan(plan, catalogue)
        with open_client(workers=workers, scheduler=scheduler) as client:
            link = client.dashboard_link
            where = scheduler or f"LocalCluster of {len(client.scheduler_info().get('workers', {}))} workers"
            err_console.print(f"Dask: {where}; dashboard: {link}")
            with progress_bar() as update:
                report = run_batch(checked, out, client, progress=update)
    console.print(f"{len(report.ran)} partitions run, {len(report.skipped)} already done, "
                  f"{len(report.failed)} failed, in {report.seconds:.1f} s")
    for name, path in report.outputs.items():
        console.print(f"  {name:10} {path}")
    if report.failed:
        for key, error in report.failed:
            err_console.print(f"[bold red]failed:[/bold red] {error}")
        fail(f"{len(report.failed)} of {report.partitions} partitions failed (listed above and in "
             f"{out / 'failures.csv'}); the others are written, and a rerun runs only what is missing",
             code=PARTIAL_EXIT)


def register(app: typer.Typer) -> None:
    """Add ``batch`` to the ``lifecircle`` app."""
    app.command("batch")(batch_command)
