"""Load test: 50 concurrent clients against /reach and /coverage on loopback.

Starts ``lifecircle serve`` (uvicorn, one process) on 127.0.0.1 with a
throw-away API key, then runs ``--clients`` httpx AsyncClient workers for
``--seconds`` (bounded also by ``--max-requests``). Each request is a reach
query at a random cell of the city (80 %) or a coverage run of two standards
with a random walking-time override (20 %, ``--coverage-share``; runs with an override already seen
are answered from the kept run, 200 instead of 201, and counted separately).
Every response must be 200/201: anything else counts as an error.

Usage::

    PYTHONPATH=. python bench/load_api.py [--clients 50] [--seconds 60]
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

from geo.crs import to_wgs84
from layers.cities import load_city

KEY = "load-test-key-" + os.urandom(6).hex()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(port: int, city: str) -> subprocess.Popen:
    cfg = Path(tempfile.mkdtemp()) / "api.toml"
    cfg.write_text(f'city = "{city}"\napi_keys = ["{KEY}"]\n[limits]\nmax_runs = 500\n')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--config", str(cfg), "--log-level", "warning"],
        env=env,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not start")


async def client_loop(http: httpx.AsyncClient, rng: np.random.Generator, points, stop: float, budget: list[int], lat_ms, counts, errors, share: float) -> None:
    lon, lat = points
    while time.time() < stop and budget[0] > 0:
        budget[0] -= 1
        if rng.random() >= share:
            i = rng.integers(lon.size)
            name, call = "reach", http.post("/reach", json={"lon": float(lon[i]), "lat": float(lat[i])})
        else:
            minutes = round(float(rng.uniform(5, 30)), 1)
            body = {"standards": ["clinic-walk", "elderly-circle"], "overrides": {"clinic-walk": {"threshold_min": minutes}}}
            name, call = "coverage", http.post("/coverage", json=body, headers={"X-API-Key": KEY})
        t = time.perf_counter()
        try:
            r = await call
            code = r.status_code
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        lat_ms[name].append((time.perf_counter() - t) * 1000)
        counts[(name, code)] += 1
        if code not in (200, 201):
            errors.append((name, code))


async def run_load(port: int, clients: int, seconds: float, max_requests: int, points, share: float) -> tuple[dict, dict, list, float]:
    lat_ms: dict[str, list[float]] = defaultdict(list)
    counts: dict = defaultdict(int)
    errors: list = []
    budget = [max_requests]
    # expire idle connections before the server does (uvicorn: 30 s here), so a
    # request never races the server closing its connection
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as http:
        start = time.time()
        stop = start + seconds
        await asyncio.gather(*(client_loop(http, np.random.default_rng(i), points, stop, budget, lat_ms, counts, errors, share) for i in range(clients)))
        elapsed = time.time() - start
    return lat_ms, counts, errors, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default="demo")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--coverage-share", type=float, default=0.2, help="Share of requests that are coverage runs.")
    args = ap.parse_args()

    city = load_city(args.city)
    ok = np.flatnonzero(city.snapped_cells.ok)
    x, y = city.cell_xy
    points = to_wgs84(x[ok], y[ok], city.crs)
    port = free_port()
    proc = start_server(port, args.city)
    load_before = os.getloadavg()[0]
    server_cpu0, client_cpu0 = cpu_seconds(proc.pid), time.process_time()
    try:
        lat_ms, counts, errors, elapsed = asyncio.run(run_load(port, args.clients, args.seconds, args.max_requests, points, args.coverage_share))
        server_cpu = cpu_seconds(proc.pid) - server_cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    total = sum(len(v) for v in lat_ms.values())
    print(f"{args.clients} clients, coverage share {args.coverage_share:.0%}, load average before {load_before:.1f}," f" {elapsed:.1f} s, {total:,} requests, {total / elapsed:,.1f} req/s, errors: {len(errors)}")
    print(f"server CPU {server_cpu:.1f} s ({server_cpu / elapsed:.0%} of one core, {server_cpu / total * 1000:.1f} ms per request); "
          f"load generator CPU {time.process_time() - client_cpu0:.1f} s")
    print("| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | statuses |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, ms in sorted(lat_ms.items()):
        a = np.asarray(ms)
        statuses = ", ".join(f"{code}: {n}" for (nm, code), n in sorted(counts.items(), key=str) if nm == name)
        print(f"| {name} | {a.size:,} | {a.size / elapsed:,.1f} | {np.percentile(a, 50):.1f} | {np.percentile(a, 95):.1f} | {np.percentile(a, 99):.1f} | {statuses} |")
    if errors:
        print("first errors:", errors[:10])
        raise SystemExit(1)


if __name__ == "__main__":
    main()
