"""The ``lifecircle`` command line (typer). Thin: parse, call, format.

This module builds ``app`` and registers every command group; each group lives in
its own module with a ``register(app)`` and takes its console, progress and error
helpers from :mod:`api.cli.console`, which imports no command.
"""

from __future__ import annotations

import typer

from api.cli import batch, catalogue, city, coverage, maps, poi, ratios, rules, scenario, serve, site
from api.cli.collector import pace_commands, run_then_exit

__all__ = ["app", "main"]

app = typer.Typer(
    name="lifecircle",
    help="Who is within walking reach of public services: coverage, gaps and siting "
    "for Chinese life-circle planning standards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# The order is the order of `lifecircle --help`. `catalogue` comes last: it adds
# --catalogue FILE to every command registered before it.
for _group in (coverage, city, maps, site, scenario, serve, batch, poi, rules, ratios, catalogue):
    _group.register(app)
# one-shot commands put off full garbage collections (api.cli.collector); `serve` keeps Python's pace
pace_commands(app)


def main() -> None:  # pragma: no cover - console entry point
    """Run the ``lifecircle`` app and end the process without interpreter teardown (api.cli.collector)."""
    run_then_exit(app)
