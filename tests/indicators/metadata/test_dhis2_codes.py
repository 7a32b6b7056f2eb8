"""Metadata codes as DHIS2 accepts them (1 to 50 characters, no control character), escaped where
they enter an expression (``\\.``, ``\\}``, ``\\\\`` inside ``#{…}``) and a URL."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection

from jiaowei.indicators.expressions import Binary, Call, Constant, Ref, escape_code, parse, to_text
from tests.factories import make_user, small_tree, token_for

codes = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=50)
"""Every valid code: any characters but control characters and lone surrogates, 1 to 50 of them."""
ODD = ["TA_MAL_CONF_MEDIAN+2", "A.B", "Q}", "学生 数", "a\\b", "#{X}", " lead"]


@given(codes, st.one_of(st.none(), codes), codes)
def test_any_valid_code_round_trips_through_the_writer_and_the_parser(
    element: str, combo: str | None, constant: str
) -> None:
    tree = Call("greatest", (Binary("+", Ref(element, combo), Constant(constant)), Ref(constant)))
    text = to_text(tree)
    assert parse(text) == tree
    assert parse(f"#{{{escape_code(element)}}}") == Ref(element)


def test_the_escape_is_written_as_documented() -> None:
    assert to_text(Ref("A.B", "X+2")) == "#{A\\.B.X+2}"
    assert to_text(Ref("Q}")) == "#{Q\\}}"
    assert to_text(Constant("a\\b")) == "C{a\\\\b}"
    assert parse("#{学生 数.TA_MAL_CONF_MEDIAN+2}") == Ref("学生 数", "TA_MAL_CONF_MEDIAN+2")


def test_dhis2_codes_are_accepted_reached_by_url_and_named_in_expressions(
    client: TestClient, conn: Connection
) -> None:
    small_tree(conn)
    headers = token_for(conn, make_user(conn, role="administrator"))
    elements = [{"code": code, "name": f"Element {i}"} for i, code in enumerate(ODD)]
    numerator = " + ".join(to_text(Ref(code)) for code in ODD[1:])
    indicator = {"code": "RATE.1", "name": "Rate", "numerator": numerator,
                 "denominator": "#{TA_MAL_CONF_MEDIAN\\+2}", "display": "ratio"}
    answer = client.post("/api/metadata", json={"dataElements": elements, "indicators": [indicator]},
                         headers=headers)
    assert answer.status_code == 200, answer.text
    for code in ODD:
        found = client.get(f"/api/dataElements/{quote(code, safe='')}", headers=headers)
        assert found.status_code == 200 and found.json()["code"] == code, (code, found.text)
    saved = client.get(f"/api/indicators/{quote('RATE.1')}", headers=headers).json()
    assert parse(saved["numerator"]) == parse(numerator)


def test_a_code_with_a_control_character_or_too_long_is_refused_naming_it(
    client: TestClient, conn: Connection
) -> None:
    headers = token_for(conn, make_user(conn, role="administrator"))
    bad = [{"code": "TAB\there", "name": "A"}, {"code": "x" * 51, "name": "B"}]
    refused = client.post("/api/dataElements", json={"dataElements": bad}, headers=headers)
    assert refused.status_code == 409
    fields = {p["field"]: p["expected"] for p in refused.json()["problems"]}
    assert fields.keys() == {"dataElements[0].code", "dataElements[1].code"}
    assert "control character" in fields["dataElements[1].code"]
    unknown = client.post("/api/indicators", headers=headers,
                          json={"code": "R", "name": "R", "numerator": "#{A.B}"})  # the element A, combo B
    assert unknown.status_code == 409
    assert unknown.json()["problems"][0]["value"] == "A"
