"""``lifecircle run`` and ``lifecircle scenario ...``: what-if plans, saved, edited, run and compared. Thin.

    lifecircle run scenarios/examples/new-clinic-east.yaml      # the plan vs its city's current facilities
    lifecircle scenario new plan-a --city demo -s clinic-walk
    lifecircle scenario edit plan-a --add kind=health_station,lon=116.52,lat=18.98,name=New station --expect-version 1
    lifecircle scenario run plan-a
    lifecircle scenario compare plan-a              # against its base; or: compare plan-a plan-b@2
    lifecircle scenario list | show plan-a | export plan-a --out plan-a.yaml

The store is ``--db URL`` (SQLite file or PostgreSQL), else ``$LIFECIRCLE_DB_URL``,
else a SQLite file in the lifecircle data folder. A save based on an outdated
version exits with code 3 (someone else saved meanwhile); other errors exit with 2.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Tuple

import typer

from api.cli.console import console, fail, parse_overrides, progress_bar, user_errors
from api.cli.report import print_summary
from api.options import CITY_HELP, LANG, SET_STANDARD, STANDARDS

__all__ = ["parse_add", "register"]

scenario_app = typer.Typer(
    help="What-if plans: create, edit (with optimistic concurrency), run, compare, list, show, export.",
    no_args_is_help=True,
)

_DB = typer.Option(None, "--db", help="Scenario store URL (sqlite:///file.db or postgresql+psycopg2://...).")

STALE_EXIT = 3
"""Exit code when a save is refused because the scenario changed since the expected version."""


@contextmanager
def _errors() -> Iterator[None]:
    """Project errors to one line on stderr; a stale write gets its own exit code."""
    from scenarios.store import StaleWriteError, StoreError

    with user_errors():
        # inside user_errors: a stale write is also a LifecircleError, and keeps its own exit code
        try:
            yield
        except StaleWriteError as exc:
            fail(str(exc), code=STALE_EXIT)
        except StoreError as exc:  # the database named by --db cannot be used
            fail(str(exc))


def _store(db: Optional[str]):
    from scenarios.store import ScenarioStore

    return ScenarioStore(db)


def _name_version(ref: str) -> tuple[str, int | None]:
    """``plan-a@3`` -> ``("plan-a", 3)``; ``plan-a`` -> ``("plan-a", None)``."""
    from scenarios.model import ScenarioError  # here, not at the top: pydantic would cost every command 0.1 s
    name, sep, version = ref.rpartition("@")
    if not sep:
        return ref, None
    if not version.isdigit() or int(version) < 1:
        raise ScenarioError(f"'{ref}': the version after '@' must be a positive whole number")
    return name, int(version)


# ---------------------------------------------------------------- parsing edits

_PAIR_SPLIT = re.compile(r",(?=\s*[A-Za-z_][A-Za-z0-9_]*\s*=)")  # a comma that starts the next key=value
_FLOATS = {"lon", "lat", "x", "y"}


def parse_add(spec: str, default_id: str) -> dict[str, Any]:
    """``kind=health_station,lon=116.5,lat=18.9,name=East station,doctors=4`` -> an ``add`` edit.

    Keys: ``kind`` (required), ``id`` (default ``default_id``), ``name``,
    ``lon``/``lat`` or ``x``/``y``, and capacity fields (``beds``, ``doctors``,
    ``floor_area_m2``). A name may contain commas unless one is followed by
    ``word=``.

    Raises
    ------
    EditError
        Naming the malformed piece or the value that is not a number.
    """
    from layers.kinds import CAPACITY_FIELDS
    from scenarios.model import EditError

    edit: dict[str, Any] = {"op": "add", "id": default_id, "capacities": {}}
    for piece in _PAIR_SPLIT.split(spec):
        key, sep, value = piece.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise EditError(f"--add: '{piece}' is not key=value (e.g. kind=health_station,lon=116.5,lat=18.9)")
        if key in _FLOATS or key in CAPACITY_FIELDS:
            try:
                number = float(value)
            except ValueError:
                raise EditError(f"--add: {key} must be a number, got {value!r}") from None
            if key in CAPACITY_FIELDS:
                edit["capacities"][key] = number
            else:
                edit[key] = number
        elif key in ("kind", "id", "name"):
            edit[key] = value
        else:
            raise EditError(
                f"--add: unknown key {key!r}; use kind, id, name, lon, lat (or x, y) and {', '.join(CAPACITY_FIELDS)}"
            )
    return edit


def _parse_move(fid: str, where: str) -> dict[str, Any]:
    from scenarios.model import EditError
    parts = [p.strip() for p in where.split(",")]
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise EditError(f"--move {fid} {where}: expected LON,LAT in degrees, e.g. 116.52,18.98") from None
    return {"op": "move", "id": fid, "lon": lon, "lat": lat}


def _parse_capacity(fid: str, assignment: str) -> dict[str, Any]:
    from scenarios.model import EditError
    field, sep, value = assignment.partition("=")
    if not sep:
        raise EditError(f"--capacity {fid} {assignment}: expected FIELD=VALUE, e.g. beds=40 (or beds=none)")
    if value.strip().lower() in ("", "none", "null", "unknown"):
        number = None
    else:
        try:
            number = float(value)
        except ValueError:
            raise EditError(f"--capacity {fid}: {field} must be a number or 'none', got {value!r}") from None
    return {"op": "set_capacity", "id": fid, "field": field.strip(), "value": number}


# ---------------------------------------------------------------- printing


def _print_comparison(comparison, lang: str = "en") -> None:
    from rich.table import Table

    table = Table(title=f"{comparison.name_a} -> {comparison.name_b}"
                  + (" (generated city, not a real place)" if comparison.result_b.city.generated else ""))
    for col in ("standard", "covered before", "covered after", "change", "share", "newly covered", "newly uncovered"):
        table.add_column(col, justify="left" if col == "standard" else "right")
    for row in comparison.table().to_dict("records"):
        ch = comparison.changes[row["standard"]]
        unit = "elderly" if row["weight"] == "elderly" else "residents"
        share = "n/a" if row["share_before"] is None else f"{row['share_before']:.1%} -> {row['share_after']:.1%}"
        table.add_row(
            ch.after.standard.title(lang) if lang == "zh" else row["standard"],
            f"{row['covered_before']:,.0f}",
            f"{row['covered_after']:,.0f} {unit}",
            f"{row['covered_change']:+,.0f}",
            share,
            f"{row['newly_covered_population']:,.0f} in {row['newly_covered_cells']} cells",
            f"{row['newly_uncovered_population']:,.0f} in {row['newly_uncovered_cells']} cells",
        )
    console.print(table)
    for sid in comparison.changes:
        loads = comparison.load_changes(sid, top=5)
        loads = loads[loads["load_change"] != 0]
        if len(loads):
            t = Table(title=f"{sid}: facilities whose served population changes most")
            for col in ("id", "name", "status", "before", "after", "change"):
                t.add_column(col, justify="right" if col in ("before", "after", "change") else "left")
            for r in loads.to_dict("records"):
                t.add_row(r["id"], str(r["name"]), r["status"], f"{r['load_before']:,.0f}",
                          f"{r['load_after']:,.0f}", f"{r['load_change']:+,.0f}")
            console.print(t)


def _write_comparison(comparison, out: Path, with_map: bool, lang: str) -> dict[str, Path]:
    """comparison.json, changes.gpkg (one layer per standard) and optionally map.html in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "comparison.json", "changes": out / "changes.gpkg"}
    paths["json"].write_text(json.dumps(comparison.to_json(), ensure_ascii=False, indent=1, allow_nan=False),
                             encoding="utf-8")
    paths["changes"].unlink(missing_ok=True)
    for sid in comparison.changes:
        comparison.change_layer(sid).to_file(paths["changes"], layer=sid, driver="GPKG")
    if with_map:
        from maps.compare import change_map

        paths["map"] = change_map(comparison, out / "map.html", lang=lang)
    return paths


