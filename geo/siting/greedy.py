"""Fast heuristics: lazy greedy, 1-opt swap, greedy cover.

All work on a non-negative ``k x m`` savings matrix ``S`` and the objective
``f(X) = sum_j max_{i in X} S_ij``, which is monotone submodular, so the lazy
greedy (stale gains in a heap are upper bounds) picks exactly what the plain
greedy would. Ties go to the lowest candidate index; every step is
deterministic.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy import sparse

from geo.siting.budget import time_left
from geo.siting.problem import Progress

__all__ = ["greedy_cover", "lazy_greedy", "marginal_order", "swap_search", "value_of"]


def _neighbours(conflicts: np.ndarray, k: int) -> sparse.csr_matrix:
    """Symmetric 0/1 conflict adjacency."""
    if conflicts.size == 0:
        return sparse.csr_matrix((k, k))
    a, b = conflicts[:, 0], conflicts[:, 1]
    ones = np.ones(2 * a.size, dtype=np.int8)  # a million pairs: 2 MB of data, not 16
    return sparse.csr_matrix((ones, (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(k, k))


def value_of(s: sparse.csr_matrix, sites: np.ndarray) -> float:
    """Objective ``sum_j max_{i in sites} S_ij``."""
    if len(sites) == 0:
        return 0.0
    return float(s[np.asarray(sites)].max(axis=0).sum())


class _State:
    """Best saving per cell so far, and each candidate's gain against it."""

    def __init__(self, s: sparse.csr_matrix) -> None:
        self.s = s
        self.best = np.zeros(s.shape[1])

    def gain(self, i: int) -> float:
        lo, hi = self.s.indptr[i], self.s.indptr[i + 1]
        d = self.s.data[lo:hi] - self.best[self.s.indices[lo:hi]]
        return float(d[d > 0].sum())

    def add(self, i: int) -> None:
        lo, hi = self.s.indptr[i], self.s.indptr[i + 1]
        cells = self.s.indices[lo:hi]
        self.best[cells] = np.maximum(self.best[cells], self.s.data[lo:hi])


