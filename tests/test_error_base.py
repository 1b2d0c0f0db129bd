"""Every error a user can cause derives from the one base, LifecircleError (issue 13).

The API maps a LifecircleError to a 4xx answer and the CLI to a one-line
message; a ValueError subclass outside that tree would reach a user as a bug
(HTTP 500). Our own ValueError subclasses are the errors about values a user
gave, so each must derive from LifecircleError.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from geo.errors import LifecircleError
from geo.tiles import TileError

PACKAGES = ("geo", "layers", "scenarios", "maps", "api")


def _own_value_errors() -> list[type]:
    found = []
    for pkg in PACKAGES:
        root = importlib.import_module(pkg)
        for info in pkgutil.walk_packages(root.__path__, pkg + "."):
            if info.name.endswith("__main__"):
                continue  # running it would start the CLI
            mod = importlib.import_module(info.name)
            for obj in vars(mod).values():
                if inspect.isclass(obj) and obj.__module__ == mod.__name__ and issubclass(obj, ValueError):
                    found.append(obj)
    return found


def test_every_value_error_of_ours_is_a_lifecircle_error():
    errors = _own_value_errors()
    assert TileError in errors  # the walk reaches the modules (geo.tiles' error was a bare ValueError)
    outside = [f"{e.__module__}.{e.__qualname__}" for e in errors if not issubclass(e, LifecircleError)]
    assert outside == []

