"""The cells dataset's one schema: the per-standard columns of ``cover``'s cells layer, typed.

The column names and their types are not listed here: they are read off
:meth:`scenarios.evaluate.CoverageResult.cells_frame` itself, run on an empty
city for each standard. A column that ``cells_frame`` gains later (as
``<prefix>_status`` and ``<prefix>_search_limit_m`` did) reaches the dataset
with no change here, and every partition still has the same columns, with the
standards a partition did not evaluate as typed nulls.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd

from scenarios.evaluate import CoverageResult, standard_result
from scenarios.standards import Standard

__all__ = ["cells_columns", "standard_columns"]

# numpy kinds of cells_frame's columns -> the nullable pandas dtype the dataset stores
# (nullable, because a standard a partition did not evaluate is all nulls)
_DATASET_DTYPE = {"f": "float64", "b": "boolean", "i": "Int64", "u": "Int64", "O": "string", "U": "string"}


def standard_columns(standard: Standard) -> dict[str, str]:
    """The columns ``cells_frame()`` writes for ``standard``, in its order, with the dataset's dtypes.

    Parameters
    ----------
    standard : Standard

    Returns
    -------
    dict of str to str
        Column name to pandas dtype (``float64``, ``boolean``, ``Int64`` or
        ``string``).
    """
    # an empty city: no cells, no facilities; only what cells_frame reads
    cells = gpd.GeoDataFrame({"cell_id": pd.Series([], dtype=object)}, geometry=[], crs=None)
    facilities = pd.DataFrame({"id": pd.Series([], dtype=object), "kind": pd.Series([], dtype=object)})
    empty = np.empty(0)
    result = standard_result(
        None, standard, empty, np.empty(0, dtype=np.int64), weight=empty, facilities=facilities,
        clusters=gpd.GeoDataFrame({"population": []}, geometry=[]),
    )
    frame = CoverageResult(city=SimpleNamespace(cells=cells, facilities=facilities),
                           results={standard.id: result}).cells_frame()
    out: dict[str, str] = {}
    for name in frame.columns:
        if name in cells.columns:
            continue
        kind = frame[name].dtype.kind
        if kind not in _DATASET_DTYPE:  # a new kind of column: say so rather than store it wrongly
            raise TypeError(f"cells_frame column {name!r} has dtype {frame[name].dtype}, which the batch "
                            "dataset has no type for; add it to scenarios.batch.schema._DATASET_DTYPE")
        out[name] = _DATASET_DTYPE[kind]
    return out


def cells_columns(standards: Sequence[Standard]) -> dict[str, str]:
    """The per-standard columns of the dataset for ``standards``, in order, with their pandas dtypes."""
    out: dict[str, str] = {}
    for s in standards:
        out.update(standard_columns(s))
    return out
