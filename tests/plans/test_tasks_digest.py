"""The daily digest: what is overdue or due soon, by lead unit, from a given day; as text, through the
command line, and by email to a small SMTP server run by the test."""

from __future__ import annotations

import datetime as dt
import email
import socketserver
import threading
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.errors import ConfigurationError
from jiaowei.i18n import translate
from jiaowei.plans.tasks import digest
from jiaowei.settings import Settings
from tests.cli.test_cli import cli_env, jiaowei
from tests.plans.tasks_fixtures import build_plan


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to take one message after another (EHLO, MAIL, RCPT, DATA, QUIT)."""

    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        body: list[bytes] | None = None
        while line := self.rfile.readline():
            if body is not None:
                if line == b".\r\n":
                    self.server.messages.append(email.message_from_bytes(b"".join(body)))  # type: ignore[attr-defined]
                    body = None
                    self.wfile.write(b"250 queued\r\n")
                else:
                    body.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"DATA":
                body = []
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Message]]]:
    """A local SMTP server on a free port; yields the port and the messages it received."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], server.messages  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def zh(message: str) -> str:
    return translate("zh_CN", message)


def test_the_digest_groups_what_is_due_by_lead_unit(conn: Connection) -> None:
    build_plan(conn)
    found = digest.build(conn, principal=SYSTEM, today=dt.date(2020, 6, 25), within_days=7)
    assert [g.unit.code if g.unit else None for g in found.units] == ["D1", "D2", "S1"]
    d2 = found.units[1]
    assert [(r.kind, r.days) for r in d2.reminders] == [("checkpoint", -86), ("deadline", 5)]
    assert (found.overdue, found.due_soon) == (3, 1)
    text = digest.as_text(found, lambda m: m, "en")
    assert text.splitlines()[0] == "Key tasks on 2020-06-25: 3 overdue, 1 due within 7 days"
    assert "  - 2 Public health · Deadline · 2020-06-30 (due in 5 days)" in text
    assert (
        "  - 2 Public health · Checkpoint: Deploy (start of year) · 2020-03-31 (overdue by 86 days)" in text
    )
    chinese = digest.as_text(found, zh, "zh_CN")
    assert "  - 2 公共卫生 · 完成时限 · 2020-06-30 (5 天后到期)" in chinese
    quiet = digest.build(conn, principal=SYSTEM, today=dt.date(2020, 1, 2), within_days=7)
    assert digest.as_text(quiet, lambda m: m, "en").splitlines()[-1] == (
        "Nothing is overdue or due within 7 days."
    )


def test_the_digest_is_mailed_to_the_configured_addresses(conn: Connection, smtp, tmp_path: Path) -> None:
    port, received = smtp
    build_plan(conn)
    found = digest.build(conn, principal=SYSTEM, today=dt.date(2020, 3, 25))
    settings = Settings(
        home=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="jiaowei@example.org",
        digest_to="a@example.org, b@example.org",
    )
    assert digest.send(found, settings=settings, gettext=zh, language="zh_CN") == [
        "a@example.org",
        "b@example.org",
    ]
    [message] = received
    assert message["To"] == "a@example.org, b@example.org" and message["From"] == "jiaowei@example.org"
    assert str(email.header.make_header(email.header.decode_header(message["Subject"]))) == (
        "重点任务（2020-03-25）：0 项逾期，3 项将在 14 天内到期"
    )
    body = message.get_payload(decode=True).decode()
    assert "D1 单位D1" in body and "年初部署" in body


def test_email_without_settings_says_which_are_missing(conn: Connection, tmp_path: Path) -> None:
    found = digest.build(conn, principal=SYSTEM, today=dt.date(2020, 3, 25))
    with pytest.raises(ConfigurationError) as raised:
        digest.send(
            found, settings=Settings(home=tmp_path, smtp_host="127.0.0.1"), gettext=zh, language="zh_CN"
        )
    assert [p.field for p in raised.value.problems] == ["JIAOWEI_SMTP_FROM", "JIAOWEI_DIGEST_TO"]


def test_the_command_prints_the_digest_and_sends_it(tmp_path: Path, smtp) -> None:
    port, received = smtp
    url = f"sqlite:///{tmp_path / 'digest.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        build_plan(conn)
    engine.dispose()
    env = cli_env(tmp_path / "home", url)
    result = jiaowei(env, "plans", "digest", "--date", "2020-07-02", "--lang", "en")
    assert "Key tasks on 2020-07-02: 4 overdue, 3 due within 14 days" in result.stdout
    assert "overdue by 93 days" in result.stdout and "Public health" in result.stdout
    refused = jiaowei(env, "plans", "digest", "--date", "2020-07-02", "--email", "--lang", "en", expect=8)
    assert "JIAOWEI_SMTP_HOST" in refused.stderr
    assert "not a date" in jiaowei(env, "plans", "digest", "--date", "July", expect=2).stderr
    env.update(
        JIAOWEI_SMTP_HOST="127.0.0.1",
        JIAOWEI_SMTP_PORT=str(port),
        JIAOWEI_SMTP_FROM="jw@example.org",
        JIAOWEI_DIGEST_TO="ops@example.org",
    )
    sent = jiaowei(env, "plans", "digest", "--date", "2020-07-02", "--email", "--lang", "en")
    assert "Sent to ops@example.org." in sent.stdout
    [message] = received
    assert message["Subject"] == "Key tasks on 2020-07-02: 4 overdue, 3 due within 14 days"
