"""Reading evidence: the attachments of objects, one attachment, its content, and the size limit."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from jiaowei import clock
from jiaowei.db.among import one_of
from jiaowei.domains import N_
from jiaowei.errors import NotFound
from jiaowei.plans.evidence.model import Attachment, size_label
from jiaowei.plans.evidence.store import evidence_attachments as ea
from jiaowei.plans.evidence.store import evidence_files as ef
from jiaowei.settings import active_settings

NO_SUCH = N_("No such evidence file.")
MISSING = N_("The evidence file is missing from the evidence folder; restore the folder from its backup.")
DAMAGED = N_("The evidence file is damaged: its content does not match its digest.")


def folder() -> Path:
    """Where the files are kept: ``JIAOWEI_EVIDENCE_DIR``, else ``<home>/evidence``."""
    settings = active_settings()
    return settings.evidence_dir or settings.home / "evidence"


def path_of(sha256: str) -> Path:
    return folder() / sha256[:2] / sha256


def limit_label() -> str:
    """The largest file accepted, for forms ("20 MB")."""
    return size_label(active_settings().evidence_max_bytes)


def _select() -> Any:
    return select(ea, ef.c.sha256, ef.c.size, ef.c.media_type).join(ef, ef.c.id == ea.c.file_id)


def _attachment(row: Any) -> Attachment:
    return Attachment(
        uid=row.uid, filename=row.filename, media_type=row.media_type, size=row.size, sha256=row.sha256,
        uploaded_by=row.uploaded_by,
        uploaded_at_label=clock.local(row.uploaded_at),  # naive (SQLite) means UTC
        owner_kind=row.owner_kind, owner_id=row.owner_id, unit_id=row.unit_id,
    )


def attachments(conn: Connection, *, owner_kind: str,
                owner_ids: Sequence[int]) -> dict[int, list[Attachment]]:
    """The attachments of each object, oldest first; objects without any are absent. The ids are one
    parameter (:func:`jiaowei.db.among.one_of`): a closed round's page asks for every score's files."""
    out: dict[int, list[Attachment]] = defaultdict(list)
    if not owner_ids:
        return out
    rows = conn.execute(
        _select().where(ea.c.owner_kind == owner_kind, one_of(conn, ea.c.owner_id, owner_ids))
        .order_by(ea.c.uploaded_at, ea.c.id)
    )
    for row in rows:
        out[row.owner_id].append(_attachment(row))
    return out


def attachment(conn: Connection, uid: str) -> Attachment:
    row = conn.execute(_select().where(ea.c.uid == uid)).first()
    if row is None:
        raise NotFound(NO_SUCH)
    return _attachment(row)


def content(item: Attachment) -> bytes:
    """The file's bytes, checked against its digest."""
    try:
        data = path_of(item.sha256).read_bytes()
    except FileNotFoundError:
        raise NotFound(MISSING) from None
    if hashlib.sha256(data).hexdigest() != item.sha256:
        raise NotFound(DAMAGED)
    return data
