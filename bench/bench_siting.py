"""Siting: geo.siting against PySAL spopt (pulp + CBC) on the same instances.

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

``--big`` times MCLP with p = 50 on 20,000 candidates x 750,000 cells whose
matrix is *synthetic*: straight-line distance x a random 1.2-1.5 detour
factor within a 500 m reach (a KD-tree query), cells on a 40 m grid, since
building that matrix by network Dijkstra is a separate, slower step.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pulp
from scipy import sparse
from scipy.spatial import cKDTree
from spopt.locate import LSCP, MCLP, PMedian

from geo.network import WalkNetwork
from geo.siting import SiteOptions, SitingInput, candidate_matrix, candidates_on_network, lscp, mclp, p_median
from geo.snap import snap

REACH = 500.0
CBC_LIMIT_S = 600


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


def cbc() -> pulp.LpSolver:
    return pulp.PULP_CBC_CMD(msg=False, timeLimit=CBC_LIMIT_S)


def run_mclp(inp: SitingInput, p: int) -> tuple[float, float, float, float, str]:
    t = time.perf_counter()
    ours = mclp(inp, p, SiteOptions(method="auto", mip_rel_gap=1e-4, time_limit_s=120))
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    model = MCLP.from_cost_matrix(dense(inp, 1e9), inp.weights, REACH, p).solve(cbc())
    t_sp = time.perf_counter() - t
    return ours.objective, t_ours, pulp.value(model.problem.objective), t_sp, f"{ours.solver}/{ours.status} gap {ours.gap:.2e}"


def run_pmedian(inp: SitingInput, p: int) -> tuple[float, float, float, float, str]:
    t = time.perf_counter()
    ours = p_median(inp, p, SiteOptions(method="auto", mip_rel_gap=1e-4, time_limit_s=120))
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    model = PMedian.from_cost_matrix(dense(inp, REACH), inp.weights, p).solve(cbc())
    t_sp = time.perf_counter() - t
    return ours.objective, t_ours, pulp.value(model.problem.objective), t_sp, f"{ours.solver}/{ours.status} gap {ours.gap:.2e}"


def run_lscp(inp: SitingInput) -> tuple[float, float, float, float, str]:
    reach = np.asarray(inp.matrix.sum(axis=0)).ravel() > 0
    sub = SitingInput(inp.matrix[:, np.flatnonzero(reach)], inp.weights[reach], REACH)
    t = time.perf_counter()
    ours = lscp(sub, 1.0, SiteOptions(method="auto", mip_rel_gap=1e-4, time_limit_s=120))
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    model = LSCP.from_cost_matrix(dense(sub, 1e9), REACH).solve(cbc())
    t_sp = time.perf_counter() - t
    return ours.objective, t_ours, pulp.value(model.problem.objective), t_sp, f"{ours.solver}/{ours.status} gap {ours.gap:.2e}"


def row(name: str, size: str, p, res) -> None:
    ours, t_o, sp, t_s, how = res
    print(f"{name:8s} {size:>14s} p={str(p):>3s}  ours {ours:14.1f} {t_o:8.2f}s   spopt {sp:14.1f} {t_s:8.2f}s   "
          f"x{t_s / t_o:7.1f}  {'>= ' if _better(name, ours, sp) else 'WORSE'}  {how}", flush=True)


def _better(name: str, ours: float, sp: float) -> bool:
    tol = 1e-6 * max(abs(sp), 1.0)
    return ours >= sp - tol if name == "mclp" else ours <= sp + tol


def big() -> None:
    rng = np.random.default_rng(0)
    m, k = 750_000, 20_000
    t = time.perf_counter()
    g = np.arange(int(np.ceil(np.sqrt(m)))) * 40.0
    gx, gy = np.meshgrid(g, g)
    dxy = np.column_stack([gx.ravel(), gy.ravel()])[:m]
    cxy = rng.random((k, 2)) * g[-1]
    coo = cKDTree(cxy).sparse_distance_matrix(cKDTree(dxy), REACH / 1.2, output_type="coo_matrix")
    d = coo.data * (1.2 + 0.3 * rng.random(coo.nnz))
    keep = d <= REACH
    mat = sparse.csr_matrix((np.maximum(d[keep], 1e-6), (coo.row[keep], coo.col[keep])), shape=(k, m))
    inp = SitingInput(mat, rng.lognormal(3, 1, m), REACH, candidate_xy=cxy)
    print(f"big: synthetic matrix {k} x {m}, {mat.nnz} pairs, built in {time.perf_counter() - t:.1f}s", flush=True)
    t = time.perf_counter()
    r = mclp(inp, 50, SiteOptions(method="auto", mip_rel_gap=0.005, time_limit_s=60))
    print(f"big: MCLP p=50 objective {r.objective:.1f} bound {r.bound:.1f} gap {r.gap:.4%} "
          f"{r.solver}/{r.status} in {time.perf_counter() - t:.1f}s; {r.notes[0]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", action="store_true", help="also time the 20k x 750k MCLP")
    ap.add_argument("--quick", action="store_true", help="smallest sizes only")
    args = ap.parse_args()
    sizes = [(200, 1000), (500, 5000), (2000, 10000)]
    if args.quick:
        sizes = sizes[:1]
    for k, m in sizes:
        inp = instance(k, m)
        for p in (5, 10, 50):
            row("mclp", f"{k}x{m}", p, run_mclp(inp, p))
        row("lscp", f"{k}x{m}", "-", run_lscp(inp))
    for k, m in [(50, 500), (100, 1000)][: 1 if args.quick else 2]:
        inp = instance(k, m, seed=1)
        for p in (5, 10, 50):
            row("p_median", f"{k}x{m}", p, run_pmedian(inp, p))
    if args.big:
        big()


if __name__ == "__main__":
    main()
