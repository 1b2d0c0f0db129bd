"""Saving and loading a WalkNetwork as one compact ``.npz`` file.

The arrays are stored as they are (no pickling, so loading a file never runs
code); edge geometries go through :func:`shapely.to_ragged_array` (one
coordinate array plus offsets) and the CRS as WKT. A city-sized network of a
few hundred thousand edges loads in well under a second.

Edge geometries that are all exactly the straight segment between their two
end nodes are not stored: a network without geometry means exactly that
(see :class:`geo.network.WalkNetwork`), and rebuilding 1.6 million such
lines took most of the time of loading a Guangzhou-sized city.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from geo.network import WalkNetwork
from layers.errors import LayerError

__all__ = ["save_network", "load_network", "network_attribution", "FORMAT_VERSION"]

FORMAT_VERSION = 1
"""Version stamped into every file; bumped when the layout changes."""

_REQUIRED = ("format_version", "x", "y", "u", "v", "length")


def save_network(network: WalkNetwork, path: str | Path, *, attribution: str = "", compress: bool = True) -> Path:
    """Write a network to ``path`` (``.npz`` is appended when missing).

    Parameters
    ----------
    network : WalkNetwork
    path : str or pathlib.Path
    attribution : str, optional
        The data credit that must travel with the network (e.g. "© OpenStreetMap
        contributors"); :func:`network_attribution` reads it back.
    compress : bool, default True
        Deflate the arrays (about half the size; a city folder stores them
        uncompressed because reading is then three times faster).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION),
        "x": network.x,
        "y": network.y,
        "u": network.u,
        "v": network.v,
        "length": network.length,
    }
    if network.crs is not None:
        arrays["crs_wkt"] = np.array(network.crs.to_wkt())
    if attribution:
        arrays["attribution"] = np.array(attribution)
    if network.node_id is not None:
        node_id = np.asarray(network.node_id)
        # Object arrays would need pickle; store text ids as fixed-width unicode.
        arrays["node_id"] = node_id.astype(str) if node_id.dtype == object else node_id
    if network.geometry is not None:
        _, coords, (offsets,) = shapely.to_ragged_array(network.geometry)
        if not _straight_segments(network, coords, offsets):
            arrays["geom_coords"] = coords
            arrays["geom_offsets"] = offsets
    path.parent.mkdir(parents=True, exist_ok=True)
    (np.savez_compressed if compress else np.savez)(path, **arrays)
    return path


def _straight_segments(network: WalkNetwork, coords: np.ndarray, offsets: np.ndarray) -> bool:
    """Whether every edge line is two points equal, bit for bit, to its end nodes ``u`` then ``v``."""
    if coords.shape != (2 * network.n_edges, 2) or not np.all(np.diff(offsets) == 2):
        return False  # a bend, a missing line or a z coordinate: keep the geometry
    start, end = coords[0::2], coords[1::2]
    return bool(
        np.array_equal(start[:, 0], network.x[network.u]) and np.array_equal(start[:, 1], network.y[network.u])
        and np.array_equal(end[:, 0], network.x[network.v]) and np.array_equal(end[:, 1], network.y[network.v])
    )


def network_attribution(path: str | Path) -> str:
    """The data credit stored with a saved network ("" when none was stored or the file is unreadable)."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            return str(data["attribution"]) if "attribution" in data.files else ""
    except (zipfile.BadZipFile, ValueError, OSError):
        return ""


def load_network(path: str | Path) -> WalkNetwork:
    """Read a network written by :func:`save_network`.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    WalkNetwork

    Raises
    ------
    LayerError
        If the file is missing, not a network file, from a newer version, or
        its arrays are inconsistent.
    """
    path = Path(path)
    source = path.name
    if not path.exists():
        raise LayerError(source, f"file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise LayerError(source, f"not a saved network (.npz) file: {exc}") from None
    missing = [k for k in _REQUIRED if k not in arrays]
    if missing:
        raise LayerError(source, f"not a saved network: arrays {', '.join(missing)} are missing")
    version = int(arrays["format_version"])
    if version > FORMAT_VERSION:
        raise LayerError(source, f"network file format {version} is newer than this lifecircle understands ({FORMAT_VERSION})")
    geometry = None
    if "geom_coords" in arrays:
        geometry = shapely.from_ragged_array(
            shapely.GeometryType.LINESTRING, arrays["geom_coords"], (arrays["geom_offsets"],)
        )
    crs = CRS.from_wkt(str(arrays["crs_wkt"])) if "crs_wkt" in arrays else None
    try:
        return WalkNetwork.from_edges(
            arrays["x"],
            arrays["y"],
            arrays["u"],
            arrays["v"],
            length=arrays["length"],
            geometry=geometry,
            crs=crs,
            node_id=arrays.get("node_id"),
        )
    except ValueError as exc:
        raise LayerError(source, f"the saved network is inconsistent: {exc}") from None
