"""The plan of a generated district: arterial grid, blocks, rivers, railways, land use.

Everything is drawn in the city's metric CRS. Blocks are the quadrilaterals
between four jittered arterial corners; a point inside a block is addressed by
block parameters ``(s, t)`` in ``[0, 1]^2`` and placed with the bilinear map of
the block's corners. Lines of constant ``s`` or constant ``t`` map to straight
segments, which is what lets streets inside a block meet the arterials exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely.geometry import LineString, Polygon

__all__ = ["Layout", "make_layout", "LAND_USES", "OLD", "COMPOUND", "COMMERCIAL", "PARK", "CORRIDOR"]

LAND_USES: tuple[str, ...] = ("old_neighbourhood", "compounds", "commercial", "park", "corridor")
"""Block land uses, indexed by the integer codes below."""
OLD, COMPOUND, COMMERCIAL, PARK, CORRIDOR = range(5)

RIVER_SPACING_M = 20_000.0  # one river per 20 km of city height
RAIL_SPACING_M = 25_000.0  # one railway per 25 km of city width
CROSSING_SPACING_M = 2_000.0  # a bridge / level crossing per ~2 km of river / railway
CORE_AREA_KM2 = 40.0  # one historic core per 40 km^2
RIVER_MARGIN_M = 15.0  # blocks this close to a river are left green
RAIL_MARGIN_M = 20.0  # ... and this close to a railway bed
RAIL_BED_HALF_M = 10.0  # half-width of the (unwalkable) railway bed


@dataclass(eq=False)
class Layout:
    """Arterial corners, block land use and the linear barriers of a city.

    Block ``b`` is ``(j, i) = divmod(b, m)``: row ``j`` (south to north),
    column ``i`` (west to east). Corner ``(j, i)`` is at ``X[j, i], Y[j, i]``.
    """

    width: float
    height: float
    x0: float
    y0: float
    X: np.ndarray
    Y: np.ndarray
    land_use: np.ndarray
    age: np.ndarray
    density: np.ndarray
    elderly_share: np.ndarray
    rivers: list[Polygon]
    river_lines: list[LineString]
    railways: list[LineString]
    railway_beds: list[Polygon]
    bridge_cols: list[np.ndarray]
    crossing_rows: list[np.ndarray]
    cores: np.ndarray

    @property
    def m(self) -> int:
        """Number of block columns."""
        return self.X.shape[1] - 1

    @property
    def n(self) -> int:
        """Number of block rows."""
        return self.X.shape[0] - 1

    @property
    def n_blocks(self) -> int:
        """Number of blocks."""
        return self.m * self.n

    def block_ji(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of blocks ``b``."""
        return np.divmod(np.asarray(b), self.m)

    def at(self, b: np.ndarray, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World coordinates of block parameters ``(s, t)`` in blocks ``b``.

        Parameters
        ----------
        b : array_like of int
            Block indices.
        s, t : array_like of float
            Parameters in ``[0, 1]`` (east and north within the block).

        Returns
        -------
        x, y : numpy.ndarray
        """
        j, i = self.block_ji(b)
        s = np.asarray(s, dtype=np.float64)
        t = np.asarray(t, dtype=np.float64)
        w00 = (1 - s) * (1 - t)
        w10 = s * (1 - t)
        w01 = (1 - s) * t
        w11 = s * t
        x = w00 * self.X[j, i] + w10 * self.X[j, i + 1] + w01 * self.X[j + 1, i] + w11 * self.X[j + 1, i + 1]
        y = w00 * self.Y[j, i] + w10 * self.Y[j, i + 1] + w01 * self.Y[j + 1, i] + w11 * self.Y[j + 1, i + 1]
        return x, y

    def quads_of(self, b: np.ndarray, s0: ArrayLike, s1: ArrayLike, t0: ArrayLike, t1: ArrayLike) -> np.ndarray:
        """Polygons of the parameter rectangles ``[s0, s1] x [t0, t1]`` in blocks ``b``."""
        xa, ya = self.at(b, s0, t0)
        xb, yb = self.at(b, s1, t0)
        xc, yc = self.at(b, s1, t1)
        xd, yd = self.at(b, s0, t1)
        ring = np.stack([np.stack([xa, xb, xc, xd, xa], -1), np.stack([ya, yb, yc, yd, ya], -1)], -1)
        return shapely.polygons(ring)

    @cached_property
    def quads(self) -> np.ndarray:
        """Polygon of every block."""
        b = np.arange(self.n_blocks)
        return self.quads_of(b, 0.0, 1.0, 0.0, 1.0)

    @cached_property
    def block_size(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean east-west and north-south side lengths of every block, metres."""
        j, i = self.block_ji(np.arange(self.n_blocks))
        X, Y = self.X, self.Y
        lx = 0.5 * (
            np.hypot(X[j, i + 1] - X[j, i], Y[j, i + 1] - Y[j, i])
            + np.hypot(X[j + 1, i + 1] - X[j + 1, i], Y[j + 1, i + 1] - Y[j + 1, i])
        )
        ly = 0.5 * (
            np.hypot(X[j + 1, i] - X[j, i], Y[j + 1, i] - Y[j, i])
            + np.hypot(X[j + 1, i + 1] - X[j, i + 1], Y[j + 1, i + 1] - Y[j, i + 1])
        )
        return lx, ly

    @cached_property
    def centroid(self) -> tuple[np.ndarray, np.ndarray]:
        """Block centre points (parameter ``(0.5, 0.5)``)."""
        b = np.arange(self.n_blocks)
        return self.at(b, 0.5, 0.5)

    @cached_property
    def river_zone(self) -> shapely.Geometry:
        """Rivers with their unbuildable margin (one prepared geometry)."""
        zone = shapely.union_all([r.buffer(RIVER_MARGIN_M) for r in self.rivers])
        shapely.prepare(zone)
        return zone

    @cached_property
    def area_km2(self) -> np.ndarray:
        """Block areas in km^2."""
        return shapely.area(self.quads) / 1e6


def _arterial_positions(length: float, rng: np.random.Generator, spacing: tuple[float, float]) -> np.ndarray:
    """Positions ``0 .. length`` of arterials with random gaps in ``spacing``."""
    lo, hi = spacing
    k = max(2, int(round(length / (0.5 * (lo + hi)))))
    gaps = rng.uniform(lo, hi, k)
    return np.concatenate([[0.0], np.cumsum(gaps)]) * (length / gaps.sum())


def _spread_pick(candidates: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Pick ``k`` of the sorted ``candidates``, spread out: near the middles of ``k`` equal runs."""
    k = min(k, candidates.size)
    idx = np.floor((np.arange(k) + rng.uniform(0.35, 0.65, k)) / k * candidates.size).astype(np.int64)
    return np.unique(candidates[idx])


def _rivers(width: float, height: float, rng: np.random.Generator) -> tuple[list[LineString], list[Polygon], np.ndarray]:
    """Meandering west-east rivers 80-160 m wide; returns centre lines, polygons, mean y."""
    n = max(1, int(round(height / RIVER_SPACING_M)))
    lines, polys, ys = [], [], []
    for r in range(n):
        yc = height * (r + 0.45 + rng.uniform(-0.05, 0.05)) / n
        x = np.arange(-100.0, width + 100.0 + 1e-9, 20.0)
        a1, l1, p1 = rng.uniform(100, 170), rng.uniform(3500, 6000), rng.uniform(0, 2 * np.pi)
        a2, l2, p2 = rng.uniform(20, 50), rng.uniform(900, 1600), rng.uniform(0, 2 * np.pi)
        y = yc + a1 * np.sin(2 * np.pi * x / l1 + p1) + a2 * np.sin(2 * np.pi * x / l2 + p2)
        half = 60.0 + 20.0 * np.sin(2 * np.pi * x / rng.uniform(2000, 4000) + rng.uniform(0, 2 * np.pi))
        top = np.column_stack([x, y + half])
        bottom = np.column_stack([x, y - half])
        lines.append(LineString(np.column_stack([x, y])))
        polys.append(Polygon(np.vstack([top, bottom[::-1]])))
        ys.append(yc)
    return lines, polys, np.array(ys)


def _railways(width: float, height: float, rng: np.random.Generator) -> tuple[list[LineString], np.ndarray]:
    """Gently curving south-north railways; returns centre lines and mean x."""
    n = max(1, int(round(width / RAIL_SPACING_M)))
    lines, xs = [], []
    for k in range(n):
        xc = width * (k + rng.uniform(0.58, 0.72)) / n
        y = np.arange(-100.0, height + 100.0 + 1e-9, 25.0)
        x = xc + rng.uniform(40, 90) * np.sin(2 * np.pi * y / rng.uniform(6000, 10000) + rng.uniform(0, 2 * np.pi))
        lines.append(LineString(np.column_stack([x, y])))
        xs.append(xc)
    return lines, np.array(xs)


def _age_field(x: np.ndarray, y: np.ndarray, cores: np.ndarray, radii: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Neighbourhood age in [0, 1]: 1 in historic cores, fading to 0 (new) away from them."""
    d2 = (x[:, None] - cores[None, :, 0]) ** 2 + (y[:, None] - cores[None, :, 1]) ** 2
    age = np.exp(-d2 / radii[None, :] ** 2).max(axis=1)
    return np.clip(age + rng.uniform(-0.1, 0.1, x.size), 0.0, 1.0)


def make_layout(
    width: float,
    height: float,
    rng: np.random.Generator,
    x0: float = 0.0,
    y0: float = 0.0,
    block_spacing_m: tuple[float, float] = (500.0, 800.0),
) -> Layout:
    """Draw the arterial grid, rivers, railways and block land use.

    Parameters
    ----------
    width, height : float
        Extent in metres.
    rng : numpy.random.Generator
        Source of all randomness (the layout is deterministic given its state).
    x0, y0 : float
        South-west corner in the target CRS.
    block_spacing_m : (float, float)
        Range of arterial spacing.

    Returns
    -------
    Layout
    """
    xs = _arterial_positions(width, rng, block_spacing_m)
    ys = _arterial_positions(height, rng, block_spacing_m)
    X = np.broadcast_to(xs[None, :], (ys.size, xs.size)).copy()
    Y = np.broadcast_to(ys[:, None], (ys.size, xs.size)).copy()
    # Jitter inner corners so that arterials bend a little; the outer frame
    # stays straight (points on it only slide along it).
    jx = rng.uniform(-35, 35, X.shape)
    jy = rng.uniform(-35, 35, Y.shape)
    jx[:, [0, -1]] = 0.0
    jy[[0, -1], :] = 0.0
    X += jx + x0
    Y += jy + y0

    river_lines, rivers, river_y = _rivers(width, height, rng)
    rail_lines, rail_x = _railways(width, height, rng)
    shift = lambda g: shapely.transform(g, lambda c: c + [x0, y0])  # noqa: E731
    river_lines = [shift(g) for g in river_lines]
    rivers = [shift(g) for g in rivers]
    rail_lines = [shift(g) for g in rail_lines]
    beds = [g.buffer(RAIL_BED_HALF_M, cap_style="flat") for g in rail_lines]

    m, n = xs.size - 1, ys.size - 1
    # Bridges on vertical arterials away from railways, crossings on
    # horizontal arterials away from rivers (so a bridge never has to be a
    # level crossing too).
    inner_cols = np.arange(1, m)
    inner_cols = inner_cols[np.min(np.abs(xs[inner_cols, None] - rail_x[None, :]), axis=1) > 300]
    inner_rows = np.arange(1, n)
    inner_rows = inner_rows[np.min(np.abs(ys[inner_rows, None] - river_y[None, :]), axis=1) > 400]
    bridge_cols = [_spread_pick(inner_cols, max(2, int(round(width / CROSSING_SPACING_M))), rng) for _ in rivers]
    crossing_rows = [_spread_pick(inner_rows, max(2, int(round(height / CROSSING_SPACING_M))), rng) for _ in rail_lines]

    layout = Layout(
        width=width, height=height, x0=x0, y0=y0, X=X, Y=Y,
        land_use=np.zeros(m * n, dtype=np.int8), age=np.zeros(m * n), density=np.zeros(m * n),
        elderly_share=np.zeros(m * n), rivers=rivers, river_lines=river_lines, railways=rail_lines,
        railway_beds=beds, bridge_cols=bridge_cols, crossing_rows=crossing_rows, cores=np.zeros((0, 2)),
    )  # fmt: skip
    _assign_land_use(layout, rng, river_y)
    return layout


def _assign_land_use(layout: Layout, rng: np.random.Generator, river_y: np.ndarray) -> None:
    """Fill in land use, neighbourhood age, density and elderly share per block."""
    # Blocks whose middle a river crosses, or that a railway touches, are
    # left green; blocks the river only clips are built up away from the water.
    rail_zone = shapely.union_all([b.buffer(RAIL_MARGIN_M) for b in layout.railway_beds])
    middle = layout.quads_of(np.arange(layout.n_blocks), 0.25, 0.75, 0.25, 0.75)
    corridor = shapely.intersects(middle, layout.river_zone) | shapely.intersects(layout.quads, rail_zone)

    # Historic cores: the first sits on the north bank of the first river
    # (old towns grow at river crossings), the others anywhere.
    area_km2 = layout.width * layout.height / 1e6
    n_cores = max(1, int(round(area_km2 / CORE_AREA_KM2)))
    cores = np.column_stack(
        [rng.uniform(0.15, 0.85, n_cores) * layout.width, rng.uniform(0.15, 0.85, n_cores) * layout.height]
    )
    cores[0] = [rng.uniform(0.2, 0.5) * layout.width, river_y[0] + 900.0]
    cores += [layout.x0, layout.y0]
    radii = rng.uniform(1700, 2300, n_cores)
    cx, cy = layout.centroid
    age = _age_field(cx, cy, cores, radii, rng)

    land = np.where(age >= 0.6, OLD, COMPOUND).astype(np.int8)
    land[corridor] = CORRIDOR
    free = np.flatnonzero(~corridor)
    rng.shuffle(free)
    n_park = max(1, int(round(0.07 * free.size)))
    n_comm = max(1, int(round(0.06 * free.size)))
    land[free[:n_park]] = PARK
    land[free[n_park : n_park + n_comm]] = COMMERCIAL

    residential = (land == OLD) | (land == COMPOUND)
    density = 6000.0 + 30000.0 * np.clip(0.5 * age + 0.5 * rng.random(age.size), 0.0, 1.0)
    share = 0.08 + 0.27 * np.clip((age - 0.1) / 0.8, 0.0, 1.0) + rng.normal(0.0, 0.01, age.size)
    layout.land_use = land
    layout.age = age
    layout.density = np.where(residential, density, 0.0)
    layout.elderly_share = np.where(residential, np.clip(share, 0.08, 0.35), 0.0)
    layout.cores = cores
