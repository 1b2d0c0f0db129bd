"""``lifecircle poi import``: facilities from OpenStreetMap tags or Amap/Baidu POI exports. Thin.

    lifecircle poi import --osm futian.osm.pbf --out facilities.gpkg --catalogue gb50180
    lifecircle poi import --amap amap_pois.csv --table my_amap.csv --out facilities.gpkg
    lifecircle city build --facilities facilities.gpkg --osm futian.osm.pbf ... --catalogue gb50180

The mapping tables ship in ``layers/poi_tables/`` (osm.toml, amap.csv,
baidu.csv); copy one, edit it and pass it with ``--table``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.cli.console import console, fail, user_errors

__all__ = ["register"]

poi_app = typer.Typer(help="Facilities from points of interest (OpenStreetMap, Amap, Baidu).", no_args_is_help=True)


def import_command(
    osm: Optional[Path] = typer.Option(None, "--osm", help="An OpenStreetMap file (.osm.pbf, .osm): the network's own."),
    amap: Optional[Path] = typer.Option(None, "--amap", help="An Amap (高德) POI export, CSV with typecode and location (GCJ-02)."),
    baidu: Optional[Path] = typer.Option(None, "--baidu", help="A Baidu (百度) POI export, CSV with tag and lng/lat (BD-09)."),
    table: Optional[Path] = typer.Option(None, "--table", help="Your mapping table (default: layers/poi_tables/osm.toml, "
                                         "amap.csv or baidu.csv)."),
    coords: Optional[str] = typer.Option(None, "--coords", help="Datum of an Amap/Baidu export when not its own "
                                         "(gcj02, bd09, wgs84)."),
    out: Path = typer.Option(..., "--out", help="The facilities GeoPackage to write (for city build --facilities); "
                             "the report goes beside it as <name>-report.csv."),
    show: int = typer.Option(15, "--show", help="List this many unmapped types (all are in the report)."),
) -> None:
    """Import facilities by a mapping table; report mapped and unmapped counts (nothing is dropped silently)."""
    from layers.poi import import_china_pois, import_osm_pois
    from scenarios.catalogue import active_catalogue

    given = [(name, p) for name, p in (("osm", osm), ("amap", amap), ("baidu", baidu)) if p is not None]
    if len(given) != 1:
        fail("give exactly one of --osm FILE, --amap FILE and --baidu FILE")
    source, path = given[0]
    if coords is not None and source == "osm":
        fail("--coords is for Amap/Baidu exports; OpenStreetMap is WGS84")
    with user_errors():
        if source == "osm":
            result = import_osm_pois(path, table)
        else:
            result = import_china_pois(path, source, table, coords=coords)
        paths = result.write(out)
    cat = active_catalogue()
    console.print(f"{result.total:,} POIs read from {path.name} with {Path(result.table).name} "
                  f"(catalogue '{cat.id}'):")
    for status in ("mapped", "merged into its area", "unmapped", "kind not in catalogue", "no location"):
        n = result.count(status)
        if n or status in ("mapped", "unmapped"):
            console.print(f"  {status:22} {n:,}")
    counts = result.facilities["kind"].value_counts().sort_index()
    if len(counts):
        console.print("  facilities: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
    rest = result.unmapped()
    for row in rest.head(show).to_dict("records"):
        extra = f" -> {row['kind']}" if row["kind"] else ""
        label = f" {row['label']}" if row["label"] else ""
        console.print(f"  [yellow]{row['status']}[/yellow]: {row['source_type']}{label}{extra}  x{row['count']}")
    if len(rest) > show:
        console.print(f"  ... and {len(rest) - show} more types in {paths['report'].name}")
    for name, p in paths.items():
        console.print(f"  {name:10} {p}")


def register(app: typer.Typer) -> None:
    """Add ``poi import`` to the ``lifecircle`` app."""
    poi_app.command("import")(import_command)
    app.add_typer(poi_app, name="poi")
