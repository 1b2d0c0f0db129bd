"""The manifest of finished partitions: what was done, from which inputs, into which files.

``DIR/manifest.json`` maps each partition key to the hash of its inputs and
the files it wrote. A partition counts as done only when its entry is there,
its input hash is the one asked for now, and its files exist. Files are
written under a temporary name and renamed when whole, and the entry is
recorded after the rename: a crash at any point leaves at worst a finished
file without an entry (written again on the next run), never an entry for a
half-written file.

Only the process driving the run writes the manifest (workers write data
files), so there is one writer; each write replaces the whole file atomically.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from layers.atomic import write_atomic

__all__ = ["MANIFEST", "Manifest"]

MANIFEST = "manifest.json"
_FORMAT = "lifecircle-batch"


class Manifest:
    """Finished partitions of one output folder.

    Parameters
    ----------
    folder : path-like
        The batch output folder; the manifest is ``folder/manifest.json``.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / MANIFEST
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                data = {}  # unreadable: nothing is taken as done, everything is run again
            if isinstance(data, dict) and data.get("format") == _FORMAT and isinstance(data.get("partitions"), dict):
                self.entries = data["partitions"]

    def done(self, key: str, inputs: str) -> bool:
        """Whether partition ``key`` finished from the same inputs and its files are all there."""
        entry = self.entries.get(key)
        if not entry or entry.get("inputs") != inputs:
            return False
        return all((self.folder / f).is_file() for f in entry.get("files", []))

    def files(self, key: str) -> list[str]:
        """The files (relative to the folder) partition ``key`` wrote."""
        return list(self.entries.get(key, {}).get("files", []))

    def info(self, key: str) -> dict[str, Any]:
        """What the task reported about partition ``key`` (rows, seconds, peak memory)."""
        return dict(self.entries.get(key, {}).get("info", {}))

    def record(self, key: str, inputs: str, files: list[str], info: dict[str, Any] | None = None) -> None:
        """Record a finished partition and write the manifest (atomically)."""
        self.entries[key] = {
            "inputs": inputs,
            "files": list(files),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "info": info or {},
        }
        self.save()

    def save(self) -> None:
        """Write the manifest as it is now."""
        write_atomic(self.path, json.dumps({"format": _FORMAT, "partitions": self.entries}, indent=1, sort_keys=True))
