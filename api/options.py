"""Command-line options shared by ``lifecircle`` commands, so each reads the same everywhere.

Only typer here: :mod:`api.cli` and the :mod:`api.commands` modules both
import this without importing each other.
"""

from __future__ import annotations

import typer

__all__ = ["BUILTIN_CITY", "LANG", "NO_MAP", "SET_STANDARD", "STANDARDS"]

BUILTIN_CITY = typer.Option("demo", help="Built-in city: 'demo' (generated district) or 'helsinki' (real OSM).")
LANG = typer.Option("en", help="Label language: en or zh.")
NO_MAP = typer.Option(False, "--no-map", help="Skip the HTML map.")
STANDARDS = typer.Option([], "--standard", "-s", help="Standard id (repeatable); all when omitted.")
SET_STANDARD = typer.Option([], "--set", help="Override, e.g. clinic-walk.threshold_min=20 (repeatable).")
