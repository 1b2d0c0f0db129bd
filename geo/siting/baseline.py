"""What the facilities that stay already give each cell, and what the candidates can reach.

Shared by every siting model: per-cell distances to the nearest kept facility
before and after closures, the candidate matrix cut to the reach, the weight
no one can reach, and the :class:`SitingResult` every model returns.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse

from geo.siting.errors import SitingError
from geo.siting.problem import Prepared, SitingInput
from geo.siting.result import SitingResult

__all__ = [
    "base_dist",
    "binary",
    "check_reach",
    "covered_weight",
    "in_reach",
    "kept_rows",
    "make_result",
    "min_dist",
    "nearest_new",
    "unreachable_weight_of",
]


def min_dist(existing: sparse.csr_matrix | None, rows: np.ndarray, extra: np.ndarray | None, m: int) -> np.ndarray:
    """Per-cell distance to the nearest of ``rows`` of ``existing`` and ``extra``."""
    d = np.full(m, np.inf) if extra is None else extra.copy()
    if existing is not None and rows.size:
        sub = existing[rows].tocoo()
        np.minimum.at(d, sub.col, sub.data)
    return d


def kept_rows(inp: SitingInput, removed: np.ndarray) -> np.ndarray:
    keep = np.ones(inp.n_existing, dtype=bool)
    keep[removed] = False
    return np.flatnonzero(keep)


def base_dist(inp: SitingInput, prep: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Nearest distance to facilities before any change and after the removals."""
    m = inp.n_cells
    before = min_dist(inp.existing, np.arange(inp.n_existing), inp.existing_dist, m)
    after = min_dist(inp.existing, kept_rows(inp, prep.removed), inp.existing_dist, m)
    return before, after


def nearest_new(inp: SitingInput, sites: np.ndarray) -> np.ndarray:
    return min_dist(inp.matrix, np.asarray(sites, dtype=np.int64), None, inp.n_cells)


def in_reach(inp: SitingInput) -> sparse.csr_matrix:
    """The candidate matrix with entries beyond the reach dropped."""
    mat = inp.matrix.copy()
    mat.data[mat.data > inp.reach_m] = 0.0
    mat.eliminate_zeros()
    return mat


def binary(mat: sparse.csr_matrix) -> sparse.csr_matrix:
    b = mat.copy()
    b.data[:] = 1.0
    return b


def check_reach(inp: SitingInput, prep: Prepared) -> sparse.csr_matrix:
    mat = in_reach(inp)
    if mat[np.flatnonzero(prep.allowed)].nnz == 0:
        raise SitingError(f"no allowed candidate is within {inp.reach_m:g} m of any demand cell")
    return mat


def covered_weight(dist: np.ndarray, w: np.ndarray, reach: float) -> float:
    return float(w[dist <= reach].sum())


def make_result(problem, inp, prep, before, after, t0, **kw) -> SitingResult:
    return SitingResult(
        problem=problem,
        covered_before=covered_weight(before, inp.weights, inp.reach_m),
        covered_after=covered_weight(after, inp.weights, inp.reach_m),
        removed_existing=prep.removed,
        seconds=time.perf_counter() - t0,
        **kw,
    )


def unreachable_weight_of(inp: SitingInput, prep: Prepared, mat: sparse.csr_matrix, base_after: np.ndarray) -> float:
    reach = np.zeros(inp.n_cells, dtype=bool)
    reach[mat[np.flatnonzero(prep.allowed)].indices] = True
    reach |= base_after <= inp.reach_m
    return float(inp.weights[~reach].sum())
