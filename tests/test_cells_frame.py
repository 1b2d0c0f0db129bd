"""``CoverageResult.cells_frame`` is the frame that adding each column to a copy of the cells gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scenarios.evaluate import _labelled, evaluate
from tests.test_evaluate import city  # noqa: F401  (the hand-built city of test_evaluate)


def _column_by_column(result) -> pd.DataFrame:
    """The frame built the plain way: a copy of the cells, one column at a time."""
    cells = result.city.cells.copy()
    ids = result.city.facilities["id"].to_numpy(dtype=object)
    off = ~result.city.snapped_cells.ok
    for r in result.results.values():
        p = r.standard.column
        cells[f"{p}_dist_m"] = np.where(np.isfinite(r.dist_m), np.round(r.dist_m, 3), np.nan)
        cells[f"{p}_time_min"] = np.where(np.isfinite(r.time_min), np.round(r.time_min, 3), np.nan)
        cells[f"{p}_facility"] = np.where(r.facility >= 0, ids[np.maximum(r.facility, 0)], None)
        cells[f"{p}_covered"] = r.covered
        if r.band is not None:
            cells[f"{p}_band"] = r.band
        cells[f"{p}_status"] = r.status(off)
        cells[f"{p}_search_limit_m"] = np.full(len(cells), round(r.search_limit_m, 3))
    return cells


def test_same_frame_as_column_by_column(city):  # noqa: F811
    result = evaluate(city)
    got, want = result.cells_frame(), _column_by_column(result)
    assert type(got) is type(want) and got.crs == want.crs and got.geometry.name == want.geometry.name
    assert list(got.columns) == list(want.columns)
    assert (got.dtypes == want.dtypes).all()
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got["clinic_walk_facility"].isna().tolist() == [False, False, True, False]  # c3: off the network
    got.loc[0, "population"] = -1.0  # the city's own cells are not touched
    assert city.cells.loc[0, "population"] != -1.0


USED = [2, -1, 0, 1, -1, 0]  # every label used, some cells without one
NONE = [-1, -1, -1]  # no label used at all: pandas keeps object then


@pytest.mark.parametrize(
    "labels, code",
    [(["a", "bb", "ccc"], USED), (["a", "bb", "ccc"], NONE), ([], NONE), ([1, 2, 3], USED), (["a", None, "c"], USED)],
)
def test_labelled_is_the_object_column_pandas_infers(labels, code):
    labels, code = np.array(labels, dtype=object), np.array(code)
    picked = labels[np.maximum(code, 0)] if labels.size else np.full(code.size, None, dtype=object)
    want = pd.Series(np.where(code >= 0, picked, None))
    got = pd.Series(_labelled(labels, code))
    assert got.dtype == want.dtype
    pd.testing.assert_series_equal(got, want, check_exact=True)
