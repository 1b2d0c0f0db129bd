"""``lifecircle map`` and ``lifecircle export``: HTML maps and print exports. Thin."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.cli.console import console, fail, parse_overrides, progress_bar, user_errors
from api.options import CITY_HELP, LANG, SET_STANDARD, STANDARDS

__all__ = ["register", "output_file"]

_CITY = typer.Option("demo", "--city", help=CITY_HELP + " Ignored with --grid or --results.")
_RESULTS = typer.Option(None, "--results", help="A 'lifecircle cover' output folder: draw its run without recomputing it.")
_GRID = typer.Option(None, help="Your population polygons instead of a built-in city (then also --facilities and --osm/--network).")
_FACILITIES = typer.Option(None, help="Facilities file (with --grid).")
_OSM = typer.Option(None, help="Walking network from an .osm.pbf/.osm file (with --grid).")
_NETWORK = typer.Option(None, help="A saved lifecircle network file (with --grid).")
_RATIOS = typer.Option(False, "--ratios", help="Add the ratio rules per unit and the accessibility standards per cell.")


def output_file(out: Path, default_name: str, suffix: str | None = None) -> Path:
    """The file to write for ``--out``: inside it when it names a folder (an existing one, or one written with a
    trailing slash or without a suffix), else ``out`` itself with ``suffix`` when given."""
    raw = str(out)
    if out.is_dir() or raw.endswith(("/", "\\")) or not out.suffix:
        target = out / default_name
    else:
        target = out
    return target.with_suffix(f".{suffix}") if suffix and target.suffix.lstrip(".").lower() != suffix else target


def _result(city: str, grid, facilities, osm, network, standards: list[str], set_: list[str], results=None):
    """The run to draw: read from a results folder, or the city loaded (or built) and evaluated."""
    from scenarios.evaluate import evaluate
    from scenarios.standards import resolve_standards

    if results is not None:
        from scenarios.run_folder import load_run

        if grid is not None or set_ or standards:
            fail("--results draws a finished run: leave out --grid, --standard and --set (run cover again to change them)")
        with progress_bar() as update:
            return load_run(results, progress=update)
    overrides = parse_overrides(set_)
    with progress_bar() as update:
        if grid is not None:
            from layers.build import city_from_files

            if facilities is None or (osm is None) == (network is None):
                fail("with --grid give --facilities and exactly one of --osm FILE or --network FILE")
            update("reading layers", 0.1)
            c = city_from_files(grid, facilities, osm=osm, network=network)
        else:
            from layers.cities import load_city

            c = load_city(city, progress=update)
    chosen = resolve_standards(list(standards) or None, overrides)
    with progress_bar() as update:
        return evaluate(c, chosen, progress=update)


def _ratios(result, wanted: bool):
    """The RatioReport of the result's city when ``--ratios`` is given (else ``None``)."""
    if not wanted:
        return None
    from scenarios.ratio_standards import run_ratios

    if not result.city.units:
        fail(f"--ratios: city '{result.city.name}' has no administrative units to check ratio rules in")
    return run_ratios(result.city)


def _circle_layers(result, lang: str) -> list:
    """Missing-type layers of the catalogue's life circles whose standards the run holds (none otherwise)."""
    from maps.completeness import completeness_layers
    from scenarios.catalogue import active_catalogue
    from scenarios.completeness import completeness, completeness_cells

    circles = [c for c in active_catalogue().circles.values() if all(s in result.results for s in c.standards)]
    if not circles:
        return []
    comp = completeness(result, circles)
    return completeness_layers(completeness_cells(result, comp), list(comp), lang)


def map_command(
    city: str = _CITY,
    results: Optional[Path] = _RESULTS,
    grid: Optional[Path] = _GRID,
    facilities: Optional[Path] = _FACILITIES,
    osm: Optional[Path] = _OSM,
    network: Optional[Path] = _NETWORK,
    standard: list[str] = STANDARDS,
    set_: list[str] = SET_STANDARD,
    basemap: Optional[str] = typer.Option(None, help="osm, light or none (default: none for generated cities, osm otherwise)."),
    lang: str = LANG,
    no_service_areas: bool = typer.Option(False, "--no-service-areas", help="Leave out the service-area layers."),
    ratios: bool = _RATIOS,
    out: Path = typer.Option(Path("map.html"), "--out", help="HTML file to write, or a folder to write map.html into."),
) -> None:
    """Write an interactive HTML coverage map."""
    from maps.interactive import coverage_map
    from maps.ratio_layers import ratio_layers

    out = output_file(out, "map.html")
    with user_errors():
        result = _result(city, grid, facilities, osm, network, standard, set_, results)
        report = _ratios(result, ratios)
        extra = ratio_layers(report, lang, show_first=True) if report is not None else None
        extra = (extra or []) + _circle_layers(result, lang) or None
        path = coverage_map(result, out, lang=lang, basemap=basemap, service_areas=not no_service_areas,
                            extra_layers=extra)
    console.print(f"  map   {path}")


def export_command(
    city: str = _CITY,
    results: Optional[Path] = _RESULTS,
    grid: Optional[Path] = _GRID,
    facilities: Optional[Path] = _FACILITIES,
    osm: Optional[Path] = _OSM,
    network: Optional[Path] = _NETWORK,
    standard: Optional[str] = typer.Option(None, "--standard", "-s", help="Standard to map (default: the clinic walk)."),
    set_: list[str] = SET_STANDARD,
    format: Optional[str] = typer.Option(None, "--format", help="png, pdf or svg (default: from --out's suffix)."),
    paper: str = typer.Option("A4", help="A4 or A3."),
    orientation: str = typer.Option("portrait", help="portrait or landscape."),
    dpi: int = typer.Option(300, help="Resolution of PNG output."),
    lang: str = LANG,
    font: Optional[Path] = typer.Option(None, help="Font file for the labels (e.g. a CJK font for --lang zh)."),
    no_table: bool = typer.Option(False, "--no-table", help="Do not write the summary table as CSV and XLSX."),
    ratios: bool = _RATIOS,
    out: Path = typer.Option(Path("map.pdf"), "--out", help="File to write, or a folder to write map.<format> and "
                             "map-summary.csv/.xlsx into."),
) -> None:
    """Export a print-ready map page (PNG/PDF/SVG) and the summary table (CSV, XLSX)."""
    from maps.static import export_map
    from maps.tables import write_summary_table

    out = output_file(out, f"map.{(format or 'pdf').lower()}", format.lower() if format else None)
    with user_errors():
        result = _result(city, grid, facilities, osm, network, [], set_, results)
        report = _ratios(result, ratios)
        paths = {
            "map": export_map(result, out, format=format, paper=paper, orientation=orientation, dpi=dpi, lang=lang,
                              standard=standard, font=font, ratios=report)
        }
        if not no_table:
            for suffix in ("csv", "xlsx"):
                paths[suffix] = write_summary_table(result, out.with_name(f"{out.stem}-summary.{suffix}"), lang=lang,
                                                    ratios=report)
    for name, p in paths.items():
        console.print(f"  {name:5} {p}")


def register(app: typer.Typer) -> None:
    """Add ``map`` and ``export`` to the ``lifecircle`` app."""
    app.command("map")(map_command)
    app.command("export")(export_command)
