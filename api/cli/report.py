"""Tables the coverage and ratio commands print: coverage summary, planner checks, ratio rules."""

from __future__ import annotations

from rich.table import Table

from api.cli.console import console

__all__ = ["print_summary", "print_diagnostics", "print_ratios"]


def print_summary(result, lang: str = "en") -> None:
    """Print the coverage table of a run."""
    city = result.city
    labels = ["generated, not a real place"] if city.generated else []
    if city.population_estimated:
        labels.append("population estimated")
    table = Table(
        title=f"Coverage: {city.name}" + (f" ({'; '.join(labels)})" if labels else ""),
        caption=city.attribution or None,
    )
    for col in ("standard", "facilities", "threshold", "covered", "share", "uncovered", "largest gap"):
        table.add_column(col, justify="left" if col == "standard" else "right", no_wrap=col == "standard")
    for r in result.results.values():
        s = r.summary()
        unit = "elderly" if r.standard.weight == "elderly" else "residents"
        thr = f"{r.standard.threshold_min:g} min walk" if r.standard.threshold_min else f"{r.standard.threshold_m:g} m radius"
        share = s["share_covered"]
        table.add_row(
            r.standard.title(lang) if lang == "zh" else r.standard.id,
            str(s["facilities"]),
            thr,
            f"{s['covered']:,.0f} {unit}",
            "n/a" if share is None else f"{share:.1%}",
            f"{s['uncovered']:,.0f}",
            f"{s['largest_gap']:,.0f}",
        )
    console.print(table)
    for note in city.meta.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {note}")


def print_diagnostics(result):
    """Print the checks a planner needs before trusting the figures; returns (CityDiagnostics, DetourReport)."""
    from scenarios.diagnostics import city_diagnostics, detour_report

    checks = city_diagnostics(result.city)
    detours = detour_report(result)
    notes = []
    if checks.n_pieces > 1:
        with_people = int((checks.pieces["population"] > 0).sum())
        notes.append(f"the walking network has {checks.n_pieces:,} connected pieces ({with_people} with residents)")
    for row in detours.summary.to_dict("records"):
        if row["population_on_pieces_without"] > 0:
            notes.append(f"{row['standard']}: {row['population_on_pieces_without']:,.0f} residents live on network pieces "
                         "with no facility of its kinds")
        if row["cells_above"]:
            notes.append(f"{row['standard']}: {row['cells_above']:,} cells walk more than {detours.flag:g}x the straight "
                         f"line (median detour {row['median']}); listed in detours.csv")
    if checks.cells_far:
        notes.append(f"{checks.cells_far:,} cells ({checks.population_far:,.0f} residents) are more than "
                     f"{checks.far_m:g} m from a street")
    for note in notes:
        console.print(f"[yellow]check:[/yellow] {note}")
    return checks, detours


def print_ratios(report) -> None:
    """Print ratio rules per unit and accessibility per cell."""
    table = Table(title="Ratio rules per unit")
    for col in ("rule", "level", "pass", "fail", "no facility", "city supply", "shortfall"):
        table.add_column(col, justify="left" if col in ("rule", "level") else "right", no_wrap=col == "rule")
    for row in report.rules_frame().to_dict("records"):
        table.add_row(
            row["rule"], row["level"], str(row["units_pass"]), str(row["units_fail"]),
            str(row["units_without_facility"]), f"{row['supply']:,.0f}", f"{row['shortfall']:,.0f}",
        )
    console.print(table)
    table = Table(title="Supply-aware accessibility (E2SFCA)")
    for col in ("standard", "catchment", "mean", "served", "under-served", "uncovered"):
        table.add_column(col, justify="left" if col == "standard" else "right", no_wrap=col == "standard")
    for row in report.access_frame().to_dict("records"):
        table.add_row(
            row["standard"], f"{row['catchment_min']:g} min", f"{row['mean_accessibility']:.1f} {row['unit']}",
            f"{row['served_population']:,.0f}", f"{row['under-served_population']:,.0f}",
            f"{row['uncovered_population']:,.0f}",
        )
    console.print(table)
