"""The ``lifecircle`` command line (typer). Thin: parse, call, format."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.crashlog import INTERNAL_EXIT, crash_message
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
from geo.errors import LifecircleError

app = typer.Typer(
    name="lifecircle",
    help="Who is within walking reach of public services: coverage, gaps and siting "
    "for Chinese life-circle planning standards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print a clear error (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/bold red] {message}")
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's validation errors into a one-line message and exit code 2."""
    try:
        yield
    except (LifecircleError, FileNotFoundError) as exc:  # the user's input: exit 2 with the message
        fail(str(exc))
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug: traceback to the log file, one line and exit 70 here
        fail(crash_message(exc), code=INTERNAL_EXIT)


class PhaseClock:
    """Wall time of each named step, fed by the same ``progress(step, fraction)`` calls as the bar.

    A step lasts from its first report until the next step's; ``--timings``
    writes the result as JSON (used by ``bench/bench_cover_large.py``).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget all steps (a command starts)."""
        self.seconds: dict[str, float] = {}
        self._step: str | None = None
        self._since = time.perf_counter()

    def __call__(self, step: str, fraction: float = 0.0) -> None:
        now = time.perf_counter()
        if step != self._step:
            if self._step is not None:
                self.seconds[self._step] = self.seconds.get(self._step, 0.0) + now - self._since
            self._step, self._since = step, now

    def write(self, path: Path) -> None:
        """Close the running step and write ``{step: seconds}`` (plus ``total``) as JSON."""
        self("(end)")
        self.seconds["total"] = sum(v for k, v in self.seconds.items() if k != "total")
        path.write_text(json.dumps({k: round(v, 3) for k, v in self.seconds.items()}, indent=1), encoding="utf-8")


CLOCK = PhaseClock()
"""Times every progress step of this process (one command per process)."""


@contextmanager
def progress_bar() -> Iterator:
    """A rich progress bar; yields a ``progress(step, fraction)`` callback."""
    with Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def update(step: str, fraction: float) -> None:
            CLOCK(step, fraction)
            bar.update(task, description=step, completed=max(0.0, min(1.0, fraction)))

        yield update
        bar.update(task, completed=1.0)


def print_summary(result, lang: str = "en") -> None:
    """Print the coverage table of a run."""
    city = result.city
    labels = ["generated, not a real place"] if city.generated else []
    if city.population_estimated:
        labels.append("population estimated")
    table = Table(
        title=f"Coverage: {city.name}" + (f" ({'; '.join(labels)})" if labels else ""),
        caption=city.attribution or None,
    )
    for col in ("standard", "facilities", "threshold", "covered", "share", "uncovered", "largest gap"):
        table.add_column(col, justify="left" if col == "standard" else "right", no_wrap=col == "standard")
    for r in result.results.values():
        s = r.summary()
        unit = "elderly" if r.standard.weight == "elderly" else "residents"
        thr = f"{r.standard.threshold_min:g} min walk" if r.standard.threshold_min else f"{r.standard.threshold_m:g} m radius"
        share = s["share_covered"]
        table.add_row(
            r.standard.title(lang) if lang == "zh" else r.standard.id,
            str(s["facilities"]),
            thr,
            f"{s['covered']:,.0f} {unit}",
            "n/a" if share is None else f"{share:.1%}",
            f"{s['uncovered']:,.0f}",
            f"{s['largest_gap']:,.0f}",
        )
    console.print(table)
    for note in city.meta.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {note}")


def print_diagnostics(result):
    """Print the checks a planner needs before trusting the figures; returns (CityDiagnostics, DetourReport)."""
    from scenarios.diagnostics import city_diagnostics, detour_report

    checks = city_diagnostics(result.city)
    detours = detour_report(result)
    notes = []
    if checks.n_pieces > 1:
        with_people = int((checks.pieces["population"] > 0).sum())
        notes.append(f"the walking network has {checks.n_pieces:,} connected pieces ({with_people} with residents)")
    for row in detours.summary.to_dict("records"):
        if row["population_on_pieces_without"] > 0:
            notes.append(f"{row['standard']}: {row['population_on_pieces_without']:,.0f} residents live on network pieces "
                         "with no facility of its kinds")
        if row["cells_above"]:
            notes.append(f"{row['standard']}: {row['cells_above']:,} cells walk more than {detours.flag:g}x the straight "
                         f"line (median detour {row['median']}); listed in detours.csv")
    if checks.cells_far:
        notes.append(f"{checks.cells_far:,} cells ({checks.population_far:,.0f} residents) are more than "
                     f"{checks.far_m:g} m from a street")
    for note in notes:
        console.print(f"[yellow]check:[/yellow] {note}")
    return checks, detours


