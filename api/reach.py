"""The reach index of the HTTP service: :class:`geo.reach.ReachIndex` over every kind.

The index itself (and :class:`~geo.reach.OutsideCityError`) lives in
:mod:`geo.reach`; this module only fixes the kinds to
:data:`layers.kinds.KINDS`, which ``geo`` may not import, and re-exports the
names the routes use.
"""

from __future__ import annotations

from geo.reach import KindAnswer, KindIndex, OutsideCityError, ReachCity, StandardAnswer
from geo.reach import ReachIndex as _KindsReachIndex
from layers.kinds import KINDS

__all__ = ["KindAnswer", "KindIndex", "OutsideCityError", "ReachIndex", "StandardAnswer"]


class ReachIndex(_KindsReachIndex):
    """:class:`geo.reach.ReachIndex` over every kind of :data:`layers.kinds.KINDS`.

    Parameters
    ----------
    city : ReachCity
        The loaded city (read only).
    margin_m : float
        How far outside ``city.boundary`` a query may lie.
    """

    def __init__(self, city: ReachCity, margin_m: float = 300.0):
        super().__init__(city, KINDS, margin_m)
