"""Benchmark: a live scenario edit over HTTP vs a stateless full run of the same plan.

``POST /scenarios/{name}/edits`` answers with every standard's updated summary
from a :class:`scenarios.run.LiveScenario` kept in memory (no gap clusters,
no per-cell band labels: ``largest_gap`` is left out of a live answer), and
saves the new version in the SQLite store. The headline peer is what an API
without that state would compute for the *same* answer: the whole plan (base
facilities plus every edit so far) applied to the base city, then every
standard's nearest-facility search and summary, without gap clusters or band
labels, the standards in threads as ``scenarios.evaluate`` runs them. A
secondary row times :func:`scenarios.run.run_scenario` of the plan, which
also computes gap clusters and band labels (about two thirds of its time on
the demo city): more work than the live answer, so not the headline. All run
in this process on the same city, edit after edit; after each edit every
summary field the live answer gives must agree exactly.

Two figures for ours: the HTTP edit (If-Match check, FastAPI stack, the
store's fsync'd save: work the peer does not do), and, for the headline, the
same edit on a second :class:`LiveScenario` in process (``apply`` with its
summaries), which is exactly the peer's work.

Run::

    PYTHONPATH=. python bench/bench_api_scenarios.py                 # the demo city
    PYTHONPATH=. python bench/bench_api_scenarios.py --scale 0.1     # generated city, 10 % of Guangzhou size
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig
from geo.crs import to_wgs84
from layers.city import City
from scenarios.evaluate import nearest_for_standard, standard_result
from scenarios.model import Scenario, apply_edits
from scenarios.run import LiveScenario, run_scenario

KEY = "bench-key-0123456789"


def load(scale: float | None) -> City:
    """The demo city, or a generated one at ``scale`` of Guangzhou's size (cached on disk)."""
    if scale is None:
        from layers.cities import load_city

        return load_city("demo")
    from layers.cache import cache_key, cached_city
    from layers.cities.generator import generate_city_of_size

    params = {"n_nodes": int(1_000_000 * scale), "n_cells": int(750_000 * scale), "n_facilities": max(int(2000 * scale), 40)}
    key = cache_key("bench-incremental", "1", params, ("layers.cities.generator",))
    return cached_city("bench-incremental", key, lambda: generate_city_of_size(**params))


def plan(city: City, n: int, seed: int = 7) -> list[dict]:
    """Edits spread over the city: open clinics and elderly centres at cells, move and close existing ones."""
    rng = np.random.default_rng(seed)
    x, y = city.cell_xy
    lon, lat = to_wgs84(x, y, city.crs)
    fac = city.facilities
    movable = list(fac.loc[fac["kind"].isin(["health_station", "elderly_care"]), "id"])
    rng.shuffle(movable)
    edits = []
    for i in range(n):
        c = int(rng.integers(len(x)))
        where = {"lon": float(lon[c]), "lat": float(lat[c])}
        step = i % 4
        if step == 0:
            edits.append({"op": "add", "id": f"NEW-{i}", "kind": "health_station", **where})
        elif step == 1:
            edits.append({"op": "add", "id": f"NEW-{i}", "kind": "elderly_care", "capacities": {"beds": 40}, **where})
        elif step == 2:
            edits.append({"op": "move", "id": movable.pop(), **where})
        else:
            edits.append({"op": "remove", "id": movable.pop()})
    return edits