def parse_overrides(items: list[str]) -> dict[str, dict[str, str]]:
    """``clinic-walk.threshold_min=20`` -> ``{"clinic-walk": {"threshold_min": "20"}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        sid, dot, param = key.partition(".")
        if not sep or not dot or not sid or not param:
            fail(f"--set '{item}': expected STANDARD.PARAMETER=VALUE, e.g. clinic-walk.threshold_min=20")
        out.setdefault(sid, {})[param] = value
    return out


def print_ratios(report) -> None:
    """Print ratio rules per unit and accessibility per cell."""
    table = Table(title="Ratio rules per unit")
    for col in ("rule", "level", "pass", "fail", "no facility", "city supply", "shortfall"):
        table.add_column(col, justify="left" if col in ("rule", "level") else "right", no_wrap=col == "rule")
    for row in report.rules_frame().to_dict("records"):
        table.add_row(
            row["rule"], row["level"], str(row["units_pass"]), str(row["units_fail"]),
            str(row["units_without_facility"]), f"{row['supply']:,.0f}", f"{row['shortfall']:,.0f}",
        )
    console.print(table)
    table = Table(title="Supply-aware accessibility (E2SFCA)")
    for col in ("standard", "catchment", "mean", "served", "under-served", "uncovered"):
        table.add_column(col, justify="left" if col == "standard" else "right", no_wrap=col == "standard")
    for row in report.access_frame().to_dict("records"):
        table.add_row(
            row["standard"], f"{row['catchment_min']:g} min", f"{row['mean_accessibility']:.1f} {row['unit']}",
            f"{row['served_population']:,.0f}", f"{row['under-served_population']:,.0f}",
            f"{row['uncovered_population']:,.0f}",
        )
    console.print(table)


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

    ``service_areas=None`` draws them when :func:`scenarios.service_areas.service_areas_affordable`
    says they are cheap (small cities), and otherwise says how to ask for them. ``city_ref``
    (a city folder or built-in name) is recorded so that ``map``/``export --results`` can reload
    the run; without one the city itself is saved into the output folder. ``fmt`` is
    ``gpkg`` (one GeoPackage) or ``parquet`` (GeoParquet layers).
    """
    from scenarios.evaluate import evaluate
    from scenarios.outputs import write_diagnostics, write_outputs
    from scenarios.run_folder import save_run
    from scenarios.service_areas import AUTO_WALKING_AREAS_MAX, service_areas_affordable
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
    print_summary(result, lang)
    checks, detours = print_diagnostics(result)
    report = None
    if ratios and city.units:
        from scenarios.ratios import run_ratios

        report = run_ratios(city)
        print_ratios(report)
    with progress_bar() as update:
        update("writing the layers", 0.0)
        paths = write_outputs(result, out, ratios=report, service_areas=service_areas, progress=update, format=fmt,
                              diagnostics=(checks, detours))
        paths.update(write_diagnostics(checks, detours, out))
        update("keeping the run for map/export --results", 0.6)
        paths.update(save_run(result, out, city_ref))
        if map_html:
            update("writing map.html", 0.7)
            from maps.diagnostics import diagnostics_layer
            from maps.interactive import coverage_map
            from maps.ratios import ratio_layers
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


@app.command()
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


@app.command()
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
    from api.commands.city import city_from_options
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


@app.command()
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


# The command modules import this one for `app`, so they are registered last.
from api.commands import city as _city_cmd  # noqa: E402,I001  lifecircle city build / info
from api.commands import maps as _maps_cmd  # noqa: E402  lifecircle map / export
from api.commands import site as _site_cmd  # noqa: E402  lifecircle site
from api.commands import scenario as _scenario_cmd  # noqa: E402  lifecircle run / scenario
from api.commands import serve as _serve_cmd  # noqa: E402  lifecircle serve

for _module in (_city_cmd, _maps_cmd, _site_cmd, _scenario_cmd, _serve_cmd):
    _module.register(app)

from api.commands import batch as _batch_cmd  # noqa: E402  lifecircle batch (Dask)
from api.commands import poi as _poi_cmd  # noqa: E402  lifecircle poi import
from api.commands import rules as _rules_cmd  # noqa: E402  lifecircle service-rules

_batch_cmd.register(app)
_poi_cmd.register(app)
_rules_cmd.register(app)


@app.command()
def ratios(
    city: str = typer.Option("demo", "--city", help=CITY_HELP + " It needs subdistrict/community units."),
    rule: list[str] = typer.Option([], "--rule", "-r", help="Ratio rule id (repeatable); all when omitted."),
    access: list[str] = typer.Option([], "--access", "-a", help="Accessibility standard id (repeatable); all when omitted."),
    set_: list[str] = typer.Option([], "--set", help="Override, e.g. elderly-beds-zhuhai.min_value=40 or beds-access.catchment_min=10."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write ratios.csv and access.csv here."),
    list_: bool = typer.Option(False, "--list", help="List the ratio rules and accessibility standards."),
) -> None:
    """Ratio standards per unit (beds per 1,000 elderly, ...) and supply-aware accessibility per cell."""
    from scenarios.ratios import access_standards, ratio_rules, run_ratios

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


# `lifecircle catalogue`, and --catalogue FILE on every command above (so registered last).
from api.commands import catalogue as _catalogue_cmd  # noqa: E402

_catalogue_cmd.register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
