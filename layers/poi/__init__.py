"""Facilities from points of interest: OpenStreetMap tags and Amap/Baidu POI exports.

A POI source is read through a mapping table that the planner can edit:

* OpenStreetMap: ``layers/poi_tables/osm.toml`` (tag conditions -> kinds, the
  format of ``layers/osm_tags.toml``), read from the same ``.osm``/``.pbf`` as
  the network (:func:`import_osm_pois`);
* Amap (高德) exports: ``layers/poi_tables/amap.csv`` (``typecode`` -> kind),
  coordinates in GCJ-02 (:func:`import_china_pois` with ``source="amap"``);
* Baidu (百度) exports: ``layers/poi_tables/baidu.csv`` (``tag`` text -> kind),
  coordinates in BD-09 (``source="baidu"``).

A table entry may name several kinds in order of preference (``nursing_home|elderly_care``):
the first kind the active catalogue has is used, so one table serves
``seeds``, ``seeds-full`` and ``gb50180``. Every POI ends in the report
(:class:`PoiImport`): mapped, unmapped (no table entry), mapped to kinds the
catalogue lacks, or without a usable location. Nothing is dropped silently.

Modules: :mod:`layers.poi.tables` (code tables and the shared kind choice),
:mod:`layers.poi.osm`, :mod:`layers.poi.china`, :mod:`layers.poi.result`.
"""

from __future__ import annotations

from layers.poi.china import import_china_pois
from layers.poi.osm import import_osm_pois, load_osm_poi_table
from layers.poi.result import STATUSES, PoiImport
from layers.poi.tables import DEFAULT_TABLES, CodeTable, read_code_table

__all__ = [
    "DEFAULT_TABLES",
    "STATUSES",
    "CodeTable",
    "PoiImport",
    "import_china_pois",
    "import_osm_pois",
    "load_osm_poi_table",
    "read_code_table",
]
