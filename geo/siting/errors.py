"""The one exception the siting package raises for bad input."""

from __future__ import annotations

from geo.errors import LifecircleError

__all__ = ["SitingError"]


class SitingError(LifecircleError):
    """A siting problem that cannot be posed or solved as asked.

    Raised for bad input (``p`` larger than the candidate count, a negative
    capacity, a site both required and excluded, ...) and for infeasible
    requests (no candidate within reach, a coverage target that the spacing
    rule makes unreachable). The message names the field and the problem.
    """
