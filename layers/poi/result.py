"""The outcome of a POI import: the facilities layer and a report of every POI type met."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from layers.kinds import CAPACITY_FIELDS

__all__ = ["FACILITY_COLUMNS", "REPORT_COLUMNS", "STATUSES", "PoiImport", "empty_facilities"]

FACILITY_COLUMNS = ["id", "name", "kind", *CAPACITY_FIELDS, "source_type"]
"""Columns of an imported facilities layer (then ``geometry``), what ``city build --facilities`` reads."""

REPORT_COLUMNS = ["source_type", "label", "status", "kind", "count"]

STATUSES = ("mapped", "merged into its area", "unmapped", "kind not in catalogue", "no location")
"""What became of a POI: a facility; the same facility as an area holding it (an OSM node restating its
building); no table entry; a kind the active catalogue lacks; no usable coordinates."""


def empty_facilities() -> gpd.GeoDataFrame:
    """A facilities layer with no rows (and the right columns)."""
    cols = {c: pd.Series(dtype=float if c in CAPACITY_FIELDS else object) for c in FACILITY_COLUMNS}
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=4326))


@dataclass(eq=False)
class PoiImport:
    """Facilities read from a POI source, and what happened to every POI.

    Attributes
    ----------
    facilities : geopandas.GeoDataFrame
        WGS84; :data:`FACILITY_COLUMNS` then ``geometry`` (points, or polygons
        of polygon kinds such as parks, reached from their edge).
    report : pandas.DataFrame
        One row per (source type, status, kind): ``source_type`` (an OSM
        ``key=value``, an Amap typecode, a Baidu tag), ``label`` (the type's
        text where the source has one), ``status`` (one of :data:`STATUSES`),
        ``kind`` (chosen, or the kinds the table named when the catalogue
        lacks them), ``count``. Counts add up to every POI read.
    source : str
        The file read.
    table : str
        The mapping table used.
    """

    facilities: gpd.GeoDataFrame
    report: pd.DataFrame
    source: str
    table: str

    def count(self, status: str) -> int:
        """POIs with this status (see :data:`STATUSES`)."""
        return int(self.report.loc[self.report["status"] == status, "count"].sum())

    @property
    def total(self) -> int:
        """Every POI read (mapped or not)."""
        return int(self.report["count"].sum())

    def unmapped(self) -> pd.DataFrame:
        """The report's rows that did not become facilities, most frequent first."""
        rows = self.report[self.report["status"] != "mapped"]
        return rows.sort_values(["count", "source_type"], ascending=[False, True]).reset_index(drop=True)

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write the facilities layer (GeoPackage, layer ``facilities``) and ``<out>-report.csv`` beside it.

        Returns
        -------
        dict
            ``{"facilities": path, "report": path}``.
        """
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():
            out.unlink()  # a GeoPackage would otherwise gain a second copy of the layer
        self.facilities.to_file(out, layer="facilities", driver="GPKG")
        report = out.with_name(f"{out.stem}-report.csv")
        self.report.to_csv(report, index=False, encoding="utf-8")
        return {"facilities": out, "report": report}


def build_report(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """Count ``(source_type, label, status, kind)`` tuples into the report frame."""
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=int if c == "count" else object) for c in REPORT_COLUMNS})
    frame = pd.DataFrame(rows, columns=REPORT_COLUMNS[:-1])
    out = frame.groupby(REPORT_COLUMNS[:-1], sort=True, dropna=False).size().rename("count").reset_index()
    order = {s: i for i, s in enumerate(STATUSES)}
    out = out.assign(_o=out["status"].map(order)).sort_values(["_o", "count", "source_type"], ascending=[True, False, True])
    return out.drop(columns="_o").reset_index(drop=True)
