"""Facilities of a generated district, placed so that the analysis has real gaps to find.

Designed gaps (recorded in ``City.meta["designed_gaps"]``):

* ``clinic_gap`` -- populated neighbourhoods with no health centre or station
  within a radius (the farthest populated area from the historic core first);
* ``elderly_care_gap`` -- old, high-elderly neighbourhoods with no elderly care;
* ``missing_service_centre`` -- subdistricts without a service centre;
* ``station_across_river`` -- a service station on a river bank far from any
  bridge, so that its 500 m circle covers homes across the water that are a
  long walk away;
* communities without a service station (the 15 % left over).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
import shapely.ops
from pyproj import CRS
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from layers.cities.generator.layout import COMMERCIAL, Layout
from layers.cities.generator.people import Units
from layers.kinds import KINDS

__all__ = ["facility_counts", "place_facilities"]

# Mix of kinds (per ~80 facilities in the 6 km x 5 km demo), used to split a
# requested total.
_MIX = {"service_centre": 5, "service_station": 36, "health_centre": 4, "health_station": 15, "elderly_care": 22}
_CODE = {"service_centre": "SC", "service_station": "SS", "health_centre": "HC", "health_station": "HS", "elderly_care": "EC"}
GAP_AREA_KM2 = 30.0  # one designed gap of each sort per 30 km^2
CLINIC_GAP_M = 1300.0
ELDERLY_GAP_M = 900.0


def facility_counts(
    layout: Layout, units: Units, community_pop: np.ndarray, n_facilities: int | None = None
) -> dict[str, int]:
    """How many facilities of each kind a district gets.

    Without ``n_facilities`` the counts follow planning practice: one service
    centre per subdistrict with about one in seven missing, one service
    station per started 12,000 residents of a community in 85 % of the
    populated communities, 0.7 health centres per subdistrict, 0.5
    health stations and 0.75 elderly-care facilities per km^2. With it, the
    total is split in the demo's proportions.
    """
    if n_facilities is not None:
        total = sum(_MIX.values())
        return {k: max(1, int(round(w * n_facilities / total))) for k, w in _MIX.items()}
    n_sd = len(units.subdistricts)
    area = layout.width * layout.height / 1e6
    return {
        "service_centre": max(1, n_sd - max(1, int(round(0.15 * n_sd)))) if n_sd > 1 else 1,
        "service_station": max(1, int(round(0.85 * _stations_wanted(community_pop).sum()))),
        "health_centre": max(1, int(round(0.7 * n_sd))),
        "health_station": max(1, int(round(0.5 * area))),
        "elderly_care": max(1, int(round(0.75 * area))),
    }


STATION_RESIDENTS = 12_000


def _stations_wanted(community_pop: np.ndarray) -> np.ndarray:
    """Service stations a community needs: one per started 12,000 residents."""
    return np.ceil(community_pop / STATION_RESIDENTS).astype(np.int64)


def _inside(layout: Layout, b: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random points in the middle part of blocks ``b``."""
    return layout.at(b, rng.uniform(0.2, 0.8, b.size), rng.uniform(0.2, 0.8, b.size))


def _reaching(layout: Layout, px: np.ndarray, py: np.ndarray, r: float) -> np.ndarray:
    """Mask of blocks with any part within ``r`` of any of the points ``(px, py)``."""
    out = np.zeros(layout.n_blocks, dtype=bool)
    if px.size:
        out[shapely.STRtree(layout.quads).query(shapely.buffer(shapely.points(px, py), r), predicate="intersects")[1]] = True
    return out


