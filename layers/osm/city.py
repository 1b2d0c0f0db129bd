"""A whole City from one OpenStreetMap file: network, facilities and estimated population."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from layers.city import City
from layers.kinds import KINDS
from layers.osm.buildings import load_osm_buildings, load_osm_landuse
from layers.osm.errors import OsmError
from layers.osm.facilities import load_osm_facilities
from layers.osm.files import file_format
from layers.osm.network import load_osm_network
from layers.population import (
    BUILDING_KEYS,
    HELSINKI,
    SOURCES,
    PopulationParams,
    estimate_building_population,
    population_grid,
)

__all__ = ["ATTRIBUTION", "Progress", "city_from_osm"]

ATTRIBUTION = "© OpenStreetMap contributors"
"""Credit required by the ODbL wherever OSM data or anything derived is shown."""

Progress = Callable[[str, float], None]


def _report(progress: Progress | None, step: str, fraction: float) -> None:
    if progress is not None:
        progress(step, fraction)


def city_from_osm(
    path: str | Path,
    name: str,
    *,
    crs: CRS | str | int | None = None,
    population: PopulationParams | None = None,
    cell_size: float = 100.0,
    progress: Progress | None = None,
) -> City:
    """Build a whole :class:`~layers.city.City` from one OpenStreetMap file.

    The walking network, facilities (``osm_tags.toml``) and a population grid
    estimated from building floor area (:mod:`layers.population`).

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf``, ``.osm`` or ``.osm.xml``.
    name : str
        The city's short name.
    crs : pyproj.CRS or str or int, optional
        Metric CRS; default the UTM zone of the data.
    population : PopulationParams, optional
        Defaults to :data:`layers.population.HELSINKI`.
    cell_size : float, default 100
        Population grid cell side in metres.
    progress : callable, optional
        ``progress(step, fraction)`` with fraction in [0, 1].

    Returns
    -------
    City
        ``population_estimated=True``; ``meta`` records the method, parameters,
        sources and counts, and under ``"notes"`` any facility kind the file
        has none of (nothing is invented to fill the gap).

    Raises
    ------
    OsmError
        If the file is unreadable, has no walkable ways, or no building
        yields residents.
    """
    params = population or HELSINKI
    p, _ = file_format(path)
    _report(progress, "walking network", 0.0)
    network = load_osm_network(p, crs)
    crs = network.crs
    _report(progress, "facilities", 0.4)
    facilities = load_osm_facilities(p).to_crs(crs)
    _report(progress, "buildings", 0.55)
    buildings = load_osm_buildings(p, BUILDING_KEYS).to_crs(crs)
    landuse = load_osm_landuse(p).to_crs(crs)
    _report(progress, "population estimate", 0.75)
    housed = estimate_building_population(buildings, landuse, params)
    cells = population_grid(housed, cell_size, source_name=p.name)
    if len(cells) == 0:
        raise OsmError(p.name, f"none of the {len(buildings)} buildings was counted as housing, so there is no population to analyse")
    _report(progress, "assembling", 0.95)

    counts = {k: int((facilities["kind"] == k).sum()) for k in KINDS}
    notes = [
        f"no {k} facility ({KINDS[k]['en']}) is mapped in {p.name}; analyses of it will show no coverage rather than invented facilities"
        for k, n in counts.items()
        if n == 0
    ]
    meta = {
        "source": p.name,
        "source_format": "OpenStreetMap",
        "network": {
            "rule": "layers.osm.is_walkable (osmnx 'walk' without motorway, trunk, busway or motorroad)",
            "nodes": network.n_nodes,
            "edges": network.n_edges,
            "length_km": round(network.total_length_m / 1000, 3),
            "components": network.n_components,
        },
        "facilities": {"mapping": "layers/osm_tags.toml", "counts": counts},
        "population": {
            "method": "building footprint x floors x residential share / gross floor area per person, "
            f"areal-weighted onto a {cell_size:g} m grid (layers.population)",
            "parameters": {**params.as_dict(), "default_levels_used": housed.attrs["default_levels"]},
            "buildings": len(buildings),
            "buildings_housing": int((housed["population"] > 0).sum()),
            "total": round(float(cells["population"].sum()), 1),
            "elderly": round(float(cells["elderly"].sum()), 1),
            "sources": SOURCES,
        },
        "notes": notes,
    }
    city = City(
        name=name,
        crs=crs,
        cells=cells,
        facilities=facilities.reset_index(drop=True),
        network=network,
        boundary=shapely.convex_hull(shapely.multipoints(np.column_stack([network.x, network.y]))),
        attribution=ATTRIBUTION,
        generated=False,
        population_estimated=True,
        meta=meta,
    )
    _report(progress, "done", 1.0)
    return city
