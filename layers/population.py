"""Estimating where people live from OpenStreetMap building footprints.

Where no census grid is at hand, residents are modelled from the housing
floor area that buildings offer (a standard dasymetric method)::

    residents = footprint area x floors x residential share / floor area per person
    elderly   = residents x elderly share

and then spread onto a 100 m grid by :func:`layers.grid.allocate_population`.
Every choice is a parameter in :class:`PopulationParams`; the defaults are the
Helsinki figures with their sources below. Totals are estimates: report them
as such (``City.population_estimated``).

Which buildings house people
----------------------------
OSM describes a building's use unevenly: in the Helsinki extract three in four
buildings are only ``building=yes``. The rule, in order:

1. ``building`` names a dwelling type (:data:`RESIDENTIAL_BUILDINGS`:
   apartments, house, terrace, dormitory, ...): fully residential, whatever
   else is tagged (a shop on the ground floor of a block of flats is normal).
2. ``building=yes`` (use unknown):

   * not residential when the building carries a tag that names another use
     (:data:`NON_RESIDENTIAL_KEYS`: amenity, shop, office, government,
     tourism, ...), or lies in a non-residential land-use area
     (:data:`NON_RESIDENTIAL_LANDUSE`: commercial, retail, industrial, civil,
     railway, ...);
   * fully residential inside ``landuse=residential``;
   * otherwise (no land use mapped) ``unknown_use_share`` of it (default 0.5:
     an even-odds assumption for mixed inner-city blocks with shops and
     offices below flats, not a measured figure).
3. Any other ``building`` value (office, retail, school, church, kiosk,
   shed, ...): not residential.

Footprints under ``min_footprint_m2`` (default 30 m²: sheds, entrances,
transformer kiosks, drawing slivers) house nobody.

Floors
------
``building:levels`` (minus ``building:min_level`` for parts raised on
others); else ``height`` / ``metres_per_level`` (3 m) rounded, at least 1;
else ``default_levels``, which by default is the median ``building:levels`` of
the tagged buildings in the same data (at least 10 of them; else
:data:`FALLBACK_LEVELS`), because tagged and untagged buildings in one place
are usually alike.

Sources of the Helsinki defaults
--------------------------------
* Floor area per person, 40 m² of gross floor area: Helsinki residents have
  34.6 m² of dwelling floor area each (City of Helsinki, kaupunkitieto.hel.fi,
  "Asumisväljyys", from Statistics Finland's dwellings and housing conditions
  data; the Finnish average is about 40 m², Statistics Finland, Dwellings and
  housing conditions 2016, appendix table 2). Footprint x floors is *gross*
  area, including walls, stairwells and shared rooms; with a net-to-gross
  ratio of about 0.85 for blocks of flats (an assumption) 34.6 m² net is
  about 40 m² gross.
* Elderly share, 22 % aged 60+: 16.4 % of Helsinki residents were 65 or older
  in 2015 (City of Helsinki Urban Facts, "Helsinki alueittain 2015", from
  Statistics Finland's population structure) and the 60-64 age group adds
  about 5-6 % (Statistics Finland, population by age); lifecircle's standards
  count residents aged 60+, so 0.22 is used.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.grid import allocate_population, square_grid

__all__ = [
    "BUILDING_KEYS",
    "FALLBACK_LEVELS",
    "HELSINKI",
    "NON_RESIDENTIAL_KEYS",
    "NON_RESIDENTIAL_LANDUSE",
    "RESIDENTIAL_BUILDINGS",
    "SOURCES",
    "PopulationParams",
    "building_floors",
    "estimate_building_population",
    "population_grid",
    "residential_share",
]

RESIDENTIAL_BUILDINGS: frozenset[str] = frozenset(
    {
        "apartments", "residential", "house", "detached", "semidetached_house", "terrace",
        "dormitory", "bungalow", "farm", "static_caravan", "houseboat",
    }
)
"""``building`` values that are homes (OSM wiki, Key:building, "Accommodation")."""

UNKNOWN_USE_BUILDINGS: frozenset[str] = frozenset({"yes"})
"""``building`` values that say nothing about use."""

NON_RESIDENTIAL_KEYS: tuple[str, ...] = (
    "amenity", "shop", "office", "government", "tourism", "craft", "leisure", "healthcare",
    "public_transport", "railway", "military", "man_made", "aeroway", "emergency", "industrial",
)
"""Keys whose presence on a ``building=yes`` names a use other than housing."""

NON_RESIDENTIAL_LANDUSE: frozenset[str] = frozenset(
    {
        "commercial", "retail", "industrial", "civil", "institutional", "military", "railway",
        "religious", "education", "port", "depot", "garages", "cemetery", "allotments",
        "landfill", "quarry", "construction", "brownfield", "recreation_ground",
    }
)
"""``landuse`` values in which a ``building=yes`` is taken as not housing."""

BUILDING_KEYS: tuple[str, ...] = ("building", "building:levels", "building:min_level", "height", *NON_RESIDENTIAL_KEYS)
"""The building tags this module reads (pass to :func:`layers.osm.load_osm_buildings`)."""

FALLBACK_LEVELS = 3.0
"""Floors assumed when neither the building nor enough of its neighbours say."""

_MIN_TAGGED_FOR_MEDIAN = 10


@dataclass(frozen=True)
class PopulationParams:
    """Parameters of the building-based population estimate.

    Attributes
    ----------
    floor_area_per_person_m2 : float
        Gross floor area per resident, m².
    elderly_share : float
        Share of residents aged 60+.
    unknown_use_share : float
        Residential share of a ``building=yes`` outside any land-use area.
    min_footprint_m2 : float
        Smaller footprints house nobody.
    metres_per_level : float
        Storey height used to turn ``height`` into floors.
    default_levels : float or None
        Floors where nothing is tagged; ``None`` = median of the tagged
        buildings in the data (see module notes).
    """

    floor_area_per_person_m2: float = 40.0
    elderly_share: float = 0.22
    unknown_use_share: float = 0.5
    min_footprint_m2: float = 30.0
    metres_per_level: float = 3.0
    default_levels: float | None = None

    def __post_init__(self) -> None:
        if not self.floor_area_per_person_m2 > 0:
            raise ValueError(f"floor_area_per_person_m2 must be positive, got {self.floor_area_per_person_m2}")
        for name in ("elderly_share", "unknown_use_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if self.default_levels is not None and not self.default_levels > 0:
            raise ValueError(f"default_levels must be positive, got {self.default_levels}")

    def as_dict(self) -> dict:
        """The parameters as plain data (for ``City.meta``)."""
        return asdict(self)


HELSINKI = PopulationParams()
"""Helsinki figures; see the module notes for their sources."""

SOURCES: dict[str, str] = {
    "floor_area_per_person_m2": "34.6 m2 of dwelling floor area per Helsinki resident (City of Helsinki, "
    "kaupunkitieto.hel.fi 'Asumisvaljyys', from Statistics Finland dwellings and housing conditions), "
    "divided by an assumed net-to-gross floor area ratio of 0.85 = about 40 m2 gross",
    "elderly_share": "65+ were 16.4 % of Helsinki residents in 2015 (City of Helsinki Urban Facts, "
    "Helsinki alueittain 2015, from Statistics Finland population structure); 60-64 add about 5-6 % "
    "(Statistics Finland population by age): 22 % aged 60+",
    "unknown_use_share": "assumption: even odds that floor area of a building=yes outside any mapped land use is housing",
    "buildings": "OpenStreetMap building footprints, building:levels and height tags",
}
"""Where the default parameters come from, for ``City.meta``."""

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def _first_number(values: pd.Series) -> np.ndarray:
    """First number in each tag value (``"5"``, ``"3.5"``, ``"18 m"``, ``"5;6"``), NaN if none."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values.to_numpy(dtype=object)):
        if isinstance(v, str):
            m = _NUMBER.search(v)
            if m:
                out[i] = float(m.group(0).replace(",", "."))
        elif v is not None and not pd.isna(v):
            out[i] = float(v)
    return out


