"""Siting: geo.siting against PySAL spopt (pulp + HiGHS, and pulp + CBC) on the same instances.

spopt's ``solve()`` takes any pulp solver. The headline peer is spopt with
HiGHS through pulp (``pulp.HiGHS``, the ``highspy`` interface), the solver our
own models call, so that the ratio measures models and heuristics rather than
the solver choice; spopt with pulp's bundled CBC is a secondary row. spopt's
model is built once per instance and solved by each solver in turn; each
solver's figure is the build plus its own solve.

Run::

    cd /work/main && PYTHONPATH=. python bench/bench_siting.py            # spopt comparison
    cd /work/main && PYTHONPATH=. python bench/bench_siting.py --big      # + 20k x 750k MCLP

Instances are generated: a square grid walking network (100 m blocks), demand
cells at seeded random points with log-normal weights, candidates every 50 m
along the streets (a seeded random subset of the wanted size), and the
candidate-to-cell matrix from ``geo.siting.candidate_matrix`` (bounded
Dijkstra on the network). Both tools get the same matrix: spopt as the dense
cell x candidate array it needs (unreachable pairs at a large cost for
MCLP/LSCP, at the penalty distance for p-median, which makes the two
p-median objectives identical), ours as the sparse matrix.

``--big`` times MCLP with p = 50 on the generated Guangzhou-sized city
(about 1 M network nodes, 750,000 populated cells; cached by
``bench_cover_large``): 20,000 candidates on the network, the matrix at the
15-minute clinic walk (1,080 m) built by ``candidate_matrix``, matrix building
and solving timed apart.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pulp
from spopt.locate import LSCP, MCLP, PMedian

from geo.network import WalkNetwork
from geo.siting import (
    ModelOptions,
    SitingInput,
    candidate_matrix,
    candidates_on_network,
    lscp,
    mclp,
    p_median,
)
from geo.snap import snap

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_cover_large, when run as a script

REACH = 500.0
CLINIC_REACH = 1080.0  # 15 minutes at 1.2 m/s


def grid_network(n: int, step: float = 100.0) -> WalkNetwork:
    ij = np.arange(n * n)
    x, y = (ij % n) * step, (ij // n) * step
    right, up = ij[(ij % n) < n - 1], ij[ij < n * (n - 1)]
    return WalkNetwork.from_edges(x, y, np.concatenate([right, up]), np.concatenate([right + 1, up + n]))


def instance(k: int, m: int, seed: int = 0) -> SitingInput:
    """k candidates x m cells on a grid network (about 160 cells per km^2)."""
    rng = np.random.default_rng(seed)
    n = max(10, int(np.sqrt(m) * 0.8))  # nodes per side: 10,000 cells -> 80 x 80 (7.9 km square)
    net = grid_network(n)
    side = (n - 1) * 100.0
    dxy = rng.random((m, 2)) * side
    cells = snap(net, dxy[:, 0], dxy[:, 1])
    cands = candidates_on_network(net, 50.0)
    pick = np.sort(rng.choice(len(cands), size=min(k, len(cands)), replace=False))
    sn = cands.snapped.take(pick)
    mat = candidate_matrix(net, sn, cells, REACH)
    w = np.round(rng.lognormal(3, 1, m))
    return SitingInput(mat, w, REACH, candidate_xy=cands.xy[pick])


def dense(inp: SitingInput, fill: float) -> np.ndarray:
    d = np.full((inp.n_cells, inp.n_candidates), fill)
    coo = inp.matrix.tocoo()
    d[coo.col, coo.row] = coo.data
    return d


PEER_SOLVERS = ("highs", "cbc")  # the headline peer first: spopt with the solver we use ourselves


def peer_solver(name: str, limit_s: float) -> pulp.LpSolver:
    """A pulp solver for spopt's ``solve()``, at its own defaults but for the time limit.

    ``highs`` is HiGHS through pulp's ``highspy`` interface (``pulp.HiGHS``),
    the solver our models call, so the comparison measures the models and
    heuristics rather than the solver; ``cbc`` is pulp's bundled CBC, the
    solver spopt's documentation uses.
    """
    if name == "highs":
        return pulp.HiGHS(msg=False, timeLimit=limit_s)
    if name == "cbc":
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=limit_s)
    raise ValueError(f"peer solver: unknown {name!r}, expected one of {PEER_SOLVERS}")


def _spopt_child(kind: str, inp: SitingInput, p, solvers, limit_s: float, mem_gb: float, out) -> None:
    """Build the spopt model once, then solve it with each solver (in a child process, so that
    it can be bounded). Sends ``(solver, objective, build + solve seconds, status)`` after each solve."""
    resource.setrlimit(resource.RLIMIT_AS, (int(mem_gb * 2**30),) * 2)
    name = solvers[0]
    try:
        t = time.perf_counter()
        if kind == "mclp":
            model = MCLP.from_cost_matrix(dense(inp, 1e9), inp.weights, inp.reach_m, p)
        elif kind == "lscp":
            model = LSCP.from_cost_matrix(dense(inp, 1e9), inp.reach_m)
        else:
            model = PMedian.from_cost_matrix(dense(inp, inp.reach_m), inp.weights, p)
        built = time.perf_counter() - t
        for name in solvers:
            t_solve = time.perf_counter()
            model.solve(peer_solver(name, limit_s))
            solved = time.perf_counter() - t_solve
            status = pulp.LpSolution[model.problem.sol_status]
            if solved >= limit_s * 0.98:
                status += f", {name} time limit {limit_s:g} s hit"
            status += f" (model built in {built:.1f} s, solved in {solved:.1f} s)"
            out.send((name, pulp.value(model.problem.objective), built + solved, status))
    except MemoryError:
        out.send((name, float("nan"), time.perf_counter() - t, f"out of memory (limit {mem_gb:g} GB)"))
    except RuntimeError as exc:  # spopt raises when the solver ends without a solution
        out.send((name, float("nan"), time.perf_counter() - t, f"no solution: {str(exc).splitlines()[0]}"))
    except Exception as exc:  # anything else: say so rather than leave the parent waiting
        out.send((name, float("nan"), time.perf_counter() - t, f"failed: {type(exc).__name__}: {exc}"))


def run_spopt(
    kind: str, inp: SitingInput, p, limit_s: float, build_s: float = 900.0, mem_gb: float = 8.0,
    solvers: tuple[str, ...] = PEER_SOLVERS,
) -> dict[str, tuple[float, float, str]]:
    """spopt's objective, seconds (model building included) and how it ended, per solver.

    Each solver gets ``limit_s``, the whole child ``build_s`` plus ``limit_s``
    per solver (building a pulp model of a dense matrix takes minutes at
    2,000 x 10,000) and ``mem_gb`` of address space. The model is built once
    and its build time charged to every solver's figure."""
    # spawn, not fork: our own HiGHS has run in this process, and a child forked
    # from a process whose HiGHS thread pool has started hangs in its first solve
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_spopt_child, args=(kind, inp, p, solvers, limit_s, mem_gb, send))
    t = time.perf_counter()
    proc.start()
    deadline = t + build_s + limit_s * len(solvers)
    out: dict[str, tuple[float, float, str]] = {}
    while len(out) < len(solvers) and time.perf_counter() < deadline:
        if not recv.poll(1.0):
            if not proc.is_alive():
                break  # the child died without a word (killed for memory, say)
            continue
        name, obj, secs, status = recv.recv()
        out[name] = (obj, secs, status)
        if not np.isfinite(obj) and status.startswith(("out of memory", "no solution", "failed")):
            break
    why = "the child died" if not proc.is_alive() else "time allowed ran out"
    proc.kill()
    proc.join()
    for name in solvers:
        out.setdefault(name, (float("nan"), time.perf_counter() - t,
                              f"stopped at {time.perf_counter() - t:.0f} s, not finished ({why})"))
    return out


