"""Disk cache of built cities, keyed by a hash of everything that shapes them.

A built :class:`layers.city.City` is pickled under ``$LIFECIRCLE_CACHE`` (or
``~/.cache/lifecircle``) in a file named after the city and the SHA-256 of its
inputs: builder version, parameters and a digest of the builder's source
files, so that editing the code or the parameters never serves a stale city.
Writes are atomic (temporary file, then ``os.replace``), so a crash or two
processes building at once cannot leave a half-written file behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from layers.atomic import atomic_file
from layers.city import City

__all__ = ["CACHE_ENV", "cache_dir", "cache_key", "source_digest", "cache_path", "load_cached", "store_city", "cached_city"]

CACHE_ENV = "LIFECIRCLE_CACHE"
"""Environment variable naming the cache folder."""

Progress = Callable[[str, float], None] | None


def cache_dir() -> Path:
    """The cache folder: ``$LIFECIRCLE_CACHE`` if set, else ``~/.cache/lifecircle``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lifecircle"


def source_digest(modules: Iterable[str]) -> str:
    """SHA-256 over the source files of ``modules`` (a package counts with all its ``.py`` files).

    Parameters
    ----------
    modules : iterable of str
        Dotted module or package names; they are located, not imported.

    Returns
    -------
    str
        Hex digest; modules that cannot be found contribute their name only.
    """
    h = hashlib.sha256()
    for name in sorted(modules):
        h.update(name.encode())
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def cache_key(name: str, version: str, params: Mapping[str, Any], sources: Iterable[str] = ()) -> str:
    """Hash of a city's inputs.

    Parameters
    ----------
    name : str
        City name.
    version : str
        Builder version (bump to invalidate on purpose).
    params : mapping
        JSON-serialisable build parameters.
    sources : iterable of str
        Modules whose source code shapes the city (see :func:`source_digest`).

    Returns
    -------
    str
        64 hex digits.
    """
    payload = json.dumps(
        {"name": name, "version": version, "params": dict(params), "code": source_digest(sources)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def cache_path(name: str, key: str) -> Path:
    """File holding city ``name`` built with inputs hashing to ``key``."""
    return cache_dir() / f"{name}-{key[:20]}.pkl"


def _bare(city: City) -> City:
    """A copy without cached properties (snapping results, spatial trees): they rebuild on demand."""
    return dataclasses.replace(city, network=dataclasses.replace(city.network))


def load_cached(name: str, key: str) -> City | None:
    """The cached city, or ``None`` when absent; an unreadable file is removed with a warning."""
    path = cache_path(name, key)
    if not path.exists():
        return None
    try:
        with path.open("rb") as f:
            city = pickle.load(f)
        if not isinstance(city, City):
            raise TypeError(f"holds a {type(city).__name__}, not a City")
    except Exception as exc:  # noqa: BLE001 -- any broken file is rebuilt, never fatal
        warnings.warn(f"ignoring unreadable city cache {path}: {exc}", stacklevel=2)
        path.unlink(missing_ok=True)
        return None
    return city


def store_city(name: str, key: str, city: City) -> Path:
    """Write ``city`` to the cache atomically; returns the file.

    Raises
    ------
    OSError
        If the cache folder cannot be created or written.
    """
    path = cache_path(name, key)
    with atomic_file(path, "wb") as f:
        pickle.dump(_bare(city), f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def cached_city(
    name: str,
    key: str,
    build: Callable[[], City],
    enabled: bool = True,
    progress: Progress = None,
) -> City:
    """Load city ``name`` from the cache, or build and store it.

    Parameters
    ----------
    name : str
    key : str
        From :func:`cache_key`.
    build : callable
        Makes the city when it is not cached.
    enabled : bool
        ``False`` always builds and never writes.
    progress : callable, optional
        ``progress(step, fraction)``, told about the cache look-up.

    Returns
    -------
    City
    """
    say = progress or (lambda step, fraction: None)
    if enabled:
        say("loading cached city", 0.0)
        city = load_cached(name, key)
        if city is not None:
            say("loaded from cache", 1.0)
            return city
    city = build()
    if enabled:
        try:
            store_city(name, key, city)
        except OSError as exc:  # a read-only home must not stop the analysis
            warnings.warn(f"could not write the city cache in {cache_dir()}: {exc}", stacklevel=2)
    return city
