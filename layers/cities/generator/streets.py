"""The walking network of a generated district, built with whole-array numpy.

Streets are *lines* (arterial segments between two corners, local streets
across a block). Every node lying on a line is registered with its parameter
along it; sorting the registrations by (line, parameter) and joining
neighbours yields all street edges at once. Footpaths that are not on a
street line (compound interiors, gate links, park paths) are added as explicit
edges. Afterwards every edge crossing a river or railway bed is removed except
on the chosen bridges and level crossings, and only the connected piece is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from geo.network import WalkNetwork
from layers.cities.generator.layout import COMMERCIAL, COMPOUND, CORRIDOR, OLD, PARK, Layout

__all__ = ["EDGE_CLASSES", "StreetPlan", "build_streets"]

EDGE_CLASSES: tuple[str, ...] = (
    "arterial", "local_street", "park_path", "compound_path", "gate", "bridge", "rail_crossing",
)  # fmt: skip
"""Names of the edge classes stored in ``City.meta["edge_class"]``."""
ARTERIAL, LOCAL, PARK_PATH, COMPOUND_PATH, GATE, BRIDGE, RAIL_CROSSING = range(7)

FENCE_INSET_M = 12.0  # compound fence, from the street centre line
RING_INSET_M = 18.0  # compound's inner ring path, from the street centre line


@dataclass(eq=False)
class StreetPlan:
    """The network plus what the rest of the generator needs to know about it.

    Attributes
    ----------
    network : WalkNetwork
    edge_class : numpy.ndarray of int8
        Index into :data:`EDGE_CLASSES` for every network edge.
    node_compound : numpy.ndarray of int64
        Compound of every node (-1 outside compounds).
    compound_block : numpy.ndarray of int64
        Block of every compound.
    compound_fence : numpy.ndarray of shapely.Polygon
        Fence polygon of every compound (not walkable except at gates).
    compound_gates : numpy.ndarray of int64
        Number of gates of every compound.
    removed_nodes : int
        Nodes dropped because barriers cut them off (e.g. park paths on a
        river island) -- reported in the city's meta.
    """

    network: WalkNetwork
    edge_class: np.ndarray
    node_compound: np.ndarray
    compound_block: np.ndarray
    compound_fence: np.ndarray
    compound_gates: np.ndarray
    removed_nodes: int


def _ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Owner, rank within owner, and start offset of a ragged layout with ``counts``."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(counts.size), counts)
    rank = np.arange(int(counts.sum())) - starts[owner]
    return owner, rank, starts


class _Builder:
    """Accumulates nodes, line registrations and explicit edges as array chunks."""

    def __init__(self, layout: Layout):
        self.layout = layout
        m, n = layout.m, layout.n
        self.n_h = (n + 1) * m  # horizontal arterial segments H(j, i)
        self.n_v = n * (m + 1)  # vertical arterial segments V(j, i)
        self.n_lines = self.n_h + self.n_v
        self.n_nodes = 0
        self.xs: list[np.ndarray] = []
        self.ys: list[np.ndarray] = []
        self.comp: list[np.ndarray] = []
        self.reg: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.edges: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    # ids of arterial lines and corners
    def h_line(self, j, i):
        return np.asarray(j) * self.layout.m + np.asarray(i)

    def v_line(self, j, i):
        return self.n_h + np.asarray(j) * (self.layout.m + 1) + np.asarray(i)

    def corner(self, j, i):
        return np.asarray(j) * (self.layout.m + 1) + np.asarray(i)

    def new_lines(self, k: int) -> int:
        """Reserve ``k`` local street lines; returns the first id."""
        first = self.n_lines
        self.n_lines += int(k)
        return first

    def add_nodes(self, x: np.ndarray, y: np.ndarray, compound: np.ndarray | int = -1) -> np.ndarray:
        ids = np.arange(self.n_nodes, self.n_nodes + x.size, dtype=np.int64)
        self.n_nodes += x.size
        self.xs.append(np.asarray(x, dtype=np.float64))
        self.ys.append(np.asarray(y, dtype=np.float64))
        self.comp.append(np.broadcast_to(np.asarray(compound, dtype=np.int64), x.shape).copy())
        return ids

    def register(self, line, param, node, mask=None) -> None:
        line, param, node = np.broadcast_arrays(np.asarray(line), np.asarray(param, dtype=np.float64), node)
        if mask is not None:
            line, param, node = line[mask], param[mask], node[mask]
        self.reg.append((line.astype(np.int64), param.astype(np.float64), node.astype(np.int64)))

    def add_edges(self, u, v, cls: int) -> None:
        u = np.asarray(u, dtype=np.int64)
        self.edges.append((u, np.asarray(v, dtype=np.int64), np.full(u.size, cls, dtype=np.int8)))


def _corners(bld: _Builder) -> None:
    """Arterial corner nodes, registered at both ends of their segments."""
    lay = bld.layout
    m, n = lay.m, lay.n
    bld.add_nodes(lay.X.ravel(), lay.Y.ravel())
    j, i = np.divmod(np.arange((n + 1) * m), m)
    bld.register(bld.h_line(j, i), 0.0, bld.corner(j, i))
    bld.register(bld.h_line(j, i), 1.0, bld.corner(j, i + 1))
    j, i = np.divmod(np.arange(n * (m + 1)), m + 1)
    bld.register(bld.v_line(j, i), 0.0, bld.corner(j, i))
    bld.register(bld.v_line(j, i), 1.0, bld.corner(j + 1, i))


def _positions(k: np.ndarray, rng: np.random.Generator, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """Ragged line positions ``[0, p_1 .. p_k, 1]`` per block, inner ones jittered."""
    owner, rank, starts = _ragged(k + 2)
    pos = rank / (k[owner] + 1.0)
    inner = (rank > 0) & (rank < k[owner] + 1)
    pos[inner] += jitter * rng.uniform(-0.5, 0.5, int(inner.sum())) / (k[owner[inner]] + 1.0)
    return pos, starts


def _street_grids(bld: _Builder, blocks: np.ndarray, ks: np.ndarray, kt: np.ndarray, rng) -> dict:
    """Local streets across ``blocks``: ``ks`` south-north and ``kt`` west-east lines each.

    Returns the ragged positions and line ids the plots inside need.
    """
    lay = bld.layout
    S, s_start = _positions(ks, rng, 0.4)
    T, t_start = _positions(kt, rng, 0.4)
    sl = bld.new_lines(ks.sum()) + np.cumsum(ks) - ks  # first s-line (constant s) of each block
    tl = bld.new_lines(kt.sum()) + np.cumsum(kt) - kt
    q, r, _ = _ragged((ks + 2) * (kt + 2))
    ia, ic = r % (ks[q] + 2), r // (ks[q] + 2)
    corner = ((ia == 0) | (ia == ks[q] + 1)) & ((ic == 0) | (ic == kt[q] + 1))
    q, ia, ic = q[~corner], ia[~corner], ic[~corner]
    s, t = S[s_start[q] + ia], T[t_start[q] + ic]
    b = blocks[q]
    j, i = lay.block_ji(b)
    node = bld.add_nodes(*lay.at(b, s, t))
    bld.register(sl[q] + ia - 1, t, node, (ia >= 1) & (ia <= ks[q]))
    bld.register(tl[q] + ic - 1, s, node, (ic >= 1) & (ic <= kt[q]))
    bld.register(bld.h_line(j, i), s, node, ic == 0)
    bld.register(bld.h_line(j + 1, i), s, node, ic == kt[q] + 1)
    bld.register(bld.v_line(j, i), t, node, ia == 0)
    bld.register(bld.v_line(j, i + 1), t, node, ia == ks[q] + 1)
    return {"S": S, "s_start": s_start, "T": T, "t_start": t_start, "sl": sl, "tl": tl}


def _compounds(bld: _Builder, blocks, ks, kt, grid: dict, spacing: float, rng) -> dict:
    """One gated compound per plot between local streets, with interior paths and 1-3 gates."""
    lay = bld.layout
    S, s_start, T, t_start, sl, tl = (grid[k] for k in ("S", "s_start", "T", "t_start", "sl", "tl"))
    q, r, _ = _ragged((ks + 1) * (kt + 1))
    pa, pc = r % (ks[q] + 1), r // (ks[q] + 1)
    s0, s1 = S[s_start[q] + pa], S[s_start[q] + pa + 1]
    t0, t1 = T[t_start[q] + pc], T[t_start[q] + pc + 1]
    # No compound on plots the river reaches: they stay open ground.
    dry = ~shapely.intersects(lay.quads_of(blocks[q], s0, s1, t0, t1), lay.river_zone)
    q, pa, pc, s0, s1, t0, t1 = (a[dry] for a in (q, pa, pc, s0, s1, t0, t1))
    b = blocks[q]
    j, i = lay.block_ji(b)
    # The street line on each side of the plot (arterial or local).
    bottom = np.where(pc == 0, bld.h_line(j, i), tl[q] + pc - 1)
    top = np.where(pc == kt[q], bld.h_line(j + 1, i), tl[q] + pc)
    left = np.where(pa == 0, bld.v_line(j, i), sl[q] + pa - 1)
    right = np.where(pa == ks[q], bld.v_line(j, i + 1), sl[q] + pa)

    lx, ly = (a[b] for a in lay.block_size)
    fs, ft = FENCE_INSET_M / lx, FENCE_INSET_M / ly
    rs, rt = RING_INSET_M / lx, RING_INSET_M / ly
    fence = lay.quads_of(b, s0 + fs, s1 - fs, t0 + ft, t1 - ft)
    # Interior lattice of footpaths; its outer ring runs just inside the fence.
    inner_w = (s1 - s0 - 2 * rs) * lx
    inner_h = (t1 - t0 - 2 * rt) * ly
    nx = np.maximum(2, np.rint(inner_w / spacing).astype(np.int64) + 1)
    ny = np.maximum(2, np.rint(inner_h / spacing).astype(np.int64) + 1)
    c, rr, first = _ragged(nx * ny)
    ix, iy = rr % nx[c], rr // nx[c]
    ps = s0[c] + rs[c] + (s1[c] - s0[c] - 2 * rs[c]) * ix / (nx[c] - 1)
    pt = t0[c] + rt[c] + (t1[c] - t0[c] - 2 * rt[c]) * iy / (ny[c] - 1)
    comp_base = bld.compound_count
    node = bld.add_nodes(*lay.at(b[c], ps, pt), compound=comp_base + c)
    east = ix < nx[c] - 1
    north = iy < ny[c] - 1
    bld.add_edges(node[east], node[east] + 1, COMPOUND_PATH)
    bld.add_edges(node[north], node[north] + nx[c[north]], COMPOUND_PATH)

    # Gates: 1-3 per compound, each a ring node joined straight to the street.
    n_plot = q.size
    want = rng.choice([1, 2, 3], size=n_plot, p=[0.35, 0.45, 0.2])
    side = rng.integers(0, 4, (n_plot, 3))  # 0 south, 1 east, 2 north, 3 west
    u = rng.random((n_plot, 3))
    keep = (np.arange(3)[None, :] < want[:, None]).ravel()
    gc = np.repeat(np.arange(n_plot), 3)[keep]
    side, u = side.ravel()[keep], u.ravel()[keep]
    along_x = (side == 0) | (side == 2)
    span = np.where(along_x, nx[gc], ny[gc])
    # Prefer non-corner ring nodes so that a gate is in the middle of a side.
    pos = np.where(span > 2, 1 + np.floor(u * (span - 2)), np.floor(u * span)).astype(np.int64)
    gx = np.select([along_x, side == 1], [pos, nx[gc] - 1], 0)
    gy = np.select([~along_x, side == 2], [pos, ny[gc] - 1], 0)
    key = np.unique(np.column_stack([gc, gx, gy, side]), axis=0)
    gc, gx, gy, side = key.T
    along_x = (side == 0) | (side == 2)
    local = first[gc] + gy * nx[gc] + gx
    gs = np.select([side == 1, side == 3], [s1[gc], s0[gc]], ps[local])
    gt = np.select([side == 0, side == 2], [t0[gc], t1[gc]], pt[local])
    street = bld.add_nodes(*lay.at(b[gc], gs, gt))
    line = np.choose(side, [bottom[gc], right[gc], top[gc], left[gc]])
    bld.register(line, np.where(along_x, gs, gt), street)
    bld.add_edges(node[local], street, GATE)
    bld.compound_count += n_plot
    return {"block": b, "fence": fence, "gates": np.bincount(gc, minlength=n_plot)}


# Park path template in block parameters: inner ring corners, ring mid-points,
# centre, and four entrances on the surrounding arterials.
_RING = np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]])
_MID = np.array([[0.5, 0.25], [0.75, 0.5], [0.5, 0.75], [0.25, 0.5]])
_ENTRANCE = np.array([[0.5, 0.0], [1.0, 0.5], [0.5, 1.0], [0.0, 0.5]])


def _parks(bld: _Builder, blocks: np.ndarray) -> None:
    """Footpaths through park and green-corridor blocks: diagonals, a ring, four entrances."""
    lay = bld.layout
    k = blocks.size
    if k == 0:
        return
    j, i = lay.block_ji(blocks)
    pts = np.concatenate([_RING, _MID, [[0.5, 0.5]], _ENTRANCE])  # 13 nodes per park
    bb = np.repeat(blocks, len(pts))
    s, t = np.tile(pts[:, 0], k), np.tile(pts[:, 1], k)
    ids = bld.add_nodes(*lay.at(bb, s, t)).reshape(k, len(pts))
    ring, mid, centre, ent = ids[:, 0:4], ids[:, 4:8], ids[:, 8], ids[:, 9:13]
    corners = np.column_stack(
        [bld.corner(j, i), bld.corner(j, i + 1), bld.corner(j + 1, i + 1), bld.corner(j + 1, i)]
    )
    loop_u = np.column_stack([ring, mid]).reshape(k, 2, 4).transpose(0, 2, 1).reshape(k, 8)  # R0 M0 R1 M1 ...
    bld.add_edges(loop_u.ravel(), np.roll(loop_u, -1, axis=1).ravel(), PARK_PATH)
    bld.add_edges(corners.ravel(), ring.ravel(), PARK_PATH)
    bld.add_edges(ring.ravel(), np.repeat(centre, 4), PARK_PATH)
    bld.add_edges(mid.ravel(), ent.ravel(), PARK_PATH)
    bld.register(bld.h_line(j, i), 0.5, ent[:, 0])
    bld.register(bld.v_line(j, i + 1), 0.5, ent[:, 1])
    bld.register(bld.h_line(j + 1, i), 0.5, ent[:, 2])
    bld.register(bld.v_line(j, i), 0.5, ent[:, 3])


def _line_edges(bld: _Builder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join consecutive registered nodes along every line into edges."""
    line, param, node = (np.concatenate(a) for a in zip(*bld.reg))
    order = np.lexsort((param, line))
    line, node = line[order], node[order]
    same = line[1:] == line[:-1]
    return node[:-1][same], node[1:][same], line[:-1][same]