def run(
    kind: str, inp: SitingInput, p, limit_s: float, build_s: float, ours_limit_s: float = 120.0,
    solvers: tuple[str, ...] = PEER_SOLVERS,
) -> tuple[float, float, dict[str, tuple[float, float, str]]]:
    """Ours (HiGHS limited to ``ours_limit_s``), then spopt on the same instance with each solver."""
    opts = ModelOptions(method="auto", mip_rel_gap=1e-4, time_limit_s=ours_limit_s)
    t = time.perf_counter()
    if kind == "mclp":
        ours = mclp(inp, p, opts)
    elif kind == "lscp":
        ours = lscp(inp, 1.0, opts)
    else:
        ours = p_median(inp, p, opts)
    t_ours = time.perf_counter() - t
    print(f"   ours {ours.solver}/{ours.status} gap {ours.gap:.2e} ({load()})", flush=True)
    return ours.objective, t_ours, run_spopt(kind, inp, p, limit_s, build_s, solvers=solvers)


def reachable_only(inp: SitingInput) -> SitingInput:
    """Cells some candidate reaches (spopt's LSCP is infeasible otherwise)."""
    reach = np.asarray(inp.matrix.sum(axis=0)).ravel() > 0
    return SitingInput(inp.matrix[:, np.flatnonzero(reach)], inp.weights[reach], inp.reach_m)


