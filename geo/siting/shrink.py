"""Shrinking a savings matrix before solving, without changing the optimum.

Two reductions (both exact):

* **Merge demand cells** whose columns are proportional: the objective
  ``sum_j max_{i open} S_ij`` is linear in each column's scale, so cells with
  the same normalised column (same candidates, same relative savings) act as
  one cell with the summed scale. For coverage models this merges cells
  covered by exactly the same candidate set and sums their weights.
* **Drop dominated candidates**: ``a`` is dominated by ``b`` when ``b`` saves at
  least as much as ``a`` for every cell (``S_a <= S_b`` entry-wise, so ``a``'s
  cells are a subset of ``b``'s). Replacing ``a`` by ``b`` never hurts, so ``a``
  can go, unless ``a`` is required or, with the spacing rule on, ``b``
  conflicts with a site that ``a`` does not conflict with. Of identical
  candidates the lowest index stays. Candidates saving nothing are dropped too (the caller fills an
  incomplete site list with them afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from geo.grouping import concat_ranges

__all__ = ["Reduced", "dominated", "merge_cells", "reduce"]


@dataclass(frozen=True, eq=False)
class Reduced:
    """A shrunk savings problem and the maps back to the original indices.

    Attributes
    ----------
    s : scipy.sparse.csr_matrix
        ``k' x m'`` savings.
    cand : numpy.ndarray of int64
        Original candidate index of each row (ascending).
    cell_group : numpy.ndarray of int64
        For each original cell, its merged column (``-1``: no saving anywhere).
    required, conflicts : numpy.ndarray
        Required sites and conflict pairs, in row positions.
    """

    s: sparse.csr_matrix
    cand: np.ndarray
    cell_group: np.ndarray
    required: np.ndarray
    conflicts: np.ndarray


def merge_cells(s: sparse.csr_matrix) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Merge cells with proportional columns.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` non-negative savings with no empty column.

    Returns
    -------
    merged : scipy.sparse.csr_matrix
        ``k x g`` savings, one column per group.
    group : numpy.ndarray of int64
        Group of each original column.
    """
    k, m = s.shape
    csc = s.tocsc()
    csc.sort_indices()
    col = np.repeat(np.arange(m), np.diff(csc.indptr))
    scale = np.zeros(m)
    np.maximum.at(scale, col, csc.data)
    norm = sparse.csc_matrix((csc.data / scale[col], csc.indices, csc.indptr), shape=(k, m))
    # Two fixed random projections fingerprint each normalised column; equal
    # columns give bit-identical sums (same entries in the same order).
    rng = np.random.default_rng(12345)
    proj = rng.random((2, k))
    fp = np.column_stack([(norm.T @ proj.T), np.diff(csc.indptr)])
    _, first, group = np.unique(fp, axis=0, return_index=True, return_inverse=True)
    group = group.ravel()
    # verify: a fingerprint collision between different columns (vanishingly
    # rare) splits those columns back into groups of their own
    rep = first[group]
    diff = abs(norm - norm[:, rep]).max(axis=0).toarray().ravel()
    wrong = np.flatnonzero(diff > 0)
    if wrong.size:
        group = group.copy()
        group[wrong] = group.max() + 1 + np.arange(wrong.size)
        _, first, group = np.unique(group, return_index=True, return_inverse=True)
        rep = first[group]
    g = first.size
    weight = np.bincount(group, weights=scale, minlength=g)
    merged = norm[:, first] @ sparse.diags(weight)
    return sparse.csr_matrix(merged), group.astype(np.int64)


def _keys(m: sparse.csr_matrix) -> np.ndarray:
    """``row * n_cols + col`` of every entry of a CSR with sorted indices: ascending."""
    # built in place: one int64 per entry (3 M conflict entries on the demo), not three
    keys = np.repeat(np.arange(m.shape[0], dtype=np.int64) * m.shape[1], np.diff(m.indptr))
    keys += m.indices
    return keys


