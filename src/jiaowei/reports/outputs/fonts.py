"""The CJK font PDF reports (and the charts in DOCX reports) are typeset with.

jiaowei ships no font (a CJK font is 10 to 20 MB, and the free ones are licensed separately; see
``docs/decisions/0019-pdf-with-typst.md``): it uses the one the operator names in
``JIAOWEI_CJK_FONT``, else the first known CJK font file under the usual font folders. Without one,
:func:`cjk_font` raises :class:`FontMissing`, a message that says where it looked and how to install
one, instead of a PDF whose Chinese text is printed as boxes.

The family name is read by Typst itself (``typst.Fonts``), so it is the name Typst matches
(``WenQuanYi Micro Hei``, ``Noto Sans CJK SC``); no other font library is needed.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import typst

from jiaowei.errors import M_, ConfigurationError
from jiaowei.settings import active_settings

# Searched in this order, each folder with its subfolders.
SEARCH_DIRS: tuple[str, ...] = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts",
                                "~/.fonts")
# Known CJK font files, the preferred first (Debian's fonts-noto-cjk, then fonts-wqy-*).
KNOWN_FILES: tuple[str, ...] = (
    "NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf", "NotoSansSC-*.otf",
    "NotoSansSC-*.ttf", "SourceHanSansSC-Regular.otf", "wqy-microhei.ttc", "wqy-zenhei.ttc",
    "NotoSerifCJK-Regular.ttc", "NotoSerifCJKsc-Regular.otf", "NotoSerifSC-*.otf",
)
# CJK Unified Ideographs and the other East Asian blocks (radicals, kana, hangul, fullwidth forms).
_CJK_START = 0x2E80


class FontMissing(ConfigurationError):
    """No CJK font on this machine: a PDF would print Chinese text as boxes."""

    code = "font-missing"
    title = "No CJK font"
    status = 503


@dataclass(frozen=True)
class CjkFont:
    path: Path
    family: str

    def typst_fonts(self) -> typst.Fonts:
        """The fonts a Typst compile is given: this font's folder and Typst's own (no system fonts)."""
        return _typst_fonts(str(self.path.parent))


def cjk_font() -> CjkFont:
    """The CJK font to typeset with: ``JIAOWEI_CJK_FONT``, else the first known file found."""
    looked: list[str] = []
    configured = active_settings().cjk_font
    if configured is not None:
        looked.append(f"JIAOWEI_CJK_FONT={configured}")
        if found := _readable(Path(configured).expanduser()):
            return found
    folders = [Path(d).expanduser() for d in SEARCH_DIRS]
    looked.extend(str(folder) for folder in folders)
    for path in _known_files(folders):
        if found := _readable(path):
            return found
    raise FontMissing(M_(
        "No CJK font was found, so the report cannot be typeset without printing its Chinese text as "
        "boxes. Looked in: {places}. Install one (apt install fonts-noto-cjk, or apt install "
        "fonts-wqy-microhei) or name a font file with JIAOWEI_CJK_FONT=/path/to/font.ttc.",
        places="; ".join(looked)))


def needs_cjk(text: str) -> bool:
    """Whether ``text`` has a character only a CJK font draws."""
    return any(ord(c) >= _CJK_START for c in text)


def _known_files(folders: list[Path]) -> list[Path]:
    """The known CJK font files under ``folders``, in the order of :data:`KNOWN_FILES`."""
    files: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            for root, _, names in os.walk(folder):
                files.extend(Path(root) / name for name in sorted(names))
    return [path for pattern in KNOWN_FILES for path in files if fnmatch.fnmatchcase(path.name, pattern)]


def _readable(path: Path) -> CjkFont | None:
    if not path.is_file():
        return None
    family = _family(str(path.resolve()), path.stat().st_mtime)
    return CjkFont(path=path, family=family) if family else None


@lru_cache(maxsize=16)
def _family(path: str, mtime: float) -> str:
    """The family Typst knows the font file by ('' if Typst cannot read it); for a collection such as
    Noto Sans CJK, its Simplified Chinese family; else the regular face's shortest name."""
    folder = typst.Fonts(include_system_fonts=False, include_embedded_fonts=False,
                         font_paths=[str(Path(path).parent)])
    fonts = [f for f in folder.fonts() if f.path and os.path.realpath(f.path) == path]
    families = sorted({f.family for f in fonts if f.style == "normal" and f.weight == 400}
                      or {f.family for f in fonts}, key=lambda name: (not name.endswith(" SC"), len(name)))
    return families[0] if families else ""


@lru_cache(maxsize=8)
def _typst_fonts(folder: str) -> typst.Fonts:
    return typst.Fonts(include_system_fonts=False, include_embedded_fonts=True, font_paths=[folder])