def row(name: str, size: str, p, res) -> None:
    """One line per peer solver: ours against spopt + that solver (the first solver is the headline)."""
    ours, t_o, peers = res
    for rank, (solver, (sp, t_s, status)) in enumerate(peers.items()):
        verdict = "n/a" if not np.isfinite(sp) else (">= " if _better(name, ours, sp) else "WORSE")
        tag = "HEADLINE" if rank == 0 else "secondary"
        print(f"{name:8s} {size:>14s} p={p!s:>3s}  ours {ours:14.1f} {t_o:8.2f}s   spopt+{solver:5s} {sp:14.1f} "
              f"{t_s:8.2f}s   x{t_s / t_o:7.1f}  {verdict}  [{tag}] {status}; {load()}", flush=True)


def _better(name: str, ours: float, sp: float) -> bool:
    tol = 1e-6 * max(abs(sp), 1.0)
    return ours >= sp - tol if name == "mclp" else ours <= sp + tol


def demo_instance(k: int = 500) -> SitingInput:
    """The default (demo) city: residents of every cell, candidates every 50 m on
    its streets (a seeded subset of ``k``), the 15-minute clinic walk."""
    from layers.cities import load_city

    city = load_city("demo")
    cands = candidates_on_network(city.network, 50.0)
    pick = np.sort(np.random.default_rng(0).choice(len(cands), size=min(k, len(cands)), replace=False))
    mat = candidate_matrix(city.network, cands.snapped.take(pick), city.snapped_cells, CLINIC_REACH)
    w = city.cells["population"].to_numpy(dtype=np.float64)
    return SitingInput(mat, w, CLINIC_REACH, candidate_xy=cands.xy[pick])


