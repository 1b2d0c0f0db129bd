"""Set covering (LSCP with full coverage): exact reductions, bounds, heuristics.

The pipeline :func:`solve_cover` follows the classic recipe for unit-cost set
covering (Beasley 1987, 1990; Caprara, Fischetti & Toth 1999):

1. **Reduce** (exact, iterated until nothing changes): a cell only one
   candidate covers forces that candidate open, and the cells it covers drop
   out; a cell whose candidate set contains another cell's is covered
   whenever that one is, so it drops out; a candidate whose cells are a
   subset of another's is never needed (ties keep the lowest index).
2. **Lagrangian relaxation** of the cover rows with subgradient steps: every
   multiplier vector gives a lower bound, and each iterate's reduced costs
   drive a greedy repair, so the relaxation doubles as a heuristic; the best
   cover found is cleaned of redundant sites.
3. Only when ``ceil(bound)`` is still below the best cover does HiGHS run,
   on the reduced core, warm-started with that cover (see
   :func:`geo.siting.models.lscp`).

Everything is deterministic: fixed iteration counts, ties to the lowest index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["CoverCore", "drop_redundant", "greedy_repair", "lagrangian_cover", "reduce_cover"]

# pairwise domination needs B B^T (or B^T B); skip a test whose product would
# hold more entries than this (memory), the reduction is optional
_MAX_PAIRS = 30_000_000


@dataclass(frozen=True, eq=False)
class CoverCore:
    """What is left of a set covering problem after the exact reductions.

    Attributes
    ----------
    b : scipy.sparse.csr_matrix
        ``k' x m'`` 0/1 cover matrix of the remaining candidates and cells.
    cand : numpy.ndarray of int64
        Row of the input matrix of each remaining candidate.
    fixed : numpy.ndarray of int64
        Rows of the input matrix forced open (required, then essential).
    """

    b: sparse.csr_matrix
    cand: np.ndarray
    fixed: np.ndarray


def _pairs_cost(deg: np.ndarray) -> int:
    return int((deg.astype(np.int64) ** 2).sum())


def _dominated_rows(b: sparse.csr_matrix) -> np.ndarray:
    """Rows whose set is a subset of another row's (identical rows: all but the lowest index)."""
    deg = np.diff(b.indptr)
    out = deg == 0
    if _pairs_cost(np.diff(b.tocsc().indptr)) > _MAX_PAIRS:
        return out
    ov = (b @ b.T).tocoo()
    i, j = ov.row, ov.col
    sub = (i != j) & (ov.data == deg[i]) & ((deg[j] > deg[i]) | (j < i))
    out[i[sub]] = True
    return out


def reduce_cover(b: sparse.csr_matrix, required: np.ndarray) -> CoverCore:
    """Apply the exact reductions of the module notes until none applies.

    Parameters
    ----------
    b : scipy.sparse.csr_matrix
        ``k x m`` cover matrix (non-zero: candidate covers cell); every cell
        must have a candidate.
    required : numpy.ndarray of int64
        Rows that must open.

    Returns
    -------
    CoverCore
    """
    b = sparse.csr_matrix(b, dtype=np.float64, copy=True)
    b.data[:] = 1.0
    cand = np.arange(b.shape[0], dtype=np.int64)
    fixed = [int(i) for i in required]
    force = np.asarray(required, dtype=np.int64)
    while True:
        if force.size:
            hit = np.asarray(b[force].sum(axis=0)).ravel() > 0
            rows = np.ones(b.shape[0], dtype=bool)
            rows[force] = False
            b, cand = b[rows][:, np.flatnonzero(~hit)], cand[rows]
        if b.shape[1] == 0:
            return CoverCore(sparse.csr_matrix(b), cand, np.asarray(fixed, dtype=np.int64))
        csc = b.tocsc()
        csc.sort_indices()
        deg = np.diff(csc.indptr)
        force = np.unique(csc.indices[csc.indptr[:-1][deg == 1]])  # essential candidates
        if force.size:
            fixed.extend(cand[force].tolist())
            continue
        drop_cells = _superset_cells(sparse.csr_matrix(csc.T))
        drop_cand = _dominated_rows(b)
        if not drop_cells.any() and not drop_cand.any():
            return CoverCore(sparse.csr_matrix(b), cand, np.asarray(fixed, dtype=np.int64))
        b = b[np.flatnonzero(~drop_cand)][:, np.flatnonzero(~drop_cells)]
        cand = cand[~drop_cand]


def _superset_cells(bt: sparse.csr_matrix) -> np.ndarray:
    """Cells (rows of ``bt``) whose candidate set contains another cell's (equal sets: all but the lowest)."""
    deg = np.diff(bt.indptr)
    out = np.zeros(bt.shape[0], dtype=bool)
    if _pairs_cost(np.diff(bt.tocsc().indptr)) > _MAX_PAIRS:
        return out
    ov = (bt @ bt.T).tocoo()
    j, jj = ov.row, ov.col  # ov[j, jj] = |N_j & N_jj|
    sup = (j != jj) & (ov.data == deg[jj]) & ((deg[j] > deg[jj]) | (jj < j))
    out[j[sup]] = True
    return out


