"""OpenStreetMap input: walking network, facilities, buildings and whole cities.

Two file formats are read, each with the library that reads it best:

* ``.osm.pbf`` with pyrosm (fast, C-backed parsing into GeoDataFrames; the
  network arrays are built straight from pyrosm's node and edge frames),
* ``.osm`` / ``.osm.xml`` with osmnx (OSM XML, e.g. an Overpass export).

Both go through the same walkability rule (:func:`is_walkable`), the same
geodesic edge lengths and the same projection to one metric CRS, so a city read
from either format gives the same network. :func:`download_network` fetches a
place online through osmnx for interactive use.

The facility tag mapping lives in ``layers/osm_tags.toml``, as data with a
reason for every rule.

Modules, one concern each (import from here; the names below are the API):

* :mod:`layers.osm.tags` - tag rules: walkability, tags to facility kinds and capacities;
* :mod:`layers.osm.files` - file formats, tag records, feature layers (internal);
* :mod:`layers.osm.network` - the walking network;
* :mod:`layers.osm.facilities` - public-service facilities;
* :mod:`layers.osm.buildings` - building footprints and land use;
* :mod:`layers.osm.city` - a whole City from one file.
"""

from __future__ import annotations

from layers.osm.buildings import load_osm_buildings, load_osm_landuse
from layers.osm.city import ATTRIBUTION, city_from_osm
from layers.osm.errors import OsmError
from layers.osm.facilities import load_osm_facilities
from layers.osm.network import download_network, load_osm_network, network_from_osmnx_graph
from layers.osm.tags import (
    EXCLUDED_HIGHWAY,
    FOOTWAY_HIGHWAY,
    WALK_KEYS,
    TagMapping,
    facility_capacities,
    facility_kind,
    is_walkable,
    load_tag_mapping,
)

__all__ = [
    "ATTRIBUTION",
    "EXCLUDED_HIGHWAY",
    "FOOTWAY_HIGHWAY",
    "OsmError",
    "TagMapping",
    "WALK_KEYS",
    "city_from_osm",
    "download_network",
    "facility_capacities",
    "facility_kind",
    "is_walkable",
    "load_osm_buildings",
    "load_osm_facilities",
    "load_osm_landuse",
    "load_osm_network",
    "load_tag_mapping",
    "network_from_osmnx_graph",
]
