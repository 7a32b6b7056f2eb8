"""Why a live row differs from the audit log, said in the reader's language (issue 9, item 4).

A reason is a catalog message with its values: ``reason`` stays the English it always was, and the
API (``message``), the audit page and the command line say it in Chinese for a zh-CN reader, with
the table and field names translated too. One tampering of each domain, on both databases.
"""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.audit import reconcile
from jiaowei.audit import service as audit
from jiaowei.i18n import catalog
from tests.admissions.test_reconcile import CODE, run, tier
from tests.audit.test_reconcile_indicators import TAMPERINGS as VALUE_TAMPERINGS
from tests.audit.test_reconcile_indicators import load as load_values
from tests.auth.test_accounts_audit import TAMPERINGS as ACCOUNT_TAMPERINGS
from tests.auth.test_accounts_audit import load as load_accounts
from tests.cli.test_cli import cli_env, jiaowei
from tests.factories import login, make_user, token_for
from tests.pages_helpers import visible_text
from tests.registry.test_reconcile import rename, world

SRC = Path(__file__).resolve().parents[2] / "src" / "jiaowei"
CHECK_MODULES = ("audit/reconcile.py", "registry/audit_checks.py", "admissions/integrity/campaigns.py",
                 "admissions/integrity/lottery.py", "indicators/audit_checks.py", "auth/audit_checks.py")
HAN = re.compile(r"[\u4e00-\u9fff]")


def english_words(template: str) -> set[str]:
    """The words of a template outside its placeholders (identifiers such as sha256 aside)."""
    return set(re.findall(r"\b[a-z]{3,}\b", re.sub(r"\{[^}]*\}", " ", template), flags=re.I))


def registry_case(conn: Connection, home: Path) -> tuple[str, str, str]:
    world(conn)
    rename(conn)
    return "unit_versions", "S1", ('version from 2000-01-01: name_zh is "伪造学校", '
                                   'the audit log says "单位S1"')


def admissions_case(conn: Connection, home: Path) -> tuple[str, str, str]:
    names = run(conn, home)
    tier(conn, names, home)
    return "applicants", f"{CODE}/{names['first']}", "residence_tier is 0, the audit log says 1"


def indicators_case(conn: Connection, home: Path) -> tuple[str, str, str]:
    load_values(conn)
    VALUE_TAMPERINGS["edited approval"][0](conn)
    return "approvals", "SCHOOL_Y/2020/S1", "approved by is 'mallory', the audit log says 'system'"


def accounts_case(conn: Connection, home: Path) -> tuple[str, str, str]:
    load_accounts(conn)
    ACCOUNT_TAMPERINGS["viewer promoted"][0](conn)
    return "users", "watcher", "role is administrator, the audit log says viewer"


CASES: dict[str, Callable[[Connection, Path], tuple[str, str, str]]] = {
    "registry": registry_case, "admissions": admissions_case, "indicators": indicators_case,
    "accounts": accounts_case,
}
CHINESE = {  # what each case's reason says in Chinese
    "registry": '自 2000-01-01 起的版本：中文名称现为 "伪造学校"，审计日志记载为 "单位S1"',
    "admissions": "户籍居住类别现为 0，审计日志记载为 1",
    "indicators": "审核人现为 'mallory'，审计日志记载为 'system'",
    "accounts": "角色现为 administrator，审计日志记载为 viewer",
}


def the_mismatch(conn: Connection, table: str, key: str) -> reconcile.Mismatch:
    assert audit.verify(conn).ok
    found = [m for m in reconcile.reconcile(conn) if (m.table, m.key) == (table, key)]
    assert len(found) == 1, found
    return found[0]


def test_every_reason_and_word_of_the_checks_has_a_chinese_translation() -> None:
    zh = catalog("zh_CN")
    messages = {found[1] for module in CHECK_MODULES
                for found in extract_from_file("python", SRC / module, keywords={"N_": None})}
    assert len(messages) > 100
    assert sorted(m for m in messages if m not in zh) == []
    assert [m for m in messages if HAN.search(zh[m]) is None] == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_reason_is_said_in_english_and_in_chinese(conn: Connection, tmp_path: Path, case: str) -> None:
    table, key, english = CASES[case](conn, tmp_path)
    mismatch = the_mismatch(conn, table, key)
    assert mismatch.reason == english == mismatch.said_in("en")
    assert str(mismatch) == f"{table} {key}: {english}"
    chinese = mismatch.said_in("zh_CN")
    assert chinese == CHINESE[case]
    assert not any(word in chinese for word in english_words(mismatch.template))
    assert HAN.search(mismatch.table_in("zh_CN")) and mismatch.table_in("en") == table


