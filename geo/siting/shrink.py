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
  can go, unless ``a`` is required or the spacing rule is on (``b`` may then
  conflict where ``a`` does not). Of identical candidates the lowest index
  stays. Candidates saving nothing are dropped too (the caller fills an
  incomplete site list with them afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

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


def dominated(s: sparse.csr_matrix, keep: np.ndarray) -> np.ndarray:
    """Rows of ``s`` dominated by another row.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` non-negative savings.
    keep : numpy.ndarray of bool
        Rows that must not be reported (required sites).

    Returns
    -------
    numpy.ndarray of bool
        True for rows that can be dropped (including empty rows).
    """
    s = sparse.csr_matrix(s)
    s.sort_indices()
    size = np.diff(s.indptr)
    drop = size == 0
    b = s.copy()
    b.data = np.ones_like(b.data)
    overlap = (b @ b.T).tocoo()
    a_, b_ = overlap.row.astype(np.int64), overlap.col.astype(np.int64)
    sub = (a_ != b_) & (overlap.data == size[a_]) & (size[a_] > 0)  # cells of a within cells of b
    a_, b_ = a_[sub], b_[sub]
    if a_.size:
        # entry-wise a <= b on a's cells, and identical rows only lose to a lower index
        ent = np.repeat(np.arange(a_.size), size[a_])
        starts = np.repeat(s.indptr[a_], size[a_])
        offs = np.arange(ent.size) - np.repeat(np.cumsum(size[a_]) - size[a_], size[a_])
        pos = starts + offs
        cells = s.indices[pos]
        va = s.data[pos]
        vb = np.asarray(s[b_[ent], cells]).ravel()
        le = np.ones(a_.size, dtype=bool)
        eq = np.ones(a_.size, dtype=bool)
        np.logical_and.at(le, ent, va <= vb)
        np.logical_and.at(eq, ent, va == vb)
        equal_rows = eq & (size[b_] == size[a_])
        ok = le & (~equal_rows | (b_ < a_))
        drop[a_[ok]] = True
    drop &= ~keep
    return drop


def reduce(
    s: sparse.csr_matrix,
    allowed: np.ndarray,
    required: np.ndarray,
    conflicts: np.ndarray,
    shrink: bool = True,
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

    Returns
    -------
    Reduced
    """
    k, m = s.shape
    is_req = np.zeros(k, dtype=bool)
    is_req[required] = True
    rows = allowed.copy()
    if shrink:
        sa = s[np.flatnonzero(allowed)]
        if conflicts.size == 0:
            drop = dominated(sa, is_req[allowed])
        else:  # spacing on: only empty rows are safe to drop
            drop = (np.diff(sa.indptr) == 0) & ~is_req[allowed]
        rows[np.flatnonzero(allowed)[drop]] = False
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
    cf = pos[conflicts] if conflicts.size else np.empty((0, 2), dtype=np.int64)
    cf = cf[(cf >= 0).all(axis=1)] if cf.size else cf
    return Reduced(s=sparse.csr_matrix(sr), cand=cand, cell_group=cell_group, required=pos[required], conflicts=cf)