def drop_redundant(b: sparse.csr_matrix, sites: np.ndarray, order_key: np.ndarray | None = None) -> np.ndarray:
    """Remove sites whose every cell is covered by another chosen site.

    Parameters
    ----------
    b : scipy.sparse.csr_matrix
        ``k x m`` 0/1 cover matrix.
    sites : numpy.ndarray of int64
        A cover.
    order_key : numpy.ndarray, optional
        Per candidate: sites with larger keys are tried first (default: the
        fewest cells first), ties to the higher index.

    Returns
    -------
    numpy.ndarray of int64
        The remaining sites, ascending.
    """
    sites = np.asarray(sites, dtype=np.int64)
    if sites.size == 0:
        return sites
    cnt = np.bincount(b[sites].indices, minlength=b.shape[1])
    key = -np.diff(b.indptr)[sites] if order_key is None else order_key[sites]
    keep = np.ones(sites.size, dtype=bool)
    for pos in np.lexsort((-sites, -key)):
        i = sites[pos]
        cells = b.indices[b.indptr[i] : b.indptr[i + 1]]
        if np.all(cnt[cells] >= 2):
            cnt[cells] -= 1
            keep[pos] = False
    return np.sort(sites[keep])


def greedy_repair(b: sparse.csr_matrix, start: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Complete ``start`` to a cover, each step adding the candidate with the
    lowest ``cost / newly covered cells`` (``cost >= 0``; ties: lowest index), then
    drop redundant sites (highest cost first).

    Parameters
    ----------
    b : scipy.sparse.csr_matrix
        ``k x m`` 0/1 cover matrix, every cell coverable.
    start : numpy.ndarray of int64
    cost : numpy.ndarray
        Per candidate (e.g. Lagrangian reduced costs clipped at a small positive value).

    Returns
    -------
    numpy.ndarray of int64
    """
    k, m = b.shape
    bt = sparse.csr_matrix(b.T)
    chosen = np.zeros(k, dtype=bool)
    chosen[start] = True
    covered = np.zeros(m, dtype=bool)
    if start.size:
        covered[b[start].indices] = True
    new = np.asarray(b @ (~covered).astype(np.float64)).ravel()
    while not covered.all():
        score = np.where(new > 0, cost / np.maximum(new, 1), np.inf)
        i = int(np.argmin(score))
        chosen[i] = True
        cells = b.indices[b.indptr[i] : b.indptr[i + 1]]
        fresh = cells[~covered[cells]]
        covered[fresh] = True
        # the cells just covered no longer count for the candidates covering them
        np.subtract.at(new, bt[fresh].indices, 1.0)
    return drop_redundant(b, np.flatnonzero(chosen), order_key=cost)


def lagrangian_cover(
    b: sparse.csr_matrix, upper: np.ndarray, max_iter: int = 300, heuristic_every: int = 5
) -> tuple[float, np.ndarray]:
    """Lagrangian lower bound and Lagrangian-heuristic cover for unit-cost set covering.

    With multipliers ``u >= 0`` on the cover rows ``sum_{i in N_j} x_i >= 1``,
    ``L(u) = sum_j u_j + sum_i min(0, 1 - sum_{j in S_i} u_j)`` is a lower
    bound on the fewest sites; subgradient steps (Polyak step towards the
    best cover, halved after 20 steps without progress) raise it. Every
    ``heuristic_every`` steps, the candidates with negative reduced cost are
    completed by :func:`greedy_repair` on the reduced costs.

    Parameters
    ----------
    b : scipy.sparse.csr_matrix
        ``k x m`` 0/1 cover matrix, every cell coverable.
    upper : numpy.ndarray of int64
        A known cover (e.g. the greedy's).
    max_iter : int
    heuristic_every : int

    Returns
    -------
    bound : float
        The best ``L(u)`` (fractional; the caller rounds it up).
    best : numpy.ndarray of int64
        The smallest cover found (``upper`` if nothing better).
    """
    m = b.shape[1]
    bt = sparse.csr_matrix(b.T)
    deg = np.diff(b.indptr).astype(np.float64)
    best = np.sort(np.asarray(upper, dtype=np.int64))
    if m == 0:
        return 0.0, best
    # start: each cell at its cheapest per-cell share
    u = np.zeros(m)
    np.maximum.at(u, np.repeat(np.arange(m), np.diff(bt.indptr)), 1.0 / np.maximum(deg[bt.indices], 1))
    lb, mu, stall = -np.inf, 1.0, 0
    for it in range(max_iter):
        rc = 1.0 - b @ u
        x = rc < 0
        value = float(u.sum() + rc[x].sum())
        if value > lb + 1e-9:
            lb, stall = value, 0
        else:
            stall += 1
            if stall >= 20:
                mu, stall = mu / 2, 0
        if np.ceil(lb - 1e-6) >= best.size or mu < 1e-4:
            break
        if it % heuristic_every == 0:
            cover = greedy_repair(b, np.flatnonzero(x), np.maximum(rc, 1e-6))
            if cover.size < best.size:
                best = cover
        g = 1.0 - np.asarray(bt @ x.astype(np.float64)).ravel()
        g[(u <= 0) & (g < 0)] = 0.0  # projected: u stays >= 0
        norm = float(g @ g)
        if norm == 0:
            break
        u = np.maximum(u + mu * (best.size - value) / norm * g, 0.0)
    return lb, best
