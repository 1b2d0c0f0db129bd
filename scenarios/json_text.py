"""Indented JSON of documents holding long lists of ids, written as ``json.dumps`` writes it.

``json.dumps(..., indent=n)`` runs the pure-Python encoder value by value
(the C encoder only writes unindented JSON). A coverage run's
``summary.json`` lists the cell ids of each standard's largest gaps: up to
700,000 ids per gap on a Guangzhou-sized city, most of the time spent
writing the file. :func:`dumps_indented` writes each long list of text and
integers with one C call per item and one join, and everything else with
``json.dumps``: the same text, character for character.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any

__all__ = ["dumps_indented"]

LONG_LIST = 1_000
"""Lists at least this long, of str and int only, are written apart."""

_TOKEN = "\ue000lifecircle-json-list-{}\ue000"  # a private-use character: not in any real document


def dumps_indented(document: Any, indent: int) -> str:
    """``json.dumps(document, ensure_ascii=False, indent=indent)``, long lists of ids written in C.

    Parameters
    ----------
    document : any
        JSON-ready data (dicts, lists, str, int, float, bool, None).
    indent : int
        Spaces per level.

    Returns
    -------
    str
        Equal to ``json.dumps(document, ensure_ascii=False, indent=indent)``.
    """
    lists: list[tuple[list, set[type]]] = []
    swapped = _swap(document, lists)
    text = json.dumps(swapped, ensure_ascii=False, indent=indent)
    if not lists:
        return text
    quoted = [json.dumps(_TOKEN.format(i), ensure_ascii=False) for i in range(len(lists))]
    at = [text.find(q) for q in quoted]
    if any(p < 0 or text.count(q) != 1 for p, q in zip(at, quoted)):  # the marker was in the data itself
        return json.dumps(document, ensure_ascii=False, indent=indent)
    parts, end = [], 0
    for p, i in sorted(zip(at, range(len(lists)))):
        line = text[text.rfind("\n", 0, p) + 1 : p]
        pad = " " * (len(line) - len(line.lstrip(" ")))  # the list's own level: its closing bracket's indent
        inner = pad + " " * indent
        values, types = lists[i]
        if types == {str}:
            items = map(encode_basestring, values)  # each item in C
        elif types == {int}:
            items = map(int.__repr__, values)
        else:
            items = (encode_basestring(v) if type(v) is str else int.__repr__(v) for v in values)
        parts += [text[end:p], "[\n", inner, (",\n" + inner).join(items), "\n", pad, "]"]
        end = p + len(quoted[i])
    parts.append(text[end:])
    return "".join(parts)


def _swap(value: Any, lists: list[tuple[list, set[type]]]) -> Any:
    """``value`` with each long list of str/int replaced by a marker string (the list and its types kept in ``lists``)."""
    if isinstance(value, dict):
        return {k: _swap(v, lists) for k, v in value.items()}
    if isinstance(value, list):
        # bool is not int here (type, not isinstance): json writes true/false
        types = set(map(type, value)) if len(value) >= LONG_LIST else None
        if types is not None and types <= {str, int}:
            lists.append((value, types))
            return _TOKEN.format(len(lists) - 1)
        return [_swap(v, lists) for v in value]
    return value
