"""Campaign titles and applicant names with control characters are refused (issue 9, item 10)."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from jiaowei.admissions import service
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from tests.admissions.test_campaign import GOOD, SECRET, campaign, count_applicants, world


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\n", "\u0085"])
def test_a_campaign_title_with_a_control_character_is_refused(conn: Connection, bad: str) -> None:
    world(conn)
    spec = service.CampaignSpec(code="C2021", year=2021, stage="primary_1", title_zh=f"招生{bad}",
                                title_en="Primary 2021", organiser="SH")
    with pytest.raises(ValidationError) as refused:
        service.create_campaign(conn, principal=SYSTEM, spec=spec)
    (problem,) = refused.value.problems
    assert problem.field == "title_zh" and bad not in str(problem.value) and "U+00" in problem.message


def test_an_applicant_name_with_a_control_character_is_refused_without_repeating_it(conn: Connection) -> None:
    world(conn)
    code = campaign(conn)
    data = GOOD.replace("王二".encode(), "王\x00二".encode())
    with pytest.raises(ValidationError) as refused:
        service.import_applicants(conn, principal=SYSTEM, campaign=code, data=data, secret_key=SECRET)
    (problem,) = [p for p in refused.value.problems if p.field == "name"]
    assert problem.row == 3 and problem.value is None and "U+0000" in problem.message
    assert count_applicants(conn) == 0