_CITY_OVERRIDE = typer.Option(None, "--city", help="Run on this city instead of the one the scenario names (a city "
                              "folder or built-in name), e.g. after moving a city folder.")


def city_reference(city: str) -> str:
    """A city as a scenario records it: a built-in name as given, a folder as an absolute path."""
    from layers.cities import is_folder_reference

    return str(Path(city).resolve()) if is_folder_reference(city) else city


def _on_city(scenario, city: Optional[str]):
    """The scenario, moved onto ``city`` when one is given."""
    return scenario if city is None else scenario.model_copy(update={"city": city_reference(city)})


def _run_pair(scenario, city=None, store=None):
    """The scenario's base and the scenario, run on the same city; returns (base run, run)."""
    from scenarios.run import base_of, run_scenario

    with progress_bar() as update:
        if city is None:
            from layers.cities import load_city

            city = load_city(scenario.city, progress=update)
        base = run_scenario(base_of(scenario), city, progress=update)
        run = run_scenario(scenario, city, store=store, progress=update)
    return base, run


# ---------------------------------------------------------------- commands


def run_command(
    path: Path = typer.Argument(..., help="Scenario YAML file, e.g. scenarios/examples/new-clinic-east.yaml."),
    save: bool = typer.Option(False, "--save", help="Also save the scenario with its results in the store."),
    db: Optional[str] = _DB,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for comparison.json, changes.gpkg and map.html."),
    no_map: bool = typer.Option(False, "--no-map", help="With --out: skip the HTML map."),
    lang: str = LANG,
    city: Optional[str] = _CITY_OVERRIDE,
) -> None:
    """Run a scenario file and compare it with its city's current facilities."""
    from scenarios.compare import compare
    from scenarios.yamlio import load_scenario_yaml

    with _errors():
        scenario = _on_city(load_scenario_yaml(path), city)
        store = _store(db) if save else None
        try:
            base, run = _run_pair(scenario, store=store)
        finally:
            if store is not None:
                store.close()
        comparison = compare(base, run, name_a="current facilities", name_b=scenario.name)
        _print_comparison(comparison, lang)
        if run.version:
            console.print(f"  saved '{scenario.name}' version {run.version}")
        if out is not None:
            for name, p in _write_comparison(comparison, out, not no_map, lang).items():
                console.print(f"  {name:7} {p}")