def big_city_mclp(n_candidates: int = 20_000, p: int = 50) -> None:
    """MCLP p=50 on the generated Guangzhou-sized city: matrix build and solve timed apart.

    The city comes from ``bench_cover_large.big_city`` (the layers disk cache
    shared with that benchmark). Candidates: points every 250 m along the
    streets (``candidates_on_network``), a seeded random subset of
    ``n_candidates``. Demand: every populated cell, weighted by residents.
    Reach: the clinic walk of 15 minutes (1,080 m).
    """
    from bench_cover_large import big_city

    from geo.paths import nearest_source

    t = time.perf_counter()
    city, _ = big_city(1.0, 2000)
    net, cells = city.network, city.snapped_cells
    print(f"big: city {net.x.size:,} nodes, {len(city.cells):,} cells, loaded in {time.perf_counter() - t:.1f}s "
          f"({load()})", flush=True)
    t = time.perf_counter()
    cands = candidates_on_network(net, 250.0)
    pick = np.sort(np.random.default_rng(0).choice(len(cands), size=n_candidates, replace=False))
    print(f"big: {len(cands):,} candidate points on the network, {n_candidates:,} picked in "
          f"{time.perf_counter() - t:.1f}s", flush=True)
    t = time.perf_counter()
    mat = candidate_matrix(net, cands.snapped.take(pick), cells, CLINIC_REACH)
    t_mat = time.perf_counter() - t
    m = len(city.cells)
    print(f"big: matrix {n_candidates:,} x {m:,} within {CLINIC_REACH:g} m: {mat.nnz:,} pairs in {t_mat:.1f}s "
          f"({load()})", flush=True)
    dense_gb = n_candidates * m * 8 / 1e9
    print(f"big: spopt would need the dense {m:,} x {n_candidates:,} cost matrix ({dense_gb:.0f} GB of float64, "
          f"this machine has 23 GB) before building its model: not run", flush=True)
    w = city.cells["population"].to_numpy(dtype=np.float64)
    health = city.facilities_of(["health_centre", "health_station"])
    ex = nearest_source(net, city.snapped_facilities.take(health), cells, limit=CLINIC_REACH).dist
    for label, existing in (("no existing facilities", None), (f"{health.size} existing clinics kept", ex)):
        inp = SitingInput(mat, w, CLINIC_REACH, existing_dist=existing, candidate_xy=cands.xy[pick])
        t = time.perf_counter()
        r = mclp(inp, p, ModelOptions(method="auto", mip_rel_gap=0.005, time_limit_s=120))
        print(f"big: MCLP p={p} ({label}) newly covered {r.objective:,.0f} bound {r.bound:,.0f} gap {r.gap:.4%} "
              f"{r.solver}/{r.status} in {time.perf_counter() - t:.1f}s ({load()}); {r.notes[0]}", flush=True)


def load() -> str:
    """The 1-minute load average, printed beside timings (the machine is shared)."""
    return f"load {os.getloadavg()[0]:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", action="store_true", help="also time MCLP p=50 on the Guangzhou-sized city")
    ap.add_argument("--only-big", action="store_true", help="only the Guangzhou-sized MCLP")
    ap.add_argument("--quick", action="store_true", help="smallest sizes only")
    ap.add_argument("--sizes", default="demo,200x1000,500x5000,2000x10000",
                    help="comma-separated: demo and/or KxM grid instances")
    ap.add_argument("--models", default="mclp,lscp,p_median", help="comma-separated subset")
    ap.add_argument("--cbc-limit", type=float, default=300.0,
                    help="time limit of each peer solver (HiGHS and CBC) per model, seconds")
    ap.add_argument("--peer-solvers", default=",".join(PEER_SOLVERS),
                    help="comma-separated pulp solvers for spopt, headline first: highs, cbc")
    ap.add_argument("--ps", default="5,10,50", help="comma-separated p values")
    ap.add_argument("--time-limit", type=float, default=120.0, help="our HiGHS time limit per solve, seconds")
    ap.add_argument("--build-s", type=float, default=900.0, help="extra wall seconds spopt gets to build its model")
    args = ap.parse_args()
    models = args.models.split(",")
    ps = [int(v) for v in args.ps.split(",")]
    solvers = tuple(args.peer_solvers.split(","))
    sizes = args.sizes.split(",")[: 2 if args.quick else None]
    for size in [] if args.only_big else sizes:
        if size == "demo":
            inp = demo_instance()
            size = f"demo {inp.n_candidates}x{inp.n_cells}"
        else:
            k, m = (int(v) for v in size.split("x"))
            inp = instance(k, m)
        if "mclp" in models:
            for p in ps:
                row("mclp", size, p, run("mclp", inp, p, args.cbc_limit, args.build_s, args.time_limit, solvers))
        if "lscp" in models:
            row("lscp", size, "-", run("lscp", reachable_only(inp), None, args.cbc_limit, args.build_s, args.time_limit, solvers))
        if "p_median" in models:
            for p in [p for p in ps if p <= 10] if inp.n_candidates * inp.n_cells > 5_000_000 else ps:
                row("p_median", size, p, run("p_median", inp, p, args.cbc_limit, args.build_s, args.time_limit, solvers))
    if args.big or args.only_big:
        big_city_mclp()


if __name__ == "__main__":
    main()
