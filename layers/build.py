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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.crs import WGS84, max_scale_error, metric_crs, project_network
from geo.edge_grid import edge_grid
from geo.network import WalkNetwork
from geo.snap import DEFAULT_MAX_SNAP_M
from layers.city import City
from layers.errors import LayerError, collect_warnings, warn_layer
from layers.grid import allocate_population, square_grid
from layers.network_io import load_network, network_attribution
from layers.plain_polygons import PlainPolygons, read_plain_polygons
from layers.polygon_arrays import to_crs
from layers.readers import layer_coords, read_layer
from layers.units import assign_cells, read_units, units_from_cells
from layers.validate import check_overlap, require_columns, validate_facilities, validate_grid

__all__ = ["city_from_files", "read_candidates", "OSM_ATTRIBUTION", "MAX_SCALE_ERROR"]

OSM_ATTRIBUTION = "© OpenStreetMap contributors"

MAX_SCALE_ERROR = 1e-4
"""Largest scale error (0.01 %) of a chosen CRS over the data before a warning."""

Coords = str | int | CRS | None
"""A coordinate declaration; see :mod:`layers.readers`."""


def city_from_files(
    grid_path: str | Path,
    facilities_path: str | Path,
    *,
    osm: str | Path | None = None,
    network: str | Path | WalkNetwork | None = None,
    place: str | None = None,
    crs: int | str | CRS | None = None,
    coords: Coords = None,
    grid_coords: Coords = None,
    facilities_coords: Coords = None,
    units: str | Path | None = None,
    units_coords: Coords = None,
    candidates: str | Path | None = None,
    candidates_coords: Coords = None,
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
        A network saved with :func:`layers.network_io.save_network` (a city
        folder's ``network.npz``), or one in memory. It must know its CRS.
    place : str, optional
        A place name to download the network for (needs internet).
    crs : int or str or pyproj.CRS, optional
        Metric CRS for the city, e.g. ``4547``. Default: a Transverse
        Mercator centred on the population layer (:func:`geo.crs.local_tm_crs`),
        whatever CRS the inputs or a saved network are in. A chosen CRS whose
        scale error over the data passes 0.01 % is warned about.
    coords : str or int or pyproj.CRS, optional
        Shorthand declaration for every CSV input (see :func:`layers.readers.layer_coords`).
        GIS files are read in their own CRS.
    grid_coords, facilities_coords, units_coords, candidates_coords : optional
        Declaration for one layer, file type regardless: ``wgs84``,
        ``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:xxxx`` or a file holding a
        WKT/PROJ definition. One that contradicts the file's own CRS is an
        error (except GCJ-02/BD-09 on a file labelled WGS84).
    units : str or pathlib.Path, optional
        Subdistrict / community polygons with names (see
        :func:`layers.units.read_units`). Without it, ``subdistrict`` /
        ``community`` columns on the grid make the units.
    candidates : str or pathlib.Path, optional
        Sites available for new facilities (points or plots; ``id`` names
        them), kept on the city for siting.
    cell_size : float, default 100
        Grid cell side in metres for point populations and ``regrid``.
    regrid : bool, default False
        Also move polygon populations onto a square grid (by area share).
        Extra polygon columns (unit ids) are then dropped.
    name : str, default "custom"
        The city's title on maps and reports (e.g. 福田区).
    grid_layer, facilities_layer : str, optional
        Layer names in multi-layer files.
    lon_col, lat_col : str, optional
        CSV coordinate columns (every CSV layer).
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
        than exactly one, a non-metric ``crs``, a coordinate declaration that
        contradicts a file, or a layer that does not overlap the network.
    """
    say = progress or (lambda step, fraction: None)
    declared = {
        "grid": layer_coords(grid_path, grid_coords, coords),
        "facilities": layer_coords(facilities_path, facilities_coords, coords),
    }
    with collect_warnings() as found:
        grid_source = _source_name(grid_path, grid_layer)
        fac_source = _source_name(facilities_path, facilities_layer)
        say(f"reading {grid_source}", 0.0)
        raw_grid = _read_grid(grid_path, grid_layer, declared["grid"], lon_col, lat_col)
        say(f"reading {fac_source}", 0.2)
        raw_fac = read_layer(
            facilities_path, layer=facilities_layer, coords=declared["facilities"], lon_col=lon_col, lat_col=lat_col
        )
        facilities = validate_facilities(raw_fac, fac_source)

        say("loading the network", 0.3)
        target = _target_crs(osm, network, place, crs,
                             raw_grid.wgs84_bounds() if isinstance(raw_grid, PlainPolygons) else raw_grid)
        (net, net_source, attribution), cells = _network_and_cells(
            (osm, network, place), target, lambda: _cells(raw_grid, grid_source, target, cell_size, regrid), say
        )
        facilities = facilities.to_crs(target)
        bounds = net.bounds()
        check_overlap(tuple(cells.total_bounds), bounds, grid_source)
        check_overlap(tuple(facilities.total_bounds), bounds, fac_source)
        if crs is not None:
            _check_scale(target, cells)

        say("reading units", 0.55)
        unit_layers, cells, units_source = _units(units, units_coords, coords, cells, target)
        declared["units"] = None if units is None else layer_coords(units, units_coords, coords)
        site_layer = None
        if candidates is not None:
            declared["candidates"] = layer_coords(candidates, candidates_coords, coords)
            site_layer = read_candidates(candidates, target, coords=declared["candidates"], lon_col=lon_col, lat_col=lat_col)

        city = City(
            name=name,
            crs=target,
            cells=cells,
            facilities=facilities,
            network=net,
            units=unit_layers,
            candidates=site_layer,
            attribution=attribution,
            meta={
                "sources": {
                    "grid": str(grid_path),
                    "facilities": str(facilities_path),
                    "network": net_source,
                    **({"units": units_source} if units_source else {}),
                    **({"candidates": str(candidates)} if candidates is not None else {}),
                },
                "coords": {k: None if v is None else str(v) for k, v in declared.items()},
                # (no "crs" text here: finding a data-centred CRS's text searches PROJ's database for 0.3 s;
                # the city folder's manifest and summary.json write it, after the analysis)
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


def read_candidates(
    path: str | Path, crs: CRS, *, coords: Coords = None, lon_col: str | None = None, lat_col: str | None = None
) -> gpd.GeoDataFrame:
    """Candidate sites for new facilities, in the city's CRS.

    Parameters
    ----------
    path : str or pathlib.Path
        Points or plots (polygons); an ``id`` column names them (generated
        ``k1, k2, ...`` otherwise).
    crs : pyproj.CRS
        The city's metric CRS.
    coords : optional
        Coordinate declaration (see :mod:`layers.readers`).
    lon_col, lat_col : str, optional
        CSV coordinate columns.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id`` (str) and the file's other columns, in ``crs``.

    Raises
    ------
    LayerError
        Unreadable file, no records, or repeated ids.
    """
    source = Path(path).name
    raw = read_layer(path, coords=coords, lon_col=lon_col, lat_col=lat_col)
    if len(raw) == 0:
        raise LayerError(source, "the layer has no records")
    if "id" in raw.columns:
        ids = raw["id"].astype(str).str.strip()
        dup = ids.duplicated().to_numpy()
        if dup.any():
            row = int(np.flatnonzero(dup)[0]) + 1
            raise LayerError(source, f"id {ids.iloc[row - 1]!r} appears more than once", field="id", row=row)
        raw["id"] = ids
    else:
        raw.insert(0, "id", [f"k{i + 1}" for i in range(len(raw))])
    return raw.to_crs(crs)


def _source_name(path: str | Path, layer: str | None) -> str:
    name = Path(path).name
    return name if layer is None else f"{name}:{layer}"


def _target_crs(
    osm: str | Path | None,
    network: str | Path | WalkNetwork | None,
    place: str | None,
    crs: int | str | CRS | None,
    population: gpd.GeoDataFrame,
) -> CRS:
    """The city's metric CRS: the one asked for, else one centred on the population layer."""
    given = [n for n, v in (("osm", osm), ("network", network), ("place", place)) if v is not None]
    if len(given) != 1:
        raise LayerError("network", f"give exactly one of osm=, network= or place= (got {', '.join(given) or 'none'})")
    if crs is None:
        # The network's own CRS does not decide: a network saved in UTM would carry UTM's 0.04-0.1 % scale
        # error into every straight-line distance. A city folder's network is already in the data-centred CRS.
        return metric_crs(population)
    try:
        return metric_crs(population, epsg=crs)
    except ValueError as exc:
        raise LayerError("crs", str(exc), field="crs") from None


def _network_and_cells(
    sources: tuple[str | Path | None, str | Path | WalkNetwork | None, str | None],
    target: CRS,
    make_cells: Callable[[], gpd.GeoDataFrame],
    say: Callable[[str, float], None],
) -> tuple[tuple[WalkNetwork, str, str], gpd.GeoDataFrame]:
    """The network (``sources`` = osm, network, place) and the checked cells, loaded side by side where it pays.

    A saved network loads in a thread while the cells are checked: unzipping
    and projecting its arrays release the GIL. OSM sources load first (their
    parsing holds it, and may warn). Either way a network error comes before
    a cells error, as when they load one after the other.
    """
    osm, network, place = sources
    if network is None or isinstance(network, WalkNetwork):
        loaded = _network(osm, network, place, target)
        say("validating cells", 0.5)
        return loaded, make_cells()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="network") as pool:
        loading = pool.submit(_network_and_index, osm, network, place, target)
        say("validating cells", 0.5)
        try:
            cells = make_cells()
        except Exception:
            loading.result()  # a network error comes first
            raise
        return loading.result(), cells


def _network_and_index(
    osm: str | Path | None, network: str | Path | WalkNetwork | None, place: str | None, target: CRS
) -> tuple[WalkNetwork, str, str]:
    """:func:`_network`, then the index that snaps points to its edges (built once, kept with the network)."""
    loaded = _network(osm, network, place, target)
    edge_grid(loaded[0])
    return loaded


def _network(
    osm: str | Path | None, network: str | Path | WalkNetwork | None, place: str | None, target: CRS
) -> tuple[WalkNetwork, str, str]:
    """Load the network from its one source in ``target``; with the source's name and data credit."""
    if network is not None:
        in_memory = isinstance(network, WalkNetwork)
        source = "in-memory network" if in_memory else Path(network).name
        # a saved network is projected as it loads (its arrays before its lines are built: same result)
        net = network if in_memory else load_network(network, crs=target)
        attribution = "" if in_memory else network_attribution(network)
        if net.crs is None:
            raise LayerError(source, "the network has no CRS; save it from a WalkNetwork built with crs=", field="crs")
        return project_network(net, target), source, attribution

    # Imported here: OSM support is a heavy optional path (pyrosm / osmnx).
    from layers.osm import download_network, load_osm_network

    if osm is not None:
        return load_osm_network(osm, crs=target), Path(osm).name, OSM_ATTRIBUTION
    return download_network(place, crs=target), f"place: {place}", OSM_ATTRIBUTION


def _check_scale(target: CRS, cells: gpd.GeoDataFrame) -> None:
    """Warn when a chosen CRS stretches straight-line distances by more than 0.01 % over the data."""
    bounds = tuple(cells.to_crs(WGS84).total_bounds)
    error = max_scale_error(target, bounds)
    if error > MAX_SCALE_ERROR:
        warn_layer(
            "crs",
            f"{target.name} stretches straight-line distances by up to {error:.3%} over this city (more than "
            f"{MAX_SCALE_ERROR:.2%}); leave out --crs for a projection centred on the data",
            field="crs",
        )


def _units(
    units: str | Path | None, units_coords: Coords, coords: Coords, cells: gpd.GeoDataFrame, target: CRS
) -> tuple[dict[str, gpd.GeoDataFrame], gpd.GeoDataFrame, str | None]:
    """Units from a boundary file (cells assigned to them) or from the grid's unit columns."""
    if units is None:
        return units_from_cells(cells), cells, None
    layers = read_units(units, target, coords=layer_coords(units, units_coords, coords))
    return layers, assign_cells(cells, layers, Path(units).name), str(units)


def _read_grid(path: str | Path, layer: str | None, coords: Coords, lon_col: str | None,
               lat_col: str | None) -> gpd.GeoDataFrame | PlainPolygons:
    """The population layer: grid cells as flat arrays when they are plain quadrilaterals, else a frame."""
    # Only a file read on its own CRS: a declared one (a shift, a missing .prj) goes the general way.
    cells = read_plain_polygons(path, layer) if coords is None else None
    return cells if cells is not None else read_layer(path, layer=layer, coords=coords, lon_col=lon_col, lat_col=lat_col)


def _cells(
    raw: gpd.GeoDataFrame | PlainPolygons, source: str, target: CRS, cell_size: float, regrid: bool
) -> gpd.GeoDataFrame:
    """Population cells in ``target``: validated polygons, or points gridded."""
    if isinstance(raw, PlainPolygons):
        # proven valid where they were read; built once, in target: the general path's cells bit for bit
        cells = validate_grid(raw.frame(target), source, proven_valid=True)
    elif _is_points(raw):
        return _gridded_points(raw, source, target, cell_size)
    else:
        # to_crs of the flat coordinate array: the same polygons, bit for bit, a third of the time
        cells = to_crs(validate_grid(raw, source), target)
    if not regrid:
        return cells
    grid = square_grid(tuple(cells.total_bounds), cell_size, crs=target)
    return allocate_population(grid, cells, ("population", "elderly"), source_name=source)


def _is_points(raw: gpd.GeoDataFrame) -> bool:
    geoms = raw.geometry.values
    return len(raw) > 0 and bool(np.isin(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]), (0, 4)).all())


def _gridded_points(raw: gpd.GeoDataFrame, source: str, target: CRS, cell_size: float) -> gpd.GeoDataFrame:
    """Population points summed onto a square grid of ``cell_size`` metres in ``target``."""
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