def new_command(
    name: str = typer.Argument(..., help="Scenario name (its key in the store)."),
    city: str = typer.Option("demo", "--city", help=CITY_HELP),
    standard: list[str] = STANDARDS,
    set_: list[str] = SET_STANDARD,
    description: str = typer.Option("", help="What the plan is about."),
    from_file: Optional[Path] = typer.Option(None, "--from", help="Start from a scenario YAML file (its name is replaced)."),
    author: Optional[str] = typer.Option(None, help="Recorded in the history."),
    db: Optional[str] = _DB,
) -> None:
    """Create a scenario (version 1) in the store."""
    from scenarios.model import scenario_from_dict
    from scenarios.yamlio import load_scenario_yaml

    with _errors():
        if from_file is not None:
            scenario = load_scenario_yaml(from_file).model_copy(update={"name": name, "results": None, "version": None})
            scenario = scenario_from_dict(scenario.content(), str(from_file))  # re-validate under the new name
        else:
            scenario = scenario_from_dict(
                {"name": name, "city": city_reference(city), "description": description,
                 "standards": list(standard) or None, "overrides": parse_overrides(set_)},
                "scenario new",
            )
        with _store(db) as store:
            version = store.save(scenario, expected_version=0, author=author, message="created")
        console.print(f"created '{name}' version {version} ({store.safe_url})")


def edit_command(
    name: str = typer.Argument(..., help="Scenario name."),
    add: Optional[str] = typer.Option(None, "--add", help="Open a facility: kind=...,lon=...,lat=...[,name=...,id=...,beds=...]."),
    move: Optional[Tuple[str, str]] = typer.Option(None, "--move", help="Move a facility: ID LON,LAT."),
    remove: Optional[str] = typer.Option(None, "--remove", help="Close a facility: ID."),
    capacity: Optional[Tuple[str, str]] = typer.Option(None, "--capacity", help="Set a capacity: ID FIELD=VALUE (beds=40, doctors=none)."),
    expect_version: Optional[int] = typer.Option(
        None, "--expect-version", help="The version your edit is based on; refused (exit 3) if the scenario moved on."
    ),
    author: Optional[str] = typer.Option(None, help="Recorded in the history."),
    message: Optional[str] = typer.Option(None, help="Why (recorded in the history)."),
    db: Optional[str] = _DB,
) -> None:
    """Append one edit to a scenario, saving a new version."""
    from scenarios.model import scenario_from_dict

    given = [x for x in (add, move, remove, capacity) if x is not None]
    if len(given) != 1:
        fail("give exactly one of --add, --move, --remove or --capacity")
    with _errors():
        with _store(db) as store:
            scenario = store.get(name, expect_version)
            if add is not None:
                edit = parse_add(add, default_id=f"NEW-{len(scenario.edits) + 1}")
            elif move is not None:
                edit = _parse_move(*move)
            elif remove is not None:
                edit = {"op": "remove", "id": remove}
            else:
                edit = _parse_capacity(*capacity)
            data = scenario.content()
            data["edits"].append(edit)
            updated = scenario_from_dict(data, f"scenario '{name}'")
            version = store.save(updated, expected_version=scenario.version, author=author,
                                 message=message or f"{edit['op']} {edit['id']}")
    console.print(f"'{name}' version {version}: {edit['op']} {edit['id']} ({len(updated.edits)} edits)")


def run_stored_command(
    ref: str = typer.Argument(..., help="Scenario name, optionally NAME@VERSION."),
    lang: str = LANG,
    db: Optional[str] = _DB,
    city: Optional[str] = _CITY_OVERRIDE,
) -> None:
    """Evaluate a stored scenario and keep the results with its version."""
    from scenarios.run import run_scenario

    with _errors():
        name, version = _name_version(ref)
        with _store(db) as store:
            scenario = _on_city(store.get(name, version), city)
            with progress_bar() as update:
                run = run_scenario(scenario, store=store, progress=update)
        print_summary(run.result, lang)
        console.print(f"  results stored with '{name}' version {run.version}")


