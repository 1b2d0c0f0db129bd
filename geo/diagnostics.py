"""Checks of a walking network and its snapped points that a planner needs before trusting a result.

Pure array functions: which connected piece of the network each snapped
point is on, and how much longer the walk is than the straight line (the
detour ratio, also called circuity). Roads-only OpenStreetMap data (no
footpaths) splits a district into pieces and forces long detours; both show
up here long before they show up as a wrong coverage figure.
"""

from __future__ import annotations

import numpy as np

from geo.network import WalkNetwork
from geo.snap import Snapped

__all__ = ["DETOUR_MIN_STRAIGHT_M", "piece_of", "piece_table", "detour_ratio"]

DETOUR_MIN_STRAIGHT_M = 250.0
"""Detour ratios are left out (NaN) below this straight-line distance: a
cell 40 m from a facility across a fence has a ratio of 5 that means
nothing, while the access legs dominate such short trips."""


def piece_of(network: WalkNetwork, snapped: Snapped) -> np.ndarray:
    """Connected piece of the network each snapped point lies on.

    Parameters
    ----------
    network : WalkNetwork
    snapped : geo.snap.Snapped
        Points snapped onto ``network``'s edges.

    Returns
    -------
    numpy.ndarray of int64
        The component label (see :attr:`WalkNetwork.components`) of the
        point's edge, ``-1`` for points that did not snap (too far from any
        street).
    """
    labels = network.components
    edge = np.asarray(snapped.edge)
    out = np.full(edge.shape, -1, dtype=np.int64)
    ok = snapped.ok
    out[ok] = labels[network.u[edge[ok]]]
    return out


def piece_table(network: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and street length of every connected piece.

    Parameters
    ----------
    network : WalkNetwork

    Returns
    -------
    nodes : numpy.ndarray of int64
        Node count per piece label.
    length_m : numpy.ndarray of float64
        Total edge length per piece label (an edge counts in its ``u`` end's piece).
    """
    labels = network.components
    n = network.n_components
    nodes = np.bincount(labels, minlength=n).astype(np.int64)
    length_m = np.bincount(labels[network.u], weights=network.length, minlength=n)
    return nodes, length_m


def detour_ratio(network_m: np.ndarray, straight_m: np.ndarray, min_straight_m: float = DETOUR_MIN_STRAIGHT_M) -> np.ndarray:
    """Walking distance over straight-line distance, per trip.

    Parameters
    ----------
    network_m : numpy.ndarray
        Walking distance of each trip (``inf`` when no walk was found).
    straight_m : numpy.ndarray
        Straight-line distance between the same two points.
    min_straight_m : float
        Trips shorter than this in a straight line get NaN (see
        :data:`DETOUR_MIN_STRAIGHT_M`).

    Returns
    -------
    numpy.ndarray of float64
        ``network_m / straight_m``; NaN for short trips and trips without a
        walk.
    """
    network_m = np.asarray(network_m, dtype=np.float64)
    straight_m = np.asarray(straight_m, dtype=np.float64)
    out = np.full(network_m.shape, np.nan)
    ok = np.isfinite(network_m) & (straight_m >= min_straight_m)
    out[ok] = network_m[ok] / straight_m[ok]
    return out
