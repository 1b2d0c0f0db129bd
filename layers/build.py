"""Building a City from the user's own files.

:func:`city_from_files` is the path from "I have a population layer, a list of
facilities and a street network" to a validated :class:`layers.city.City` in
one metric CRS. Every problem it finds is a :class:`LayerError`; everything it
repaired or worked around is a :class:`LayerWarning`, re-issued to the caller
and also kept in ``city.meta["warnings"]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.crs import is_metric, metric_crs, project_network
from geo.network import WalkNetwork
from geo.snap import DEFAULT_MAX_SNAP_M
from layers.city import City
from layers.errors import LayerError, collect_warnings, warn_layer
from layers.grid import allocate_population, square_grid
from layers.network_io import load_network
from layers.readers import read_layer
from layers.validate import check_overlap, require_columns, validate_facilities, validate_grid

__all__ = ["city_from_files", "OSM_ATTRIBUTION"]

OSM_ATTRIBUTION = "© OpenStreetMap contributors"


def city_from_files(
    grid_path: str | Path,
    facilities_path: str | Path,
    *,
    osm: str | Path | None = None,
    network: str | Path | WalkNetwork | None = None,
    place: str | None = None,
    crs: int | str | CRS | None = None,
    coords: str | int | CRS | None = None,
    cell_size: float = 100.0,
    regrid: bool = False,
    name: str = "custom",
    grid_layer: str | None = None,
    facilities_layer: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    progress: Callable[[str, float], None] | None = None,
) -> City:
    """Read, validate and assemble a City from files.

    Parameters
    ----------
    grid_path : str or pathlib.Path
        Population layer: polygons (grid cells, census units) or points, with
        ``population`` and optionally ``elderly``, ``cell_id``,
        ``subdistrict``, ``community`` (see :func:`layers.validate.validate_grid`).
        Points are summed onto a square grid of ``cell_size``.
    facilities_path : str or pathlib.Path
        Facility points with ``kind`` (see :func:`layers.validate.validate_facilities`).
    osm : str or pathlib.Path, optional
        An OpenStreetMap extract (``.osm.pbf`` or ``.osm``) for the network.
    network : str or pathlib.Path or WalkNetwork, optional
        A network saved with :func:`layers.network_io.save_network`, or one in
        memory. It must know its CRS.
    place : str, optional
        A place name to download the network for (needs internet).
    crs : int or str or pyproj.CRS, optional
        Metric CRS for the city, e.g. ``4547``. Default: the network's own
        metric CRS when given one, else the UTM zone of the population layer.
    coords : str or int or pyproj.CRS, optional
        Coordinate declaration for both layers; see :mod:`layers.readers`.
    cell_size : float, default 100
        Grid cell side in metres for point populations and ``regrid``.
    regrid : bool, default False
        Also move polygon populations onto a square grid (by area share).
        Extra polygon columns (unit ids) are then dropped.
    name : str, default "custom"
    grid_layer, facilities_layer : str, optional
        Layer names in multi-layer files.
    lon_col, lat_col : str, optional
        CSV coordinate columns (both layers).
    max_snap_m : float, default 500
        Points farther than this from every walkable edge are reported (and
        treated as unreachable by the analyses).
    progress : callable, optional
        ``progress(step, fraction)`` at each step (reading, validating,
        loading the network, snapping).

    Returns
    -------
    layers.city.City

    Raises
    ------
    LayerError
        Any unreadable or invalid input, a choice of network sources other
        than exactly one, a non-metric ``crs``, or a layer that does not
        overlap the network.
    """
    say = progress or (lambda step, fraction: None)
    with collect_warnings() as found:
        grid_source = _source_name(grid_path, grid_layer)
        fac_source = _source_name(facilities_path, facilities_layer)
        say(f"reading {grid_source}", 0.0)
        raw_grid = read_layer(grid_path, layer=grid_layer, coords=coords, lon_col=lon_col, lat_col=lat_col)
        say(f"reading {fac_source}", 0.2)
        raw_fac = read_layer(facilities_path, layer=facilities_layer, coords=coords, lon_col=lon_col, lat_col=lat_col)
        facilities = validate_facilities(raw_fac, fac_source)

        say("loading the network", 0.3)
        net, net_source, target = _network(osm, network, place, crs, raw_grid)
        say("validating cells", 0.5)
        cells = _cells(raw_grid, grid_source, target, cell_size, regrid)
        facilities = facilities.to_crs(target)
        bounds = net.bounds()
        check_overlap(tuple(cells.total_bounds), bounds, grid_source)
        check_overlap(tuple(facilities.total_bounds), bounds, fac_source)

        city = City(
            name=name,
            crs=target,
            cells=cells,
            facilities=facilities,
            network=net,
            attribution=OSM_ATTRIBUTION if (osm is not None or place is not None) else "",
            meta={
                "sources": {"grid": str(grid_path), "facilities": str(facilities_path), "network": net_source},
                "coords": None if coords is None else str(coords),
                "crs": target.to_string(),
                "counts": {"cells": len(cells), "facilities": len(facilities), "nodes": net.n_nodes, "edges": net.n_edges},
            },
            max_snap_m=max_snap_m,
        )
        say("snapping cells to the network", 0.7)
        _report_far_points(city, grid_source, fac_source)
        say("city ready", 1.0)
    city.meta["warnings"] = [w.as_dict() for w in found]
    for w in found:  # hand them on to whoever called us
        warnings.warn(w, stacklevel=2)
    return city


def _source_name(path: str | Path, layer: str | None) -> str:
    name = Path(path).name
    return name if layer is None else f"{name}:{layer}"


def _network(
    osm: str | Path | None,
    network: str | Path | WalkNetwork | None,
    place: str | None,
    crs: int | str | CRS | None,
    population: gpd.GeoDataFrame,
) -> tuple[WalkNetwork, str, CRS]:
    """Load the network from its one source and settle the city's metric CRS."""
    given = [n for n, v in (("osm", osm), ("network", network), ("place", place)) if v is not None]
    if len(given) != 1:
        raise LayerError("network", f"give exactly one of osm=, network= or place= (got {', '.join(given) or 'none'})")
    try:
        target = metric_crs(population, epsg=crs) if crs is not None else None
    except ValueError as exc:
        raise LayerError("crs", str(exc), field="crs") from None

    if network is not None:
        source = "in-memory network" if isinstance(network, WalkNetwork) else Path(network).name
        net = network if isinstance(network, WalkNetwork) else load_network(network)
        if net.crs is None:
            raise LayerError(source, "the network has no CRS; save it from a WalkNetwork built with crs=", field="crs")
        if target is None:
            target = net.crs if is_metric(net.crs) else metric_crs(population)
        return project_network(net, target), source, target

    # Imported here: OSM support is a heavy optional path (pyrosm / osmnx).
    from layers.osm import download_network, load_osm_network

    target = target or metric_crs(population)
    if osm is not None:
        return load_osm_network(osm, crs=target), Path(osm).name, target
    return download_network(place, crs=target), f"place: {place}", target


