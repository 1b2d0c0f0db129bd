"""Load test of the portal API on loopback: mixed reads by many clients, 1 and N workers, memory across rounds.

Starts ``lifecircle serve --workers W`` on 127.0.0.1 with a throw-away API key
and a fresh data folder, makes one coverage run, then runs ``--clients``
httpx AsyncClient workers for ``--seconds`` per round (bounded also by
``--max-requests``), each request drawn from the mix:

- ``reach``: ``POST /reach`` at a random cell of the city (40 %);
- ``summary``: ``GET /coverage/{run}``, the run's summary (20 %);
- ``cells``: ``GET /coverage/{run}/cells`` a page of 100 at a random offset (20 %);
- ``items``: ``GET /collections/cells/items`` a page of 100 at a random offset (20 %).

Every request carries the key (so the per-address limit of open endpoints,
meant for anonymous clients, does not apply) and must answer 200; anything
else counts as an error. After each round the resident memory of the server's
processes (all workers) is printed, so two consecutive rounds show whether it
stays flat.

Usage::

    PYTHONPATH=. python bench/load_api.py [--workers 1,4] [--clients 50] [--seconds 60] [--rounds 2] [--mix reach=1]

``--mix`` gives other shares (e.g. ``reach=1`` for reach alone); ``--pin`` puts
the server on the first CPU and this load generator on the second (Linux).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import psutil

from geo.crs import to_wgs84
from layers.cities import load_city

KEY = "load-test-key-" + os.urandom(6).hex()
HEADERS = {"X-API-Key": KEY}
MIX = (("reach", 0.4), ("summary", 0.2), ("cells", 0.2), ("items", 0.2))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[psutil.Process]:
    """The server process and its workers."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server and its workers so far."""
    total = 0.0
    for p in tree(pid):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its workers, in MB (PSS: shared pages counted once)."""
    total = 0
    for p in tree(pid):
        try:
            total += p.memory_full_info().pss
        except psutil.Error:
            pass
    return total / 1e6


def start_server(port: int, city: str, workers: int) -> subprocess.Popen:
    folder = Path(tempfile.mkdtemp(prefix="lifecircle-load-"))
    cfg = folder / "api.toml"
    cfg.write_text(f'city = "{city}"\napi_keys = ["{KEY}"]\ndata_dir = "{folder / "data"}"\n')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--config", str(cfg), "--log-level", "warning", "--workers", str(workers)],
        env=env,
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the server did not start")


def make_run(port: int) -> str:
    """One coverage run of every standard; its id."""
    r = httpx.post(f"http://127.0.0.1:{port}/coverage", json={}, headers=HEADERS, timeout=120)
    if r.status_code == 202:  # a large city: wait for the job
        job = r.headers["location"]
        while (j := httpx.get(job, headers=HEADERS).json())["state"] in ("queued", "running"):
            time.sleep(0.5)
        return j["result"].rstrip("/").rsplit("/", 1)[1]
    r.raise_for_status()
    return r.json()["id"]


async def client_loop(http: httpx.AsyncClient, rng: np.random.Generator, points, n_cells: int, run_id: str,
                      stop: float, budget: list[int], lat_ms, counts, errors, mix) -> None:
    lon, lat = points
    names, weights = zip(*mix, strict=True)
    while time.time() < stop and budget[0] > 0:
        budget[0] -= 1
        name = names[rng.choice(len(names), p=weights)]
        offset = int(rng.integers(max(n_cells - 100, 1)))
        if name == "reach":
            i = rng.integers(lon.size)
            call = http.post("/reach", json={"lon": float(lon[i]), "lat": float(lat[i])})
        elif name == "summary":
            call = http.get(f"/coverage/{run_id}")
        elif name == "cells":
            call = http.get(f"/coverage/{run_id}/cells", params={"limit": 100, "offset": offset})
        else:
            call = http.get("/collections/cells/items", params={"limit": 100, "offset": offset})
        t = time.perf_counter()
        try:
            r = await call
            code = r.status_code
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        lat_ms[name].append((time.perf_counter() - t) * 1000)
        counts[(name, code)] += 1
        if code != 200:
            errors.append((name, code))


async def run_load(port: int, clients: int, seconds: float, max_requests: int, points, n_cells: int, run_id: str, mix):
    lat_ms: dict[str, list[float]] = defaultdict(list)
    counts: dict = defaultdict(int)
    errors: list = []
    budget = [max_requests]
    # expire idle connections before the server does (30 s), so a request never races its closing
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60, headers=HEADERS) as http:
        start = time.time()
        stop = start + seconds
        await asyncio.gather(*(client_loop(http, np.random.default_rng(i), points, n_cells, run_id, stop, budget, lat_ms, counts, errors, mix)
                               for i in range(clients)))
        elapsed = time.time() - start
    return lat_ms, counts, errors, elapsed


def report(workers: int, round_no: int, args, lat_ms, counts, errors, elapsed, server_cpu, client_cpu, load, memory) -> None:
    total = sum(len(v) for v in lat_ms.values())
    every = np.concatenate([np.asarray(v) for v in lat_ms.values()])
    print(f"\n### {workers} worker(s), round {round_no}: {args.clients} clients, {elapsed:.1f} s, load average before {load:.2f}")
    print(f"{total:,} requests, {total / elapsed:,.1f} req/s, errors: {len(errors)}; mixed p50 {np.percentile(every, 50):.1f} ms, "
          f"p95 {np.percentile(every, 95):.1f} ms; server CPU {server_cpu:.1f} s, load generator CPU {client_cpu:.1f} s; "
          f"server memory after the round {memory:,.0f} MB (PSS, all workers)")
    print("| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | statuses |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, ms in sorted(lat_ms.items()):
        a = np.asarray(ms)
        statuses = ", ".join(f"{code}: {n}" for (nm, code), n in sorted(counts.items(), key=str) if nm == name)
        print(f"| {name} | {a.size:,} | {a.size / elapsed:,.1f} | {np.percentile(a, 50):.1f} | {np.percentile(a, 95):.1f} "
              f"| {np.percentile(a, 99):.1f} | {statuses} |")
    if errors:
        print("first errors:", errors[:10])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default="demo")
    ap.add_argument("--workers", default="1,4", help="Comma-separated worker counts to try, one server each.")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rounds", type=int, default=2, help="Consecutive rounds per server (memory should stay flat).")
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--mix", default=",".join(f"{n}={w}" for n, w in MIX), help="Shares of reach, summary, cells, items.")
    ap.add_argument("--pin", action="store_true", help="Server on CPU 0, load generator on CPU 1.")
    args = ap.parse_args()
    pairs = [part.split("=") for part in args.mix.split(",")]
    total = sum(float(w) for _, w in pairs)
    mix = tuple((name, float(w) / total) for name, w in pairs)
    if args.pin:
        os.sched_setaffinity(0, {1})

    city = load_city(args.city)
    ok = np.flatnonzero(city.snapped_cells.ok)
    x, y = city.cell_xy
    points = to_wgs84(x[ok], y[ok], city.crs)
    failed = False
    for workers in (int(w) for w in args.workers.split(",")):
        port = free_port()
        proc = start_server(port, args.city, workers)
        if args.pin:
            for p in tree(proc.pid):
                p.cpu_affinity([0])
        try:
            run_id = make_run(port)
            print(f"\n## {workers} worker(s), memory before the first round {rss_mb(proc.pid):,.0f} MB")
            for round_no in range(1, args.rounds + 1):
                load = os.getloadavg()[0]
                server_cpu0, client_cpu0 = cpu_seconds(proc.pid), time.process_time()
                lat_ms, counts, errors, elapsed = asyncio.run(
                    run_load(port, args.clients, args.seconds, args.max_requests, points, len(city.cells), run_id, mix))
                report(workers, round_no, args, lat_ms, counts, errors, elapsed, cpu_seconds(proc.pid) - server_cpu0,
                       time.process_time() - client_cpu0, load, rss_mb(proc.pid))
                failed |= bool(errors)
        finally:
            for p in tree(proc.pid)[::-1]:
                try:
                    p.terminate()
                except psutil.Error:
                    pass
            proc.wait(timeout=30)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