def stateless_summaries(city: City, scenario: Scenario) -> dict[str, dict]:
    """The live answer computed from scratch: the plan applied, each standard searched and summed.

    No gap clusters and no band labels, as in the live answer; the standards
    run in threads as :func:`scenarios.evaluate.evaluate` runs them.
    """
    standards = scenario.resolved_standards()
    if any(s.mode == "network" for s in standards):
        city.snapped_cells  # noqa: B018 -- the base city's snapping is shared, as run_scenario shares it
    scen = city.with_facilities(apply_edits(city.facilities, scenario.edits, city.crs))
    _ = scen.snapped_facilities, scen.network.csr, scen.cell_xy, scen.facility_xy
    no_gaps = gpd.GeoDataFrame({"population": []}, geometry=[], crs=city.crs)

    def one(standard) -> dict:
        dist, facility, unreachable = nearest_for_standard(scen, standard)
        res = standard_result(scen, standard, dist, facility, unreachable=unreachable, clusters=no_gaps, bands=False)
        summary = res.summary()
        summary.pop("largest_gap", None)
        return summary

    with ThreadPoolExecutor(max_workers=max(1, min(len(standards), os.cpu_count() or 1))) as pool:
        return dict(zip([s.id for s in standards], pool.map(one, standards)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=None, help="generated city at this fraction of Guangzhou's size (default: demo)")
    ap.add_argument("--edits", type=int, default=12)
    args = ap.parse_args()

    t0 = time.perf_counter()
    city = load(args.scale)
    print(f"city {city.name}: {city.network.n_nodes:,} nodes, {len(city.cells):,} cells, {len(city.facilities):,} facilities "
          f"({time.perf_counter() - t0:.1f} s to load)")
    # a fresh store for every run (a second run would find "bench" saved in the user's own store)
    data = Path(tempfile.mkdtemp(prefix="lifecircle-bench-"))
    client = TestClient(create_app(ApiConfig(api_keys=[KEY], data_dir=data), city=city))
    headers = {"X-API-Key": KEY}
    assert client.post("/scenarios", json={"name": "bench"}, headers=headers).status_code == 201

    edits = plan(city, args.edits)
    ours, peer, full_runs, direct = [], [], [], []
    live = LiveScenario.from_scenario(Scenario(name="bench-direct", city=city.name), city)
    version = 1
    for k, edit in enumerate(edits):
        t = time.perf_counter()
        r = client.post("/scenarios/bench/edits", json=edit, headers={**headers, "If-Match": f'"{version}"'})
        ours.append(time.perf_counter() - t)
        assert r.status_code == 201, r.text
        version = r.json()["version"]
        got = r.json()["standards"]

        t = time.perf_counter()
        mine = live.apply(edit)["standards"]
        direct.append(time.perf_counter() - t)
        assert mine == got, (k, mine, got)

        scenario = Scenario(name="bench", city=city.name, edits=edits[: k + 1])
        t = time.perf_counter()
        same = stateless_summaries(city, scenario)
        peer.append(time.perf_counter() - t)
        assert same == got, (k, same, got)  # every field of the live answer

        t = time.perf_counter()
        full = run_scenario(scenario, city)
        full_runs.append(time.perf_counter() - t)
        for sid, res in full.result.results.items():
            assert got[sid]["covered"] == res.summary()["covered"], (k, sid)
        print(f"edit {k:2d} {edit['op']:6s}: live HTTP {ours[-1] * 1000:8.1f} ms   live in process "
              f"{direct[-1] * 1000:8.1f} ms   stateless same answer "
              f"{peer[-1] * 1000:8.1f} ms   (secondary) run_scenario with gap clusters {full_runs[-1] * 1000:8.1f} ms")

    first = ours[0]  # includes building the live state from the stored version
    rest = ours[1:] or ours
    print(f"first edit (builds the live state): {first * 1000:.1f} ms")
    print(f"live edit over HTTP (store save included), later edits: median {statistics.median(rest) * 1000:.1f} ms, max {max(rest) * 1000:.1f} ms")
    med, med_direct = statistics.median(rest), statistics.median(direct)
    print(f"live edit in process (LiveScenario.apply, no HTTP, no store): median {med_direct * 1000:.1f} ms, "
          f"max {max(direct) * 1000:.1f} ms")
    print(f"HEADLINE stateless, same answer (no gap clusters): median {statistics.median(peer) * 1000:.1f} ms, "
          f"max {max(peer) * 1000:.1f} ms; ratio to the live edit in process {statistics.median(peer) / med_direct:.1f}x, "
          f"to the live edit over HTTP (store save included) {statistics.median(peer) / med:.1f}x")
    print(f"(secondary) run_scenario of the plan, gap clusters and bands included: median "
          f"{statistics.median(full_runs) * 1000:.1f} ms, max {max(full_runs) * 1000:.1f} ms; "
          f"ratio {statistics.median(full_runs) / med:.1f}x")
    print(f"every summary field agreed exactly after all {len(edits)} edits (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
