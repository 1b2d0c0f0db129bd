"""Reading a catalogue file: TOML or YAML, ``extends`` resolved, the seeds' older files merged in.

What comes out is plain, unchecked data (:func:`read_catalogue_data`);
:mod:`scenarios.catalogue_check` checks it and builds the catalogue.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from scenarios.catalogue_entries import CatalogueError

__all__ = ["BUILTIN", "SECTIONS", "read_catalogue_data", "resolved_text"]

BUILTIN: dict[str, str] = {"seeds": "seeds.toml", "seeds-full": "seeds-full.toml", "gb50180": "gb50180.toml"}
"""Built-in catalogue names and their files in ``scenarios/catalogues/``."""

SECTIONS = {"catalogue", "speeds", "kind", "standard", "rule", "accessibility", "circle", "catchment", "grid_rule"}
"""The sections a catalogue file may have."""


def _parse_text(text: str, source: str, suffix: str) -> dict[str, Any]:
    try:
        if suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise CatalogueError(source, [f"not valid {'YAML' if suffix in ('.yaml', '.yml') else 'TOML'}: {exc}"]) from None
    if not isinstance(data, dict):
        raise CatalogueError(source, ["the file must hold a table of sections (catalogue, kind, standard, ...)"])
    return data


def _builtin_path(name: str):
    return resources.files("scenarios").joinpath("catalogues", BUILTIN[name])


def read_catalogue_data(ref: str | Path, seen: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
    """A catalogue's data with ``extends`` resolved (parents' entries first), and its source name.

    Parameters
    ----------
    ref : str or pathlib.Path
        A built-in name (:data:`BUILTIN`) or a ``.toml`` / ``.yaml`` file.
    seen : tuple of str
        The catalogues extending this one (to refuse a loop).

    Returns
    -------
    (dict, str)
        The sections as plain data, unchecked, and the name problems cite.

    Raises
    ------
    CatalogueError
        The file is missing or not valid TOML/YAML, or ``extends`` is wrong.
    """
    ref_s = str(ref)
    if ref_s in BUILTIN:
        text = _builtin_path(ref_s).read_text(encoding="utf-8")
        data, source, base = _parse_text(text, f"catalogue '{ref_s}'", ".toml"), f"catalogue '{ref_s}'", None
    else:
        path = Path(ref)
        if not path.is_file():
            raise CatalogueError(ref_s, [f"no such file; give a catalogue file or one of {', '.join(BUILTIN)}"])
        data = _parse_text(path.read_text(encoding="utf-8"), str(path), path.suffix.lower())
        source, base = str(path), path.parent
    head = data.get("catalogue", {})
    parent = head.get("extends") if isinstance(head, dict) else None
    data = _with_includes(data, ref_s)
    if parent is None:
        return data, source
    if not isinstance(parent, str):
        raise CatalogueError(source, [f"[catalogue] field 'extends': must be a built-in name or a file, got {parent!r}"])
    if parent in seen or parent == ref_s:
        raise CatalogueError(source, [f"[catalogue] field 'extends': '{parent}' extends itself"])
    parent_ref = parent if parent in BUILTIN or base is None else str((base / parent))
    pdata, _ = read_catalogue_data(parent_ref, seen + (ref_s,))
    merged: dict[str, Any] = {"catalogue": data.get("catalogue", {}), "speeds": {**pdata.get("speeds", {}), **data.get("speeds", {})}}
    for section in SECTIONS - {"catalogue", "speeds"}:
        mine = data.get(section, [])
        ids = {e.get("id") for e in mine if isinstance(e, dict)} if isinstance(mine, list) else set()
        # an entry with a parent's id replaces it (a planner's own threshold for clinic-walk)
        theirs = [e for e in pdata.get(section, []) if not (isinstance(e, dict) and e.get("id") in ids)]
        merged[section] = theirs + (mine if isinstance(mine, list) else [mine])
    for key in set(data) - SECTIONS:
        merged[key] = data[key]
    return merged, source


def _with_includes(data: dict[str, Any], ref: str) -> dict[str, Any]:
    """Built-in ``seeds`` keeps its kinds, standards and rules in three older files: merge them in."""
    if ref != "seeds":
        return data
    out = dict(data)
    texts = [resources.files("layers").joinpath("kinds.toml").read_text(encoding="utf-8")]
    texts += [resources.files("scenarios").joinpath(n).read_text(encoding="utf-8") for n in ("standards.toml", "ratio_rules.toml")]
    for text in texts:
        inc = tomllib.loads(text)
        for section, value in inc.items():
            if section == "speeds":
                out["speeds"] = {**value, **out.get("speeds", {})}
            else:
                out[section] = list(out.get(section, [])) + list(value)
    return out


def resolved_text(data: dict[str, Any]) -> str:
    """The catalogue as one self-contained TOML text (what a city folder keeps)."""
    from scenarios.catalogue_toml import dumps

    head = {k: v for k, v in data.get("catalogue", {}).items() if k != "extends"}
    out = {"catalogue": head, **{k: v for k, v in data.items() if k != "catalogue" and v not in ([], {})}}
    return dumps(out)
