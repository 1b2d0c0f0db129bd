"""Benchmark: a live scenario edit over HTTP vs a stateless full run of the same plan.

``POST /scenarios/{name}/edits`` answers with every standard's updated summary
from a :class:`scenarios.run.LiveScenario` kept in memory, and saves the new
version in the SQLite store. The peer is what an API without that state would
do for the same answer: :func:`scenarios.run.run_scenario` of the whole plan
(base facilities plus every edit so far) on the same city. Both run in this
process on the same city, edit after edit; after each edit the covered
population of every standard must agree exactly.

Run::

    PYTHONPATH=. python bench/bench_api_scenarios.py                 # the demo city
    PYTHONPATH=. python bench/bench_api_scenarios.py --scale 0.1     # generated city, 10 % of Guangzhou size
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig
from geo.crs import to_wgs84
from layers.city import City
from scenarios.model import Scenario
from scenarios.run import run_scenario

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=None, help="generated city at this fraction of Guangzhou's size (default: demo)")
    ap.add_argument("--edits", type=int, default=12)
    args = ap.parse_args()

    t0 = time.perf_counter()
    city = load(args.scale)
    print(f"city {city.name}: {city.network.n_nodes:,} nodes, {len(city.cells):,} cells, {len(city.facilities):,} facilities "
          f"({time.perf_counter() - t0:.1f} s to load)")
    client = TestClient(create_app(ApiConfig(api_keys=[KEY]), city=city))
    headers = {"X-API-Key": KEY}
    assert client.post("/scenarios", json={"name": "bench"}, headers=headers).status_code == 201

    edits = plan(city, args.edits)
    ours, peer = [], []
    version = 1
    for k, edit in enumerate(edits):
        t = time.perf_counter()
        r = client.post("/scenarios/bench/edits", json=edit, headers={**headers, "If-Match": f'"{version}"'})
        ours.append(time.perf_counter() - t)
        assert r.status_code == 201, r.text
        version = r.json()["version"]
        got = r.json()["standards"]

        t = time.perf_counter()
        full = run_scenario(Scenario(name="bench", city=city.name, edits=edits[: k + 1]), city)
        peer.append(time.perf_counter() - t)
        for sid, res in full.result.results.items():
            assert got[sid]["covered"] == res.summary()["covered"], (k, sid)
        print(f"edit {k:2d} {edit['op']:6s}: live {ours[-1] * 1000:8.1f} ms   full run {peer[-1] * 1000:8.1f} ms")

    first = ours[0]  # includes building the live state from the stored version
    rest = ours[1:] or ours
    print(f"first edit (builds the live state): {first * 1000:.1f} ms")
    print(f"live edit over HTTP (store save included), later edits: median {statistics.median(rest) * 1000:.1f} ms, max {max(rest) * 1000:.1f} ms")
    print(f"full run_scenario of the plan: median {statistics.median(peer) * 1000:.1f} ms, max {max(peer) * 1000:.1f} ms")
    print(f"ratio (median full / median live): {statistics.median(peer) / statistics.median(rest):.1f}x; "
          f"covered population agreed exactly after all {len(edits)} edits")


if __name__ == "__main__":
    main()
