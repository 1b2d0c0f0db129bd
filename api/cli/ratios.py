"""``lifecircle ratios``: ratio standards per unit and supply-aware accessibility per cell."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from api.cli.console import console, fail, parse_overrides, progress_bar, user_errors
from api.cli.report import print_ratios
from api.options import CITY_HELP

__all__ = ["register", "ratios"]


def ratios(
    city: str = typer.Option("demo", "--city", help=CITY_HELP + " It needs subdistrict/community units."),
    rule: list[str] = typer.Option([], "--rule", "-r", help="Ratio rule id (repeatable); all when omitted."),
    access: list[str] = typer.Option([], "--access", "-a", help="Accessibility standard id (repeatable); all when omitted."),
    set_: list[str] = typer.Option([], "--set", help="Override, e.g. elderly-beds-zhuhai.min_value=40 or beds-access.catchment_min=10."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write ratios.csv and access.csv here."),
    list_: bool = typer.Option(False, "--list", help="List the ratio rules and accessibility standards."),
) -> None:
    """Ratio standards per unit (beds per 1,000 elderly, ...) and supply-aware accessibility per cell."""
    from scenarios.ratio_standards import access_standards, ratio_rules, run_ratios

    if list_:
        table = Table(title="Ratio rules and accessibility standards", show_lines=True)
        for col in ("id", "title", "level / catchment", "source"):
            table.add_column(col, no_wrap=col == "id")
        for r in ratio_rules().values():
            table.add_row(r.id, r.title_en, r.level, r.source)
        for a in access_standards().values():
            table.add_row(a.id, a.title_en, f"{a.catchment_min:g} min walk", a.source)
        console.print(table)
        return
    from layers.cities import load_city

    with user_errors():
        overrides = parse_overrides(set_)
        with progress_bar() as update:
            c = load_city(city, progress=update)
        if not c.units:
            fail(f"city '{c.name}' has no administrative units to check ratio rules in: build it with "
                 "'lifecircle city build --units FILE' or give the grid subdistrict/community columns")
        report = run_ratios(c, list(rule) or None, list(access) or None, overrides)
        print_ratios(report)
        if out is not None:
            from scenarios.outputs import write_ratio_tables

            for name, p in write_ratio_tables(report, out).items():
                console.print(f"  {name:6} {p}")


def register(app: typer.Typer) -> None:
    """Add ``ratios`` to the ``lifecircle`` app."""
    app.command("ratios")(ratios)
