"""``lifecircle service-rules``: the catalogue's catchment rules and grid rules, with CSV and layers. Thin.

    lifecircle service-rules --city cities/jiangning --catalogue seeds-full --out rules
    lifecircle service-rules --city cities/futian --grid-layer grid.gpkg --standard clinic-walk --out rules

Writes ``catchments.csv`` (every facility with the population of its catchment
and pass/below/above), ``grid.csv`` (per management grid cell: residents out
of reach per standard, covered or not per grid rule), ``rules.csv`` (one row
per rule) and ``service_rules.gpkg`` with layers ``catchments`` and ``grid``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.cli.console import console, fail, progress_bar, user_errors

__all__ = ["register", "GRID_LAYER"]

GRID_LAYER = typer.Option(None, "--grid-layer", help="A management grid (polygons with an id) for this run; default: "
                          "the city folder's own (city build --management-grid).")


def service_rules_command(
    city: str = typer.Option("demo", "--city", help="A city folder or a built-in city."),
    grid_layer: Optional[Path] = GRID_LAYER,
    rule: list[str] = typer.Option([], "--rule", "-r", help="Catchment or grid rule id (repeatable); all when omitted."),
    standard: list[str] = typer.Option([], "--standard", "-s", help="Also aggregate this standard to the management "
                                       "grid (repeatable; Guangzhou's one base grid)."),
    search_m: float = typer.Option(20_000.0, "--search-m", help="How far a resident's nearest facility is searched "
                                   "for a catchment, metres."),
    out: Path = typer.Option(Path("service-rules"), "--out", help="Output folder."),
) -> None:
    """Catchment rules (population each facility serves) and grid rules (每格全覆盖) of the catalogue."""
    import pandas as pd

    from layers.cities import load_city
    from layers.management_grid import GRID_LEVEL
    from scenarios.catalogue import active_catalogue
    from scenarios.service_rules import attach_grid, run_catchments, run_grid_rules

    cat = active_catalogue()
    rules = list(rule)
    bad = [r for r in rules if r not in cat.catchments and r not in cat.grid_rules]
    if bad:
        fail(f"--rule {bad[0]}: not a catchment or grid rule of catalogue '{cat.id}'; it has "
             f"{', '.join([*cat.catchments, *cat.grid_rules]) or 'none'} (try --catalogue seeds-full)")
    catch_ids = [r for r in rules if r in cat.catchments] if rules else None
    grid_ids = [r for r in rules if r in cat.grid_rules] if rules else None
    with user_errors():
        with progress_bar() as update:
            c = load_city(city, progress=update)
            if grid_layer is not None:
                c = attach_grid(c, grid_layer)
            catchments = run_catchments(c, catch_ids, search_m) if (catch_ids is None or catch_ids) else []
            want_grid = (grid_ids is None and (cat.grid_rules or standard)) or grid_ids or standard
            if want_grid and GRID_LEVEL not in c.units:
                fail("grid rules need a management grid: give --grid-layer FILE or build the city with "
                     "'lifecircle city build --management-grid FILE'")
            grid = run_grid_rules(c, grid_ids, list(standard), progress=update) if want_grid else None
        if not catchments and grid is None:
            fail(f"catalogue '{cat.id}' has no catchment or grid rules (try --catalogue seeds-full) and no --standard was given")
        out.mkdir(parents=True, exist_ok=True)
        gpkg = out / "service_rules.gpkg"
        if gpkg.exists():
            gpkg.unlink()
        summary = []
        if catchments:
            import geopandas as gpd

            layer = gpd.GeoDataFrame(pd.concat([r.facilities for r in catchments], ignore_index=True), crs=c.crs)
            layer.drop(columns="geometry").to_csv(out / "catchments.csv", index=False)
            layer.to_crs(4326).to_file(gpkg, layer="catchments", driver="GPKG")
            for r in catchments:
                s = r.summary()
                summary.append({"type": "catchment", **s})
                console.print(f"{s['rule']}: {s['pass']} of {s['facilities']} facilities serve "
                              f"{s['min_population']:,.0f}-{s['max_population'] or float('inf'):,.0f} people "
                              f"({s['below']} below, {s['above']} above; {s['unassigned_population']:,.0f} residents "
                              f"with none within {s['search_m']:,.0f} m)")
        if grid is not None:
            grid.grid.drop(columns="geometry").to_csv(out / "grid.csv", index=False)
            grid.grid.to_crs(4326).to_file(gpkg, layer="grid", driver="GPKG")
            for s in grid.summary().to_dict("records"):
                summary.append({"type": "grid", **s})
                verdict = "n/a" if s["pass"] is None else ("pass" if s["pass"] else "fail")
                console.print(f"{s['rule']}: {s['covered']} of {s['with_residents']} grid cells with residents covered "
                              f"(needs {s['min_share']:.0%}): {verdict}")
        pd.DataFrame(summary).to_csv(out / "rules.csv", index=False)
    console.print(f"  out   {out}")


def register(app: typer.Typer) -> None:
    """Add ``service-rules`` to the ``lifecircle`` app."""
    app.command("service-rules")(service_rules_command)
