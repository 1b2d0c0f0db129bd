"""What the maps show, independent of how they are drawn.

Classes per cell (population classes, covered / walk-time bands per
standard), legend labels with the population in each class, and the
formatted per-cell and per-facility details for tooltips. Both the HTML map
(:mod:`maps.interactive`) and the print export (:mod:`maps.static`) draw from
here, so they always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd

from maps.errors import MapError
from maps.labels import class_labels, format_reach, kind_text, standard_short, text
from maps.quantiles import quantile_bins
from maps.style import class_colours, population_colours
from scenarios.evaluate import SEARCH_FACTOR, CoverageResult, StandardResult

__all__ = [
    "Classes",
    "select_standards",
    "population_classes",
    "standard_classes",
    "reach_texts",
    "cell_details",
    "cell_aliases",
    "facility_details",
    "facility_aliases",
    "SCHEMES",
]

SCHEMES = {"quantiles": "Quantiles", "natural_breaks": "NaturalBreaks"}
"""Population classifications: name -> mapclassify scheme."""

# Fisher-Jenks style breaks are quadratic in the data: classify a sample of
# this many cells and apply the breaks to all.
_BREAKS_SAMPLE = 20_000


@dataclass(frozen=True, eq=False)
class Classes:
    """Map classes of the cells for one layer.

    Attributes
    ----------
    cell_class : numpy.ndarray of int64
        Class of every cell, ``-1`` for cells not drawn.
    labels : list of str
        Legend label per class.
    colours : list of str
        Hex colour per class.
    totals : numpy.ndarray
        Weight (residents or elderly) in each class, for the legend.
    """

    cell_class: np.ndarray
    labels: list[str]
    colours: list[str]
    totals: np.ndarray


def select_standards(result: CoverageResult, standards: Sequence[str] | str | None = None) -> list[StandardResult]:
    """The results of ``standards`` (ids; all when ``None``), in the order given.

    Raises
    ------
    MapError
        If an id was not evaluated in ``result`` (the message lists those that were).
    """
    if standards is None:
        return list(result.results.values())
    ids = [standards] if isinstance(standards, str) else list(standards)
    missing = [s for s in ids if s not in result.results]
    if missing:
        raise MapError(
            f"standard(s) {missing} not in this result; evaluated standards are: {', '.join(result.results)}"
        )
    return [result.results[s] for s in ids]


def _fmt_count(v: float) -> str:
    return f"{v:,.0f}"


def population_classes(population: np.ndarray, k: int = 5, scheme: str = "quantiles") -> Classes:
    """Classes of residents per cell for the population choropleth.

    Cells without residents are not drawn. Classes come from mapclassify
    (quantiles by default, or natural breaks); repeated break values (many
    cells with the same count) are merged so no class is empty.

    Parameters
    ----------
    population : numpy.ndarray
    k : int, default 5
    scheme : {"quantiles", "natural_breaks"}

    Returns
    -------
    Classes
    """
    if scheme not in SCHEMES:
        raise MapError(f"classification {scheme!r} is not known; use one of {', '.join(SCHEMES)}")
    pop = np.asarray(population, dtype=np.float64)
    drawn = pop > 0
    values = pop[drawn]
    cell_class = np.full(pop.size, -1, dtype=np.int64)
    if values.size == 0:
        return Classes(cell_class, [], [], np.zeros(0))
    k_eff = int(min(k, np.unique(values).size))
    if scheme == "quantiles":
        bins = quantile_bins(values, k_eff)  # mapclassify's numbers without its 85 MB import
    else:
        import mapclassify

        sample = values
        if values.size > _BREAKS_SAMPLE:
            rng = np.random.default_rng(0)
            sample = np.append(rng.choice(values, _BREAKS_SAMPLE, replace=False), values.max())
        bins = mapclassify.NaturalBreaks(sample, k=k_eff).bins
    bins = np.unique(np.asarray(bins, dtype=np.float64))
    bins[-1] = max(bins[-1], values.max())
    cls = np.searchsorted(bins, values, side="left")  # right-closed classes, as mapclassify
    cell_class[drawn] = cls
    lows = np.concatenate([[values.min()], bins[:-1]])
    labels = [
        f"{_fmt_count(lo)}–{_fmt_count(hi)}" if i else f"≤ {_fmt_count(hi)}" for i, (lo, hi) in enumerate(zip(lows, bins))
    ]
    totals = np.bincount(cls, weights=values, minlength=bins.size)
    return Classes(cell_class, labels, population_colours(bins.size), totals)


def standard_classes(sr: StandardResult, lang: str = "en") -> Classes:
    """Classes of one standard: its walk-time bands, or covered / not covered.

    Cells whose weight (residents or elderly, per the standard) is zero are
    not drawn: nobody there is served or left out.
    """
    labels = class_labels(sr.standard, lang)
    if sr.band is not None:
        from scenarios.evaluate import band_labels

        order = {b: i for i, b in enumerate(band_labels(sr.standard))}
        cell_class = np.array([order[b] for b in sr.band], dtype=np.int64)
        colours = class_colours(len(order))
    else:
        cell_class = np.where(sr.covered, 0, 1).astype(np.int64)
        colours = class_colours(0)
    cell_class[~(sr.weight > 0)] = -1
    drawn = cell_class >= 0
    totals = np.bincount(cell_class[drawn], weights=sr.weight[drawn], minlength=len(labels))
    return Classes(cell_class, labels, colours, totals)


def reach_texts(sr: StandardResult, lang: str = "en") -> np.ndarray:
    """Each cell's reach under a standard as text ("12.3 min", "830 m", "not within 60 min")."""
    limit = sr.standard.threshold_m * SEARCH_FACTOR
    s = sr.standard
    return np.array(
        [format_reach(s, d, t, limit, lang) for d, t in zip(sr.dist_m.tolist(), sr.time_min.tolist())], dtype=object
    )


