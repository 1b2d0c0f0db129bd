"""The Dask client a batch runs on: a LocalCluster of N workers, or an existing scheduler.

A scheduler that does not answer is a user error (:class:`ClusterError`, one
line naming the address), found before any work starts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from geo.errors import LifecircleError

__all__ = ["CONNECT_TIMEOUT_S", "ClusterError", "open_client"]

CONNECT_TIMEOUT_S = 10.0
"""How long to wait for an existing scheduler to answer."""


class ClusterError(LifecircleError):
    """No Dask cluster to run on (a scheduler that does not answer, a bad worker count)."""


@contextmanager
def open_client(
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    processes: bool = True,
    threads_per_worker: int = 1,
    timeout_s: float = CONNECT_TIMEOUT_S,
    dashboard: bool = True,
) -> Iterator["distributed.Client"]:  # noqa: F821 -- imported lazily
    """A Dask client, closed (and its LocalCluster shut down) on exit.

    Parameters
    ----------
    workers : int, optional
        Workers of the LocalCluster (default: the usable cores). Ignored with
        ``scheduler``.
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    processes : bool, default True
        LocalCluster workers as processes (True) or threads of this process.
    threads_per_worker : int, default 1
    timeout_s : float
        How long ``scheduler`` has to answer.
    dashboard : bool, default True
        Serve the dashboard on a free port of the LocalCluster.

    Raises
    ------
    ClusterError
        Both or a bad worker count, or the scheduler does not answer.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None and workers is not None:
        raise ClusterError("give --workers (a cluster on this machine) or --scheduler (an existing one), not both")
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"--scheduler {scheduler}: no Dask scheduler answers there within {timeout_s:g} s ({exc}); "
                "start one with 'dask scheduler' and workers with 'dask worker ADDRESS'"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    if workers is not None and workers < 1:
        raise ClusterError(f"--workers: must be at least 1, got {workers}")
    from geo.threads import CORES

    cluster = LocalCluster(
        n_workers=workers or CORES,
        threads_per_worker=threads_per_worker,
        processes=processes,
        # a free port, so two clusters on one machine never fight over 8787
        dashboard_address=":0",
        scheduler_kwargs={} if dashboard else {"dashboard": False},
        silence_logs=logging.ERROR,
    )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()