def _find(keys: np.ndarray, n_cols: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Positions of the entries ``(rows, cols)`` among ``keys`` (see :func:`_keys`); ``-1`` where there is none."""
    if keys.size == 0:
        return np.full(rows.size, -1, dtype=np.int64)
    want = rows.astype(np.int64) * n_cols + cols
    pos = np.minimum(np.searchsorted(keys, want), keys.size - 1)
    return np.where(keys[pos] == want, pos, -1)


def _pivots(s: sparse.csr_matrix) -> np.ndarray:
    """Per non-empty row: its cell reached by the fewest rows (ties: lowest cell); -1 for empty rows."""
    k, m = s.shape
    count = np.bincount(s.indices, minlength=m)
    rows = np.repeat(np.arange(k), np.diff(s.indptr))
    order = np.lexsort((s.indices, count[s.indices], rows))
    first = np.ones(order.size, dtype=bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    piv = np.full(k, -1, dtype=np.int64)
    piv[rows[order][first]] = s.indices[order][first]
    return piv


def _conflicts_fit(
    nb: sparse.csr_matrix, nb_keys: np.ndarray, pa: np.ndarray, pb: np.ndarray, chunk_entries: int
) -> np.ndarray:
    """The ``pa`` whose dominator ``pb`` conflicts with nothing else that ``pa`` does not (``N(b) - a`` in ``N(a)``)."""
    k = nb.shape[0]
    deg = np.diff(nb.indptr)
    fits = deg[pb] <= deg[pa] + 1  # N(b) minus a within N(a) needs no more neighbours
    pa, pb = pa[fits], pb[fits]
    cum = np.cumsum(deg[pb])
    edges = np.unique(np.concatenate([[0], np.searchsorted(cum, np.arange(chunk_entries, cum[-1] if cum.size else 0,
                                                                           chunk_entries), side="right"), [pa.size]]))
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        a, b = pa[lo:hi], pb[lo:hi]
        ent = np.repeat(np.arange(a.size), deg[b])
        other = nb.indices[concat_ranges(nb.indptr[b], deg[b])]
        inside = (other == a[ent]) | (_find(nb_keys, k, a[ent], other) >= 0)
        out.append(a[np.bincount(ent, weights=~inside, minlength=a.size) == 0])
    return np.concatenate(out) if out else pa[:0]


def dominated(
    s: sparse.csr_matrix,
    keep: np.ndarray,
    conflicts: np.ndarray | None = None,
    chunk_entries: int = 1_000_000,
) -> np.ndarray:
    """Rows of ``s`` dominated by another row.

    ``a`` is dominated by ``b`` when ``S_a <= S_b`` entry-wise (identical rows:
    only the higher index goes). With spacing conflicts ``b`` must also
    conflict with nothing that ``a`` does not (``N(b) \\ {a}`` within
    ``N(a)``): then any feasible site set holding ``a`` stays feasible, and
    no worse, with ``b`` in its place, and a chain of such swaps ends (each
    raises the row sum, or lowers the index among equal rows).

    Only rows reaching ``a``'s least-reached cell can dominate ``a``, so each
    row is compared with those alone, in chunks of about ``chunk_entries``
    looked-up entries: memory stays proportional to ``s.nnz``, never to
    ``k x k`` or ``k x m``.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` non-negative savings.
    keep : numpy.ndarray of bool
        Rows that must not be reported (required sites).
    conflicts : numpy.ndarray, optional
        ``(c, 2)`` row pairs that must not both open.
    chunk_entries : int
        Work size of one vectorised chunk.

    Returns
    -------
    numpy.ndarray of bool
        True for rows that can be dropped (including empty rows).
    """
    s = sparse.csr_matrix(s)
    s.sum_duplicates()
    s.sort_indices()
    k, m = s.shape
    size = np.diff(s.indptr).astype(np.int64)
    drop = size == 0
    rowsum = np.bincount(np.repeat(np.arange(k), size), weights=s.data, minlength=k)
    csc = s.tocsc()
    csc.sort_indices()
    colcount = np.diff(csc.indptr).astype(np.int64)
    piv = _pivots(s)
    nb = None
    if conflicts is not None and conflicts.size:
        a, b = conflicts[:, 0], conflicts[:, 1]
        nb = sparse.csr_matrix(
            (np.ones(2 * a.size, dtype=np.int8), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(k, k)
        )
        nb.sum_duplicates()
        nb.sort_indices()
        nb_keys = _keys(nb)
    s_keys = _keys(s)
    rows = np.flatnonzero((size > 0) & ~keep)
    # one chunk: the rows whose comparisons (pairs x entries) fit chunk_entries
    cum = np.cumsum(colcount[piv[rows]] * size[rows])
    cuts = np.searchsorted(cum, np.arange(chunk_entries, cum[-1] if cum.size else 0, chunk_entries), side="right")
    edges = np.unique(np.concatenate([[0], cuts, [rows.size]]))
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        ra = rows[lo:hi]
        # pairs (a, b): b reaches a's pivot cell, and could be at least as good
        n_b = colcount[piv[ra]]
        pa = np.repeat(ra, n_b)
        pb = csc.indices[concat_ranges(csc.indptr[piv[ra]], n_b)].astype(np.int64)
        ok = (pb != pa) & (size[pb] >= size[pa]) & (rowsum[pb] >= rowsum[pa])
        pa, pb = pa[ok], pb[ok]
        if pa.size == 0:
            continue
        # every entry of a: b has the cell, with a saving at least as large
        ent = np.repeat(np.arange(pa.size), size[pa])
        pos_a = concat_ranges(s.indptr[pa], size[pa])
        pos_b = _find(s_keys, m, pb[ent], s.indices[pos_a])
        good = pos_b >= 0
        good[good] = s.data[pos_b[good]] >= s.data[pos_a[good]]
        same = pos_b >= 0
        same[same] = s.data[pos_b[same]] == s.data[pos_a[same]]
        le = np.bincount(ent, weights=~good, minlength=pa.size) == 0
        eq = (np.bincount(ent, weights=~same, minlength=pa.size) == 0) & (size[pb] == size[pa])
        dom = le & (~eq | (pb < pa))
        pa, pb = pa[dom], pb[dom]
        if nb is not None and pa.size:
            pa = _conflicts_fit(nb, nb_keys, pa, pb, chunk_entries)
        drop[pa] = True
    drop &= ~keep
    return drop


def _pairs_among(pairs: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The ``(c, 2)`` pairs with both ends in ``rows`` (ascending), renumbered to positions in ``rows``.

    Keeps the pairs' integer type (int32 for the spacing conflicts: the demo's
    1.5 M pairs are 12 MB, where an int64 copy was 24 MB).
    """
    if pairs.size == 0:
        return np.empty((0, 2), dtype=pairs.dtype if pairs.dtype.kind == "i" else np.int64)
    pos = np.full(k, -1, dtype=pairs.dtype)
    pos[rows] = np.arange(rows.size)
    out = pos[pairs]
    return out[(out >= 0).all(axis=1)]


def reduce(
    s: sparse.csr_matrix,
    allowed: np.ndarray,
    required: np.ndarray,
    conflicts: np.ndarray,
    shrink: bool = True,
    keep: np.ndarray | None = None,
) -> Reduced:
    """Restrict a savings matrix to allowed candidates and shrink it.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` savings in original indices.
    allowed : numpy.ndarray of bool
        Candidates that may open.
    required : numpy.ndarray of int64
        Required candidates (original indices).
    conflicts : numpy.ndarray
        ``(c, 2)`` conflicting candidate pairs (original indices).
    shrink : bool
        Merge cells and drop dominated candidates; otherwise only excluded
        candidates and cells with no saving are left out.
    keep : numpy.ndarray of bool, optional
        Candidates never dropped as dominated (besides the required ones),
        e.g. the sites of a warm start.

    Returns
    -------
    Reduced
    """
    k, m = s.shape
    is_req = np.zeros(k, dtype=bool)
    is_req[required] = True
    rows = allowed.copy()
    if shrink:
        idx = np.flatnonzero(allowed)
        cf = _pairs_among(conflicts, idx, k)
        protect = is_req if keep is None else is_req | keep
        drop = dominated(s[idx], protect[allowed], cf)
        rows[idx[drop]] = False
    cand = np.flatnonzero(rows)
    sr = sparse.csr_matrix(s[cand])
    live = np.flatnonzero(np.diff(sr.tocsc().indptr) > 0)
    cell_group = np.full(m, -1, dtype=np.int64)
    sr = sr[:, live]
    if shrink and live.size:
        sr, group = merge_cells(sr)
        cell_group[live] = group
    else:
        cell_group[live] = np.arange(live.size)
    pos = np.full(k, -1, dtype=np.int64)
    pos[cand] = np.arange(cand.size)
    cf = _pairs_among(conflicts, cand, k)
    return Reduced(s=sparse.csr_matrix(sr), cand=cand, cell_group=cell_group, required=pos[required], conflicts=cf)
