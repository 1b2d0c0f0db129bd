"""Where new facilities should go: siting models on a candidate-to-demand matrix.

Pure computation on arrays. Build the inputs with
:func:`candidates_on_network` / :func:`candidates_from_points` and
:func:`candidate_matrix`, wrap them in a :class:`SitingInput`, then call one of
the models: :func:`mclp`, :func:`lscp`, :func:`p_median`,
:func:`capacitated_coverage`, :func:`max_attendance`. Each returns a
:class:`SitingResult`; bad input raises :class:`SitingError`.
"""

from geo.siting.budget import SitingCancelled, SitingTimeLimit
from geo.siting.candidates import (
    Candidates,
    candidate_matrix,
    candidates_from_points,
    candidates_on_network,
)
from geo.siting.capacitated import capacitated_coverage
from geo.siting.cover import lscp
from geo.siting.errors import SitingError
from geo.siting.models import DECAYS, decay_value, max_attendance, mclp, p_median
from geo.siting.problem import ModelOptions, SitingInput
from geo.siting.result import SitingResult

__all__ = [
    "DECAYS",
    "Candidates",
    "ModelOptions",
    "SitingCancelled",
    "SitingError",
    "SitingInput",
    "SitingResult",
    "SitingTimeLimit",
    "candidate_matrix",
    "candidates_from_points",
    "candidates_on_network",
    "capacitated_coverage",
    "decay_value",
    "lscp",
    "max_attendance",
    "mclp",
    "p_median",
]