def cell_details(result: CoverageResult, results: Sequence[StandardResult], lang: str = "en") -> pd.DataFrame:
    """Per cell tooltip values: id, residents, elderly and the reach under each standard.

    Returns
    -------
    pandas.DataFrame
        Columns ``cell``, ``population``, ``elderly`` and ``s0, s1, ...``
        (one per standard in ``results``), all display strings; and
        :func:`cell_aliases` gives their labels.
    """
    cells = result.city.cells
    out = pd.DataFrame(
        {
            "cell": [escape(v) for v in cells["cell_id"].astype(str)],
            "population": [_fmt_count(v) for v in cells["population"].to_numpy(dtype=float)],
            "elderly": [_fmt_count(v) for v in cells["elderly"].to_numpy(dtype=float)],
        }
    )
    for i, sr in enumerate(results):
        out[f"s{i}"] = reach_texts(sr, lang)
    return out


def cell_aliases(results: Sequence[StandardResult], lang: str = "en") -> list[str]:
    """Tooltip labels of the :func:`cell_details` columns."""
    return [text("cell", lang), text("population", lang), text("elderly", lang)] + [
        standard_short(sr.standard, lang) for sr in results
    ]


def _capacity(row: pd.Series, lang: str) -> str:
    parts = []
    for field in ("beds", "doctors", "floor_area_m2"):
        v = row.get(field)
        if v is not None and np.isfinite(v):
            parts.append(f"{text(field, lang)} {v:,.0f}")
    return "; ".join(parts) if parts else "–"


def facility_details(result: CoverageResult, results: Sequence[StandardResult], lang: str = "en") -> pd.DataFrame:
    """Per facility display values (HTML-escaped): name, kind, capacity, population served.

    "Serves" lists, for each standard the facility counts for, the residents
    (or elderly) whose nearest qualifying facility it is.
    """
    fac = result.city.facilities
    serves: list[list[str]] = [[] for _ in range(len(fac))]
    kinds = fac["kind"].to_numpy()
    for sr in results:
        unit = text(f"weight_{sr.standard.weight}", lang)
        for pos in np.flatnonzero(np.isin(kinds, sr.standard.kinds)):
            serves[pos].append(f"{standard_short(sr.standard, lang)}: {sr.load[pos]:,.0f} {unit}")
    return pd.DataFrame(
        {
            "id": [escape(v) for v in fac["id"].astype(str)],
            "name": [escape(v) for v in fac["name"].fillna("").astype(str)],
            "kind": [kind_text(k, lang) for k in kinds],
            "capacity": [_capacity(row, lang) for _, row in fac.iterrows()],
            "serves": ["<br>".join(s) if s else "–" for s in serves],
        }
    )


def facility_aliases(lang: str = "en") -> list[str]:
    """Tooltip labels of the :func:`facility_details` columns."""
    return ["ID", text("name", lang), text("kind", lang), text("capacity_all", lang), text("serves", lang)]
