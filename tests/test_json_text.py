"""scenarios.json_text.dumps_indented writes what json.dumps(..., ensure_ascii=False, indent=n) writes."""

import json

import numpy as np
import pytest

from scenarios.json_text import _TOKEN, LONG_LIST, dumps_indented
from scenarios.outputs import jsonable


def ids(rng, n, prefix="c"):
    return [f"{prefix}{v}" for v in rng.integers(0, 10**6, n)]


def document(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n = LONG_LIST + int(rng.integers(0, 5_000))
    return {
        "city": "福田区 \"quoted\"\nline",
        "standards": [
            {
                "standard": f"s{k}",
                "coverage": float(rng.random()),
                "nan": None,
                "largest_gaps": [
                    {"rank": 1, "cell_ids": ids(rng, n), "n_cells": n},
                    {"rank": 2, "cell_ids": list(map(int, rng.integers(-10**12, 10**12, n))), "empty": []},
                    {"rank": 3, "cell_ids": ids(rng, 5), "mixed": ids(rng, n) + [7, -3] + ["区\t\u2028\\"]},
                ],
            }
            for k in range(3)
        ],
        "top": ids(rng, n),  # a long list at the first level
        "nested": [[ids(rng, LONG_LIST)], [True] * LONG_LIST, [1.5] * LONG_LIST, (1, 2), {"k": {}}],
        1: "int key",
        None: [None] * LONG_LIST,
    }


@pytest.mark.parametrize("indent", [1, 2, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_same_text_as_json_dumps(seed, indent):
    doc = document(seed)
    assert dumps_indented(doc, indent) == json.dumps(doc, ensure_ascii=False, indent=indent)


def test_small_documents_and_the_marker_in_the_data():
    for doc in ({}, [], {"a": [1, 2, 3]}, "text", 3, [["x"] * LONG_LIST]):
        assert dumps_indented(doc, 2) == json.dumps(doc, ensure_ascii=False, indent=2)
    clash = {"a": ["x"] * LONG_LIST, "b": _TOKEN.format(0)}  # the data holds the marker: json.dumps is used
    assert dumps_indented(clash, 2) == json.dumps(clash, ensure_ascii=False, indent=2)


def test_jsonable_keeps_plain_lists_and_converts_numpy():
    cells = ["c1", "c2", None, 3, True]
    arrays = [np.arange(-3, 3), np.arange(4, dtype=np.uint8), np.array([True, False]), np.array([1.5, np.nan]),
              np.array(["a", "b"]), np.array([[1, 2]]), np.array([np.int64(1), "x", None], dtype=object)]
    out = jsonable({"ids": cells, "np": [np.int64(4), np.float64("nan"), np.str_("x")], "t": (1, "a"), "a": arrays})
    assert out == {"ids": cells, "np": [4, None, "x"], "t": [1, "a"],
                   "a": [[-3, -2, -1, 0, 1, 2], [0, 1, 2, 3], [True, False], [1.5, None], ["a", "b"], [[1, 2]], [1, "x", None]]}
    assert out["ids"] is not cells and type(out["np"][0]) is int and type(out["t"]) is list
    assert [type(v) for a in out["a"][:3] for v in a] == [int] * 10 + [bool] * 2
