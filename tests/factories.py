"""Factories for tests: units, users, sessions and tokens, made through the services."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.registry import service as registry

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


def make_unit(
    conn: Connection,
    code: str | None = None,
    *,
    parent: str | None = None,
    type: str = "primary_school",
    opened: dt.date = dt.date(2000, 1, 1),
    **fields: Any,
) -> str:
    code = code or f"U{next(_counter):05d}"
    spec = registry.UnitSpec(
        code=code,
        name_zh=fields.pop("name_zh", f"单位{code}"),
        name_en=fields.pop("name_en", f"Unit {code}"),
        type=type,
        parent=parent,
        opened=opened,
        **fields,
    )
    registry.create_unit(conn, principal=SYSTEM, spec=spec)
    return code


def make_user(
    conn: Connection,
    username: str | None = None,
    *,
    role: str = "administrator",
    capture: list[str] | None = None,
    view: list[str] | None = None,
    password: str = PASSWORD,
) -> Principal:
    username = username or f"user{next(_counter)}"
    return auth.create_user(conn, principal=SYSTEM, username=username, password=password, role=role,
                            capture_scope=capture, view_scope=view)


def token_for(conn: Connection, principal: Principal) -> dict[str, str]:
    token = auth.create_token(conn, principal=SYSTEM, username=principal.username)
    return {"Authorization": f"Bearer {token}"}


def small_tree(conn: Connection) -> dict[str, str]:
    """Commission → two districts → schools; returns the codes by role."""
    make_unit(conn, "SH", type="commission", name_zh="上海市教委", name_en="Commission")
    make_unit(conn, "D1", parent="SH", type="district_bureau")
    make_unit(conn, "D2", parent="SH", type="district_bureau")
    make_unit(conn, "S1", parent="D1")
    make_unit(conn, "S2", parent="D2")
    return {"root": "SH", "d1": "D1", "d2": "D2", "s1": "S1", "s2": "S2"}


def login_token(client: TestClient) -> dict[str, str]:
    """The login form's CSRF field, as a browser gets it: GET /login sets the cookie it is bound to."""
    page = client.get("/login", headers={"accept": "text/html"})
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return {"csrf_token": page.text[start : page.text.index('"', start)]}


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the login form; returns the CSRF token of the session."""
    response = client.post("/login", data={**login_token(client), "username": username, "password": password},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/")
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def indicator_setup(conn: Connection) -> dict[str, str]:
    """``small_tree`` plus :func:`indicator_metadata`; returns the tree's codes."""
    codes = small_tree(conn)
    indicator_metadata(conn)
    return codes


def indicator_metadata(conn: Connection) -> None:
    """A sex category, a combo, three yearly school elements, a data set and an indicator.

    Elements: ``PUPILS`` (integer, by sex: combos ``M`` and ``F``), ``TEACHERS`` (integer,
    default combo), ``RATE`` (percentage). Data set ``SCHOOL_Y`` (Yearly, primary schools,
    due 15 days, never expires). Indicator ``PTR`` (pupils per teacher).
    """
    from jiaowei.indicators.metadata import service as metadata

    metadata.save_category(conn, principal=SYSTEM, code="SEX", name_zh="性别", name_en="Sex", options=[
        {"code": "M", "name_zh": "男", "name_en": "Male"},
        {"code": "F", "name_zh": "女", "name_en": "Female"},
    ])
    metadata.save_category_combo(conn, principal=SYSTEM, code="BY_SEX", name_zh="按性别", name_en="By sex",
                                 categories=["SEX"])
    metadata.save_data_element(conn, principal=SYSTEM, code="PUPILS", name_zh="在校学生数", name_en="Pupils",
                               value_type="INTEGER", aggregation_type="SUM", category_combo="BY_SEX")
    metadata.save_data_element(conn, principal=SYSTEM, code="TEACHERS", name_zh="专任教师数",
                               name_en="Teachers", value_type="INTEGER", aggregation_type="SUM")
    metadata.save_data_element(conn, principal=SYSTEM, code="RATE", name_zh="达标率", name_en="Pass rate",
                               value_type="PERCENTAGE", aggregation_type="AVERAGE")
    metadata.save_data_set(conn, principal=SYSTEM, code="SCHOOL_Y", name_zh="学校年报",
                           name_en="School annual", period_type="Yearly",
                           elements=["PUPILS", "TEACHERS", "RATE"], unit_types=["primary_school"],
                           due_days=15, expiry_days=0)
    metadata.save_indicator(conn, principal=SYSTEM, code="PTR", name_zh="生师比",
                            name_en="Pupils per teacher", numerator="#{PUPILS}", denominator="#{TEACHERS}",
                            display="number", decimals=1)


def mentions(found: Any, code: str) -> bool:
    """Whether a unit code stands anywhere in an answer as a word of its own (``单位D2`` counts), never as a
    part of a random uid such as ``mD4ND2yLTcs``, which a plain ``in str(...)`` would catch now and then."""
    text = json.dumps(found, ensure_ascii=False)
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(code)}(?![A-Za-z0-9])", text) is not None
