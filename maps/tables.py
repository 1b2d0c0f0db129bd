"""The one-page summary table per standard, as a DataFrame, CSV or XLSX."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from layers.atomic import atomic_path
from maps.content import select_standards
from maps.errors import MapError
from maps.labels import check_lang, standard_short, text, threshold_text
from maps.ratio_layers import RATIO_COLUMNS, summary_rows
from scenarios.evaluate import CoverageResult
from scenarios.ratio_standards import RatioReport

__all__ = ["summary_table", "write_summary_table", "TABLE_COLUMNS"]

TABLE_COLUMNS = (
    "standard",
    "threshold",
    "facility_count",
    "weight",
    "total_pop",
    "covered_pop",
    "share",
    "uncovered_pop",
    "gaps",
)
"""Column keys of the summary table (labels from :mod:`maps.labels`)."""


def summary_table(
    result: CoverageResult,
    lang: str = "en",
    standards: Sequence[str] | None = None,
    gaps: int = 3,
    ratios: RatioReport | None = None,
) -> pd.DataFrame:
    """Coverage per standard: population covered, share, uncovered, largest gaps.

    Parameters
    ----------
    result : CoverageResult
    lang : {"en", "zh"}
        Language of headers and labels.
    standards : sequence of str, optional
        Standard ids (all evaluated ones by default).
    gaps : int, default 3
        How many of the largest uncovered clusters to list (their populations).
    ratios : RatioReport, optional
        Adds a row per ratio rule and per accessibility standard, and the
        columns :data:`maps.ratio_layers.RATIO_COLUMNS` (units failing, shortfall,
        under-served, city-wide level); see :func:`maps.ratio_layers.summary_rows`
        for what the shared columns mean in those rows.

    Returns
    -------
    pandas.DataFrame
        One row per standard; headers in ``lang``. Counts are numbers
        (rounded to whole people), the share a fraction 0..1 (``NaN`` when
        nobody is counted).
    """
    check_lang(lang)
    rows = []
    for sr in select_standards(result, standards):
        s = sr.summary()
        top = sr.clusters["population"].head(gaps).tolist() if len(sr.clusters) else []
        rows.append(
            {
                "standard": standard_short(sr.standard, lang),
                "threshold": threshold_text(sr.standard, lang),
                "facility_count": s["facilities"],
                "weight": text(f"weight_{sr.standard.weight}", lang),
                "total_pop": round(s["total"]),
                "covered_pop": round(s["covered"]),
                "share": float("nan") if s["share_covered"] is None else s["share_covered"],
                "uncovered_pop": round(s["uncovered"]),
                "gaps": "; ".join(f"{v:,.0f}" for v in top) if top else "–",
            }
        )
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    labels = {k: text(k, lang) for k in TABLE_COLUMNS}
    if ratios is not None:
        # coverage rows have no ratio figures: dashes, and no number for "under-served"
        blank = {k: ("–" if k != "under_served_pop" else float("nan")) for k in RATIO_COLUMNS}
        frame = frame.assign(**blank)
        frame = pd.concat([frame, summary_rows(ratios, lang, gaps)], ignore_index=True)
        labels.update({k: text(k, lang) for k in RATIO_COLUMNS})
    return frame.rename(columns=labels)


def write_summary_table(
    result: CoverageResult,
    path: str | os.PathLike,
    *,
    lang: str = "en",
    standards: Sequence[str] | None = None,
    ratios: RatioReport | None = None,
) -> Path:
    """Write :func:`summary_table` as CSV (UTF-8 with BOM, so Excel shows Chinese) or XLSX.

    The format follows the file suffix: ``.csv`` or ``.xlsx``. With
    ``ratios`` the table has the ratio-rule and accessibility rows too.

    Raises
    ------
    MapError
        For any other suffix.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise MapError(f"summary table {str(out)!r}: use a .csv or .xlsx file name")
    table = summary_table(result, lang, standards, ratios=ratios)
    with atomic_path(out) as tmp:  # the API serves an existing file: never half a table
        if suffix == ".csv":
            table.to_csv(tmp, index=False, encoding="utf-8-sig")
        else:
            _write_xlsx(table, tmp, share=text("share", lang))
    return out


def _write_xlsx(table: pd.DataFrame, path: Path, share: str) -> None:
    """One sheet with fitted column widths; the ``share`` column formatted as percentages."""
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        table.to_excel(xl, index=False, sheet_name="summary")
        ws = xl.sheets["summary"]
        for j, col in enumerate(table.columns, start=1):
            letter = ws.cell(row=1, column=j).column_letter
            width = max([len(str(col))] + [len(str(v)) for v in table[col]])
            ws.column_dimensions[letter].width = min(60, width + 2)
            if col == share:
                for row in range(2, len(table) + 2):
                    ws.cell(row=row, column=j).number_format = "0.0%"
