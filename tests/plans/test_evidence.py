"""Evidence files: told by content, kept once by digest, size-limited, downloaded within scope, audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile

import openpyxl
import pytest
from sqlalchemy import Connection, func, select

from jiaowei.audit.store import audit_log
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import NotFound, ValidationError
from jiaowei.plans.evidence import queries, service
from jiaowei.plans.evidence.model import DOCX, XLSX, safe_filename, size_label, sniff
from jiaowei.plans.evidence.store import evidence_attachments, evidence_files
from jiaowei.registry import queries as registry
from jiaowei.settings import Settings, using
from tests.factories import login, make_user, small_tree, token_for

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _office(kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "docx":  # the parts Word writes first; python-docx is not a dependency of this module
        return _zip(["[Content_Types].xml", "_rels/.rels", "word/document.xml"])
    else:
        book = openpyxl.Workbook()
        book.active.append(["指标", 53])
        book.save(out)
    return out.getvalue()


def _zip(names: list[str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        for name in names:
            package.writestr(name, "x")
    return out.getvalue()


def test_the_kind_is_told_from_the_content_not_the_name():
    assert sniff(PDF) == "application/pdf"
    assert sniff(PNG) == "image/png"
    assert sniff(b"\xff\xd8\xff\xe0" + b"\x00" * 8) == "image/jpeg"
    assert sniff(b"GIF89a" + b"\x00" * 8) == "image/gif"
    assert sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(_office("docx")) == DOCX
    assert sniff(_office("xlsx")) == XLSX
    assert sniff(b"<html><script>alert(1)</script></html>") is None
    assert sniff(_zip(["[Content_Types].xml", "ppt/presentation.xml"])) is None  # a PowerPoint: not accepted
    assert sniff(_zip(["word/document.xml"])) is None  # no content types part: not an Office package
    assert sniff(b"PK\x03\x04 not really a zip") is None


def test_download_names_are_safe_and_end_in_the_real_extension():
    assert safe_filename("../../etc/整改报告.pdf", "application/pdf") == "整改报告.pdf"
    assert safe_filename("report.html", "application/pdf") == "report.pdf"  # the real kind, not the claimed
    assert safe_filename('C:\\a\\b"<x>.PDF', "application/pdf") == "bx.pdf"
    assert safe_filename("photo.jpeg", "image/jpeg") == "photo.jpeg"
    assert safe_filename("", "image/png") == "evidence.png"
    assert size_label(20 * 1024 * 1024) == "20 MB" and size_label(1536) == "1.5 KB"
    assert size_label(12) == "12 B"


@pytest.fixture
def tree(conn: Connection) -> dict[str, int]:
    codes = small_tree(conn)
    return {key: registry.id_of(conn, code) for key, code in codes.items()}  # type: ignore[misc]


def _attach(conn: Connection, unit_id: int, content: bytes = PDF, name: str = "证明材料.pdf", owner: int = 7):
    return service.attach(conn, principal=SYSTEM, owner_kind="task_report", owner_id=owner, unit_id=unit_id,
                          filename=name, content=content)


def test_a_file_is_kept_once_by_its_digest_outside_the_database(conn, tree, settings: Settings):
    first = _attach(conn, tree["s1"])
    second = _attach(conn, tree["s1"], name="again.pdf", owner=8)
    digest = hashlib.sha256(PDF).hexdigest()
    assert first.sha256 == second.sha256 == digest and first.uid != second.uid
    assert (settings.home / "evidence" / digest[:2] / digest).read_bytes() == PDF
    assert conn.execute(select(func.count()).select_from(evidence_files)
                        .where(evidence_files.c.sha256 == digest)).scalar() == 1
    found = queries.attachments(conn, owner_kind="task_report", owner_ids=[7, 8, 9])
    assert [a.filename for a in found[7]] == ["证明材料.pdf"]
    assert [a.filename for a in found[8]] == ["again.pdf"]
    assert 9 not in found
    assert first.media_label == "PDF" and first.url == f"/plans/evidence/{first.uid}"


@pytest.mark.parametrize(("content", "name", "message"), [
    (b"", "empty.pdf", service.EMPTY),
    (b"<html>hi</html>", "looks.pdf", service.NOT_ACCEPTED),
    (PDF + b"x" * 200, "big.pdf", service.TOO_LARGE),
])
def test_bad_files_are_refused_naming_the_file_and_what_is_accepted(conn, tree, settings, content, name,
                                                                      message):
    small = settings.model_copy(update={"evidence_max_bytes": 100})
    with using(small), pytest.raises(ValidationError) as raised:
        _attach(conn, tree["s1"], content, name)
    problem = raised.value.problems[0]
    assert raised.value.detail == message and problem.field == "evidence" and problem.value == name
    assert problem.expected and ("100 B" in problem.expected if message == service.TOO_LARGE else "PDF" in
                                 problem.expected)
    assert conn.execute(select(func.count()).select_from(evidence_files)).scalar() == 0


def test_download_is_an_attachment_within_the_view_scope_and_audited(conn, tree, client):
    item = _attach(conn, tree["s1"])
    inside = make_user(conn, role="district_staff", capture=["D1"])
    outside = make_user(conn, role="district_staff", capture=["D2"])
    answer = client.get(item.api_url, headers=token_for(conn, inside))
    assert answer.status_code == 200 and answer.content == PDF
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E8%AF%81" in answer.headers["content-disposition"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert client.get(item.api_url, headers=token_for(conn, outside)).status_code == 404
    assert client.get("/api/plans/evidence/Xnotthere1", headers=token_for(conn, inside)).status_code == 404
    actions = [(row.actor, row.action) for row in conn.execute(
        select(audit_log.c.actor, audit_log.c.action).where(audit_log.c.entity_key == item.uid))]
    assert actions == [("system", "plans.evidence.upload"), (inside.username, "plans.evidence.download")]


def test_the_page_route_downloads_with_the_session(conn, tree, browser):
    item = _attach(conn, tree["s1"], PNG, "photo.png")
    user = make_user(conn, role="unit_reporter", capture=["S1"])
    login(browser, user.username)
    answer = browser.get(item.url)
    assert answer.status_code == 200 and answer.content == PNG
    assert answer.headers["content-type"] == "image/png"


def test_a_file_changed_on_disk_is_refused(conn, tree, settings):
    item = _attach(conn, tree["s1"])
    (settings.home / "evidence" / item.sha256[:2] / item.sha256).write_bytes(PDF + b"tampered")
    with pytest.raises(NotFound, match="damaged"):
        service.download(conn, principal=SYSTEM, uid=item.uid, day=dt.date(2026, 1, 1))


def test_a_supporting_unit_reads_the_evidence_of_the_task_it_supports(conn, client):
    from jiaowei.plans.tasks import service as tasks
    from tests.plans.tasks_fixtures import build_plan

    plan = build_plan(conn)  # task 1: lead D1, supporting S1
    lead = make_user(conn, role="district_staff", capture=["D1"])
    tasks.report_progress(conn, principal=lead, task=plan.task1, stage="advance", percent=40,
                          narrative="进展", evidence=[("mid-year.pdf", PDF)], today=dt.date(2020, 7, 10))
    uid = conn.execute(select(evidence_attachments.c.uid)).scalar_one()
    supporting = make_user(conn, role="unit_reporter", capture=["S1"])
    other = make_user(conn, role="district_staff", capture=["D2"])
    assert client.get(f"/api/plans/evidence/{uid}", headers=token_for(conn, supporting)).content == PDF
    assert client.get(f"/api/plans/evidence/{uid}", headers=token_for(conn, other)).status_code == 404
