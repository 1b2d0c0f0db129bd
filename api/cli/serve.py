"""``lifecircle serve``: run the HTTP API with uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.console import fail

__all__ = ["register", "serve_command"]


def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (use 0.0.0.0 only behind a proxy)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    config: Path | None = typer.Option(None, "--config", help="YAML or TOML configuration file (see api/config.py)."),
    city: str | None = typer.Option(None, "--city", help="A city folder made by 'lifecircle city build', or a built-in "
                                    "city (default: the configuration's, else demo)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes; they share jobs, layers and scenarios "
                                "through the configured store (PostgreSQL across hosts)."),
) -> None:
    """Serve the city-portal API (OpenAPI docs at /docs).

    Jobs, job results, uploaded layers and scenarios live in the data folder's
    store (or the configured PostgreSQL), shared by every worker.
    """
    from api.serving import serve
    from geo.errors import LifecircleError

    try:
        serve(host, port, config, city, workers, log_level)
    except LifecircleError as exc:  # ConfigError, UnknownCityError, LayerError: a message, not a traceback
        fail(str(exc))


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``lifecircle`` app."""
    app.command("serve")(serve_command)
