"""Inputs and options of a siting problem, validated once.

Every model in :mod:`geo.siting.models` starts from a :class:`SitingInput`
(candidate-to-demand distances, demand weights, existing facilities) and a
:class:`ModelOptions` (required / excluded sites, removed or relocated existing
facilities, spacing, solver settings). :func:`prepare` checks both against each
other and resolves the options into index arrays the solvers use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from geo.siting.budget import deadline_after, time_left
from geo.siting.errors import SitingError

__all__ = ["ModelOptions", "Prepared", "Progress", "SitingInput", "conflict_pairs", "pair_dtype", "prepare"]

Progress = Callable[[str, float], None]
"""``progress(message, fraction)`` with ``fraction`` in ``[0, 1]``."""

METHODS = ("auto", "milp", "greedy")


def _as_csr(m, name: str, n_cols: int) -> sparse.csr_matrix:
    if not sparse.issparse(m):
        raise SitingError(f"{name} must be a scipy sparse matrix, got {type(m).__name__}")
    m = sparse.csr_matrix(m, dtype=np.float64)
    if m.shape[1] != n_cols:
        raise SitingError(f"{name} has {m.shape[1]} columns but there are {n_cols} demand cells")
    m.sum_duplicates()
    m.eliminate_zeros()
    if m.nnz and (not np.all(np.isfinite(m.data)) or m.data.min() < 0):
        raise SitingError(f"{name} holds a negative or non-finite distance")
    return m


def _capacity(values, n: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    c = np.broadcast_to(np.asarray(values, dtype=np.float64), (n,)).copy()
    bad = np.flatnonzero(~np.isfinite(c) | (c < 0))
    if bad.size:
        raise SitingError(f"{name}: row {int(bad[0])} has capacity {c[bad[0]]!r}; capacities must be finite and >= 0")
    return c


@dataclass(frozen=True, eq=False)
class SitingInput:
    """The data of a siting problem, in metres and demand weight.

    Parameters
    ----------
    matrix : scipy.sparse matrix
        ``k x m`` walking distances from candidates to demand cells, only
        pairs within ``reach_m`` stored; a zero distance stored as a tiny
        epsilon (as :func:`geo.siting.candidates.candidate_matrix` does).
    weights : array_like
        Demand weight of each cell (population or elderly), ``>= 0``.
    reach_m : float
        The standard's walking reach the matrices were built with. A cell is
        *covered* when an open facility is within this distance.
    existing : scipy.sparse matrix, optional
        ``e x m`` distances from the existing facilities, same convention.
        These can be removed or relocated through :class:`ModelOptions`.
    existing_dist : array_like, optional
        Per-cell walking distance to facilities outside the model that always
        stay (``inf`` for none). A per-cell "already covered" flag converts as
        ``np.where(flag, 0.0, np.inf)``.
    candidate_xy : array_like, optional
        ``(k, 2)`` candidate coordinates in metres; needed for the spacing rule.
    candidate_capacity, existing_capacity : array_like or float, optional
        Capacities in demand-weight units, for the capacitated model only.
    """

    matrix: sparse.csr_matrix
    weights: np.ndarray
    reach_m: float
    existing: sparse.csr_matrix | None = None
    existing_dist: np.ndarray | None = None
    candidate_xy: np.ndarray | None = None
    candidate_capacity: np.ndarray | None = None
    existing_capacity: np.ndarray | None = None

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=np.float64).ravel()
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
        if bad.size:
            raise SitingError(f"weights: cell {int(bad[0])} has weight {w[bad[0]]!r}; weights must be finite and >= 0")
        m = w.size
        if not (np.isfinite(self.reach_m) and self.reach_m > 0):
            raise SitingError(f"reach_m must be a positive number of metres, got {self.reach_m!r}")
        mat = _as_csr(self.matrix, "matrix", m)
        if mat.shape[0] == 0:
            raise SitingError("matrix has no candidate rows")
        k = mat.shape[0]
        ex = None if self.existing is None else _as_csr(self.existing, "existing", m)
        ed = None
        if self.existing_dist is not None:
            ed = np.asarray(self.existing_dist, dtype=np.float64).ravel()
            if ed.size != m:
                raise SitingError(f"existing_dist has {ed.size} values but there are {m} demand cells")
            if np.any(np.isnan(ed)) or np.any(ed < 0):
                raise SitingError("existing_dist holds a negative or NaN distance (use inf for none)")
        xy = None
        if self.candidate_xy is not None:
            xy = np.asarray(self.candidate_xy, dtype=np.float64)
            if xy.shape != (k, 2):
                raise SitingError(f"candidate_xy must have shape ({k}, 2), got {xy.shape}")
        n_ex = 0 if ex is None else ex.shape[0]
        set_ = object.__setattr__
        set_(self, "weights", w)
        set_(self, "matrix", mat)
        set_(self, "existing", ex)
        set_(self, "existing_dist", ed)
        set_(self, "candidate_xy", xy)
        set_(self, "candidate_capacity", _capacity(self.candidate_capacity, k, "candidate_capacity"))
        if self.existing_capacity is not None and ex is None:
            raise SitingError("existing_capacity given but no existing facilities matrix")
        set_(self, "existing_capacity", _capacity(self.existing_capacity, n_ex, "existing_capacity"))

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites (rows of :attr:`matrix`)."""
        return int(self.matrix.shape[0])

    @property
    def n_cells(self) -> int:
        """Number of demand cells."""
        return int(self.weights.size)

    @property
    def n_existing(self) -> int:
        """Number of removable existing facilities."""
        return 0 if self.existing is None else int(self.existing.shape[0])


