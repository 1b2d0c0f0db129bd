"""Benchmark: one facility edit updated incrementally vs the city recomputed, on a Guangzhou-sized city.

The instance is the generated city of ``layers.cities.generator.generate_city_of_size``
(~1M street nodes, ~750,000 populated 100 m cells, 2,000 facilities), with
every standard of the catalogue. For a sequence of edits (open clinics and
stations, move elderly centres, close facilities) it times

* ours: :meth:`scenarios.run.LiveScenario.apply` -- every standard's per-cell
  nearest distances and facilities updated from the stored state (and,
  separately, the per-standard summaries recomputed over all cells);
* the peer: the same per-cell results recomputed from scratch, as
  :func:`scenarios.evaluate.evaluate_standard` does it (one multi-source
  ``geo.paths.nearest_source`` per walking standard, one k-d tree
  ``geo.euclid.nearest_euclidean`` per radius standard) on the edited
  facility layer,

and checks after every edit that the distances are identical (``==``, not
approximately) and that the nearest facility agrees wherever it is unique.

Run::

    PYTHONPATH=. python bench/bench_incremental.py                # Guangzhou size (~2 min to build)
    PYTHONPATH=. python bench/bench_incremental.py --scale 0.05   # quick look
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np

from geo.euclid import nearest_euclidean
from geo.paths import nearest_source, node_distances
from layers.cache import cache_key, cached_city
from layers.cities.generator import generate_city_of_size
from scenarios.evaluate import SEARCH_FACTOR
from scenarios.run import LiveScenario, city_with_facilities
from scenarios.standards import resolve_standards


def full_nearest(city, standard):
    """Per-cell nearest distance and facility row, recomputed from scratch (evaluate_standard's way)."""
    pos = city.facilities_of(standard.kinds)
    limit = standard.threshold_m * SEARCH_FACTOR
    if standard.mode == "euclidean":
        fx, fy = city.facility_xy
        d, w = nearest_euclidean(fx[pos], fy[pos], *city.cell_xy, limit=limit)
    else:
        near = nearest_source(city.network, city.snapped_facilities.take(pos), city.snapped_cells, limit=limit)
        d, w = near.dist, near.source
    return d, np.where(w >= 0, pos[np.maximum(w, 0)], -1)


def edits_for(city, n: int, seed: int) -> list[dict]:
    """A mixed, reproducible edit sequence at populated places of the city."""
    rng = np.random.default_rng(seed)
    cx, cy = city.cell_xy
    populated = np.flatnonzero(city.cells["population"].to_numpy() > 0)
    fac = city.facilities
    out: list[dict] = []
    plan = ["add:health_station", "move:elderly_care", "remove:service_station", "add:elderly_care",
            "remove:health_centre", "add:service_centre", "move:health_station", "remove:elderly_care"]
    used: set[str] = set()
    for i in range(n):
        op, kind = plan[i % len(plan)].split(":")
        at = rng.choice(populated)
        x, y = float(cx[at]) + rng.uniform(-40, 40), float(cy[at]) + rng.uniform(-40, 40)
        if op == "add":
            out.append({"op": "add", "id": f"NEW-{i}", "kind": kind, "x": x, "y": y})
            continue
        ids = [f for f in fac.loc[fac["kind"] == kind, "id"] if f not in used]
        fid = str(rng.choice(ids))
        used.add(fid)
        out.append({"op": op, "id": fid} | ({"x": x, "y": y} if op == "move" else {}))
    # Close two neighbouring clinics one after the other: cells that had them as
    # nearest and second-nearest lose both, which needs a removal search.
    clinics = fac[fac["kind"].isin(["health_centre", "health_station"]) & ~fac["id"].isin(used)]
    first = clinics.iloc[int(rng.integers(len(clinics)))]
    others = clinics[clinics["id"] != first["id"]]
    second = others.iloc[int(np.argmin(others.geometry.distance(first.geometry).to_numpy()))]
    out += [{"op": "remove", "id": str(second["id"])}, {"op": "remove", "id": str(first["id"])}]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the Guangzhou-sized counts")
    ap.add_argument("--edits", type=int, default=24)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()

    t0 = time.perf_counter()
    params = {"n_nodes": int(1_000_000 * args.scale), "n_cells": int(750_000 * args.scale),
              "n_facilities": max(int(2000 * args.scale), 40)}
    key = cache_key("bench-incremental", "1", params, ("layers.cities.generator",))
    city = cached_city("bench-incremental", key, lambda: generate_city_of_size(**params))
    print(f"city: {city.network.n_nodes:,} nodes, {len(city.cells):,} cells, {len(city.facilities):,} facilities "
          f"({time.perf_counter() - t0:.1f} s to build or load)")
    t0 = time.perf_counter()
    city.snapped_cells, city.snapped_facilities  # noqa: B018 -- shared by both sides, not timed per edit
    print(f"snapping cells and facilities: {time.perf_counter() - t0:.1f} s (shared)")

    standards = resolve_standards()
    t0 = time.perf_counter()
    live = LiveScenario(city, standards)
    live.summaries()  # what a client shows on opening; later edits re-sum only the standards they touch
    print(f"incremental state for {len(standards)} standards built in {time.perf_counter() - t0:.1f} s (once)")
    for s in standards:
        print(f"  {s.id:15} {s.mode:9} limit {s.threshold_m * SEARCH_FACTOR:6.0f} m, "
              f"{city.facilities_of(s.kinds).size} facilities")

    ours, ours_sum, peer, mismatch_ids = [], [], [], 0
    for i, edit in enumerate(edits_for(city, args.edits, args.seed)):
        gc.collect()
        t = time.perf_counter()
        answer = live.apply(edit, summaries=False)
        t_upd = time.perf_counter() - t
        t = time.perf_counter()
        live.summaries()
        t_sum = time.perf_counter() - t

        scen = city_with_facilities(city, live.facilities())
        t = time.perf_counter()
        full = {s.id: full_nearest(scen, s) for s in standards}
        t_full = time.perf_counter() - t

        res = {s.id: live.standard_result(s.id) for s in standards}
        for s in standards:
            d, f = full[s.id]
            if not np.array_equal(d, res[s.id].dist_m):
                raise SystemExit(f"edit {i}: {s.id} distances differ from the full recomputation")
            mismatch_ids += int(np.count_nonzero(f != res[s.id].facility))
        ours.append(t_upd)
        ours_sum.append(t_sum)
        peer.append(t_full)
        touched = ", ".join(f"{k} {v}" for k, v in answer["changed_cells"].items()) or "none"
        print(f"edit {i:2} {edit['op']:6} {edit['id']:>8}: update {t_upd * 1000:6.1f} ms, summaries "
              f"{t_sum * 1000:6.1f} ms | full recompute {t_full * 1000:7.0f} ms | cells changed: {touched}")

    # The single-source search itself: on the local piece of network (ours) vs
    # node_distances, which builds the whole augmented CSR for one site.
    clinic = next(s for s in standards if s.id == "clinic-walk")
    limit = clinic.threshold_m * SEARCH_FACTOR
    finder = live.network_reach
    sites = [finder.locate(x, y) for x, y in zip(*(a[:20] for a in city.facility_xy))]
    t = time.perf_counter()
    for site in sites:
        finder.reach(site, limit)
    t_local = (time.perf_counter() - t) / len(sites)
    t = time.perf_counter()
    for site in sites:
        node_distances(city.network, site, limit)
    t_whole = (time.perf_counter() - t) / len(sites)

    ours, ours_sum, peer = map(np.asarray, (ours, ours_sum, peer))
    print()
    print(f"edits: {len(ours)}, distances identical to the full recomputation after every edit; "
          f"nearest-facility disagreements (exact ties only): {mismatch_ids}")
    print(f"removal searches needed (cells that lost nearest and second-nearest): "
          f"{live.removal_searches}")
    print(f"incremental update, all standards: median {np.median(ours) * 1000:.1f} ms, max {ours.max() * 1000:.1f} ms")
    print(f"  + summaries over all cells:      median {np.median(ours + ours_sum) * 1000:.1f} ms, "
          f"max {(ours + ours_sum).max() * 1000:.1f} ms")
    print(f"full recomputation, all standards: median {np.median(peer) * 1000:.0f} ms, max {peer.max() * 1000:.0f} ms")
    print(f"one {limit:.0f} m walk search from a site: local sub-network {t_local * 1000:.1f} ms (incl. gathering "
          f"cells) vs whole-city augmented CSR {t_whole * 1000:.1f} ms (node distances only)")
    print(f"ratio (median full / median incremental update): {np.median(peer) / np.median(ours):.0f}x; "
          f"with summaries: {np.median(peer) / np.median(ours + ours_sum):.0f}x")


if __name__ == "__main__":
    main()
