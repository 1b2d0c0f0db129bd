"""Place names for generated districts: plainly invented, never those of real places."""

from __future__ import annotations

import numpy as np

__all__ = ["unique_names"]

_POOLS: dict[str, tuple[str, ...]] = {
    "subdistrict": (
        "Kapok", "Lychee", "Banyan", "Camellia", "Osmanthus", "Bauhinia", "Magnolia", "Peony",
        "Cypress", "Orchid", "Chrysanthemum", "Plum Blossom",
    ),
    "community": (
        "Lotus", "Jade", "Bamboo", "Willow", "Orchard", "Sunrise", "Harmony", "Greenfield",
        "Maple", "Pine", "Cedar", "Laurel", "Peach Garden", "Silver Lake", "Golden Sand",
        "Cloud Terrace", "Spring Garden", "East Gate", "West Gate", "North Gate", "South Gate",
        "Hillside", "Meadow", "Crane", "Swallow", "Oriole", "Morning Star", "Evergreen",
        "Longevity", "Prosperity", "Peace", "Unity", "Lantern", "Tea Garden", "Silk Lane",
        "Pavilion", "Stone Bridge", "Old Well", "Market", "Academy", "Library", "Fountain",
        "Garden City", "Rosewood", "Sandalwood", "Mulberry", "Ginkgo", "Persimmon", "Loquat",
        "Longan", "Pomelo", "Kumquat", "Jasmine", "Gardenia", "Azalea", "Hibiscus",
    ),
    "riverside": (
        "Riverside", "Riverbank", "Waterfront", "Bridgeview", "Ferry", "Wharf", "Pearl Bank",
        "Willow Bank", "Egret", "Reed Shore", "Canal", "River Bend",
    ),
}  # fmt: skip


def unique_names(k: int, rng: np.random.Generator, theme: str, taken: set[str] | None = None) -> list[str]:
    """``k`` distinct names from a themed pool, numbered ("Lotus 2") once the pool runs out.

    Parameters
    ----------
    k : int
        How many names.
    rng : numpy.random.Generator
        Shuffles the pool.
    theme : str
        ``"subdistrict"``, ``"community"`` or ``"riverside"``.
    taken : set of str, optional
        Names already used elsewhere, skipped.

    Returns
    -------
    list of str
    """
    pool = list(_POOLS[theme])
    rng.shuffle(pool)
    taken = set(taken or ())
    out: list[str] = []
    round_ = 1
    while len(out) < k:
        for base in pool:
            name = base if round_ == 1 else f"{base} {round_}"
            if name not in taken:
                out.append(name)
                taken.add(name)
                if len(out) == k:
                    break
        round_ += 1
    return out
