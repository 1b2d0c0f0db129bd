"""Fonts for print exports: find a CJK font for Chinese labels, or use the one given.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs: Chinese text
would print as empty boxes. For ``lang="zh"`` a CJK font is looked up among
the fonts matplotlib knows, then through fontconfig (``fc-list :lang=zh``,
which also sees fonts installed after matplotlib built its cache); a font
file can also be given explicitly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from matplotlib import font_manager

from maps.errors import FontError

__all__ = ["CJK_FAMILIES", "INSTALL_HINT", "find_cjk_font", "resolve_font"]

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
)
"""Font families that draw Simplified Chinese, best first."""

INSTALL_HINT = "install one (Debian/Ubuntu: apt-get install fonts-noto-cjk) or pass font=PATH to a .ttf/.otf/.ttc file"


def _known_family() -> str | None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((fam for fam in CJK_FAMILIES if fam in names), None)


def _fontconfig_files() -> list[str]:
    if not shutil.which("fc-list"):
        return []
    out = subprocess.run(
        ["fc-list", ":lang=zh", "--format=%{file}\n"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    files = [line.strip() for line in out.splitlines() if line.strip().lower().endswith((".ttf", ".otf", ".ttc"))]
    # prefer regular weights of the families we know
    return sorted(set(files), key=lambda f: ("Regular" not in f, "CJK" not in f and "wqy" not in f.lower(), f))


def find_cjk_font() -> str | None:
    """Family name of an installed font with Chinese glyphs, or ``None``.

    Fonts found only through fontconfig are registered with matplotlib.
    """
    family = _known_family()
    if family:
        return family
    added = []
    for path in _fontconfig_files():  # all of them: regular and bold faces
        try:
            font_manager.fontManager.addfont(path)
            added.append(path)
        except (OSError, RuntimeError, ValueError):  # unreadable font file: skip it
            continue
    if added:
        return _known_family() or font_manager.FontProperties(fname=added[0]).get_name()
    return None


def resolve_font(lang: str, font: str | os.PathLike | None = None) -> str | None:
    """The font family to draw labels in ``lang`` with.

    Parameters
    ----------
    lang : {"en", "zh"}
    font : path-like, optional
        A font file to use (registered with matplotlib).

    Returns
    -------
    str or None
        A family name, or ``None`` for matplotlib's default (English).

    Raises
    ------
    FontError
        If ``font`` is not a readable font file, or ``lang="zh"`` and no CJK
        font is installed (the message says what to install).
    """
    if font is not None:
        path = Path(font)
        if not path.is_file():
            raise FontError(f"font file {str(path)!r} does not exist")
        try:
            font_manager.fontManager.addfont(str(path))
            return font_manager.FontProperties(fname=str(path)).get_name()
        except (OSError, RuntimeError, ValueError) as exc:
            raise FontError(f"font file {str(path)!r} cannot be read as a font: {exc}") from None
    if lang == "zh":
        family = find_cjk_font()
        if family is None:
            raise FontError(f"lang='zh' needs a font with Chinese glyphs and none is installed; {INSTALL_HINT}")
        return family
    return None
