"""geo.validity.is_valid answers as shapely.is_valid; vectorised id texts match the per-value rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from geo.validity import is_valid
from layers.validate import _id_text, _id_texts


def test_random_quadrilaterals_agree_with_geos():
    rng = np.random.default_rng(3)
    pts = rng.integers(0, 4, size=(4000, 4, 2)).astype(float)  # small lattice: many bow-ties, spikes, repeats
    quads = shapely.polygons(np.concatenate([pts, pts[:, :1]], axis=1))
    got = is_valid(quads)
    np.testing.assert_array_equal(got, shapely.is_valid(quads))
    assert got.any() and not got.all()


def test_other_geometries_and_edge_cases_agree_with_geos():
    geoms = np.array(
        [
            box(0, 0, 1, 1),
            box(0, 0, 1, 1).reverse(),
            Polygon([(0, 0), (2, 0), (2, 2), (1, 2), (0, 2)]),  # five corners: through GEOS
            Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]),  # bow-tie
            Polygon([(0, 0), (1, 0), (2, 0), (1, 1)]),  # a straight "turn"
            Polygon([(0, 0), (1, 0), (1, 1), (np.nan, 1)]),
            Polygon([(0, 0), (1e-12, 0), (1e-12, 1), (0, 1)]),  # very thin: valid
            MultiPolygon([box(0, 0, 1, 1), box(0.5, 0, 2, 1)]),  # overlapping parts: invalid
            Polygon(),
            None,
        ],
        dtype=object,
    )
    np.testing.assert_array_equal(is_valid(geoms), shapely.is_valid(geoms))


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([7, 8, 9]),
        pd.Series([7.0, 8.5, -0.0, 1e20, np.inf, np.nan]),
        pd.Series([" a ", "b", "", None], dtype=object),
        pd.Series([" a ", "b", None], dtype="string"),
        pd.Series([1, "x ", 2.0, None], dtype=object),
        pd.Series([1, None, 3], dtype="Int64"),
    ],
)
def test_vectorised_id_texts_equal_the_per_value_rule(values):
    want = [_id_text(v) for v in values]
    got = list(_id_texts(values))
    missing = values.isna().to_numpy()
    assert [g for g, m in zip(got, missing) if not m] == [w for w, m in zip(want, missing) if not m]
