"""``lifecircle city build`` and ``lifecircle city info``: a planner's city, built once, used everywhere. Thin.

    lifecircle city build --grid cells.gpkg --facilities sites.csv --osm futian.osm.pbf \\
        --units units.gpkg --name 福田区 --out cities/futian
    lifecircle city info cities/futian
    lifecircle cover --city cities/futian          # and map, export, site, ratios, scenario, run, serve
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from api.cli.console import console, fail, progress_bar, user_errors
from api.options import (
    CANDIDATES,
    CANDIDATES_COORDS,
    COORDS,
    CRS_OPTION,
    FACILITIES_COORDS,
    GRID_COORDS,
    NAME,
    OSM,
    PLACE,
    SAVED_NETWORK,
    UNITS,
    UNITS_COORDS,
)

__all__ = ["register", "city_from_options", "print_city_info"]

city_app = typer.Typer(help="Build a city folder from your own files, and describe one.", no_args_is_help=True)


def city_from_options(grid: Path, facilities: Path, *, progress=None, **options: Any):
    """Build a City from the file options shared by ``city build`` and ``cover``.

    Checks that exactly one network source is given, then calls
    :func:`layers.build.city_from_files` with the rest of ``options``
    (``osm``, ``network``, ``place``, ``crs``, ``coords``, ``grid_coords``,
    ``facilities_coords``, ``units``, ``units_coords``, ``candidates``,
    ``candidates_coords``, ``name``).
    """
    from layers.build import city_from_files

    if sum(options.get(k) is not None for k in ("osm", "network", "place")) != 1:
        fail("give exactly one network source: --osm FILE, --network FILE or --place NAME")
    return city_from_files(grid, facilities, progress=progress, **options)


def build_command(
    grid: Path = typer.Option(..., help="Population polygons or points (GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV)."),
    facilities: Path = typer.Option(..., help="Facilities (points: GeoPackage/GeoJSON/Shapefile, or CSV with lon/lat)."),
    osm: Optional[Path] = OSM,
    network: Optional[Path] = SAVED_NETWORK,
    place: Optional[str] = PLACE,
    units: Optional[Path] = UNITS,
    candidates: Optional[Path] = CANDIDATES,
    coords: Optional[str] = COORDS,
    grid_coords: Optional[str] = GRID_COORDS,
    facilities_coords: Optional[str] = FACILITIES_COORDS,
    units_coords: Optional[str] = UNITS_COORDS,
    candidates_coords: Optional[str] = CANDIDATES_COORDS,
    name: Optional[str] = NAME,
    crs: Optional[str] = CRS_OPTION,
    out: Path = typer.Option(..., "--out", help="The city folder to write (new, empty, or an older city folder)."),
    management_grid: Optional[Path] = typer.Option(None, "--management-grid", help="Management grid polygons (with an "
                                                   "id) to report results grid cell by grid cell; kept in the folder."),
) -> None:
    """Validate your layers and network once and keep them as a city folder for every command."""
    from layers.city_folder import save_city_folder
    from scenarios.catalogue import active_catalogue

    with user_errors():
        with progress_bar() as update:
            city = city_from_options(
                grid, facilities, osm=osm, network=network, place=place, crs=crs, coords=coords,
                grid_coords=grid_coords, facilities_coords=facilities_coords, units=units,
                units_coords=units_coords, candidates=candidates, candidates_coords=candidates_coords,
                name=name or out.name, progress=update,
            )
            if management_grid is not None:  # kept as the unit level "grid" (layers.management_grid)
                from layers.management_grid import read_management_grid, with_management_grid

                city = with_management_grid(city, read_management_grid(management_grid, city.crs),
                                            management_grid.name)
            update("writing the city folder", 0.9)
            sources = {"grid": grid, "facilities": facilities, "osm": osm, "network": network, "place": place,
                       "units": units, "candidates": candidates, "management_grid": management_grid}
            cat = active_catalogue()  # --catalogue FILE (api.cli.catalogue), else seeds
            save_city_folder(city, out, sources=sources, catalogue=(cat.id, cat.text))
        print_city_info(city)
    console.print(f"  city  {out}   (use it with --city {out})")


def info_command(
    folder: str = typer.Argument(..., help="A city folder (or a built-in city name)."),
    far_m: float = typer.Option(200.0, "--far-m", help="Cells farther than this from a street are counted, metres."),
) -> None:
    """Counts, extent, CRS, network length and pieces, and the population no street reaches."""
    from layers.cities import load_city

    with user_errors():
        with progress_bar() as update:
            city = load_city(folder, progress=update)
        print_city_info(city, far_m=far_m)


def print_city_info(city, far_m: float = 200.0) -> None:
    """Print what a planner should know about a city before trusting its results."""
    from rich.table import Table

    from geo.crs import to_wgs84
    from scenarios.diagnostics import city_diagnostics

    d = city_diagnostics(city, far_m=far_m)
    minx, miny, maxx, maxy = city.cells.total_bounds
    lon, lat = to_wgs84([minx, maxx], [miny, maxy], city.crs)
    pop = float(city.cells["population"].sum())
    table = Table(title=f"City: {city.name}", show_header=False, caption=city.attribution or None)
    table.add_column("what", no_wrap=True)
    table.add_column("value")
    rows = [
        ("cells", f"{len(city.cells):,} with {pop:,.0f} residents, {float(city.cells['elderly'].sum()):,.0f} elderly"),
        ("facilities", ", ".join(f"{k} {n}" for k, n in city.facilities["kind"].value_counts().sort_index().items())),
        ("units", ", ".join(f"{level} {len(u)}" for level, u in city.units.items()) or "none"),
        ("candidate sites", f"{len(city.candidates):,}" if city.candidates is not None else "none"),
        ("extent", f"{(maxx - minx) / 1000:.1f} km x {(maxy - miny) / 1000:.1f} km; lon {lon[0]:.5f} to {lon[1]:.5f}, "
                   f"lat {lat[0]:.5f} to {lat[1]:.5f}"),
        ("CRS", city.crs.name if city.crs.to_epsg() is None else f"EPSG:{city.crs.to_epsg()} ({city.crs.name})"),
        ("network", f"{city.network.n_nodes:,} nodes, {city.network.n_edges:,} edges, "
                    f"{city.network.total_length_m / 1000:,.1f} km of street"),
        ("connected pieces", f"{d.n_pieces:,} ({int((d.pieces['population'] > 0).sum())} with residents; the largest "
                             f"holds {d.pieces['population'].iloc[0] if len(d.pieces) else 0:,.0f} residents)"),
        (f"farther than {d.far_m:g} m from a street", f"{d.cells_far:,} cells, {d.population_far:,.0f} residents"),
        (f"no street within {d.max_snap_m:g} m", f"{d.cells_unreachable:,} cells, {d.population_unreachable:,.0f} residents"),
    ]
    for row in d.without_kind.to_dict("records"):
        if row["population"] > 0:
            rows.append((f"on pieces without {row['kind']}", f"{row['cells']:,} cells, {row['population']:,.0f} residents"))
    for what, value in rows:
        table.add_row(what, value)
    console.print(table)
    for w in city.meta.get("warnings", [])[:10]:
        console.print(f"[yellow]warning:[/yellow] {w['source']}: {w['problem']}")


def register(app: typer.Typer) -> None:
    """Add ``city build`` and ``city info`` to the ``lifecircle`` app."""
    city_app.command("build")(build_command)
    city_app.command("info")(info_command)
    app.add_typer(city_app, name="city")
