"""The distance rule between snapped points, in one place.

A point snapped onto the walking network (:class:`geo.snap.Snapped`) reaches
the network through an *access leg* (straight, from the point to its foot on
the edge) and then walks along its edge to either end. Every search in
lifecircle joins these legs to Dijkstra's node distances the same way:

* a **source** enters the graph as a virtual node with one arc to each end of
  its edge, weighted ``max(access + to_end, MIN_EDGE_M)`` (:func:`arc_weights`;
  a zero weight would read as "no arc" in a sparse matrix);
* a **target** is ``d(end) + (to_end + access)`` from the better end of its
  edge (:func:`end_legs` gives the bracketed part);
* a source and a target on the **same edge** are also joined directly along
  it: ``access_s + |to_u_s - to_u_t| + access_t`` (:func:`along_edge`).

:mod:`geo.paths`, :mod:`geo.incremental` and :mod:`geo.reach` all call these
functions, so their answers are the same floating-point sums in the same
order: the exactness tests that compare them rest on that.
"""

from __future__ import annotations

import numpy as np

from geo.network import MIN_EDGE_M
from geo.snap import Snapped

__all__ = ["along_edge", "arc_weights", "end_legs"]


def end_legs(points: Snapped) -> tuple[np.ndarray, np.ndarray]:
    """Walking metres from each point to the ``u`` end and to the ``v`` end of its edge.

    Parameters
    ----------
    points : Snapped

    Returns
    -------
    to_u, to_v : numpy.ndarray
        ``to_u + access`` and ``to_v + access`` per point (meaningless where
        the point is not snapped).
    """
    return points.to_u + points.access, points.to_v + points.access


def arc_weights(sources: Snapped) -> np.ndarray:
    """Weights of the two arcs from each source's virtual node to the ends of its edge.

    Parameters
    ----------
    sources : Snapped

    Returns
    -------
    numpy.ndarray
        ``(len(sources), 2)``: the arc to ``u``, then to ``v``; never below
        :data:`geo.network.MIN_EDGE_M`, so that no arc is lost as a sparse zero.
    """
    return np.maximum(np.column_stack([sources.access + sources.to_u, sources.access + sources.to_v]), MIN_EDGE_M)


def along_edge(sources: Snapped, si: np.ndarray, targets: Snapped, ti: np.ndarray) -> np.ndarray:
    """Direct walk between source ``si[i]`` and target ``ti[i]`` that share an edge.

    Parameters
    ----------
    sources, targets : Snapped
    si, ti : numpy.ndarray of int
        Parallel indices into ``sources`` and ``targets``; each pair must lie
        on the same edge (not checked).

    Returns
    -------
    numpy.ndarray
        ``access_s + |to_u_s - to_u_t| + access_t`` per pair.
    """
    return sources.access[si] + np.abs(sources.to_u[si] - targets.to_u[ti]) + targets.access[ti]