def lazy_greedy(
    s: sparse.csr_matrix,
    p: int,
    required: np.ndarray,
    conflicts: np.ndarray,
    target: float | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy selection with lazy gain updates.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` savings.
    p : int
        Number of sites to pick (required ones included).
    required : numpy.ndarray of int64
        Picked first, in the given order.
    conflicts : numpy.ndarray
        ``(c, 2)`` pairs that must not both open.
    target : float, optional
        Stop as soon as the objective reaches this value (cover mode).
    progress : callable, optional

    Returns
    -------
    sites : numpy.ndarray of int64
        In the order picked; fewer than ``p`` when every remaining candidate
        conflicts with a chosen one.
    gains : numpy.ndarray
        Marginal gain of each pick.
    """
    k = s.shape[0]
    s = sparse.csr_matrix(s)
    state = _State(s)
    nb = _neighbours(conflicts, k)
    blocked = np.zeros(k, dtype=bool)
    sites, gains = [], []
    total = 0.0

    def take(i: int, g: float) -> None:
        nonlocal total
        state.add(i)
        sites.append(int(i))
        gains.append(g)
        total += g
        blocked[i] = True
        blocked[nb.indices[nb.indptr[i] : nb.indptr[i + 1]]] = True

    for i in required:
        take(int(i), state.gain(int(i)))
    row_sums = np.asarray(s.sum(axis=1)).ravel()
    heap = [(-row_sums[i], i) for i in range(k) if not blocked[i]]
    heapq.heapify(heap)
    while len(sites) < p and heap:
        if target is not None and total >= target:
            break
        neg, i = heapq.heappop(heap)
        if blocked[i]:
            continue
        g = state.gain(i)
        if heap and (-g, i) > heap[0]:
            heapq.heappush(heap, (-g, i))  # stale: its gain fell below the next one's bound
            continue
        take(i, g)
        if progress is not None:
            progress("greedy", len(sites) / max(p, 1))
    return np.asarray(sites, dtype=np.int64), np.asarray(gains)


def _top_two(s: sparse.csr_matrix, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: best saving among ``sites``, its provider (position in ``sites``, -1 none), second best."""
    m = s.shape[1]
    sub = s[sites].tocoo()
    best = np.zeros(m)
    second = np.zeros(m)
    prov = np.full(m, -1, dtype=np.int64)
    if sub.nnz:
        order = np.lexsort((sub.row, -sub.data, sub.col))  # by cell, best first, lowest position on ties
        c, v, r = sub.col[order], sub.data[order], sub.row[order]
        first = np.ones(c.size, dtype=bool)
        first[1:] = c[1:] != c[:-1]
        best[c[first]] = v[first]
        prov[c[first]] = r[first]
        idx = np.flatnonzero(first) + 1
        has2 = idx < c.size
        idx = idx[has2]
        same = c[idx] == c[idx - 1]
        second[c[idx[same]]] = v[idx[same]]
    return best, prov, second


def swap_search(
    s: sparse.csr_matrix,
    sites: np.ndarray,
    fixed: np.ndarray,
    conflicts: np.ndarray,
    max_rounds: int | None = None,
    progress: Progress | None = None,
    deadline: float | None = None,
) -> np.ndarray:
    """1-opt interchange: swap one site for one candidate while it improves.

    Every round evaluates all (open site, closed candidate) swaps at once,
    with the classic gain / loss / correction decomposition (Whitaker's fast
    interchange), and applies the best one; ties go to the earliest site
    position, then the lowest candidate index.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` savings.
    sites : numpy.ndarray of int64
        Starting sites.
    fixed : numpy.ndarray of bool
        Per candidate: may not be swapped out (required sites).
    conflicts : numpy.ndarray
        ``(c, 2)`` pairs that must not both open.
    max_rounds : int, optional
        Default ``10 * len(sites)``.
    progress : callable, optional
    deadline : float, optional
        ``time.perf_counter()`` value after which no further round starts.

    Returns
    -------
    numpy.ndarray of int64
        Improved sites (same length; swapped sites keep their slot).
    """
    s = sparse.csr_matrix(s)
    k, m = s.shape
    sites = np.asarray(sites, dtype=np.int64).copy()
    p = sites.size
    if p == 0 or p == k:
        return sites
    nb = _neighbours(conflicts, k)
    row = np.repeat(np.arange(k), np.diff(s.indptr))
    rounds = max_rounds if max_rounds is not None else 10 * p
    scale = max(float(s.data.max(initial=0.0)), 1e-12)
    for rnd in range(rounds):
        if rnd and time_left(deadline) <= 0:
            break
        best, prov, second = _top_two(s, sites)
        gain = np.bincount(row, weights=np.maximum(s.data - best[s.indices], 0.0), minlength=k)
        has = prov >= 0
        loss = np.bincount(prov[has], weights=(best - second)[has], minlength=p)
        # correction for cells whose best provider is the site leaving
        pj = prov[s.indices]
        e_ok = pj >= 0
        extra = np.minimum(s.data[e_ok], best[s.indices[e_ok]]) - second[s.indices[e_ok]]
        pos = extra > 0
        corr = sparse.csr_matrix(
            (extra[pos], (pj[e_ok][pos], row[e_ok][pos])), shape=(p, k)
        ).toarray()
        delta = gain[None, :] - loss[:, None] + corr
        is_open = np.zeros(k, dtype=bool)
        is_open[sites] = True
        delta[:, is_open] = -np.inf
        delta[fixed[sites], :] = -np.inf
        if conflicts.size:
            # a candidate conflicting with open sites is allowed only in place of
            # its single conflicting site
            hits = nb[:, sites].tocsr()  # k x p
            count = np.diff(hits.indptr)
            delta[:, count > 1] = -np.inf
            one = np.flatnonzero(count == 1)
            only = hits.indices[hits.indptr[one]]
            keep = delta[only, one].copy()
            delta[:, one] = -np.inf
            delta[only, one] = keep
        flat = int(np.argmax(delta))
        r, c = divmod(flat, k)
        if not delta[r, c] > 1e-9 * scale:
            break
        sites[r] = c
        if progress is not None:
            progress(f"swap round {rnd + 1}", (rnd + 1) / rounds)
    return sites


def greedy_cover(
    s: sparse.csr_matrix,
    target: float,
    required: np.ndarray,
    conflicts: np.ndarray,
    progress: Progress | None = None,
) -> np.ndarray:
    """Fewest sites reaching ``target``: greedy, then drop redundant sites.

    Returns the sites in the order picked; the caller checks whether the
    target was reached (spacing can make it unreachable).
    """
    k = s.shape[0]
    sites, _ = lazy_greedy(s, k, required, conflicts, target=target, progress=progress)
    fixed = set(int(i) for i in required)
    # latest picks are most likely redundant; try removing them first
    for i in sites[::-1]:
        if int(i) in fixed:
            continue
        rest = sites[sites != i]
        if value_of(s, rest) >= target:
            sites = rest
    return sites


def marginal_order(
    s: sparse.csr_matrix, sites: np.ndarray, first: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Order a chosen set greedily and give each site's marginal gain.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` savings.
    sites : numpy.ndarray
        The chosen set.
    first : numpy.ndarray
        Sites listed first, in this order (required ones).

    Returns
    -------
    order, gains : numpy.ndarray
        ``first``, then repeatedly the remaining site adding the most (ties:
        lowest index), with its gain at that point.
    """
    s = sparse.csr_matrix(s)
    state = _State(s)
    order, gains = [], []
    for i in first:
        order.append(int(i))
        gains.append(state.gain(int(i)))
        state.add(int(i))
    rest = sorted(set(int(i) for i in sites) - set(order))
    while rest:
        g = [state.gain(i) for i in rest]
        j = int(np.argmax(g))  # first maximum: lowest index among ties
        i = rest.pop(j)
        order.append(i)
        gains.append(g[j])
        state.add(i)
    return np.asarray(order, dtype=np.int64), np.asarray(gains)
