"""``lifecircle demo``, ``cover`` and ``standards``: evaluate standards on a city and write the outputs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from api.cli.city import city_from_options
from api.cli.collector import keep_until_exit, own_process
from api.cli.console import CLOCK, console, err_console, fail, parse_overrides, progress_bar, user_errors
from api.cli.report import print_diagnostics, print_ratios, print_summary
from api.options import (
    BUILTIN_CITY,
    CITY_HELP,
    COORDS,
    CRS_OPTION,
    FACILITIES_COORDS,
    GRID_COORDS,
    LANG,
    NAME,
    NO_MAP,
    OSM,
    PLACE,
    SAVED_NETWORK,
    SET_STANDARD,
    STANDARDS,
    UNITS,
    UNITS_COORDS,
)

__all__ = ["register", "run_and_write", "demo", "cover", "standards"]


def run_and_write(
    city,
    standard_ids,
    overrides,
    out: Path,
    lang: str,
    map_html: bool,
    ratios: bool = False,
    service_areas: bool | None = None,
    city_ref: str | None = None,
    fmt: str = "gpkg",
) -> None:
    """Evaluate standards on a city, print the table and write the output folder.

    ``service_areas=None`` draws them when :func:`scenarios.service_area_layer.service_areas_affordable`
    says they are cheap (small cities), and otherwise says how to ask for them. ``city_ref``
    (a city folder or built-in name) is recorded so that ``map``/``export --results`` can reload
    the run; without one the city itself is saved into the output folder. ``fmt`` is
    ``gpkg`` (one GeoPackage) or ``parquet`` (GeoParquet layers).
    """
    from scenarios.evaluate import evaluate
    from scenarios.gpkg_layer import wgs84_polygon_wkb
    from scenarios.outputs import write_diagnostics, write_outputs
    from scenarios.run_folder import save_run
    from scenarios.service_area_layer import AUTO_WALKING_AREAS_MAX, service_areas_affordable
    from scenarios.standards import resolve_standards

    standards = resolve_standards(standard_ids or None, overrides)
    if service_areas is None:
        service_areas = service_areas_affordable(city, standards)
        if not service_areas:
            err_console.print(
                f"note: more than {AUTO_WALKING_AREAS_MAX} walking service areas to draw; skipping the "
                "service_areas layer (and the map's) -- pass --service-areas to draw them anyway"
            )
    with progress_bar() as update:
        result = evaluate(city, standards, progress=update)
    # The cells layer's geometry does not depend on the results: it is encoded while they are summed up.
    beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cells-wkb")
    cells_wkb = beside.submit(wgs84_polygon_wkb, city.cells.geometry.values._data, city.crs) if fmt == "gpkg" else None
    beside.shutdown(wait=False)  # the one task runs on; write_outputs waits for its result
    keep_until_exit(result)  # the city and its results go with the process, not object by object
    print_summary(result, lang)
    checks, detours = print_diagnostics(result)
    report = None
    if ratios and city.units:
        from scenarios.ratio_standards import run_ratios

        report = run_ratios(city)
        print_ratios(report)
    with progress_bar() as update:
        update("writing the layers", 0.0)

        def run_folder() -> dict[str, Path]:
            update("keeping the run for map/export --results", 0.6)
            return {**write_diagnostics(checks, detours, out), **save_run(result, out, city_ref)}

        # When this process is the command line's own (it ends with the command), the layers are
        # written by a forked child (GDAL holds the GIL) while the run folder is written here.
        paths = write_outputs(result, out, ratios=report, service_areas=service_areas, progress=update, format=fmt,
                              diagnostics=(checks, detours), background=own_process(), meanwhile=run_folder,
                              cells_wkb=None if cells_wkb is None else cells_wkb.result)
        if map_html:
            update("writing map.html", 0.7)
            from maps.diagnostics import diagnostics_layer
            from maps.interactive import coverage_map
            from maps.ratio_layers import ratio_layers
            from scenarios.diagnostics import diagnostic_cells

            extra = ratio_layers(report, lang) if report is not None else []
            flagged = diagnostics_layer(diagnostic_cells(result, detours, checks.far_m), flag=detours.flag,
                                        far_m=checks.far_m, max_snap_m=checks.max_snap_m, lang=lang)
            extra = extra + ([flagged] if flagged is not None else [])
            paths["map"] = coverage_map(result, out / "map.html", lang=lang, extra_layers=extra or None,
                                        service_areas=service_areas)
    for name, p in paths.items():
        console.print(f"  {name:5} {p}")


_SERVICE_AREAS = typer.Option(
    None,
    "--service-areas/--no-service-areas",
    help="Write the service_areas layer (and map layers). Default: only when there are at most "
    "250 walking service areas to draw; they are the slowest output of a city-sized run.",
    show_default=False,
)
_FORMAT = typer.Option("gpkg", "--format", help="Layers as one GeoPackage (gpkg) or as GeoParquet files (parquet), "
                       "which QGIS and geopandas read directly and which write faster.")
_TIMINGS = typer.Option(None, "--timings", help="Write the wall time of each step as JSON to this file.", hidden=True)


def demo(
    city: str = BUILTIN_CITY,
    out: Path = typer.Option(Path("out"), "--out", help="Output folder."),
    lang: str = LANG,
    no_map: bool = NO_MAP,
    service_areas: Optional[bool] = _SERVICE_AREAS,
    format: str = _FORMAT,
    timings: Optional[Path] = _TIMINGS,
) -> None:
    """Build a built-in city, run every standard, print the table and write outputs."""
    from layers.cities import load_city

    CLOCK.reset()
    with user_errors():
        with progress_bar() as update:
            c = load_city(city, progress=update)
        run_and_write(c, None, {}, out, lang, not no_map, ratios=True, service_areas=service_areas, city_ref=city,
                      fmt=format)
    if timings is not None:
        CLOCK.write(timings)


def cover(
    city: Optional[str] = typer.Option(None, "--city", help=CITY_HELP + " Instead of --grid/--facilities/network."),
    grid: Optional[Path] = typer.Option(None, help="Population polygons or points (GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV)."),
    facilities: Optional[Path] = typer.Option(None, help="Facilities (points: GeoPackage/GeoJSON/Shapefile, or CSV with lon/lat)."),
    osm: Optional[Path] = OSM,
    network: Optional[Path] = SAVED_NETWORK,
    place: Optional[str] = PLACE,
    units: Optional[Path] = UNITS,
    standard: list[str] = STANDARDS,
    set_: list[str] = SET_STANDARD,
    coords: Optional[str] = COORDS,
    grid_coords: Optional[str] = GRID_COORDS,
    facilities_coords: Optional[str] = FACILITIES_COORDS,
    units_coords: Optional[str] = UNITS_COORDS,
    name: Optional[str] = NAME,
    crs: Optional[str] = CRS_OPTION,
    out: Path = typer.Option(Path("results"), "--out", help="Output folder."),
    lang: str = LANG,
    no_map: bool = NO_MAP,
    ratios: bool = typer.Option(False, "--ratios", help="Also check the ratio rules per unit and E2SFCA accessibility."),
    service_areas: Optional[bool] = _SERVICE_AREAS,
    format: str = _FORMAT,
    timings: Optional[Path] = _TIMINGS,
) -> None:
    """Run standards on a city folder, or on your own grid, facilities and network."""
    from layers.cities import load_city

    if (city is None) == (grid is None and facilities is None):
        fail("give either --city (a city folder or built-in city) or --grid and --facilities with a network source")
    if city is None and (grid is None or facilities is None):
        fail("give both --grid and --facilities (or --city)")
    CLOCK.reset()
    with user_errors():
        overrides = parse_overrides(set_)
        with progress_bar() as update:
            if city is not None:
                c = load_city(city, progress=update)
            else:
                c = city_from_options(
                    grid, facilities, osm=osm, network=network, place=place, crs=crs, coords=coords,
                    grid_coords=grid_coords, facilities_coords=facilities_coords, units=units,
                    units_coords=units_coords, name=name or out.name, progress=update,
                )
        run_and_write(c, list(standard), overrides, out, lang, not no_map, ratios=ratios, service_areas=service_areas,
                      city_ref=city, fmt=format)
    if timings is not None:
        CLOCK.write(timings)


def standards(lang: str = LANG) -> None:
    """List the standards catalogue with parameters and source clauses."""
    from scenarios.standards import catalogue

    table = Table(title="lifecircle standards", show_lines=True)
    for col in ("id", "title", "kinds", "measure", "weight", "source"):
        table.add_column(col, no_wrap=col == "id")
    for s in catalogue().values():
        measure = (
            f"{s.threshold_m:g} m straight line"
            if s.mode == "euclidean"
            else f"{s.threshold_m:g} m walk"  # a catalogue's walk in metres (GB 50180 radii)
            if s.threshold_min is None
            else f"{s.threshold_min:g} min walk at {s.speed_mps:g} m/s (= {s.threshold_m:g} m)"
        )
        table.add_row(s.id, s.title(lang), ", ".join(s.kinds), measure, s.weight, s.source)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``demo``, ``cover`` and ``standards`` to the ``lifecircle`` app."""
    app.command("demo")(demo)
    app.command("cover")(cover)
    app.command("standards")(standards)
