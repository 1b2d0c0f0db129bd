"""geo.threads.over_cores: even slices, results in order, nesting that cannot deadlock."""

from __future__ import annotations

import numpy as np

from geo.threads import over_cores


def test_slices_cover_the_range_in_order():
    a = np.arange(100_003)
    parts = over_cores(lambda c: a[c].copy(), a.size, min_chunk=10)
    np.testing.assert_array_equal(np.concatenate(parts), a)


def test_small_inputs_run_in_one_call():
    calls = []
    over_cores(lambda c: calls.append(c), 50, min_chunk=1000)
    assert calls == [slice(0, 50)]


def test_nested_calls_run_inline_instead_of_waiting_on_the_pool():
    # every outer task calls over_cores again; with a pool of cpu_count workers
    # this would deadlock if the inner calls queued behind the outer ones
    def outer(c: slice) -> int:
        inner = over_cores(lambda d: d.stop - d.start, 10_000, min_chunk=10)
        return sum(inner) + (c.stop - c.start)

    assert sum(over_cores(outer, 64, min_chunk=1)) == 64 + 10_000 * len(over_cores(lambda c: 0, 64, min_chunk=1))
