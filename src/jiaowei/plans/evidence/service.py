"""Storing evidence files: checked, kept once by content, attached to an object, audited.

:func:`attach` is called by the services of tasks, the ledger, appraisals and risks after they have
checked that the principal may write the object. The file is written (atomically, under its SHA-256)
before the transaction commits; if the transaction then rolls back, the file stays as an unattached
copy that a later upload of the same content reuses.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import Connection, insert, select

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_unit
from jiaowei.disk import write_whole
from jiaowei.domains import N_, load
from jiaowei.errors import NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.indicators.model import new_uid
from jiaowei.plans.evidence import queries
from jiaowei.plans.evidence.model import ACCEPTED, Attachment, safe_filename, size_label, sniff
from jiaowei.plans.evidence.store import evidence_attachments, evidence_files
from jiaowei.settings import active_settings

EMPTY = N_("The evidence file is empty.")
TOO_LARGE = N_("The evidence file is larger than the limit.")
NOT_ACCEPTED = N_("The evidence file is not of a kind accepted (told from its content, not its name).")


def check(filename: str, content: bytes) -> str:
    """The file's media type, or a ValidationError saying what is wrong with it."""
    limit = active_settings().evidence_max_bytes
    if not content:
        raise _refused(filename, EMPTY, ACCEPTED)
    if len(content) > limit:
        raise _refused(filename, TOO_LARGE, f"at most {size_label(limit)}")
    media_type = sniff(content)
    if media_type is None:
        raise _refused(filename, NOT_ACCEPTED, ACCEPTED)
    return media_type


def _refused(filename: str, message: str, expected: str) -> ValidationError:
    return ValidationError(message, [Problem(message, field="evidence", value=filename, expected=expected)])


def attach(conn: Connection, *, principal: Principal, owner_kind: str, owner_id: int, unit_id: int | None,
           filename: str, content: bytes) -> Attachment:
    """Keep the file and attach it to the object; audited as ``plans.evidence.upload``."""
    media_type = check(filename, content)
    digest = hashlib.sha256(content).hexdigest()
    _write(digest, content)
    now = dt.datetime.now(dt.UTC)
    file_id = conn.execute(select(evidence_files.c.id).where(evidence_files.c.sha256 == digest)).scalar()
    if file_id is None:
        inserted = conn.execute(insert(evidence_files).values(
            sha256=digest, size=len(content), media_type=media_type, created_at=now)).inserted_primary_key
        assert inserted is not None
        file_id = inserted[0]
    uid = new_uid()
    name = safe_filename(filename, media_type)
    conn.execute(insert(evidence_attachments).values(
        uid=uid, file_id=file_id, owner_kind=owner_kind, owner_id=owner_id, unit_id=unit_id, filename=name,
        uploaded_by=principal.username, uploaded_at=now))
    audit.record(conn, actor=principal.username, action="plans.evidence.upload", entity="evidence_attachment",
                 entity_key=uid, after={"owner_kind": owner_kind, "owner_id": owner_id, "filename": name,
                                        "sha256": digest, "size": len(content), "media_type": media_type})
    return queries.attachment(conn, uid)


def _write(digest: str, content: bytes) -> None:
    target = queries.path_of(digest)
    if target.exists() and target.stat().st_size == len(content):
        return
    write_whole(target, content)


# Owner kinds whose objects are readable beyond their unit's scope (a task's supporting units see its
# reports): "module:function" taking (conn, principal, owner_id, day) and answering whether the
# principal may read that object. Every other kind is readable where the view scope covers its unit.
READERS = {"task_report": "jiaowei.plans.tasks.queries:report_readable"}


def download(conn: Connection, *, principal: Principal, uid: str, day: dt.date) -> tuple[Attachment, bytes]:
    """The attachment and its bytes, when the principal may read it; audited.

    Readable by whoever uploaded it, by those who may read the object it is attached to (see
    :data:`READERS`), and by those whose view scope covers its unit; everyone else is told it does not
    exist.
    """
    item = queries.attachment(conn, uid)
    if not _readable(conn, principal, item, day):
        raise NotFound(queries.NO_SUCH)
    data = queries.content(item)
    audit.record(conn, actor=principal.username, action="plans.evidence.download",
                 entity="evidence_attachment", entity_key=uid)
    return item, data


def _readable(conn: Connection, principal: Principal, item: Attachment, day: dt.date) -> bool:
    if principal.unlimited or item.uploaded_by == principal.username:
        return True
    reader = READERS.get(item.owner_kind)
    if reader is not None and load(reader)(conn, principal, item.owner_id, day):
        return True
    if item.unit_id is None:
        return False
    try:
        require_unit(conn, principal, Action.VIEW, item.unit_id, day, item.uid)
    except (NotFound, PermissionDenied):
        return False
    return True
