"""Command-line options shared by ``lifecircle`` commands, so each reads the same everywhere.

Only typer here: every command module of :mod:`api.cli` imports this
without importing the others.
"""

from __future__ import annotations

import typer

__all__ = [
    "BUILTIN_CITY", "LANG", "NO_MAP", "SET_STANDARD", "STANDARDS", "OSM", "SAVED_NETWORK", "PLACE", "UNITS",
    "CANDIDATES", "COORDS", "GRID_COORDS", "FACILITIES_COORDS", "UNITS_COORDS", "CANDIDATES_COORDS", "NAME",
    "CRS_OPTION", "CITY_HELP",
]

CITY_HELP = ("A city folder made by 'lifecircle city build', or a built-in city: 'demo' (generated district) "
             "or 'helsinki' (real OSM).")
BUILTIN_CITY = typer.Option("demo", "--city", help=CITY_HELP)
LANG = typer.Option("en", help="Label language: en or zh.")
NO_MAP = typer.Option(False, "--no-map", help="Skip the HTML map.")
STANDARDS = typer.Option([], "--standard", "-s", help="Standard id (repeatable); all when omitted.")
SET_STANDARD = typer.Option([], "--set", help="Override, e.g. clinic-walk.threshold_min=20 (repeatable).")

# The inputs of a planner's own city: `lifecircle city build` and `lifecircle cover` take the same.
_DECLARE = "wgs84, cgcs2000, gcj02, bd09, EPSG:xxxx, or a file with a WKT/PROJ definition"
OSM = typer.Option(None, "--osm", help="Walking network from an .osm.pbf or .osm file.")
SAVED_NETWORK = typer.Option(None, "--network", help="A saved lifecircle network (a city folder's network.npz).")
PLACE = typer.Option(None, "--place", help="Download the walking network of a place with osmnx (needs internet).")
UNITS = typer.Option(None, "--units", help="Subdistrict/community polygons with names and a 'level' column "
                     "(or a GeoPackage with one layer per level). Default: unit columns on the grid.")
CANDIDATES = typer.Option(None, "--candidates", help="Sites available for new facilities (points or plots; 'id' names them).")
COORDS = typer.Option(None, "--coords", help=f"Coordinates of every CSV input (default wgs84): {_DECLARE}. "
                      "GIS files are read in the CRS they declare.")
GRID_COORDS = typer.Option(None, "--grid-coords", help=f"Coordinates of the grid file, when it cannot state them: {_DECLARE}.")
FACILITIES_COORDS = typer.Option(None, "--facilities-coords", help=f"Coordinates of the facilities file: {_DECLARE}.")
UNITS_COORDS = typer.Option(None, "--units-coords", help=f"Coordinates of the units file: {_DECLARE}.")
CANDIDATES_COORDS = typer.Option(None, "--candidates-coords", help=f"Coordinates of the candidates file: {_DECLARE}.")
NAME = typer.Option(None, "--name", help="The city's title on maps and reports, e.g. 福田区.")
CRS_OPTION = typer.Option(None, "--crs", help="Metric CRS for the analysis, e.g. EPSG:4547 (default: a Transverse "
                          "Mercator centred on the data, under 0.01 % scale error).")