def _column(frame: pd.DataFrame, key: str) -> pd.Series:
    return frame[key] if key in frame.columns else pd.Series(np.nan, index=frame.index, dtype=object)


def building_floors(buildings: pd.DataFrame, params: PopulationParams = HELSINKI) -> tuple[np.ndarray, float]:
    """Number of floors of every building (see the module notes).

    Parameters
    ----------
    buildings : pandas.DataFrame
        With columns ``building:levels``, ``building:min_level``, ``height``
        (any may be missing; values are OSM tag strings or numbers).
    params : PopulationParams

    Returns
    -------
    floors : numpy.ndarray of float
    default_levels : float
        The value used where nothing was tagged.
    """
    levels = _first_number(_column(buildings, "building:levels"))
    levels[(levels <= 0) | (levels > 200)] = np.nan  # typos such as "0" or "500"
    min_level = np.nan_to_num(_first_number(_column(buildings, "building:min_level")))
    floors = np.where(min_level < levels, levels - min_level, levels)
    height = _first_number(_column(buildings, "height"))
    from_height = np.maximum(np.round(height / params.metres_per_level), 1.0)
    floors = np.where(np.isnan(floors) & (height > 0), from_height, floors)
    default = params.default_levels
    if default is None:
        tagged = levels[np.isfinite(levels)]
        default = float(np.median(tagged)) if tagged.size >= _MIN_TAGGED_FOR_MEDIAN else FALLBACK_LEVELS
    return np.where(np.isnan(floors), default, floors), default


