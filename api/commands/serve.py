"""``lifecircle serve``: run the HTTP API with uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register", "serve_command"]


def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (use 0.0.0.0 only behind a proxy)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    config: Path | None = typer.Option(None, "--config", help="YAML or TOML configuration file (see api/config.py)."),
    city: str | None = typer.Option(None, "--city", help="A city folder made by 'lifecircle city build', or a built-in "
                                    "city (default: the configuration's, else demo)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the city-portal API (OpenAPI docs at /docs).

    One process: uploaded layers, runs and jobs live in its memory and data folder.
    """
    import uvicorn

    from api.app import create_app
    from api.cli import fail
    from api.config import load_config

    try:
        cfg = load_config(config, **({"city": city} if city is not None else {}))
        app = create_app(cfg)
    except ValueError as exc:  # ConfigError, UnknownCityError, LayerError: a message, not a traceback
        fail(str(exc))
        return
    # keep idle connections longer than clients and proxies usually do (5 s default
    # races clients that reuse a connection just as the server drops it)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_keep_alive=30)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``lifecircle`` app."""
    app.command("serve")(serve_command)
