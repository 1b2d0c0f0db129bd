"""Errors and warnings about user-supplied layers, naming file, row and field.

Every problem with input data is reported as a :class:`LayerError` whose message
reads like ``"sites.csv, row 7, field 'lon': longitude 190.2 is out of range
[-180, 180]"``, so a planner can find and fix it without a traceback. Problems
that were repaired or worked around (invalid polygons made valid, generated
ids, an estimated elderly share, points too far from the network) are issued
as :class:`LayerWarning` through :mod:`warnings`; :func:`collect_warnings`
gathers them for a report.

Rows are numbered from 1 in the order the records appear in the file (the
first data row under a CSV header is row 1; in a spreadsheet that is line 2).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from geo.errors import LifecircleError

__all__ = ["LayerError", "LayerWarning", "warn_layer", "collect_warnings", "describe_rows"]


def _location(source: str, row: int | None, field: str | None) -> str:
    parts = [str(source)]
    if row is not None:
        parts.append(f"row {row}")
    if field is not None:
        parts.append(f"field '{field}'")
    return ", ".join(parts)


class LayerError(LifecircleError):
    """A problem in an input layer that stops it from being used.

    Parameters
    ----------
    source : str
        File name or layer name, e.g. ``"sites.csv"``.
    problem : str
        What is wrong, in plain words, including the offending value.
    field : str, optional
        The column concerned.
    row : int, optional
        1-based record number (see the module notes).

    Attributes
    ----------
    source, field, row, problem
        As given, for programs that want to show them separately (the API
        returns them as structured JSON).
    """

    def __init__(self, source: str, problem: str, *, field: str | None = None, row: int | None = None):
        self.source = str(source)
        self.field = field
        self.row = row
        self.problem = problem
        super().__init__(f"{_location(self.source, row, field)}: {problem}")

    def as_dict(self) -> dict:
        """The error as plain data: ``source``, ``field``, ``row``, ``problem``."""
        return {"source": self.source, "field": self.field, "row": self.row, "problem": self.problem}


class LayerWarning(UserWarning):
    """A problem in an input layer that was repaired or worked around.

    Same fields as :class:`LayerError`; ``count`` says how many records were
    affected (e.g. how many polygons were repaired).
    """

    def __init__(
        self,
        source: str,
        problem: str,
        *,
        field: str | None = None,
        row: int | None = None,
        count: int | None = None,
    ):
        self.source = str(source)
        self.field = field
        self.row = row
        self.problem = problem
        self.count = count
        super().__init__(f"{_location(self.source, row, field)}: {problem}")

    def as_dict(self) -> dict:
        """The warning as plain data."""
        return {"source": self.source, "field": self.field, "row": self.row, "problem": self.problem, "count": self.count}


def warn_layer(source: str, problem: str, *, field: str | None = None, row: int | None = None, count: int | None = None) -> None:
    """Issue a :class:`LayerWarning` (shown once per distinct message)."""
    warnings.warn(LayerWarning(source, problem, field=field, row=row, count=count), stacklevel=3)


@contextmanager
def collect_warnings() -> Iterator[list[LayerWarning]]:
    """Collect the :class:`LayerWarning` issued inside the block.

    Other warning categories pass through untouched.

    Examples
    --------
    >>> with collect_warnings() as found:
    ...     warn_layer("cells.gpkg", "2 invalid polygons were repaired", count=2)
    >>> [w.count for w in found]
    [2]
    """
    found: list[LayerWarning] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LayerWarning)
        yield found
    for w in caught:
        if isinstance(w.message, LayerWarning):
            found.append(w.message)
        else:  # hand foreign warnings back to whoever is listening outside
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def describe_rows(rows: Sequence[int], limit: int = 5) -> str:
    """Human list of 1-based row numbers: ``"3, 8, 12 and 4 more"``."""
    rows = [int(r) for r in rows]
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown if len(rows) <= limit else f"{shown} and {len(rows) - limit} more"