def residential_share(
    buildings: gpd.GeoDataFrame,
    landuse: gpd.GeoDataFrame | None = None,
    params: PopulationParams = HELSINKI,
) -> np.ndarray:
    """Share of each building's floor area that is housing (see the module notes).

    Parameters
    ----------
    buildings : geopandas.GeoDataFrame
        Footprints with a ``building`` column and any of
        :data:`NON_RESIDENTIAL_KEYS`.
    landuse : geopandas.GeoDataFrame, optional
        Land-use polygons with a ``landuse`` column, same CRS as ``buildings``.
    params : PopulationParams

    Returns
    -------
    numpy.ndarray of float in [0, 1]
    """
    kind = _column(buildings, "building").astype(object).to_numpy()
    explicit = np.isin(kind, list(RESIDENTIAL_BUILDINGS))
    unknown = np.isin(kind, list(UNKNOWN_USE_BUILDINGS))
    present = [k for k in NON_RESIDENTIAL_KEYS if k in buildings.columns]
    other_use = buildings[present].notna().any(axis=1).to_numpy() if present else np.zeros(len(buildings), bool)

    zone = _landuse_at(buildings, landuse)
    share = np.zeros(len(buildings))
    share[explicit] = 1.0
    yes = unknown & ~other_use
    share[yes & (zone == "residential")] = 1.0
    share[yes & pd.isna(zone)] = params.unknown_use_share
    # yes-buildings in any other land use (or with another use tagged) stay 0;
    # a land use we do not list (e.g. "grass") is treated like none mapped.
    unlisted = yes & ~pd.isna(zone) & (zone != "residential") & ~np.isin(zone, list(NON_RESIDENTIAL_LANDUSE))
    share[unlisted] = params.unknown_use_share
    return share


