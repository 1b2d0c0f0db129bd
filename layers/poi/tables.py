"""POI type tables: Amap typecodes and Baidu tags to facility kinds, as CSV a planner edits.

A table has the columns ``code``, ``kind``, ``label`` and ``note``:

* ``code``: for Amap a six-digit typecode (``090100``); its trailing ``00``
  pairs stand for every type below it, as in Amap's own hierarchy (``090000``
  is every 医疗保健服务 type, ``090100`` every 综合医院 type, ``090101`` only
  that one). For Baidu the tag text, ``;``-separated from the first level
  (``医疗;综合医院``); a shorter tag (``医疗``) stands for every tag under it.
  The most specific entry wins.
* ``kind``: a kind id, or several separated by ``|`` in order of preference;
  the first that the active catalogue has is used.
* ``label``, ``note``: what the code is called, and why it maps so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from layers.errors import LayerError

__all__ = ["DEFAULT_TABLES", "CodeEntry", "CodeTable", "choose_kind", "read_code_table", "split_kinds"]

_TABLE_DIR = Path(__file__).resolve().parent.parent / "poi_tables"  # layers/poi_tables

DEFAULT_TABLES: dict[str, Path] = {
    "osm": _TABLE_DIR / "osm.toml",
    "amap": _TABLE_DIR / "amap.csv",
    "baidu": _TABLE_DIR / "baidu.csv",
}
"""The tables shipped with the project, by source."""


def split_kinds(value: object) -> tuple[str, ...]:
    """``"a|b"`` or ``["a", "b"]`` -> ``("a", "b")`` (blank parts dropped)."""
    parts = value if isinstance(value, (list, tuple)) else str(value).split("|")
    return tuple(p.strip() for p in parts if isinstance(p, str) and p.strip())


def choose_kind(kinds: Iterable[str], known: Mapping[str, object]) -> str | None:
    """The first of ``kinds`` that ``known`` (the active catalogue's kinds) has, else ``None``."""
    return next((k for k in kinds if k in known), None)


@dataclass(frozen=True)
class CodeEntry:
    """One row of a code table."""

    code: str
    kinds: tuple[str, ...]
    label: str = ""
    note: str = ""


@dataclass(frozen=True)
class CodeTable:
    """A code table of one scheme (``amap`` or ``baidu``); :meth:`lookup` finds a POI type's entry."""

    scheme: str
    entries: dict[str, CodeEntry]
    source: str

    def lookup(self, code: str) -> CodeEntry | None:
        """The most specific entry covering ``code`` (a typecode or a tag), or ``None``."""
        for key in _broader(self.scheme, code):
            if key in self.entries:
                return self.entries[key]
        return None


def _broader(scheme: str, code: str) -> list[str]:
    """``code`` and the codes above it, most specific first."""
    code = code.strip()
    if scheme == "amap":
        if len(code) != 6 or not code.isdigit():
            return [code]
        return list(dict.fromkeys([code, code[:4] + "00", code[:2] + "0000"]))
    parts = [p.strip() for p in code.split(";") if p.strip()]
    return [";".join(parts[:n]) for n in range(len(parts), 0, -1)]


def read_code_table(path: str | Path, scheme: str) -> CodeTable:
    """Read an Amap or Baidu code table (CSV; see the module docstring).

    Parameters
    ----------
    path : str or pathlib.Path
    scheme : {"amap", "baidu"}

    Returns
    -------
    CodeTable

    Raises
    ------
    LayerError
        Naming the file, row and field: unreadable file, a missing column, a
        malformed Amap code, an empty kind, or a code given twice.
    """
    path = Path(path)
    source = path.name
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LayerError(source, f"cannot read the POI type table: {exc}") from None
    for col in ("code", "kind"):
        if col not in frame.columns:
            raise LayerError(source, f"the POI type table needs columns code and kind (present: {', '.join(frame.columns)})",
                             field=col)
    entries: dict[str, CodeEntry] = {}
    for row, rec in enumerate(frame.to_dict("records"), start=1):
        code = ";".join(p.strip() for p in rec["code"].split(";")) if scheme == "baidu" else rec["code"].strip()
        if scheme == "amap" and (len(code) != 6 or not code.isdigit()):
            raise LayerError(source, f"an Amap typecode has six digits, got {rec['code']!r}", field="code", row=row)
        if not code:
            raise LayerError(source, "empty code", field="code", row=row)
        kinds = split_kinds(rec["kind"])
        if not kinds:
            raise LayerError(source, f"no kind for code {code!r}", field="kind", row=row)
        if code in entries:
            raise LayerError(source, f"code {code!r} is given twice", field="code", row=row)
        entries[code] = CodeEntry(code, kinds, rec.get("label", "").strip(), rec.get("note", "").strip())
    return CodeTable(scheme, entries, str(path))
