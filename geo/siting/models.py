"""The siting models planners ask for, on top of the savings core.

MCLP, p-median and maximal attendance are one problem in disguise: pick ``p``
sites maximising ``sum_j max_{i open} S_ij``, where ``S_ij >= 0`` is what
opening candidate ``i`` adds for cell ``j`` on top of what the facilities that
stay already give it:

* MCLP: ``S_ij = w_j`` if ``d_ij <= reach`` and no kept facility reaches ``j``.
* p-median: ``S_ij = w_j * max(0, c_j - d_ij)`` with ``c_j`` the distance to the
  nearest kept facility, capped at the penalty distance (default: the reach;
  the matrix knows nothing beyond it, so an unreached cell counts as if it
  were exactly at the reach: the smallest distance consistent with being out
  of reach, which makes the objective a lower bound on the true total).
* Maximal attendance: each cell attends its nearest open facility (existing or
  new) with probability ``f(d)``, ``f`` decaying with walking distance
  (``"exponential"``: ``0.5 ** (d / half_distance_m)``; ``"linear"``:
  ``1 - d / reach``), and ``f = 0`` beyond the reach. Expected use is
  ``sum_j w_j f(d_j)``; because ``f`` falls with distance, the nearest open
  facility is also the decay-weighted best, so
  ``S_ij = max(0, w_j f(d_ij) - w_j f(c_j))``.

Each is solved by :func:`geo.siting.savings.solve_savings`. The other models
live in their own modules: :mod:`geo.siting.cover` (LSCP) and
:mod:`geo.siting.capacitated`.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse

from geo.siting.baseline import base_dist, binary, check_reach, make_result, nearest_new, unreachable_weight_of
from geo.siting.errors import SitingError
from geo.siting.problem import ModelOptions, SitingInput, prepare
from geo.siting.result import SitingResult, relative_gap
from geo.siting.savings import solve_savings

__all__ = ["DECAYS", "decay_value", "max_attendance", "mclp", "p_median"]

DECAYS = ("exponential", "linear")

def mclp(inp: SitingInput, p: int, options: ModelOptions = ModelOptions()) -> SitingResult:
    """Maximal covering: ``p`` new sites covering the most not-yet-covered weight.

    Parameters
    ----------
    inp : SitingInput
    p : int
        New sites to open (required ones included; relocations add one each).
    options : ModelOptions

    Returns
    -------
    SitingResult
        ``objective`` is the weight newly covered.

    Raises
    ------
    SitingError
        See :func:`geo.siting.problem.prepare`; also when no candidate reaches
        any cell.
    """
    t0 = time.perf_counter()
    options = options.started()  # the time limit counts from here (or the caller's deadline)
    prep = prepare(inp, options, p)
    mat = check_reach(inp, prep)
    before, base = base_dist(inp, prep)
    open_cell = (base > inp.reach_m).astype(np.float64)
    s = sparse.csr_matrix(binary(mat).multiply((inp.weights * open_cell)[None, :]))
    s.eliminate_zeros()
    sites, gains, obj, bound, sg, status, solver, notes = solve_savings(s, p + prep.extra_sites, prep, options, "mclp")
    after = np.minimum(base, nearest_new(inp, sites))
    return make_result(
        "mclp", inp, prep, before, after, t0, sites=sites, gains=gains, objective=obj, bound=bound,
        gap=relative_gap(obj, bound), solver_bound=sg[0], solver_gap=sg[1], status=status, solver=solver, objective_before=0.0,
        unreachable_weight=unreachable_weight_of(inp, prep, mat, base), notes=notes,
    )


def p_median(
    inp: SitingInput,
    p: int,
    options: ModelOptions = ModelOptions(),
    penalty_m: float | None = None,
) -> SitingResult:
    """p-median: ``p`` new sites minimising total weight x walking distance.

    Every cell walks to its nearest open facility (kept existing or new).
    Walking time is distance over a constant speed, so minimising weighted
    distance minimises weighted time.

    Parameters
    ----------
    inp : SitingInput
    p : int
    options : ModelOptions
    penalty_m : float, optional
        Distance charged to a cell no open facility reaches within the matrix;
        must be ``>= reach_m``. Default ``reach_m`` (see the module notes).

    Returns
    -------
    SitingResult
        ``objective`` and ``objective_before`` in weight x metres.
    """
    t0 = time.perf_counter()
    options = options.started()  # the time limit counts from here (or the caller's deadline)
    penalty = inp.reach_m if penalty_m is None else float(penalty_m)
    if not (np.isfinite(penalty) and penalty >= inp.reach_m):
        raise SitingError(f"penalty_m must be a finite distance >= reach_m ({inp.reach_m:g}), got {penalty_m!r}")
    prep = prepare(inp, options, p)
    mat = check_reach(inp, prep)
    before, base = base_dist(inp, prep)
    cap = np.minimum(base, penalty)
    coo = mat.tocoo()
    sav = inp.weights[coo.col] * np.maximum(cap[coo.col] - coo.data, 0.0)
    s = sparse.csr_matrix((sav, (coo.row, coo.col)), shape=mat.shape)
    s.eliminate_zeros()
    total = float((inp.weights * cap).sum())
    sites, gains, saved, saved_bound, sg, status, solver, notes = solve_savings(s, p + prep.extra_sites, prep, options, "p_median")
    obj = total - saved
    bound = total - saved_bound if np.isfinite(saved_bound) else 0.0
    after = np.minimum(base, nearest_new(inp, sites))
    return make_result(
        "p_median", inp, prep, before, after, t0, sites=sites, gains=gains, objective=obj, bound=bound,
        gap=relative_gap(obj, bound), solver_bound=sg[0], solver_gap=sg[1], status=status, solver=solver,
        objective_before=float((inp.weights * np.minimum(before, penalty)).sum()),
        unreachable_weight=unreachable_weight_of(inp, prep, mat, base), notes=notes + (f"penalty distance {penalty:g} m",),
    )


def decay_value(d: np.ndarray, reach_m: float, decay: str, half_distance_m: float | None) -> np.ndarray:
    """Share of demand attending a facility at walking distance ``d`` (0 beyond reach).

    Parameters
    ----------
    d : numpy.ndarray
        Distances in metres (``inf`` allowed).
    reach_m : float
    decay : {"exponential", "linear"}
    half_distance_m : float, optional
        Exponential only: distance at which attendance halves (default
        ``reach_m / 2``).
    """
    d = np.asarray(d, dtype=np.float64)
    if decay == "linear":
        f = 1.0 - d / reach_m
    elif decay == "exponential":
        half = reach_m / 2 if half_distance_m is None else half_distance_m
        if not (np.isfinite(half) and half > 0):
            raise SitingError(f"half_distance_m must be positive, got {half_distance_m!r}")
        f = np.power(0.5, d / half)
    else:
        raise SitingError(f"decay must be one of {DECAYS}, got {decay!r}")
    return np.where(d <= reach_m, np.maximum(f, 0.0), 0.0)


def max_attendance(
    inp: SitingInput,
    p: int,
    options: ModelOptions = ModelOptions(),
    decay: str = "exponential",
    half_distance_m: float | None = None,
) -> SitingResult:
    """Maximal attendance: ``p`` new sites maximising expected use.

    See the module notes for the model: each cell attends its nearest open
    facility with a probability decaying with walking distance.

    Parameters
    ----------
    inp : SitingInput
    p : int
    options : ModelOptions
    decay : {"exponential", "linear"}
    half_distance_m : float, optional
        For ``"exponential"``; default ``reach_m / 2``.

    Returns
    -------
    SitingResult
        ``objective`` is the total expected attendance after the change.
    """
    t0 = time.perf_counter()
    options = options.started()  # the time limit counts from here (or the caller's deadline)
    decay_value(np.zeros(1), inp.reach_m, decay, half_distance_m)  # validate early
    prep = prepare(inp, options, p)
    mat = check_reach(inp, prep)
    before, base = base_dist(inp, prep)
    w = inp.weights
    base_val = w * decay_value(base, inp.reach_m, decay, half_distance_m)
    coo = mat.tocoo()
    val = w[coo.col] * decay_value(coo.data, inp.reach_m, decay, half_distance_m)
    s = sparse.csr_matrix((np.maximum(val - base_val[coo.col], 0.0), (coo.row, coo.col)), shape=mat.shape)
    s.eliminate_zeros()
    sites, gains, gained, gain_bound, sg, status, solver, notes = solve_savings(s, p + prep.extra_sites, prep, options, "attendance")
    start = float(base_val.sum())
    after = np.minimum(base, nearest_new(inp, sites))
    return make_result(
        "attendance", inp, prep, before, after, t0, sites=sites, gains=gains, objective=start + gained,
        bound=start + gain_bound, gap=relative_gap(start + gained, start + gain_bound), solver_bound=sg[0], solver_gap=sg[1],
        status=status, solver=solver,
        objective_before=float((w * decay_value(before, inp.reach_m, decay, half_distance_m)).sum()),
        unreachable_weight=unreachable_weight_of(inp, prep, mat, base), notes=notes + (f"decay {decay}",),
    )