def _weighted_blocks(allowed: np.ndarray, weight: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` blocks drawn with probability proportional to ``weight`` (repeats only when needed)."""
    cand = np.flatnonzero(allowed & (weight > 0))
    if cand.size == 0 or k == 0:
        return np.zeros(0, dtype=np.int64)
    p = weight[cand] / weight[cand].sum()
    picks = rng.choice(cand, size=min(k, cand.size), replace=False, p=p)
    if k > cand.size:
        picks = np.concatenate([picks, rng.choice(cand, size=k - cand.size, replace=True, p=p)])
    return picks


def _spread_blocks(allowed: np.ndarray, weight: np.ndarray, cx, cy, k: int) -> np.ndarray:
    """``k`` blocks spread out by farthest-point sampling, starting at the heaviest."""
    cand = np.flatnonzero(allowed & (weight > 0))
    if cand.size == 0 or k == 0:
        return np.zeros(0, dtype=np.int64)
    picks = [cand[np.argmax(weight[cand])]]
    d = np.hypot(cx[cand] - cx[picks[0]], cy[cand] - cy[picks[0]])
    for _ in range(min(k, cand.size) - 1):
        nxt = cand[np.argmax(d)]
        picks.append(nxt)
        d = np.minimum(d, np.hypot(cx[cand] - cx[nxt], cy[cand] - cy[nxt]))
    return np.array(picks, dtype=np.int64)


def _bridge_points(layout: Layout, r: int) -> np.ndarray:
    """Where the bridges of river ``r`` cross its centre line."""
    pts = []
    for i in layout.bridge_cols[r]:
        road = LineString(np.column_stack([layout.X[:, i], layout.Y[:, i]]))
        hit = road.intersection(layout.river_lines[r])
        if not hit.is_empty:
            pts.append(shapely.get_coordinates(hit)[0])
    return np.array(pts).reshape(-1, 2)


def _station_across_river(layout: Layout, cx: np.ndarray, cy: np.ndarray) -> tuple[int, float, float] | None:
    """The populated cell centre on the first river's bank that is farthest from any bridge.

    Only spots where homes on *both* banks share one 500 m circle qualify.
    Returns the cell index and its centre, or ``None`` when there is none.
    """
    bridges = _bridge_points(layout, 0)
    line = layout.river_lines[0]
    pts = shapely.line_interpolate_point(line, np.arange(0.0, line.length, 50.0))
    px, py = shapely.get_x(pts), shapely.get_y(pts)
    lx, ly = shapely.get_coordinates(line).T
    north = cy > np.interp(cx, lx, ly)
    near = np.full((2, pts.size), np.inf)
    cell_of = np.full((2, pts.size), -1)
    for k, bank in enumerate((north, ~north)):
        if bank.any():
            near[k], nearest = cKDTree(np.column_stack([cx[bank], cy[bank]])).query(np.column_stack([px, py]))
            cell_of[k] = np.flatnonzero(bank)[nearest]
    bdist = np.min(np.hypot(px[:, None] - bridges[None, :, 0], py[:, None] - bridges[None, :, 1]), axis=1)
    inside_x = (px > layout.x0 + 300) & (px < layout.x0 + layout.width - 300)
    score = np.where((near.sum(axis=0) < 400) & inside_x, bdist, -np.inf)
    k = int(np.argmax(score))
    if not np.isfinite(score[k]):
        return None
    cell = int(cell_of[np.argmin(near[:, k]), k])
    return cell, float(cx[cell]), float(cy[cell])


def place_facilities(
    layout: Layout,
    units: Units,
    cells: gpd.GeoDataFrame,
    cell_block: np.ndarray,
    counts: dict[str, int],
    rng: np.random.Generator,
    crs: CRS,
    label: str = "Demo",
) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Place facilities of every kind with capacities and the designed gaps.

    Parameters
    ----------
    layout, units : Layout, Units
    cells : geopandas.GeoDataFrame
        Population cells (``population``, ``elderly``).
    cell_block : numpy.ndarray
        Block of every cell.
    counts : dict of str to int
        Facilities wanted per kind (see :func:`facility_counts`).
    rng : numpy.random.Generator
    crs : pyproj.CRS
    label : str
        First word of every facility name, saying the place is not real.

    Returns
    -------
    facilities : geopandas.GeoDataFrame
        ``id``, ``name``, ``kind``, ``beds``, ``doctors``, ``floor_area_m2``, geometry.
    designed_gaps : list of dict
    """
    nb = layout.n_blocks
    pop = np.bincount(cell_block, weights=cells["population"].to_numpy(), minlength=nb)
    eld = np.bincount(cell_block, weights=cells["elderly"].to_numpy(), minlength=nb)
    populated = pop > 0
    cx, cy = layout.centroid
    area = layout.width * layout.height / 1e6
    n_gaps = max(1, int(round(area / GAP_AREA_KM2)))
    gaps: list[dict] = []
    rows: list[tuple] = []  # (kind, block, x, y)

    # Clinic gaps: the populated block farthest from every historic core, then random others.
    core_d = np.min(np.hypot(cx[:, None] - layout.cores[None, :, 0], cy[:, None] - layout.cores[None, :, 1]), axis=1)
    cand = np.flatnonzero(populated)
    clinic_gap = [int(cand[np.argmax(core_d[cand])])]
    others = rng.permutation(cand)
    for b in others:
        if len(clinic_gap) >= n_gaps:
            break
        if np.min(np.hypot(cx[clinic_gap] - cx[b], cy[clinic_gap] - cy[b])) > 4 * CLINIC_GAP_M:
            clinic_gap.append(int(b))
    gx, gy = cx[clinic_gap], cy[clinic_gap]
    no_clinic = _reaching(layout, gx, gy, CLINIC_GAP_M)
    gaps += [{"sort": "clinic_gap", "kinds": ["health_centre", "health_station"], "x": float(a), "y": float(c),
              "radius_m": CLINIC_GAP_M} for a, c in zip(gx, gy)]  # fmt: skip

    # Elderly-care gaps: the oldest neighbourhoods away from the clinic gaps.
    share = np.where(populated, eld / np.maximum(pop, 1e-9), 0.0)
    order = np.argsort(-share)
    eg: list[int] = []
    for b in order:
        if len(eg) >= n_gaps or share[b] < 0.2:
            break
        far_clinic = np.min(np.hypot(gx - cx[b], gy - cy[b])) > CLINIC_GAP_M + ELDERLY_GAP_M + 500
        far_other = not eg or np.min(np.hypot(cx[eg] - cx[b], cy[eg] - cy[b])) > 4 * ELDERLY_GAP_M
        if far_clinic and far_other:
            eg.append(int(b))
    no_elderly = _reaching(layout, cx[eg], cy[eg], ELDERLY_GAP_M)
    gaps += [{"sort": "elderly_care_gap", "kinds": ["elderly_care"], "x": float(cx[b]), "y": float(cy[b]),
              "radius_m": ELDERLY_GAP_M} for b in eg]  # fmt: skip

    # Service centres: the populated block nearest the middle of each chosen subdistrict.
    n_sd = len(units.subdistricts)
    chosen_sd = np.sort(rng.permutation(n_sd)[: min(counts["service_centre"], n_sd)])
    for sd in chosen_sd:
        bl = np.flatnonzero((units.block_subdistrict == sd) & (populated | (layout.land_use == COMMERCIAL)))
        if bl.size == 0:
            continue
        mx, my = np.average(cx[bl], weights=pop[bl] + 1), np.average(cy[bl], weights=pop[bl] + 1)
        b = bl[np.argmin(np.hypot(cx[bl] - mx, cy[bl] - my))]
        rows.append(("service_centre", b, *layout.at(b, 0.5 + rng.uniform(-0.2, 0.2), 0.5 + rng.uniform(-0.2, 0.2))))
    missing = sorted(set(range(n_sd)) - set(chosen_sd.tolist()))
    gaps += [{"sort": "missing_service_centre", "kinds": ["service_centre"],
              "subdistrict": str(units.subdistricts["unit_id"].iloc[sd])} for sd in missing]  # fmt: skip

    # Service stations: one per community for most populated communities,
    # the first one deliberately on a river bank far from any bridge.
    n_ss = counts["service_station"]
    ccx, ccy = shapely.get_x(cells.geometry.centroid.values), shapely.get_y(cells.geometry.centroid.values)
    river_spot = _station_across_river(layout, ccx, ccy)
    served: set[int] = set()
    if river_spot is not None and n_ss > 0:
        cell, x, y = river_spot
        b = int(cell_block[cell])
        rows.append(("service_station", b, x, y))
        served.add(int(units.block_community[b]))
        gaps.append({"sort": "station_across_river", "kinds": ["service_station"], "x": float(x), "y": float(y),
                     "radius_m": 500.0})  # fmt: skip
    cm_pop = np.bincount(units.block_community, weights=pop, minlength=len(units.communities))
    placed = len(served)
    for cm in rng.permutation(np.flatnonzero(cm_pop > 0)):
        bl = np.flatnonzero((units.block_community == cm) & populated)
        for _ in range(int(_stations_wanted(cm_pop[cm])) - (int(cm) in served)):
            if placed >= n_ss:
                break
            b = rng.choice(bl, p=pop[bl] / pop[bl].sum())
            rows.append(("service_station", b, *_inside(layout, np.array([b]), rng)))
            placed += 1
    extra = n_ss - placed
    for b in _weighted_blocks(populated, pop, max(0, extra), rng):
        rows.append(("service_station", b, *_inside(layout, np.array([b]), rng)))

    # Health: centres spread out, stations where people are; none in clinic gaps.
    allowed = populated & ~no_clinic
    for b in _spread_blocks(allowed, pop, cx, cy, counts["health_centre"]):
        rows.append(("health_centre", b, *_inside(layout, np.array([b]), rng)))
    for b in _weighted_blocks(allowed, pop, counts["health_station"], rng):
        rows.append(("health_station", b, *_inside(layout, np.array([b]), rng)))
    # Elderly care where the elderly live, except in the elderly-care gaps.
    for b in _weighted_blocks(populated & ~no_elderly, eld, counts["elderly_care"], rng):
        rows.append(("elderly_care", b, *_inside(layout, np.array([b]), rng)))

    return _table(rows, units, rng, crs, label), gaps


def _capacities(kind: str, rng: np.random.Generator) -> tuple[str, float, float, float]:
    """Name noun and (beds, doctors, floor area) typical of a facility of ``kind``."""
    nan = float("nan")
    if kind == "service_centre":
        return "Subdistrict Service Centre", nan, nan, round(rng.uniform(1500, 3000), -1)
    if kind == "service_station":
        return "Community Service Station", nan, nan, round(rng.uniform(300, 800), -1)
    if kind == "health_centre":
        return ("Community Health Centre", float(rng.integers(20, 61)), float(rng.integers(20, 61)),
                round(rng.uniform(3000, 6000), -1))  # fmt: skip
    if kind == "health_station":
        return "Health Station", nan, float(rng.integers(2, 9)), round(rng.uniform(150, 400), -1)
    if rng.random() < 0.6:
        return "Elderly Day-Care Centre", float(rng.integers(10, 31)), nan, round(rng.uniform(300, 800), -1)
    return "Nursing Home", float(rng.integers(60, 301)), nan, round(rng.uniform(2000, 8000), -1)


def _table(rows: list[tuple], units: Units, rng: np.random.Generator, crs: CRS, label: str) -> gpd.GeoDataFrame:
    """Facility table with ids, unique names and capacities."""
    order = sorted(range(len(rows)), key=lambda k: list(KINDS).index(rows[k][0]))
    rows = [rows[k] for k in order]
    sd_names = units.subdistricts["name"].to_numpy()
    cm_names = units.communities["name"].str.removesuffix(" Community").to_numpy()
    seen: dict[str, int] = {}
    per_kind: dict[str, int] = {}
    recs = []
    for kind, b, x, y in rows:
        noun, beds, doctors, floor = _capacities(kind, rng)
        place = sd_names[units.block_subdistrict[b]].removesuffix(" Subdistrict") if kind == "service_centre" else cm_names[units.block_community[b]]
        name = f"{label} {place} {noun}"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} {seen[name]}"
        per_kind[kind] = per_kind.get(kind, 0) + 1
        recs.append((f"{_CODE[kind]}{per_kind[kind]:04d}", name, kind, beds, doctors, floor, float(np.asarray(x).ravel()[0]), float(np.asarray(y).ravel()[0])))
    cols = list(zip(*recs)) if recs else [[]] * 8
    return gpd.GeoDataFrame(
        {"id": list(cols[0]), "name": list(cols[1]), "kind": list(cols[2]),
         "beds": np.array(cols[3], dtype=float), "doctors": np.array(cols[4], dtype=float),
         "floor_area_m2": np.array(cols[5], dtype=float)},
        geometry=shapely.points(np.array(cols[6], dtype=float), np.array(cols[7], dtype=float)),
        crs=crs,
    )  # fmt: skip