def build_streets(
    layout: Layout,
    rng: np.random.Generator,
    path_spacing_m: float = 60.0,
    lane_spacing_m: float = 110.0,
    compound_split_p: float = 0.75,
) -> StreetPlan:
    """Build the walking network of a laid-out district.

    Parameters
    ----------
    layout : Layout
    rng : numpy.random.Generator
    path_spacing_m : float
        Spacing of the footpath lattice inside gated compounds.
    lane_spacing_m : float
        Spacing of the lanes in old open neighbourhoods.
    compound_split_p : float
        Chance that a local street splits a compound block in each direction
        (giving 1, 2 or 4 compounds per block).

    Returns
    -------
    StreetPlan
    """
    bld = _Builder(layout)
    bld.compound_count = 0
    _corners(bld)
    lx, ly = layout.block_size
    land = layout.land_use

    old = np.flatnonzero((land == OLD) | (land == COMMERCIAL))
    lane = np.where(land[old] == OLD, lane_spacing_m, 2.5 * lane_spacing_m)
    ks = np.maximum(1, np.rint(lx[old] / lane).astype(np.int64) - 1)
    kt = np.maximum(1, np.rint(ly[old] / lane).astype(np.int64) - 1)
    _street_grids(bld, old, ks, kt, rng)

    comp = np.flatnonzero(land == COMPOUND)
    ks = (rng.random(comp.size) < compound_split_p).astype(np.int64)
    kt = (rng.random(comp.size) < compound_split_p).astype(np.int64)
    grid = _street_grids(bld, comp, ks, kt, rng)
    compounds = _compounds(bld, comp, ks, kt, grid, path_spacing_m, rng)

    _parks(bld, np.flatnonzero((land == PARK) | (land == CORRIDOR)))

    x, y = np.concatenate(bld.xs), np.concatenate(bld.ys)
    node_comp = np.concatenate(bld.comp)
    su, sv, sline = _line_edges(bld)
    eu, ev, ecls = (np.concatenate(a) for a in zip(*bld.edges))
    u = np.concatenate([su, eu])
    v = np.concatenate([sv, ev])
    cls = np.concatenate([np.where(sline < bld.n_h + bld.n_v, ARTERIAL, LOCAL).astype(np.int8), ecls])
    line = np.concatenate([sline, np.full(eu.size, -1, dtype=np.int64)])

    keep, cls = _cut_barriers(layout, bld, x, y, u, v, line, cls)
    u, v, cls = u[keep], v[keep], cls[keep]
    nodes_keep = _largest_piece(x.size, u, v)
    new_id = np.full(x.size, -1, dtype=np.int64)
    new_id[nodes_keep] = np.arange(nodes_keep.size)
    inside = (new_id[u] >= 0) & (new_id[v] >= 0)
    u, v, cls = new_id[u[inside]], new_id[v[inside]], cls[inside]
    x, y = x[nodes_keep], y[nodes_keep]
    geom = shapely.linestrings(np.stack([np.column_stack([x[u], y[u]]), np.column_stack([x[v], y[v]])], axis=1))
    network = WalkNetwork.from_edges(x, y, u, v, geometry=geom)
    return StreetPlan(
        network=network,
        edge_class=cls,
        node_compound=node_comp[nodes_keep],
        compound_block=compounds["block"],
        compound_fence=compounds["fence"],
        compound_gates=compounds["gates"],
        removed_nodes=int(new_id.size - nodes_keep.size),
    )


