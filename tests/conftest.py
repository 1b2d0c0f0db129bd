"""Small shared fixtures: a hand-built walking network and a random one.

The hand network (coordinates in metres, every edge drawn as a LineString)::

                 C (300,400)
                /|
          500  / | 400
              /  |            . (450,200) bend of the long B-D edge
    A (0,0) ---- B (300,0) ---- D (600,0) = E (600,0) ---- F (900,0)
          300         300           0 m            300

    G (2000,0) ---- H (2000,300)     a separate piece, 300 m

Edges (index: ends, length):
    0: A-B 300     1: B-C 400     2: A-C 500
    3: B-D 300 (straight)          4: B-D 500 (via the bend (450,200): 250 + 250)
    5: D-E 0 (two OSM nodes at one spot)   6: E-F 300     7: G-H 300
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.network import WalkNetwork

HAND_XY = {
    "A": (0.0, 0.0),
    "B": (300.0, 0.0),
    "C": (300.0, 400.0),
    "D": (600.0, 0.0),
    "E": (600.0, 0.0),
    "F": (900.0, 0.0),
    "G": (2000.0, 0.0),
    "H": (2000.0, 300.0),
}
HAND_NODES = list(HAND_XY)
HAND_EDGES = [("A", "B"), ("B", "C"), ("A", "C"), ("B", "D"), ("B", "D"), ("D", "E"), ("E", "F"), ("G", "H")]
HAND_BEND = (450.0, 200.0)  # the long B-D edge (index 4) passes through this point


def _hand_network() -> WalkNetwork:
    idx = {name: i for i, name in enumerate(HAND_NODES)}
    lines = []
    for k, (a, b) in enumerate(HAND_EDGES):
        pts = [HAND_XY[a], HAND_BEND, HAND_XY[b]] if k == 4 else [HAND_XY[a], HAND_XY[b]]
        lines.append(shapely.LineString(pts))
    x, y = np.array([HAND_XY[n] for n in HAND_NODES]).T
    return WalkNetwork.from_edges(
        x,
        y,
        [idx[a] for a, _ in HAND_EDGES],
        [idx[b] for _, b in HAND_EDGES],
        geometry=np.array(lines, dtype=object),
        crs=32650,
        node_id=np.array(HAND_NODES),
    )


@pytest.fixture(scope="session")
def hand_network() -> WalkNetwork:
    """The 8-node network drawn in this module's docstring."""
    return _hand_network()


def random_network(seed: int, side: int = 12, spacing: float = 100.0) -> WalkNetwork:
    """A jittered street grid with awkward features, for randomized checks.

    ``side x side`` nodes ``spacing`` metres apart, jittered by up to 20 m,
    with about 15 % of the grid edges removed, a few curved parallel
    duplicates (drawn with a bend, so longer), a few zero-length edges to
    co-located twin nodes, and a separate 3-node piece far to the east.
    """
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(side), np.arange(side))
    x = gx.ravel() * spacing + rng.uniform(-20, 20, side * side)
    y = gy.ravel() * spacing + rng.uniform(-20, 20, side * side)
    node = np.arange(side * side).reshape(side, side)
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    keep = rng.random(u.size) > 0.15
    u, v = u[keep], v[keep]
    lines = list(shapely.linestrings(np.stack([np.column_stack([x[u], y[u]]), np.column_stack([x[v], y[v]])], axis=1)))

    # curved parallel duplicates of some edges
    for i in rng.choice(u.size, 6, replace=False):
        a, b = u[i], v[i]
        mx, my = (x[a] + x[b]) / 2, (y[a] + y[b]) / 2
        bend = (mx + rng.uniform(-40, 40), my + rng.uniform(-40, 40))
        u, v = np.append(u, a), np.append(v, b)
        lines.append(shapely.LineString([(x[a], y[a]), bend, (x[b], y[b])]))

    # zero-length edges to twin nodes; a twin takes over some of its node's edges
    for a in rng.choice(side * side, 4, replace=False):
        twin = x.size
        x, y = np.append(x, x[a]), np.append(y, y[a])
        u[np.flatnonzero(u == a)[:1]] = twin  # same spot, so the edge's drawing is unchanged
        u, v = np.append(u, a), np.append(v, twin)
        lines.append(shapely.LineString([(x[a], y[a]), (x[a], y[a])]))

    # a separate piece
    base = x.size
    x = np.append(x, [side * spacing + 500, side * spacing + 600, side * spacing + 600])
    y = np.append(y, [0.0, 0.0, 120.0])
    for a, b in [(base, base + 1), (base + 1, base + 2)]:
        u, v = np.append(u, a), np.append(v, b)
        lines.append(shapely.LineString([(x[a], y[a]), (x[b], y[b])]))
    return WalkNetwork.from_edges(x, y, u, v, geometry=np.array(lines, dtype=object), crs=32650)