def _landuse_at(buildings: gpd.GeoDataFrame, landuse: gpd.GeoDataFrame | None) -> np.ndarray:
    """Land use at each building's representative point (object array, None where none).

    Where areas overlap, a residential one wins: a housing estate mapped
    inside a wider commercial district is the more specific description.
    """
    zone = np.full(len(buildings), None, dtype=object)
    if landuse is None or len(landuse) == 0 or len(buildings) == 0:
        return zone
    points = buildings.geometry.representative_point().values
    bi, li = landuse.sindex.query(points, predicate="within")
    values = landuse["landuse"].to_numpy(dtype=object)[li]
    order = np.argsort(values != "residential", kind="stable")  # residential first
    bi, values = bi[order], values[order]
    _, first = np.unique(bi, return_index=True)
    zone[bi[first]] = values[first]
    return zone


def estimate_building_population(
    buildings: gpd.GeoDataFrame,
    landuse: gpd.GeoDataFrame | None = None,
    params: PopulationParams = HELSINKI,
) -> gpd.GeoDataFrame:
    """Residents and residents aged 60+ of every building.

    Parameters
    ----------
    buildings : geopandas.GeoDataFrame
        Footprints in a metric CRS with the columns of :data:`BUILDING_KEYS`
        that the data has.
    landuse : geopandas.GeoDataFrame, optional
        Land-use polygons (``landuse`` column), reprojected to the buildings' CRS.
    params : PopulationParams

    Returns
    -------
    geopandas.GeoDataFrame
        ``buildings`` plus ``footprint_m2``, ``floors``, ``residential_share``,
        ``floor_area_m2`` (residential gross floor area), ``population``,
        ``elderly``. ``.attrs["default_levels"]`` holds the floors assumed
        where none were tagged. Invalid footprints are repaired
        (``shapely.make_valid``, structure method) first.

    Raises
    ------
    ValueError
        If the buildings are not in a projected CRS (areas would be in degrees).
    """
    if buildings.crs is None or not buildings.crs.is_projected:
        raise ValueError("buildings must be in a projected (metric) CRS to measure footprint areas")
    if landuse is not None and landuse.crs is not None and not landuse.crs.equals(buildings.crs):
        landuse = landuse.to_crs(buildings.crs)
    out = buildings.copy()
    geoms = out.geometry.values
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        # Self-touching OSM rings are common; "structure" keeps polygons polygonal.
        geoms[invalid] = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))
    footprint = out.geometry.area.to_numpy()
    floors, default = building_floors(out, params)
    share = residential_share(out, landuse, params)
    share[footprint < params.min_footprint_m2] = 0.0
    out["footprint_m2"] = footprint
    out["floors"] = floors
    out["residential_share"] = share
    out["floor_area_m2"] = footprint * floors * share
    out["population"] = out["floor_area_m2"] / params.floor_area_per_person_m2
    out["elderly"] = out["population"] * params.elderly_share
    out.attrs["default_levels"] = default
    return out


def population_grid(
    buildings: gpd.GeoDataFrame,
    cell_size: float = 100.0,
    source_name: str = "buildings",
) -> gpd.GeoDataFrame:
    """Spread building populations onto a square grid.

    Parameters
    ----------
    buildings : geopandas.GeoDataFrame
        Output of :func:`estimate_building_population` (metric CRS).
    cell_size : float, default 100
        Cell side in metres.
    source_name : str
        Name used in warnings.

    Returns
    -------
    geopandas.GeoDataFrame
        Cells with residents (index ``0..n-1``): ``cell_id``, ``row``, ``col``,
        ``population``, ``elderly``, ``geometry``. A building straddling cells
        is shared among them by footprint area.
    """
    housed = buildings[buildings["population"].to_numpy() > 0]
    if len(housed) == 0:
        return gpd.GeoDataFrame(
            {"cell_id": pd.Series(dtype=object), "population": pd.Series(dtype=float), "elderly": pd.Series(dtype=float)},
            geometry=gpd.GeoSeries([], crs=buildings.crs),
        )
    grid = square_grid(tuple(housed.total_bounds), cell_size, crs=buildings.crs)
    return allocate_population(grid, housed[["population", "elderly", "geometry"]], ("population", "elderly"), source_name=source_name)
