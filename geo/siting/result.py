"""The answer of every siting model."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SitingResult", "relative_gap"]


def relative_gap(objective: float, bound: float) -> float:
    """``|bound - objective| / |bound|`` (0 when both are 0, inf when only the bound is)."""
    if bound == objective:
        return 0.0
    if bound == 0:
        return float("inf")
    return abs(bound - objective) / abs(bound)


@dataclass(frozen=True, eq=False)
class SitingResult:
    """Chosen sites and how good they are.

    Attributes
    ----------
    problem : str
        ``"mclp"``, ``"lscp"``, ``"p_median"``, ``"capacitated"`` or ``"attendance"``.
    sites : numpy.ndarray of int64
        Candidate indices in the order chosen: required sites first, then
        repeatedly the site adding the most.
    gains : numpy.ndarray
        Marginal gain of each site in that order, in the model's objective
        units (newly covered weight for MCLP/LSCP, weight x metres saved for
        p-median, served weight for capacitated, expected attendance gained
        for maximal attendance).
    objective : float
        MCLP: weight newly covered by the new sites. LSCP: number of new
        sites. p-median: total weight x walking distance (m) to the nearest
        facility, unreached cells at the penalty distance. Capacitated:
        total served weight (existing + new). Attendance: total expected
        attendance (existing + new).
    bound : float
        Best proven bound on the objective (upper for maximising models,
        lower for LSCP and p-median): the best of HiGHS's ``mip_dual_bound``
        (after a MILP run), the LP relaxation (rounded up for LSCP) and, for
        coverage problems, the Lagrangian bound of :mod:`geo.siting.bound`.
    gap : float
        ``|bound - objective| / |bound|``.
    solver_bound : float or None
        HiGHS's own ``mip_dual_bound`` verbatim, in the units of the model it
        solved (weight saved for p-median, attendance gained for maximal
        attendance, served weight otherwise); ``None`` without a MILP run.
    solver_gap : float or None
        HiGHS's own ``mip_gap`` verbatim (of the model it solved, which for
        p-median is the equivalent savings form), ``None`` without a MILP run.
    status : str
        HiGHS's model status (``"Optimal"``, ``"Time limit reached"``, ...)
        after a MILP run; ``"heuristic"`` otherwise.
    solver : str
        ``"highs-milp"`` or ``"greedy+swap"`` (``"greedy"`` for LSCP and
        capacitated).
    seconds : float
        Wall-clock time of the whole solve.
    covered_before, covered_after : float
        Weight within reach of an open facility before any change (all
        existing facilities, no new site) and after (removals applied, new
        sites open). For the capacitated model: weight actually served.
    objective_before : float
        The objective's measure before any change (0 for MCLP and LSCP).
    removed_existing : numpy.ndarray of int64
        Existing facilities closed (removed or relocated).
    unreachable_weight : float
        Weight that no open existing facility and no allowed candidate
        reaches.
    notes : tuple of str
        Anything the reader should know (shrink sizes, fills, limits hit).
    """

    problem: str
    sites: np.ndarray
    gains: np.ndarray
    objective: float
    bound: float
    gap: float
    solver_bound: float | None
    solver_gap: float | None
    status: str
    solver: str
    seconds: float
    covered_before: float
    covered_after: float
    objective_before: float
    removed_existing: np.ndarray
    unreachable_weight: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def optimal(self) -> bool:
        """True only when HiGHS proved optimality or the heuristic met the bound."""
        return self.status == "Optimal" or self.gap == 0.0
