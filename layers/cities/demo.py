"""The built-in ``demo`` city: a generated 6 km x 5 km district, not a real place.

About 320,000 residents in gated compounds and an old lane neighbourhood, a
river with three bridges, a railway with two crossings, parks, six
subdistricts and ~48 communities, and facilities of every kind with designed
gaps (see :mod:`layers.cities.generator.facilities`). It lies over open sea in
the South China Sea (UTM zone 50N) so it can never be mistaken for a real city.
"""

from __future__ import annotations

from typing import Callable

from layers.cities.generator import generate_city
from layers.city import City

__all__ = ["DEMO_PARAMS", "build_demo"]

DEMO_PARAMS: dict = {
    "width_m": 6000.0,
    "height_m": 5000.0,
    "seed": 20240611,
    "target_population": 320_000,
}
"""Parameters of the demo city (they key its disk cache)."""


def build_demo(progress: Callable[[str, float], None] | None = None) -> City:
    """Generate the demo city (well under a second; deterministic).

    Parameters
    ----------
    progress : callable, optional
        ``progress(step, fraction)``.

    Returns
    -------
    City
    """
    return generate_city(name="demo", progress=progress, **DEMO_PARAMS)
