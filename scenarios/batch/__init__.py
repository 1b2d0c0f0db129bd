"""Batch runs on Dask: many cities, scenarios and siting sweeps, and big cities cut into exact tiles.

    from scenarios.batch import load_plan, open_client, run_batch
    plan = load_plan("plan.yaml")              # every user error found here, before any work
    with open_client(workers=2) as client:     # or open_client(scheduler="tcp://host:8786")
        report = run_batch(plan, "out/", client)

Modules: :mod:`~scenarios.batch.plan` (the plan file), :mod:`~scenarios.batch.tiling`
(a city cut into tiles with a halo), :mod:`~scenarios.batch.tasks` (one
partition's work on a worker), :mod:`~scenarios.batch.schema` (the cells
dataset's columns, read off ``cells_frame()``), :mod:`~scenarios.batch.manifest` (finished
partitions), :mod:`~scenarios.batch.runner` (the run), :mod:`~scenarios.batch.outputs`
(summary, curves) and :mod:`~scenarios.batch.cluster` (the Dask client).
"""

from scenarios.batch.cluster import ClusterError, open_client
from scenarios.batch.plan import BatchPlan, BatchPlanError, load_plan, plan_from_dict
from scenarios.batch.runner import BatchReport, run_batch

__all__ = ["BatchPlan", "BatchPlanError", "BatchReport", "ClusterError", "load_plan", "open_client", "plan_from_dict",
           "run_batch"]
