"""A city cut into tiles with a halo (:mod:`geo.tiles`), each tile a small City of its own.

The tile's City holds the tile's cells, the sub-network within the halo, and
(per run) the facilities within reach of the tile; evaluating it gives the
whole-city answer for those cells exactly (the argument is in
:mod:`geo.tiles`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import geopandas as gpd
import numpy as np

from geo.tiles import Box, Tile, chords_hold, cut_tiles, edges_near, grow, in_box, sub_network
from geo.tiles import _edge_bounds as edge_bounds
from layers.city import City
from scenarios.evaluate import SEARCH_FACTOR
from scenarios.standards import Standard

__all__ = ["HALO_SLACK_M", "TiledCity", "facilities_near", "reach_m", "tile_city"]

HALO_SLACK_M = 1.0
"""Extra halo beyond the search limit: covers the rounding of edge lengths
against their chords (1e-6 m) many times over; costs nothing measurable."""


def reach_m(standards: Sequence[Standard]) -> float:
    """The largest distance any of ``standards`` searches (``SEARCH_FACTOR`` x threshold)."""
    return max((s.threshold_m * SEARCH_FACTOR for s in standards), default=0.0)


def facilities_near(facilities: gpd.GeoDataFrame, box: Box, reach: float) -> gpd.GeoDataFrame:
    """The facilities within ``reach`` of the rectangle (by their box), in their original order.

    Order matters: ties between equally near facilities go to the lower row.
    """
    g = facilities.geometry
    keep = in_box(g.x.to_numpy(), g.y.to_numpy(), grow(box, reach + HALO_SLACK_M))
    return facilities.loc[keep].reset_index(drop=True)


class TiledCity:
    """A city and its tiles, ready to hand each tile to a worker.

    Parameters
    ----------
    city : City
    n_tiles : int
    reach : float
        The halo: the largest search distance of the standards to run.
    """

    def __init__(self, city: City, n_tiles: int, reach: float) -> None:
        if not chords_hold(city.network):
            raise ValueError(
                f"city '{city.name}': some network edges are shorter than the straight line between their ends; "
                "tiles would not be exact (run it whole: leave it out of tiles:)"
            )
        self.city = city
        self.reach = float(reach)
        self.tiles: list[Tile] = cut_tiles(*city.cell_xy, n_tiles)
        self._bounds = edge_bounds(city.network)

    def __len__(self) -> int:
        return len(self.tiles)

    def tile(self, index: int) -> City:
        """The City of tile ``index``: its cells, the sub-network within the halo, all facilities.

        Facilities are filtered per run with :func:`facilities_near` (a
        scenario's edits apply to the whole city's facility layer first).
        """
        return tile_city(self.city, self.tiles[index], self.reach, self._bounds)


def tile_city(city: City, tile: Tile, reach: float, bounds: np.ndarray | None = None) -> City:
    """One tile of ``city`` as a City (see :class:`TiledCity`)."""
    halo = reach + city.max_snap_m + HALO_SLACK_M
    network, _ = sub_network(city.network, edges_near(city.network, grow(tile.box, halo), bounds))
    cells = city.cells.iloc[tile.cells].reset_index(drop=True)
    meta = {k: v for k, v in city.meta.items() if not isinstance(v, np.ndarray)}  # per-node/edge arrays do not apply
    meta.update(tile=tile.index, tile_box=list(tile.box), tile_halo_m=halo)
    return replace(
        city, cells=cells, network=network, units={}, boundary=None, candidates=None, meta=meta,
    )
