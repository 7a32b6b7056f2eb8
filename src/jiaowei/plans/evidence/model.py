"""What an evidence file is, told from its content (never from its name), and how it is labelled.

Accepted: PDF, Word (DOCX), Excel (XLSX), PNG, JPEG, GIF and WebP. A DOCX or XLSX is a ZIP package;
it is told apart by the part that only that kind has (``word/document.xml``, ``xl/workbook.xml``).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from jiaowei.domains import N_

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# media type -> (the extension a download gets, its label)
KINDS: dict[str, tuple[str, str]] = {
    "application/pdf": ("pdf", N_("PDF")),
    DOCX: ("docx", N_("Word document")),
    XLSX: ("xlsx", N_("Excel workbook")),
    "image/png": ("png", N_("PNG image")),
    "image/jpeg": ("jpg", N_("JPEG image")),
    "image/gif": ("gif", N_("GIF image")),
    "image/webp": ("webp", N_("WebP image")),
}
ACCEPTED = N_("a PDF, Word (.docx), Excel (.xlsx), PNG, JPEG, GIF or WebP file")


def sniff(content: bytes) -> str | None:
    """The media type the content is, or None when it is none of the accepted kinds."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content.startswith(b"PK\x03\x04"):
        return _office(content)
    return None


def _office(content: bytes) -> str | None:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def safe_filename(name: str, media_type: str) -> str:
    """The name a download is offered under: the uploaded name's last part, without control or path
    characters, at most 120 characters, ending in the extension of what the file really is."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = re.sub(r'[\x00-\x1f\x7f"<>:|?*;]', "", base).strip(" .") or "evidence"
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem = base
    extension = KINDS[media_type][0]
    if ext.lower() in {extension, "jpeg"} and dot:
        extension = ext.lower()
    return f"{stem[:110]}.{extension}"


def size_label(size: int) -> str:
    """1,234 bytes as "1.2 KB"; 20,971,520 as "20 MB" (binary multiples, as the limit is set)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" or value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Attachment:
    """One evidence file as attached to one object (a progress report, a measure, a score, a review)."""

    uid: str
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at_label: str
    owner_kind: str
    owner_id: int
    unit_id: int | None

    @property
    def url(self) -> str:
        return f"/plans/evidence/{self.uid}"

    @property
    def api_url(self) -> str:
        return f"/api/plans/evidence/{self.uid}"

    @property
    def media_label(self) -> str:
        return KINDS.get(self.media_type, ("", self.media_type))[1]

    @property
    def size_label(self) -> str:
        return size_label(self.size)
