"""Any savings problem as a coverage problem over "levels" of each cell.

For one cell with distinct savings ``v_1 > v_2 > ... > v_L`` (and
``v_{L+1} = 0``), ``max_{i open} S_ij`` equals ``sum_l (v_l - v_{l+1})``
over the levels ``l`` reached by an open candidate, candidate ``i`` reaching
level ``l`` when ``S_ij >= v_l``. So ``sum_j max_{i open} S_ij`` is the
covered weight of a coverage problem whose "cells" are the levels: the
radius formulation of the p-median (Cornuejols, Nemhauser & Wolsey 1980;
Elloumi 2010; Garcia, Labbe & Marin 2011). Its LP relaxation is as strong as
the classic assignment formulation's, it needs no assignment variables, and
the coverage machinery (cell merging, the Lagrangian bound, compact coverage
rows in the MILP) applies unchanged.

The price is size: a cell with ``L`` distinct savings gives ``L`` levels with
``L (L + 1) / 2`` entries in all, so callers check :func:`level_entries`
first.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["expand_levels", "level_entries"]


def _sorted_columns(s: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries grouped by cell, largest saving first: ``(cell, candidate, value)``."""
    coo = s.tocoo()
    order = np.lexsort((coo.row, -coo.data, coo.col))
    return coo.col[order].astype(np.int64), coo.row[order].astype(np.int64), coo.data[order]


def level_entries(s: sparse.csr_matrix) -> int:
    """Entries :func:`expand_levels` would store (``sum_j L_j (L_j + 1) / 2`` bounded by ties)."""
    n = np.diff(sparse.csc_matrix(s).indptr).astype(np.int64)
    return int((n * (n + 1) // 2).sum())


def expand_levels(s: sparse.csr_matrix) -> sparse.csr_matrix:
    """The coverage matrix over cell levels (see the module notes).

    Parameters
    ----------
    s : scipy.sparse.csr_matrix
        ``k x m`` non-negative savings (explicit zeros are ignored).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``k x n_levels``; column ``c`` for level ``l`` of cell ``j`` holds the
        level's weight ``v_l - v_{l+1}`` for every candidate with
        ``S_ij >= v_l``. For any site set ``X``, ``sum_c max_{i in X} E_ic``
        equals ``sum_j max_{i in X} S_ij``.
    """
    s = sparse.csr_matrix(s)
    s.eliminate_zeros()
    k = s.shape[0]
    cell, cand, val = _sorted_columns(s)
    if cell.size == 0:
        return sparse.csr_matrix((k, 0))
    # a new level starts at each distinct value within a cell
    new_cell = np.ones(cell.size, dtype=bool)
    new_cell[1:] = cell[1:] != cell[:-1]
    new_level = new_cell.copy()
    new_level[1:] |= val[1:] != val[:-1]
    level = np.cumsum(new_level) - 1  # global level id of each entry (its own value's level)
    n_levels = int(level[-1]) + 1
    lv_val = val[new_level]
    lv_cell = cell[new_level]
    nxt = np.zeros(n_levels)
    same = lv_cell[1:] == lv_cell[:-1]
    nxt[:-1] = np.where(same, lv_val[1:], 0.0)
    weight = lv_val - nxt
    # entry (candidate, its value's level) reaches that level and every deeper
    # (smaller-value) level of the same cell
    last_level = np.zeros(n_levels, dtype=np.int64)
    cell_end = np.append(np.flatnonzero(~same), n_levels - 1)  # last level of each cell
    cell_id = np.cumsum(np.concatenate([[True], ~same])) - 1
    last_level[:] = cell_end[cell_id]
    span = last_level[level] - level + 1
    rows = np.repeat(cand, span)
    starts = np.repeat(level, span)
    offs = np.arange(rows.size) - np.repeat(np.cumsum(span) - span, span)
    cols = starts + offs
    e = sparse.csr_matrix((weight[cols], (rows, cols)), shape=(k, n_levels))
    e.sum_duplicates()
    e.eliminate_zeros()
    return e