def compare_command(
    first: str = typer.Argument(..., help="Scenario NAME[@VERSION]; alone, it is compared with its base facilities."),
    second: Optional[str] = typer.Argument(None, help="Second scenario NAME[@VERSION] (the 'after')."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for comparison.json, changes.gpkg and map.html."),
    no_map: bool = typer.Option(False, "--no-map", help="With --out: skip the HTML map."),
    lang: str = LANG,
    db: Optional[str] = _DB,
    city: Optional[str] = _CITY_OVERRIDE,
) -> None:
    """Compare two stored scenarios (or one with its base): coverage gained and lost, load shifts."""
    from layers.cities import load_city
    from scenarios.compare import compare
    from scenarios.model import ScenarioError
    from scenarios.run import run_scenario

    with _errors():
        with _store(db) as store:
            a = _on_city(store.get(*_name_version(first)), city)
            b = _on_city(store.get(*_name_version(second)), city) if second else None
        if b is None:
            base, run = _run_pair(a)
            comparison = compare(base, run, name_a="current facilities", name_b=f"{a.name}@{a.version}")
        else:
            if a.city != b.city:
                raise ScenarioError(f"'{first}' is for city '{a.city}' and '{second}' for '{b.city}': not comparable")
            with progress_bar() as update:
                city = load_city(a.city, progress=update)
                run = run_scenario(a, city, progress=update)
                other = run_scenario(b, city, progress=update)
            comparison = compare(run, other, name_a=f"{a.name}@{a.version}", name_b=f"{b.name}@{b.version}")
        _print_comparison(comparison, lang)
        if out is not None:
            for name, p in _write_comparison(comparison, out, not no_map, lang).items():
                console.print(f"  {name:7} {p}")


def list_command(
    all_: bool = typer.Option(False, "--all", help="Also list deleted scenarios."),
    db: Optional[str] = _DB,
) -> None:
    """List the scenarios in the store (latest versions)."""
    from rich.table import Table

    with _errors():
        with _store(db) as store:
            infos = store.list_scenarios(include_deleted=all_)
            where = store.safe_url
    table = Table(title=f"Scenarios in {where}")
    for col in ("name", "version", "saved (UTC)", "author", "results", "deleted"):
        table.add_column(col)
    for i in infos:
        table.add_row(i.name, str(i.version), i.saved_at.strftime("%Y-%m-%d %H:%M"), i.author or "",
                      "yes" if i.has_results else "", "deleted" if i.deleted else "")
    console.print(table)


def show_command(
    ref: str = typer.Argument(..., help="Scenario NAME[@VERSION]."),
    db: Optional[str] = _DB,
) -> None:
    """Print a scenario as YAML, then its version history."""
    from rich.table import Table

    from scenarios.yamlio import scenario_to_yaml

    with _errors():
        name, version = _name_version(ref)
        with _store(db) as store:
            scenario = store.get(name, version)
            history = store.history(name)
    console.print(scenario_to_yaml(scenario), markup=False, highlight=False)
    table = Table(title=f"History of '{name}'")
    for col in ("version", "saved (UTC)", "author", "message", "results"):
        table.add_column(col)
    for h in history:
        table.add_row(str(h.version), h.saved_at.strftime("%Y-%m-%d %H:%M:%S"), h.author or "",
                      "(deleted)" if h.deleted else (h.message or ""), "yes" if h.has_results else "")
    console.print(table)


def export_command(
    ref: str = typer.Argument(..., help="Scenario NAME[@VERSION]."),
    out: Path = typer.Option(..., "--out", help="YAML file to write."),
    db: Optional[str] = _DB,
) -> None:
    """Write a stored scenario (with its results, if any) to a YAML file."""
    from scenarios.yamlio import dump_scenario_yaml

    with _errors():
        with _store(db) as store:
            scenario = store.get(*_name_version(ref))
        path = dump_scenario_yaml(scenario, out)
    console.print(f"  wrote {path}")


def register(app: typer.Typer) -> None:
    """Add ``run`` and the ``scenario`` command group to the ``lifecircle`` app."""
    app.command("run")(run_command)
    scenario_app.command("new")(new_command)
    scenario_app.command("edit")(edit_command)
    scenario_app.command("run")(run_stored_command)
    scenario_app.command("compare")(compare_command)
    scenario_app.command("list")(list_command)
    scenario_app.command("show")(show_command)
    scenario_app.command("export")(export_command)
    app.add_typer(scenario_app, name="scenario")
