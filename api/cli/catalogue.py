"""``lifecircle catalogue check|show`` and ``--catalogue FILE`` on every command. Thin.

    lifecircle catalogue check my-district.toml     # every problem, naming entry and field
    lifecircle catalogue show gb50180               # kinds, standards, rules, circles with clauses
    lifecircle cover --city cities/futian --catalogue gb50180
    lifecircle city build ... --catalogue my-district.toml --out cities/futian   # the folder keeps it

A command given ``--city DIR`` of a city folder that holds ``catalogue.toml``
uses that catalogue unless ``--catalogue`` names another.
"""

from __future__ import annotations

import functools
import inspect
import typing
from pathlib import Path
from typing import Any, Optional

import typer

from api.cli.console import console, fail, progress_bar, user_errors

__all__ = ["register", "with_catalogue_option", "folder_catalogue"]

catalogue_app = typer.Typer(help="Check and show catalogues of facility kinds, standards and rules.", no_args_is_help=True)

CATALOGUE_OPTION = typer.Option(
    None, "--catalogue",
    help="Catalogue of kinds, standards and rules: a TOML/YAML file or a built-in name (seeds, seeds-full, gb50180). "
    "Default: the city folder's own catalogue, else seeds.",
)


def check_command(file: str = typer.Argument(..., help="A catalogue file (.toml, .yaml) or a built-in name.")) -> None:
    """Validate a catalogue: every problem is listed with its entry and field (exit 2 when any)."""
    from scenarios.catalogue import check_catalogue, load_catalogue

    problems = check_catalogue(file)
    if problems:
        fail(f"{file}: {len(problems)} problem{'s' if len(problems) != 1 else ''}\n" + "\n".join(f"  {p}" for p in problems))
    cat = load_catalogue(file)
    console.print(f"{file}: catalogue '{cat.id}' is valid: {len(cat.kinds)} kinds, {len(cat.standards)} standards, "
                  f"{len(cat.rules)} ratio rules, {len(cat.access)} accessibility standards, {len(cat.circles)} circles, "
                  f"{len(cat.catchments)} catchment rules, {len(cat.grid_rules)} grid rules")


def show_command(
    file: str = typer.Argument("seeds", help="A catalogue file or a built-in name."),
    lang: str = typer.Option("en", help="Label language: en or zh."),
) -> None:
    """List a catalogue's kinds, standards and circles with their source clauses."""
    from rich.table import Table

    from scenarios.catalogue import load_catalogue

    with user_errors():
        cat = load_catalogue(file)
    table = Table(title=f"{cat.id}: kinds", show_lines=True)
    for col in ("id", "label", "symbol", "capacity", "geometry"):
        table.add_column(col)
    for k in cat.kinds.values():
        table.add_row(k.id, k.zh if lang == "zh" else k.en, f"{k.symbol} {k.colour}", ", ".join(k.capacity), k.geometry)
    console.print(table)
    table = Table(title=f"{cat.id}: standards", show_lines=True)
    for col in ("id", "kinds", "reach", "source"):
        table.add_column(col, no_wrap=col == "id")
    for s in cat.standards.values():
        reach = f"{s.threshold_m:g} m {'walk' if s.mode == 'network' else 'radius'}"
        if s.id in cat.ranges:
            lo, hi = cat.ranges[s.id]
            reach += f" (range {lo:g}-{hi:g} m)"
        table.add_row(s.id, ", ".join(s.kinds), reach, s.source)
    console.print(table)
    if cat.circles:
        table = Table(title=f"{cat.id}: life circles", show_lines=True)
        for col in ("id", "walk", "population", "standards", "source"):
            table.add_column(col, no_wrap=col == "id")
        for c in cat.circles.values():
            pop = f"{c.population[0]:,.0f}-{c.population[1]:,.0f}" if c.population else ""
            table.add_row(c.id, f"{c.walk_m:g} m", pop, ", ".join(c.standards), c.source)
        console.print(table)


