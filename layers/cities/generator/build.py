"""Assemble a generated district into a :class:`layers.city.City`, at any size."""

from __future__ import annotations

import dataclasses
from typing import Callable

import geopandas as gpd
import numpy as np
from pyproj import CRS, Transformer
from shapely.geometry import box

from geo.errors import LifecircleError
from layers.cities.generator.facilities import facility_counts, place_facilities
from layers.cities.generator.layout import LAND_USES, PARK, Layout, make_layout
from layers.cities.generator.people import CELL_M, make_cells, make_units
from layers.cities.generator.streets import EDGE_CLASSES, StreetPlan, build_streets
from layers.city import City

__all__ = [
    "GENERATOR_VERSION",
    "GENERATED_ATTRIBUTION",
    "ORIGIN_LONLAT",
    "GeneratorError",
    "generate_city",
    "generate_city_of_size",
]

GENERATOR_VERSION = "1"
"""Bump whenever a change alters generated cities (it keys the disk cache)."""

GENERATED_ATTRIBUTION = "Generated district: not a real place (lifecircle demo)"

ORIGIN_LONLAT = (116.5, 19.0)
"""Centre of every generated city: open sea in the South China Sea, far from land."""

Progress = Callable[[str, float], None] | None


class GeneratorError(LifecircleError):
    """Parameters that cannot make a city (the message names the parameter)."""


