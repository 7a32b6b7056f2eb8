"""Schemathesis against the OpenAPI schema: no request, however odd, gets a 5xx.

Runs as an administrator (Bearer token) over a seeded small tree, on SQLite only (the
database here is not what is under test), a bounded number of examples per operation.
Responses must also conform to the schema the app publishes.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Connection, Engine

from jiaowei.db.engine import Database, make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.factories import make_unit, make_user, small_tree, token_for


def errors_are_problems(ctx: Any, response: Response, case: schemathesis.Case) -> bool | None:
    """Every 4xx is RFC 9457 problem+json naming its status."""
    if response.status_code < 400:
        return None
    body = json.loads(response.content)
    if response.status_code == 409 and body.get("responseType") == "ImportReport":  # a refused bundle
        assert body["status"] == "ERROR" and body["problems"], body
        return True
    assert response.headers["content-type"][0].startswith("application/problem+json"), response.headers
    assert body["status"] == response.status_code and body["title"] and body["detail"], body
    return True


REAL_CODES = ["SH", "D1", "D2", "S1", "S2", "K1"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, errors_are_problems]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """SQLite only, whatever JIAOWEI_TEST_DATABASES says."""
    engine = make_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'fuzz.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def admin_headers(client: TestClient, conn: Connection) -> dict[str, str]:
    small_tree(conn)
    make_unit(conn, "K1", parent="S1", type="kindergarten")
    return token_for(conn, make_user(conn, "fuzzadmin"))


@functools.cache
def _published() -> str:
    """The OpenAPI document as the app publishes it at /openapi.json, read once from an app that is never
    asked for data (every app publishes the same one; building and parsing it per test cost most of the
    fuzzing's time)."""
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), secret_key="fuzz-" + "x" * 40)
        app = create_app(settings, database=Database(make_engine("sqlite://")))
        with TestClient(app) as client:
            response = client.get("/openapi.json")
            assert response.status_code == 200, response.text
            return response.text


@functools.cache
def operations() -> dict[str, APIOperation]:
    """The published document's operations by label, parsed once; each test's cases call its own app."""
    loaded = schemathesis.openapi.from_dict(json.loads(_published()))
    loaded.location = "/openapi.json"
    return {op.label: op for op in (result.ok() for result in loaded.get_all_operations())}


# schemathesis.pytest.from_fixture does not run under pytest 9 (it reads Function._nodeid),
# so each operation is its own test driving Hypothesis over the operation's strategy.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", sorted(operations()))
def test_no_request_gets_a_server_error(
    client: TestClient, admin_headers: dict[str, str], label: str, mode: GenerationMode
) -> None:
    operation = operations()[label]

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode), real=st.none() | st.sampled_from(REAL_CODES))
    def call(case: schemathesis.Case, real: str | None) -> None:
        if real and case.path_parameters and "code" in case.path_parameters:
            case.path_parameters["code"] = real  # random codes name no unit; aim some at real ones
        case.call_and_validate(headers=admin_headers, checks=CHECKS, app=client.app)

    try:
        call()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        pytest.skip(f"{label} takes no input that could be made invalid")
