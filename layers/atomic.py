"""Atomic file writes: write beside the target, then ``os.replace`` it.

A crash, a full disk or a reader arriving mid-write never sees half a file
under the final name: it sees the old file or the whole new one. The one
place for this, used by the city cache, scenario YAML, coverage and siting
outputs and the HTML maps.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["atomic_file", "atomic_path", "write_atomic"]


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Give a temporary path beside ``path`` that replaces it if the block succeeds.

    For writers that want a file name rather than an open file (GeoPackage
    drivers, ``savefig``). The temporary name keeps ``path``'s suffix, so
    drivers that look at the extension behave the same.

    Parameters
    ----------
    path : path-like
        The final file; its folder is created if missing.

    Yields
    ------
    pathlib.Path
        A name that does not exist yet, in the same folder (``os.replace``
        is only atomic within one file system).

    Raises
    ------
    OSError
        If the folder cannot be created or written. On any error in the
        block the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=f".partial{target.suffix}"
    )
    os.close(fd)
    tmp = Path(name)
    # mkstemp only reserves a unique name: some drivers (GPKG) refuse to
    # write over an existing empty file.
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO]:
    """Open a file that replaces ``path`` once the block has finished without error.

    The data is flushed and fsync'ed before the rename, so after a power
    cut ``path`` holds the old or the new content, never a torn mix.

    Parameters
    ----------
    path : path-like
    mode : {"w", "wb"}
        Text mode writes UTF-8.

    Yields
    ------
    file object
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode={mode!r}: use 'w' or 'wb'")
    with (
        atomic_path(path) as tmp,
        open(tmp, mode, encoding="utf-8" if mode == "w" else None) as fh,
    ):
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to ``path`` atomically.

    Parameters
    ----------
    path : path-like
    data : str or bytes

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    with atomic_file(path, "wb" if isinstance(data, bytes) else "w") as fh:
        fh.write(data)
    return Path(path)