@dataclass(frozen=True)
class ModelOptions:
    """Options shared by every siting model: constraints by candidate and facility index, and solver settings.

    Parameters
    ----------
    required : sequence of int
        Candidates that must be opened (they count towards ``p``).
    excluded : sequence of int
        Candidates that must not be opened.
    remove_existing : sequence of int
        Existing facilities (rows of ``SitingInput.existing``) that close: they
        no longer serve anyone after the change.
    relocate : mapping of int to (int or None)
        Existing facilities that move: each is removed and one more new site is
        allowed (``p`` grows by one per relocation). A candidate index as the
        value makes that candidate the required new site; ``None`` lets the
        model choose where it goes.
    min_spacing_m : float
        Smallest straight-line distance between two new sites, in metres
        (needs ``SitingInput.candidate_xy``); 0 turns the rule off.
    method : {"auto", "milp", "greedy"}
        ``"greedy"``: lazy greedy + swap, with the LP-relaxation bound.
        ``"milp"``: HiGHS branch-and-cut warm-started with the heuristic.
        ``"auto"``: the heuristic, then the MILP only if the heuristic's gap to
        the LP bound exceeds ``mip_rel_gap``.
    time_limit_s : float
        Wall-clock limit of the whole solve (shrinking, heuristics, bounds and
        the MILP), counted from the model call unless ``deadline`` is given.
        A run the limit cuts short reports status ``"Time limit reached"``
        with the best sites and bound found so far.
    mip_rel_gap : float
        Relative gap at which HiGHS (and ``"auto"``) stop.
    threads : int
        HiGHS threads; 0 lets HiGHS decide.
    shrink : bool
        Merge demand cells with the same candidates and drop dominated
        candidates before solving (never changes the optimum).
    swap : bool
        Run the 1-opt interchange after the greedy.
    lp_bound : bool
        Solve the LP relaxation for the heuristic's bound (otherwise the bound
        is the trivial one and the gap is not meaningful).
    progress : callable, optional
        ``progress(message, fraction)`` during long solves.
    deadline : float, optional
        ``time.perf_counter()`` value by which the solve must return (a caller
        bounding a longer run, e.g. :func:`scenarios.siting.site`, passes its
        own); overrides ``time_limit_s`` when earlier.
    cancel : callable, optional
        ``cancel() -> bool``, asked between stages and inside HiGHS; True stops
        the run with :class:`geo.siting.budget.SitingCancelled`.
    """

    required: Sequence[int] = ()
    excluded: Sequence[int] = ()
    remove_existing: Sequence[int] = ()
    relocate: Mapping[int, int | None] = field(default_factory=dict)
    min_spacing_m: float = 0.0
    method: str = "auto"
    time_limit_s: float = 60.0
    mip_rel_gap: float = 1e-4
    threads: int = 0
    shrink: bool = True
    swap: bool = True
    lp_bound: bool = True
    progress: Progress | None = None
    deadline: float | None = None
    cancel: Callable[[], bool] | None = None

    def started(self) -> ModelOptions:
        """These options with ``deadline`` set: ``time_limit_s`` from now, or the given one if earlier."""
        own = deadline_after(self.time_limit_s)
        return replace(self, deadline=own if self.deadline is None else min(self.deadline, own))

    def time_left(self) -> float:
        """Seconds left before ``deadline`` (``time_limit_s`` when no deadline is set)."""
        return float(self.time_limit_s) if self.deadline is None else time_left(self.deadline)


