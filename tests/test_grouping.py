"""geo.grouping.counting_order against numpy's stable argsort."""

from __future__ import annotations

import numpy as np
import pytest

from geo.grouping import counting_order


@pytest.mark.parametrize("n, n_keys", [(0, 3), (1, 1), (7, 2), (5000, 40), (20_000, 50_000)])
def test_counting_order_is_a_stable_sort(n, n_keys):
    keys = np.random.default_rng(n).integers(0, n_keys, n)
    order, indptr = counting_order(keys, n_keys)
    np.testing.assert_array_equal(order, np.argsort(keys, kind="stable"))
    np.testing.assert_array_equal(indptr, np.r_[0, np.cumsum(np.bincount(keys, minlength=n_keys))])


def test_counting_order_small_example():
    order, indptr = counting_order(np.array([2, 0, 2, 1]), 3)
    assert order.tolist() == [1, 3, 0, 2]
    assert indptr.tolist() == [0, 1, 2, 4]
