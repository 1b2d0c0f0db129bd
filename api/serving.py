"""Running the API under uvicorn: one process, or several workers sharing one store.

With ``workers > 1`` uvicorn starts that many processes, each building the app
with :func:`worker_app` from the same configuration (passed on in
``LIFECIRCLE_CONFIG`` and ``LIFECIRCLE_CITY``). They share state through the
configured store (:mod:`api.shared`): a SQLite file serves several workers of
one host; several hosts need PostgreSQL (``scenario_db_url``).

Logging goes to stderr: the ``lifecircle.access`` logger writes one JSON line
per request (uvicorn's own access log is off, so each request is logged once),
and startup says where the data folder is.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fastapi import FastAPI

__all__ = ["configure_logging", "serve", "worker_app"]


def configure_logging(level: str = "info") -> None:
    """Send lifecircle's log records (access log included) to stderr at ``level``."""
    logger = logging.getLogger("lifecircle")
    if not any(getattr(h, "_lifecircle", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"))
        handler._lifecircle = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level.upper())


def worker_app() -> FastAPI:
    """The app of one worker process, configured from the environment (uvicorn factory)."""
    from api.app import create_app

    configure_logging(os.environ.get("LIFECIRCLE_LOG_LEVEL", "info"))
    return create_app()


def serve(host: str, port: int, config: Path | None, city: str | None, workers: int, log_level: str) -> None:
    """Serve the API on ``host:port`` with ``workers`` processes.

    Raises
    ------
    geo.errors.LifecircleError
        The configuration or the city cannot be used (checked before any worker starts).
    """
    import uvicorn

    from api.app import create_app
    from api.config import load_config

    configure_logging(log_level)
    overrides = {"city": city} if city is not None else {}
    cfg = load_config(config, **overrides)
    # keep idle connections longer than clients and proxies usually do (5 s default
    # races clients that reuse a connection just as the server drops it)
    options = {"host": host, "port": port, "log_level": log_level, "timeout_keep_alive": 30, "access_log": False}
    if workers <= 1:
        uvicorn.run(create_app(cfg), **options)
        return
    if config is not None:
        os.environ["LIFECIRCLE_CONFIG"] = str(Path(config).resolve())
    if city is not None:
        os.environ["LIFECIRCLE_CITY"] = city
    os.environ["LIFECIRCLE_LOG_LEVEL"] = log_level
    if cfg.scenario_db_url is None or cfg.scenario_db_url.startswith("sqlite"):
        logging.getLogger("lifecircle.api").info("%d workers share a SQLite store: fine on one host; use PostgreSQL across hosts", workers)
    uvicorn.run("api.serving:worker_app", factory=True, workers=workers, **options)
