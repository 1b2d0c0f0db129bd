"""Generator of synthetic districts: the built-in ``demo`` city and benchmark cities up to Guangzhou size.

Every generated city says so (``City.generated`` is true and the attribution
reads "Generated district: not a real place"), lies over open sea so that it
can never be mistaken for a real place, and is fully determined by its
parameters and seed.
"""

from layers.cities.generator.build import (
    GENERATED_ATTRIBUTION,
    GENERATOR_VERSION,
    ORIGIN_LONLAT,
    GeneratorError,
    generate_city,
    generate_city_of_size,
)
from layers.cities.generator.streets import EDGE_CLASSES

__all__ = [
    "EDGE_CLASSES",
    "GENERATED_ATTRIBUTION",
    "GENERATOR_VERSION",
    "ORIGIN_LONLAT",
    "GeneratorError",
    "generate_city",
    "generate_city_of_size",
]