def _utm(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone CRS containing ``(lon, lat)``."""
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _check(name: str, value: float, lo: float, hi: float) -> None:
    if not (np.isfinite(value) and lo <= value <= hi):
        raise GeneratorError(f"{name}={value!r} is out of range: it must be between {lo:g} and {hi:g}")


def _features(layout: Layout, plan: StreetPlan, crs: CRS) -> gpd.GeoDataFrame:
    """Rivers, railways, parks and compound fences as one layer for maps."""
    parks = layout.quads[layout.land_use == PARK]
    parts = [
        ("river", "River", layout.rivers),
        ("railway", "Railway", layout.railways),
        ("park", "Park", list(parks)),
        ("compound", "Gated compound", list(plan.compound_fence)),
    ]
    kinds, names, geoms = [], [], []
    for kind, name, gs in parts:
        kinds += [kind] * len(gs)
        names += [name] * len(gs)
        geoms += list(gs)
    return gpd.GeoDataFrame({"feature": kinds, "name": names}, geometry=geoms, crs=crs)


def generate_city(
    width_m: float = 6000.0,
    height_m: float = 5000.0,
    seed: int = 20240611,
    target_population: float | None = None,
    n_facilities: int | None = None,
    path_spacing_m: float = 60.0,
    lane_spacing_m: float = 110.0,
    name: str = "generated",
    progress: Progress = None,
) -> City:
    """Generate a synthetic Chinese-style district (not a real place).

    Parameters
    ----------
    width_m, height_m : float
        Extent in metres (1.5 km to 200 km each).
    seed : int
        Seed of the numpy Generator: the same arguments give the same city.
    target_population : float, optional
        Rescale residents to exactly this total (default: what the block
        densities of 6,000-36,000 per km^2 give).
    n_facilities : int, optional
        Total facilities, split across kinds in the demo's proportions
        (default: counts from planning practice, see
        :func:`layers.cities.generator.facilities.facility_counts`).
    path_spacing_m : float
        Spacing of footpaths inside gated compounds (larger = fewer nodes).
    lane_spacing_m : float
        Spacing of lanes in old open neighbourhoods.
    name : str
        The city's name.
    progress : callable, optional
        ``progress(step, fraction)``.

    Returns
    -------
    City
        ``generated=True``, CRS the UTM zone of :data:`ORIGIN_LONLAT`.
        ``meta`` holds ``edge_class`` (index into ``meta["edge_classes"]`` per
        network edge), ``node_compound`` (compound of each node, -1 outside),
        ``features`` (rivers, railways, parks, compound fences),
        ``blocks`` (land use, density, elderly share), ``designed_gaps`` and
        ``counts``.

    Raises
    ------
    GeneratorError
        If a parameter is out of range.
    """
    _check("width_m", width_m, 1500, 200_000)
    _check("height_m", height_m, 1500, 200_000)
    _check("path_spacing_m", path_spacing_m, 10, 2000)
    _check("lane_spacing_m", lane_spacing_m, 30, 2000)
    if target_population is not None:
        _check("target_population", target_population, 1, 1e9)
    if n_facilities is not None:
        _check("n_facilities", n_facilities, 5, 1e6)
    say = progress or (lambda step, fraction: None)

    rng = np.random.default_rng(seed)
    crs = _utm(*ORIGIN_LONLAT)
    cx, cy = Transformer.from_crs(4326, crs, always_xy=True).transform(*ORIGIN_LONLAT)
    x0, y0 = round(cx - width_m / 2), round(cy - height_m / 2)

    say("laying out blocks", 0.05)
    layout = make_layout(width_m, height_m, rng, x0, y0)
    say("building walking network", 0.15)
    plan = build_streets(layout, rng, path_spacing_m=path_spacing_m, lane_spacing_m=lane_spacing_m)
    say("drawing units", 0.45)
    units = make_units(layout, rng, crs)
    say("population grid", 0.55)
    cells, cell_block = make_cells(layout, units, rng, crs, target_population)
    say("placing facilities", 0.8)
    community_pop = np.bincount(
        units.block_community[cell_block], weights=cells["population"].to_numpy(), minlength=len(units.communities)
    )
    counts = facility_counts(layout, units, community_pop, n_facilities)
    facilities, gaps = place_facilities(layout, units, cells, cell_block, counts, rng, crs)

    say("assembling city", 0.9)
    network = plan.network
    network = dataclasses.replace(network, crs=crs)
    blocks = gpd.GeoDataFrame(
        {
            "land_use": np.array(LAND_USES, dtype=object)[layout.land_use],
            "density_per_km2": layout.density,
            "elderly_share": layout.elderly_share,
            "subdistrict": units.subdistricts["unit_id"].to_numpy()[units.block_subdistrict],
            "community": units.communities["unit_id"].to_numpy()[units.block_community],
        },
        geometry=layout.quads,
        crs=crs,
    )
    city = City(
        name=name,
        crs=crs,
        cells=cells,
        facilities=facilities,
        network=network,
        units={"subdistrict": units.subdistricts, "community": units.communities},
        boundary=box(x0, y0, x0 + width_m, y0 + height_m),
        attribution=GENERATED_ATTRIBUTION,
        generated=True,
        population_estimated=True,
        meta={
            "generator_version": GENERATOR_VERSION,
            "params": {
                "width_m": width_m, "height_m": height_m, "seed": seed, "target_population": target_population,
                "n_facilities": n_facilities, "path_spacing_m": path_spacing_m, "lane_spacing_m": lane_spacing_m,
            },
            "origin_lonlat": ORIGIN_LONLAT,
            "cell_size_m": CELL_M,
            "edge_classes": EDGE_CLASSES,
            "edge_class": plan.edge_class,
            "node_compound": plan.node_compound,
            "compound_gates": plan.compound_gates,
            "removed_nodes": plan.removed_nodes,
            "features": _features(layout, plan, crs),
            "blocks": blocks,
            "designed_gaps": gaps,
            "counts": {
                "nodes": network.n_nodes, "edges": network.n_edges, "cells": len(cells),
                "population": float(cells["population"].sum()), "facilities": len(facilities),
                "compounds": int(plan.compound_gates.size),
                **{f"facilities_{k}": int(v) for k, v in facilities["kind"].value_counts().items()},
            },
        },  # fmt: skip
    )
    say("done", 1.0)
    return city


def _residential_cells(width_m: float, height_m: float, seed: int) -> float:
    """Populated cells a city of this extent will have (from its layout alone)."""
    layout = make_layout(width_m, height_m, np.random.default_rng(seed))
    residential = np.isin(layout.land_use, [LAND_USES.index("old_neighbourhood"), LAND_USES.index("compounds")])
    return float(layout.area_km2[residential].sum()) * 1e6 / CELL_M**2


def _pilot_nodes(path_spacing_m: float, seed: int, side_m: float) -> float:
    """Network nodes per km^2 of a square pilot city with this footpath spacing."""
    rng = np.random.default_rng(seed)
    layout = make_layout(side_m, side_m, rng)
    plan = build_streets(layout, rng, path_spacing_m=path_spacing_m, lane_spacing_m=1.8 * path_spacing_m)
    return plan.network.n_nodes / (side_m * side_m / 1e6)


def generate_city_of_size(
    n_nodes: int = 1_000_000,
    n_cells: int = 750_000,
    n_facilities: int = 2000,
    seed: int = 7,
    target_population: float | None = None,
    progress: Progress = None,
) -> City:
    """Generate a city with roughly the requested network and grid sizes (for benchmarks).

    The extent is chosen from the populated-cell density of a pilot district;
    the footpath spacing inside compounds is then tuned by bisection on pilot
    districts until the node density matches.

    Parameters
    ----------
    n_nodes : int
        Wanted network nodes (about 1,000,000 for Guangzhou).
    n_cells : int
        Wanted populated 100 m cells (about 750,000 for Guangzhou).
    n_facilities : int
        Total facilities.
    seed : int
    target_population : float, optional
        Total residents (e.g. 18.7 million for Guangzhou); default: what the
        demo's block densities give over the whole extent.
    progress : callable, optional

    Returns
    -------
    City
        Counts are typically within 10 % of the request.
    """
    _check("n_nodes", n_nodes, 1000, 5e7)
    _check("n_cells", n_cells, 300, 5e7)
    # Extent: from a first guess of 60 % populated land, corrected twice by
    # the populated area of the real layout at that extent.
    side = np.sqrt(n_cells / 0.6) * CELL_M
    for _ in range(2):
        side *= np.sqrt(n_cells / max(_residential_cells(side * 1.03, side / 1.03, seed), 1.0))
    area_km2 = side * side / 1e6
    want = n_nodes / area_km2
    # Footpath spacing: bisection on a pilot district up to 20 km across
    # (large enough to hold a river and a railway in their usual proportion).
    pilot = min(side, 20_000.0)
    lo, hi = 20.0, 1000.0
    for _ in range(8):  # 8 halvings of a 50x range: spacing within 1.5 %
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if _pilot_nodes(mid, seed, pilot) > want else (lo, mid)
    spacing = float(np.sqrt(lo * hi))
    return generate_city(
        width_m=float(round(side * 1.03)),
        height_m=float(round(side / 1.03)),
        seed=seed,
        n_facilities=n_facilities,
        target_population=target_population,
        path_spacing_m=spacing,
        lane_spacing_m=1.8 * spacing,
        name=f"generated-{n_nodes}n-{n_cells}c",
        progress=progress,
    )