def circles_command(
    city: str = typer.Option("demo", "--city", help="A city folder or a built-in city."),
    circle: list[str] = typer.Option([], "--circle", help="Circle id (repeatable); all of the catalogue's when omitted."),
    site_p: int = typer.Option(0, "--site", help="Also place this many new facilities completing the most circles "
                               "(first --circle only)."),
    spacing: float = typer.Option(200.0, "--spacing", help="Candidate spacing along the streets, metres (with --site)."),
    out: Path = typer.Option(Path("circles"), "--out", help="Output folder."),
    lang: str = typer.Option("en", help="Label language: en or zh."),
    no_map: bool = typer.Option(False, "--no-map", help="Skip circles.html."),
    grid_layer: Optional[Path] = typer.Option(None, "--grid-layer", help="A management grid for this run (default: the "
                                              "city folder's own): completeness per grid cell too."),
) -> None:
    """Completeness of life circles per cell, unit and city (with --catalogue gb50180 or a catalogue with circles)."""
    from layers.cities import load_city
    from scenarios.completeness import completeness, completeness_cells, completeness_summary, evaluate_circles
    from scenarios.service_rules import attach_grid, completeness_grid

    with user_errors():
        with progress_bar() as update:
            c = load_city(city, progress=update)
            if grid_layer is not None:
                c = attach_grid(c, grid_layer)
            result, circles = evaluate_circles(c, list(circle) or None, progress=update)
        comp = completeness(result, circles)
        out.mkdir(parents=True, exist_ok=True)
        cells = completeness_cells(result, comp)
        cells.to_crs(4326).to_file(out / "completeness.gpkg", layer="cells", driver="GPKG")
        summary = completeness_summary(result, comp)
        summary.to_csv(out / "completeness.csv", index=False)
        by_grid = completeness_grid(c, summary)  # one row per management grid cell, when the city has a grid
        if by_grid is not None:
            by_grid.to_crs(4326).to_file(out / "completeness.gpkg", layer="grid", driver="GPKG")
        for row in summary[summary["scope"] == "city"].to_dict("records"):
            share = "n/a" if row["share_complete"] is None else f"{row['share_complete']:.1%}"
            console.print(f"{row['circle']}: {share} of residents have a complete circle; most often missing: "
                          f"{row['most_missing'] or '-'} ({row['most_missing_population']:,.0f} residents)")
        if not no_map:
            from maps.completeness import completeness_map

            completeness_map(cells, list(comp), out / "circles.html", lang=lang)
        if site_p > 0:
            from scenarios.circle_siting import site_circles

            res = site_circles(c, circles[0].id, site_p, spacing_m=spacing)
            res.sites.to_csv(out / "circle_sites.csv", index=False)
            s = res.summary()
            console.print(f"{s['p']} new facilities complete {s['newly_complete']:,.0f} more residents' "
                          f"{s['circle']} circles ({s['status']})")
    console.print(f"  out   {out}")


def folder_catalogue(kwargs: dict[str, Any]) -> str | None:
    """The ``catalogue.toml`` of a ``--city`` city folder among a command's arguments, if any."""
    city = kwargs.get("city")
    if not isinstance(city, (str, Path)) or not str(city):
        return None
    path = Path(city) / "catalogue.toml"
    return str(path) if path.is_file() else None


def with_catalogue_option(fn):
    """``fn`` with a ``--catalogue`` option that makes the catalogue active while it runs."""
    if getattr(fn, "_with_catalogue", False) or "catalogue" in inspect.signature(fn).parameters:
        return fn
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn)

    @functools.wraps(fn)
    def wrapper(*args, catalogue: Optional[str] = None, **kwargs):
        ref = catalogue or folder_catalogue(kwargs)
        if ref is None:
            return fn(*args, **kwargs)
        from scenarios.catalogue import load_catalogue, use_catalogue

        with user_errors():
            cat = load_catalogue(ref)
        with use_catalogue(cat):
            return fn(*args, **kwargs)

    param = inspect.Parameter("catalogue", inspect.Parameter.KEYWORD_ONLY, default=CATALOGUE_OPTION,
                              annotation=Optional[str])
    wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), param])
    wrapper.__annotations__ = {**hints, "catalogue": Optional[str]}
    wrapper._with_catalogue = True
    return wrapper


def _add_everywhere(app: typer.Typer) -> None:
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = with_catalogue_option(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None and group.typer_instance is not catalogue_app:
            _add_everywhere(group.typer_instance)


def register(app: typer.Typer) -> None:
    """Add ``catalogue check|show``, then ``--catalogue`` to every command registered so far (call it last)."""
    catalogue_app.command("check")(check_command)
    catalogue_app.command("show")(show_command)
    app.command("circles")(circles_command)
    _add_everywhere(app)
    app.add_typer(catalogue_app, name="catalogue")