def _cut_barriers(layout: Layout, bld: _Builder, x, y, u, v, line, cls) -> tuple[np.ndarray, np.ndarray]:
    """Drop edges crossing rivers or railway beds, except on bridges and crossings.

    Returns the keep mask and the edge classes with bridges / crossings marked.
    """
    lines = shapely.linestrings(np.stack([np.column_stack([x[u], y[u]]), np.column_stack([x[v], y[v]])], axis=1))
    tree = shapely.STRtree(lines)
    keep = np.ones(u.size, dtype=bool)
    cls = cls.copy()
    is_v = (line >= bld.n_h) & (line < bld.n_h + bld.n_v)
    v_col = np.where(is_v, (line - bld.n_h) % (layout.m + 1), -1)
    h_row = np.where(line >= 0, line // max(layout.m, 1), -1)
    h_row[line >= bld.n_h] = -1
    for river, cols in zip(layout.rivers, layout.bridge_cols):
        hit = tree.query(river, predicate="intersects")
        bridge = np.isin(v_col[hit], cols)
        keep[hit[~bridge]] = False
        cls[hit[bridge]] = BRIDGE
    for bed, rows in zip(layout.railway_beds, layout.crossing_rows):
        hit = tree.query(bed, predicate="intersects")
        crossing = np.isin(h_row[hit], rows)
        keep[hit[~crossing]] = False
        cls[hit[crossing & (cls[hit] != BRIDGE)]] = RAIL_CROSSING
    return keep, cls


def _largest_piece(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sorted node indices of the largest connected piece of the graph."""
    g = sparse.coo_matrix((np.ones(u.size), (u, v)), shape=(n, n))
    _, labels = csgraph.connected_components(g, directed=False)
    counts = np.bincount(labels)
    return np.flatnonzero(labels == counts.argmax())
