"""Reading OpenStreetMap files: format detection, tag records and feature layers.

Helpers shared by the network, facility and building readers of
:mod:`layers.osm`: ``.osm.pbf`` goes through pyrosm, ``.osm`` / ``.osm.xml``
through osmnx, and both come out as plain tag dicts and WGS84 geometries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from layers.osm.errors import OsmError

__all__ = ["OSMNX_META", "PYROSM_META", "file_format", "open_pbf", "osmnx_way_tags", "read_features", "tag_records"]


def file_format(path: str | Path) -> tuple[Path, str]:
    """Check the file exists and say whether it is ``"pbf"`` or ``"xml"``."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".pbf"):
        fmt = "pbf"
    elif name.endswith((".osm", ".osm.xml", ".xml")):
        fmt = "xml"
    else:
        raise OsmError(p.name, "not an OpenStreetMap file: expected a name ending in .osm.pbf, .osm or .osm.xml")
    if not p.is_file():
        raise OsmError(str(p), "file not found")
    return p, fmt


PYROSM_META = frozenset({"id", "osm_type", "geometry", "tags", "lon", "lat", "visible", "version", "timestamp", "changeset", "u", "v", "length"})
OSMNX_META = frozenset({"geometry", "nodes", "ways", "element", "id"})


def tag_records(frame: pd.DataFrame, meta: frozenset[str], keys: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    """One dict of OSM tags per row (all tags, or only ``keys``).

    pyrosm keeps common keys as columns and the rest as a JSON string in
    ``tags``; osmnx keeps every key as a column. Both end up here as plain dicts.
    Restricting to ``keys`` keeps the per-row work small on big networks.
    """
    cols = [c for c in frame.columns if c not in meta and (keys is None or c in keys)]
    values = frame[cols].to_numpy(dtype=object)
    extra = frame["tags"].to_numpy(dtype=object) if "tags" in frame.columns else [None] * len(frame)
    wanted = None if keys is None else [k for k in keys if k not in cols]
    records = []
    for row, more in zip(values, extra, strict=True):
        rec = {k: str(v) for k, v in zip(cols, row, strict=True) if isinstance(v, str) or (v is not None and not pd.isna(v))}
        # Parse the JSON only when it may hold a wanted key (cheap substring test).
        if isinstance(more, str) and more and (wanted is None or any(f'"{k}"' in more for k in wanted)):
            try:
                parsed = json.loads(more)
            except json.JSONDecodeError:
                parsed = {}
            for k, v in parsed.items():
                if wanted is None or k in wanted:
                    rec.setdefault(k, str(v))
        records.append(rec)
    return records


def open_pbf(path: Path):
    import pyrosm  # imported lazily: only the .pbf route needs it

    return pyrosm.OSM(str(path))


@contextmanager
def osmnx_way_tags(keys: tuple[str, ...]) -> Iterator[None]:
    """Make osmnx keep ``keys`` on graph edges (it keeps a short list by default)."""
    import osmnx as ox

    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = list(dict.fromkeys(saved + list(keys)))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = saved


def read_features(path: Path, fmt: str, tags: dict[str, list[str] | bool], what: str) -> tuple[list[str], list[dict[str, str]], np.ndarray]:
    """Features matching ``tags`` as (``"node/1"``-style ids, tag dicts, WGS84 geometries)."""
    try:
        if fmt == "pbf":
            frame = open_pbf(path).get_pois(custom_filter=tags) if what == "pois" else _pbf_layer(path, what)
            if frame is None or len(frame) == 0:
                return [], [], np.empty(0, dtype=object)
            ids = [f"{t}/{i}" for t, i in zip(frame["osm_type"], frame["id"])]
            return ids, tag_records(frame, PYROSM_META), frame.geometry.to_numpy()
        import osmnx as ox

        try:
            frame = ox.features_from_xml(path, tags=tags)
        except ValueError:
            # "No matching features": osmnx raises InsufficientResponseError, which it
            # defines in a private module (osmnx._errors) as a ValueError subclass. Its
            # XML features reader raises no other ValueError of its own (syntax errors
            # are ParseError, a SyntaxError, and stay errors below), so the public base
            # class is caught rather than the private name imported.
            return [], [], np.empty(0, dtype=object)
        ids = [f"{t}/{i}" for t, i in frame.index]
        return ids, tag_records(frame, OSMNX_META), frame.geometry.to_numpy()
    except OsmError:
        raise
    except Exception as exc:
        raise OsmError(path.name, f"cannot read {what}: {exc}") from exc


def _pbf_layer(path: Path, what: str):
    osm = open_pbf(path)
    return osm.get_buildings() if what == "buildings" else osm.get_landuse()