def _cells(raw: gpd.GeoDataFrame, source: str, target: CRS, cell_size: float, regrid: bool) -> gpd.GeoDataFrame:
    """Population cells in ``target``: validated polygons, or points gridded."""
    geoms = raw.geometry.values
    is_points = len(raw) > 0 and bool(np.isin(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]), (0, 4)).all())
    if not is_points:
        cells = validate_grid(raw, source).to_crs(target)
        if not regrid:
            return cells
        grid = square_grid(tuple(cells.total_bounds), cell_size, crs=target)
        return allocate_population(grid, cells, ("population", "elderly"), source_name=source)
    require_columns(raw, ["population"], source)
    points = raw.to_crs(target)
    columns = ("population", "elderly") if "elderly" in raw.columns else ("population",)
    grid = square_grid(tuple(points.total_bounds), cell_size, crs=target)
    grid = allocate_population(grid, points, columns, source_name=source)
    if grid.empty:
        raise LayerError(source, "the population points add up to zero people", field="population")
    # The cells now exist; validate_grid fills in elderly (with a warning) if absent.
    return validate_grid(grid.drop(columns=["row", "col"]), source)


def _report_far_points(city: City, grid_source: str, fac_source: str) -> None:
    """Warn (never silently drop) about points beyond ``max_snap_m`` of the network."""
    far_cells = ~city.snapped_cells.ok
    if far_cells.any():
        people = float(city.cells["population"].to_numpy()[far_cells].sum())
        warn_layer(
            grid_source,
            f"{far_cells.sum()} of {far_cells.size} cells ({people:,.0f} residents) are farther than "
            f"{city.max_snap_m:g} m from any walkable street and count as unreachable",
            count=int(far_cells.sum()),
        )
    far_fac = ~city.snapped_facilities.ok
    if far_fac.any():
        ids = ", ".join(city.facilities["id"].to_numpy()[far_fac][:5])
        warn_layer(
            fac_source,
            f"{far_fac.sum()} of {far_fac.size} facilities are farther than {city.max_snap_m:g} m from any "
            f"walkable street and serve no one (ids: {ids}{', ...' if far_fac.sum() > 5 else ''})",
            count=int(far_fac.sum()),
        )