@dataclass(frozen=True, eq=False)
class Prepared:
    """Options resolved into index arrays.

    Attributes
    ----------
    required : numpy.ndarray of int64
        Candidates that must open, in the order given (relocation targets last).
    allowed : numpy.ndarray of bool
        Candidates that may open (not excluded).
    extra_sites : int
        Sites added to the budget by relocations.
    removed : numpy.ndarray of int64
        Existing facilities that close (removed and relocated ones).
    conflicts : numpy.ndarray of int32 (int64 past 2**31 candidates)
        ``(c, 2)`` candidate pairs closer than the spacing (``a < b``).
    """

    required: np.ndarray
    allowed: np.ndarray
    extra_sites: int
    removed: np.ndarray
    conflicts: np.ndarray

    def report(self, message: str, fraction: float, options: ModelOptions) -> None:
        """Forward to the progress callback if there is one."""
        if options.progress is not None:
            options.progress(message, float(min(max(fraction, 0.0), 1.0)))


def _indices(values: Sequence[int], n: int, name: str, what: str) -> np.ndarray:
    idx = np.asarray(list(values), dtype=np.int64)
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise SitingError(f"{name}: {what} index {int(bad[0])} is out of range (there are {n})")
    return idx


def pair_dtype(n: int) -> type[np.signedinteger]:
    """Integer type of index pairs among ``n`` candidates: int32 (half the memory) unless ``n`` needs int64."""
    return np.int32 if n < 2**31 else np.int64


# Pairs per chunk when confirming distances: bounds the float temporaries
# (four per pair) to a few MB however many pairs there are.
_PAIR_CHUNK = 1 << 18


def conflict_pairs(xy: np.ndarray, spacing_m: float) -> np.ndarray:
    """Candidate pairs closer than ``spacing_m`` in a straight line.

    Parameters
    ----------
    xy : numpy.ndarray
        ``(k, 2)`` candidate coordinates in metres.
    spacing_m : float
        Smallest allowed distance; 0 or less: no pairs.

    Returns
    -------
    numpy.ndarray
        ``(c, 2)`` pairs ``(a, b)`` with ``a < b``, sorted, of
        :func:`pair_dtype` ``(k)`` (int32 below 2**31 candidates).
    """
    k = xy.shape[0]
    dtype = pair_dtype(k)
    if spacing_m <= 0 or k < 2:
        return np.empty((0, 2), dtype=dtype)
    # query_pairs includes pairs at exactly r (and gives a < b); the rule is
    # "closer than", so confirm with the exact distance. Pairs are sorted as
    # one int64 key each, and kept as int32: the demo's 1.5 M pairs took 150 MB
    # as row pairs, then 24 MB as int64
    pairs = cKDTree(xy).query_pairs(r=spacing_m, output_type="ndarray")
    if pairs.size == 0:
        return np.empty((0, 2), dtype=dtype)
    close = np.empty(pairs.shape[0], dtype=bool)
    for lo in range(0, pairs.shape[0], _PAIR_CHUNK):
        a, b = pairs[lo : lo + _PAIR_CHUNK, 0], pairs[lo : lo + _PAIR_CHUNK, 1]
        close[lo : lo + _PAIR_CHUNK] = np.hypot(xy[a, 0] - xy[b, 0], xy[a, 1] - xy[b, 1]) < spacing_m
    n = np.int64(k)
    key = pairs[:, 0].astype(np.int64)
    key *= n
    key += pairs[:, 1]
    del pairs
    key = key[close]
    key.sort()
    out = np.empty((key.size, 2), dtype=dtype)
    np.floor_divide(key, n, out=out[:, 0], casting="unsafe")  # < k, so it fits
    np.remainder(key, n, out=out[:, 1], casting="unsafe")
    return out


