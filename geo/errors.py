"""The one base class of every error a user of lifecircle can cause.

Each package raises its own subclasses (``LayerError`` for input files,
``StandardError`` for the catalogue, ``SitingError``, ``ScenarioError``,
``MapError``, ...), and they all derive from :class:`LifecircleError`. The
interfaces rely on that: the API maps a ``LifecircleError`` to a 4xx
problem+json and the CLI to a one-line message with exit code 2, while any
other exception is a bug (HTTP 500 with a request id, logged with its
traceback). It lives in ``geo`` because every package may import ``geo``.
"""

from __future__ import annotations

__all__ = ["LifecircleError"]


class LifecircleError(ValueError):
    """A problem with what the user asked for or gave, explained in the message.

    It subclasses :class:`ValueError` because every one of these errors is a
    bad value from outside (a file, a parameter, a request), and so that code
    written against the older ``ValueError`` subclasses keeps working. The
    reverse does not hold: a bare ``ValueError`` from numpy, shapely or scipy
    is *not* a ``LifecircleError`` and is never shown to a user as their fault.
    """
