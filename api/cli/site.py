"""``lifecircle site``: propose where new facilities should go. Thin: parse, call, print."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.console import console, err_console, fail, progress_bar, user_errors
from api.options import BUILTIN_CITY, CANDIDATES_COORDS

__all__ = ["register", "site_command"]


def _overrides(items: list[str]) -> dict[str, str]:
    """``threshold_min=10`` (or ``clinic-walk.threshold_min=10``) -> ``{"threshold_min": "10"}``."""

    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.rpartition(".")[2]
        if not sep or not key:
            fail(f"--set '{item}': expected PARAMETER=VALUE, e.g. threshold_min=10")
        out[key] = value
    return out


def _print_sites(siting) -> None:
    from rich.table import Table

    unit = "elderly" if siting.standard.weight == "elderly" else "residents"
    # the model's gain is the newly covered weight for covering problems; other units otherwise
    show_gain = siting.problem not in ("mclp", "lscp")
    table = Table(title=f"Proposed sites: {siting.standard.id} ({siting.problem})")
    cols = ["rank", "site", "candidate", "lon", "lat", f"new {unit}", "covered after"] + (["gain"] if show_gain else [])
    for col in cols:
        table.add_column(col, justify="left" if col in ("site", "candidate") else "right")
    for row in siting.sites.itertuples():
        cells = [
            str(row.rank), str(row.site_id), str(row.candidate_id) + (" (required)" if row.required else ""),
            f"{row.lon:.5f}", f"{row.lat:.5f}", f"{row.newly_covered:,.0f}", f"{row.cumulative_covered:,.0f}",
        ]
        table.add_row(*cells, *([f"{row.gain:,.1f}"] if show_gain else []))
    console.print(table)


def _print_coverage(siting) -> None:
    from rich.table import Table

    s = siting.summary()
    table = Table(title=f"Coverage of {s['standard']} ({s['threshold_m']:g} m, weighted by {s['weight']})")
    for col in ("state", "covered", "share"):
        table.add_column(col, justify="left" if col == "state" else "right")
    rows = [("now", s["covered_current"], s["share_current"])]
    if s["removed"]:
        rows.append((f"after closing {', '.join(s['removed'])}", s["covered_before"], s["share_before"]))
    rows.append((f"with the {s['sites']} new sites", s["covered_after"], s["share_after"]))
    for label, covered, share in rows:
        table.add_row(label, f"{covered:,.0f} of {s['total']:,.0f}", "n/a" if share is None else f"{share:.1%}")
    console.print(table)
    gap = "n/a" if s["gap"] is None else f"{s['gap']:.3%}"
    console.print(
        f"objective {s['objective']:,.1f} ({s['objective_unit']}), bound {s['bound']:,.1f}, gap {gap}, "
        f"status {s['status']}, solver {s['solver']}, {s['seconds']:.1f} s; "
        f"{s['candidates']} candidates" + (f" ({s['candidates_rejected']} too far from a street)" if s["candidates_rejected"] else "")
    )
    if s["cells_disagreeing"]:
        err_console.print(
            f"[yellow]warning:[/yellow] re-evaluating the city disagrees with the model on {s['cells_disagreeing']} cells "
            f"(model {s['claimed_covered_after']:,.0f}, evaluation {s['covered_after']:,.0f})"
        )


def site_command(
    city: str = BUILTIN_CITY,
    standard: str = typer.Option(..., "--standard", "-s", help="Standard id, e.g. clinic-walk (see 'lifecircle standards')."),
    problem: str = typer.Option("mclp", help="mclp, lscp, p-median, capacitated or attendance."),
    p: int | None = typer.Option(None, "--p", help="Number of new sites (all problems but lscp)."),
    target: float | None = typer.Option(None, "--target", help="lscp: share of the reachable weight to cover, e.g. 0.95."),
    spacing: float = typer.Option(200.0, "--spacing", help="Spacing of candidate sites along the streets, metres."),
    candidates: Path | None = typer.Option(None, "--candidates", help="Your candidate sites (points or plots; an 'id' column names "
                                           "them). Default: the city folder's candidates, else sites along the streets."),
    candidates_coords: str | None = CANDIDATES_COORDS,
    exclude: list[str] = typer.Option([], "--exclude", help="Candidate id that must not be chosen (repeatable)."),
    require: list[str] = typer.Option([], "--require", help="Candidate id that must be chosen (repeatable)."),
    remove: list[str] = typer.Option([], "--remove", help="Existing facility id that closes (repeatable)."),
    relocate: list[str] = typer.Option([], "--relocate", help="Existing facility id that moves to a new site (repeatable)."),
    min_spacing: float = typer.Option(0.0, "--min-spacing", help="Smallest distance between two new sites, metres."),
    solver: str = typer.Option("auto", "--solver", help="auto, milp or greedy."),
    time_limit: float = typer.Option(60.0, "--time-limit", help="Time limit of the whole run (distances, solve, check), seconds."),
    weight: str | None = typer.Option(None, "--weight", help="population or elderly (default: the standard's)."),
    set_: list[str] = typer.Option([], "--set", help="Standard parameter, e.g. threshold_min=10 (repeatable)."),
    capacity: float | None = typer.Option(None, "--capacity", help="capacitated: people one new site can serve."),
    existing_capacity: str | None = typer.Option(None, "--existing-capacity", help="capacitated: a number or a facility column (default: --capacity)."),
    lang: str = typer.Option("en", help="Map labels: en or zh."),
    no_map: bool = typer.Option(False, "--no-map", help="Skip sites.html."),
    out: Path = typer.Option(Path("siting"), "--out", help="Output folder."),
) -> None:
    """Propose where new facilities should go to serve a standard, and check the gain."""
    from scenarios.siting import PlannerChoices, site

    with user_errors():
        from layers.cities import load_city

        with progress_bar() as update:
            c = load_city(city, progress=update)
        layer = c.candidates
        if candidates is not None:
            from layers.build import read_candidates

            layer = read_candidates(candidates, c.crs, coords=candidates_coords)
        ex_cap: float | str | None = existing_capacity
        if existing_capacity is not None:
            try:
                ex_cap = float(existing_capacity)
            except ValueError:
                ex_cap = existing_capacity  # a facility column name
        options = PlannerChoices(
            required=list(require), excluded=list(exclude), remove=list(remove), relocate=list(relocate),
            min_spacing_m=min_spacing,
        )
        with progress_bar() as update:
            siting = site(
                c, standard, problem, p=p, target_share=target, candidates=layer, spacing_m=spacing, weight=weight,
                overrides=_overrides(set_), options=options, solver=solver, time_limit_s=time_limit,
                capacity=capacity, existing_capacity=ex_cap, progress=update,
            )
        _print_sites(siting)
        _print_coverage(siting)
        # the writers (pyogrio, GDAL) and the map (folium, matplotlib) are imported only
        # now, after the solve, so that they do not add to its memory peak
        from scenarios.siting import write_siting

        paths = write_siting(siting, out)
        if not no_map:
            from maps.siting import siting_map

            paths["map"] = siting_map(siting, out / "sites.html", lang=lang)
    for name, path in paths.items():
        console.print(f"  {name:5} {path}")


def register(app: typer.Typer) -> None:
    """Add ``site`` to the ``lifecircle`` app."""
    app.command("site")(site_command)