def test_the_api_says_the_reason_in_the_request_language(client: TestClient, conn: Connection,
                                                        tmp_path: Path) -> None:
    table, key, english = accounts_case(conn, tmp_path)
    headers = token_for(conn, make_user(conn, "auditor"))
    said = {}
    for language in ("en", "zh-CN"):
        body = client.get("/api/audit/verify", headers={**headers, "accept-language": language}).json()
        [row] = [m for m in body["mismatches"] if (m["table"], m["key"]) == (table, key)]
        assert row["reason"] == english
        assert row["reason_template"] == "{field} is {live}, the audit log says {logged}"
        assert row["params"] == {"field": "role", "live": "administrator", "logged": "viewer"}
        said[language] = row["message"]
    assert said == {"en": english, "zh-CN": CHINESE["accounts"]}


def test_the_page_lists_the_differing_rows_in_its_language(browser: TestClient, conn: Connection,
                                                           tmp_path: Path) -> None:
    table, key, english = registry_case(conn, tmp_path)
    make_user(conn, "wang")
    login(browser, "wang")
    mismatch = the_mismatch(conn, table, key)
    zh = html.unescape(visible_text(browser.get("/audit?check=1&lang=zh_CN").text))
    assert "有 1 行现行数据与审计日志不符。" in zh and "单位版本" in zh and CHINESE["registry"] in zh
    assert english not in zh
    assert [w for w in english_words(mismatch.template) if re.search(rf"\b{w}\b", zh)] == []
    en = html.unescape(visible_text(browser.get("/audit?check=1&lang=en").text))
    assert "1 live rows differ from the audit log." in en and english in en


def test_the_page_says_when_every_table_matches(browser: TestClient, conn: Connection) -> None:
    make_user(conn, "wang")
    login(browser, "wang")
    assert "审计日志担保的各数据表均与日志一致。" in browser.get("/audit?check=1&lang=zh_CN").text
    english = browser.get("/audit?check=1&lang=en").text
    assert "Every live table the audit log vouches for matches it." in english


def test_the_command_line_says_the_reasons_in_the_locale_language(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'verify.sqlite3'}"
    env = {**cli_env(tmp_path / "home", url), "COLUMNS": "1000"}
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        env.pop(variable, None)
    jiaowei(env, "init")
    jiaowei(env, "user", "create", "--username", "watcher", "--role", "viewer", "--password-stdin",
            stdin="a long passphrase here\n")
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE users SET role = 'administrator' WHERE username = 'watcher'")
    chinese = jiaowei({**env, "LANG": "zh_CN.UTF-8"}, "audit", "verify", expect=9).stderr
    assert "有 1 行现行数据与审计日志不符：" in chinese
    assert "用户 watcher: 角色现为 administrator，审计日志记载为 viewer" in chinese
    english = jiaowei({**env, "LANG": "en_US.UTF-8"}, "audit", "verify", expect=9).stderr
    assert "1 live rows differ from the audit log:" in english
    assert "users watcher: role is administrator, the audit log says viewer" in english


def test_a_row_named_in_words_is_named_in_chinese_too(conn: Connection) -> None:
    load_values(conn)
    VALUE_TAMPERINGS["edited value"][0](conn)
    VALUE_TAMPERINGS["unaudited write"][0](conn)
    found = {m.table: m for m in reconcile.reconcile(conn)}
    value, write = found["data_values"], found["data_imports"]
    assert value.key == "element PUPILS (F) at unit S1 in period 2020" == value.key_in("en")
    assert value.line_in("zh_CN") == ("数据值 单位 S1 在 2020 期的数据元素 PUPILS（F）: "
                                      "值现为 '111'，其历史记载为 '110'")
    assert re.fullmatch(r"write \d+", write.key) and re.fullmatch(r"第 \d+ 次写入", write.key_in("zh_CN"))
    assert write.line_in("en") == str(write)


def test_the_page_reconciles_only_when_asked(browser: TestClient, conn: Connection, tmp_path: Path) -> None:
    table, key, english = registry_case(conn, tmp_path)
    make_user(conn, "wang")
    login(browser, "wang")
    plain = html.unescape(visible_text(browser.get("/audit?entity=unit&lang=en").text))
    assert english not in plain and "Check every table now" in plain
    assert 'href="/audit?entity=unit&amp;check=1"' in browser.get("/audit?entity=unit&lang=en").text
    checked = html.unescape(visible_text(browser.get("/audit?entity=unit&check=1&lang=en").text))
    assert english in checked
