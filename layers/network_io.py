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

from geo.crs import project_network, transformer
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
        if not _straight_segments(network.x, network.y, network.u, network.v, coords, offsets):
            arrays["geom_coords"] = coords
            arrays["geom_offsets"] = offsets
    path.parent.mkdir(parents=True, exist_ok=True)
    (np.savez_compressed if compress else np.savez)(path, **arrays)
    return path


def _straight_segments(
    x: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray, coords: np.ndarray, offsets: np.ndarray
) -> bool:
    """Whether every edge line is two points equal, bit for bit, to its end nodes ``u`` then ``v``."""
    if coords.shape != (2 * u.size, 2) or offsets.shape != (u.size + 1,) or not np.all(np.diff(offsets) == 2):
        return False  # a bend, a missing line or a z coordinate: keep the geometry
    if u.size and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= x.size):
        return False  # inconsistent arrays: WalkNetwork.from_edges reports them
    start, end = coords[0::2], coords[1::2]
    return bool(
        np.array_equal(start[:, 0], x[u]) and np.array_equal(start[:, 1], y[u])
        and np.array_equal(end[:, 0], x[v]) and np.array_equal(end[:, 1], y[v])
    )


def network_attribution(path: str | Path) -> str:
    """The data credit stored with a saved network ("" when none was stored or the file is unreadable)."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            return str(data["attribution"]) if "attribution" in data.files else ""
    except (zipfile.BadZipFile, ValueError, OSError):
        return ""


def load_network(path: str | Path, crs: CRS | None = None) -> WalkNetwork:
    """Read a network written by :func:`save_network`, optionally reprojected.

    Parameters
    ----------
    path : str or pathlib.Path
    crs : pyproj.CRS, optional
        Return the network in this CRS: the same network, bit for bit, as
        ``geo.crs.project_network(load_network(path), crs)``, but the stored
        coordinate arrays are projected before any edge line is built (one
        pass over the coordinates instead of building every line twice; 1.6
        million edges: ~2 s less). Ignored for a file without a CRS.

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
    stored_crs = CRS.from_wkt(str(arrays["crs_wkt"])) if "crs_wkt" in arrays else None
    reproject = crs is not None and stored_crs is not None and stored_crs != crs
    if reproject and _project_arrays(arrays, stored_crs, crs):
        stored_crs, reproject = crs, False
    if "geom_coords" in arrays and _straight_segments(
        arrays["x"], arrays["y"], arrays["u"], arrays["v"], arrays["geom_coords"], arrays.get("geom_offsets", np.empty(0))
    ):
        # Lines that are exactly the segments between their end nodes (files written
        # before save_network dropped them) are what "no geometry" means: left out,
        # WalkNetwork.edge_lines draws the same lines, bit for bit, only when asked
        # (a cover never asks; building 1.6 million lines took ~1.3 s).
        del arrays["geom_coords"]
    geometry = None
    if "geom_coords" in arrays:
        geometry = shapely.from_ragged_array(
            shapely.GeometryType.LINESTRING, arrays["geom_coords"], (arrays["geom_offsets"],)
        )
    try:
        network = WalkNetwork.from_edges(
            arrays["x"],
            arrays["y"],
            arrays["u"],
            arrays["v"],
            length=arrays["length"],
            geometry=geometry,
            crs=stored_crs,
            node_id=arrays.get("node_id"),
        )
    except ValueError as exc:
        raise LayerError(source, f"the saved network is inconsistent: {exc}") from None
    return project_network(network, crs) if reproject else network


def _project_arrays(arrays: dict[str, np.ndarray], src: CRS, dst: CRS) -> bool:
    """Project a loaded file's node and edge-line coordinates from ``src`` to ``dst``, in place.

    The same transformer and the same per-point transform as
    :func:`geo.crs.project_network`, so every coordinate comes out bit for bit
    as it would there. Edge lines that are exactly the straight segments
    between their end nodes (files written before ``save_network`` dropped
    such lines) are dropped instead of projecting every vertex a second
    time: the segments between the projected nodes are the same numbers,
    since the projection maps equal inputs to equal outputs. Returns ``False``, and
    changes nothing, for layouts this shortcut does not cover (z coordinates,
    node indices out of range): the caller then projects the built network.
    """
    x, y, u, v = arrays["x"], arrays["y"], arrays["u"], arrays["v"]
    coords, offsets = arrays.get("geom_coords"), arrays.get("geom_offsets")
    n = x.size
    if x.shape != y.shape or u.shape != v.shape or (u.size and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= n)):
        return False  # inconsistent arrays: from_edges reports them
    if coords is not None and (coords.ndim != 2 or coords.shape[1] != 2):
        return False
    t = transformer(src, dst)
    px, py = (np.ascontiguousarray(a) for a in t.transform(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)))
    if coords is not None:
        if offsets is not None and _straight_segments(x, y, u, v, coords, offsets):
            del arrays["geom_coords"]  # the projected lines are the segments between the projected nodes
        else:
            arrays["geom_coords"] = np.column_stack(t.transform(coords[:, 0], coords[:, 1]))
    arrays["x"], arrays["y"] = px, py
    return True