def prepare(inp: SitingInput, options: ModelOptions, p: int | None) -> Prepared:
    """Check options against the input and resolve them.

    Parameters
    ----------
    inp : SitingInput
    options : ModelOptions
    p : int or None
        Number of new sites requested (``None`` for covering models that
        choose the count).

    Returns
    -------
    Prepared

    Raises
    ------
    SitingError
        For out-of-range indices, a site both required and excluded, required
        sites closer than the spacing, ``p`` below the required count or above
        the number of allowed candidates, or spacing without coordinates.
    """
    k, e = inp.n_candidates, inp.n_existing
    if options.method not in METHODS:
        raise SitingError(f"method must be one of {METHODS}, got {options.method!r}")
    if not (options.time_limit_s > 0):
        raise SitingError(f"time_limit_s must be positive, got {options.time_limit_s!r}")
    if not (0 <= options.mip_rel_gap < 1):
        raise SitingError(f"mip_rel_gap must be in [0, 1), got {options.mip_rel_gap!r}")
    required = _indices(options.required, k, "required", "candidate")
    excluded = _indices(options.excluded, k, "excluded", "candidate")
    removed = _indices(options.remove_existing, e, "remove_existing", "existing facility")
    reloc_from = _indices(list(options.relocate.keys()), e, "relocate", "existing facility")
    targets = [c for c in options.relocate.values() if c is not None]
    reloc_to = _indices(targets, k, "relocate", "candidate")
    both = np.intersect1d(removed, reloc_from)
    if both.size:
        raise SitingError(f"existing facility {int(both[0])} is both removed and relocated")
    required = np.concatenate([required, reloc_to])
    _, first = np.unique(required, return_index=True)
    required = required[np.sort(first)]  # drop repeats, keep the given order
    clash = np.intersect1d(required, excluded)
    if clash.size:
        raise SitingError(f"candidate {int(clash[0])} is both required and excluded")
    allowed = np.ones(k, dtype=bool)
    allowed[excluded] = False

    conflicts = np.empty((0, 2), dtype=pair_dtype(k))
    if options.min_spacing_m < 0 or not np.isfinite(options.min_spacing_m):
        raise SitingError(f"min_spacing_m must be >= 0, got {options.min_spacing_m!r}")
    if options.min_spacing_m > 0:
        if inp.candidate_xy is None:
            raise SitingError("min_spacing_m needs candidate_xy (candidate coordinates)")
        conflicts = conflict_pairs(inp.candidate_xy, options.min_spacing_m)
        is_req = np.zeros(k, dtype=bool)
        is_req[required] = True
        both_req = conflicts[is_req[conflicts[:, 0]] & is_req[conflicts[:, 1]]]
        if both_req.size:
            a, b = both_req[0]
            raise SitingError(
                f"required candidates {int(a)} and {int(b)} are closer than min_spacing_m={options.min_spacing_m:g}"
            )

    extra = len(options.relocate)
    if p is not None:
        if int(p) != p or p < 0:
            raise SitingError(f"p must be a non-negative integer, got {p!r}")
        total = int(p) + extra
        if total > int(allowed.sum()):
            raise SitingError(
                f"p={p} (+{extra} relocated) is larger than the {int(allowed.sum())} candidates that may open"
            )
        if total < required.size:
            raise SitingError(f"p={p} (+{extra} relocated) is smaller than the {required.size} required sites")
    return Prepared(
        required=required,
        allowed=allowed,
        extra_sites=extra,
        removed=np.union1d(removed, reloc_from).astype(np.int64),
        conflicts=conflicts,
    )
