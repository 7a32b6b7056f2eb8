"""Metadata names and descriptions with control characters are refused (issue 9, item 10)."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from jiaowei.indicators.metadata import service as metadata


@pytest.mark.parametrize(("fields", "field"), [
    ({"name_zh": "学生\x00数"}, "name_zh"),
    ({"name_en": "Pupils\x7f"}, "name_en"),
    ({"short_name": "a\tb"}, "short_name"),
    ({"description": "x\x1by"}, "description"),
])
def test_a_data_element_with_a_control_character_is_refused(conn: Connection, fields: dict[str, str],
                                                            field: str) -> None:
    values = {"name_zh": "学生数", "name_en": "Pupils", **fields}
    with pytest.raises(ValidationError) as refused:
        metadata.save_data_element(conn, principal=SYSTEM, code="PUPILS", value_type="INTEGER", **values)
    assert [p.field for p in refused.value.problems] == [field]


def test_descriptions_may_hold_several_lines(conn: Connection) -> None:
    metadata.save_data_element(conn, principal=SYSTEM, code="PUPILS", name_zh="学生数", name_en="Pupils",
                               value_type="INTEGER", description="第一行\r\n\t第二行")
    with pytest.raises(ValidationError) as refused:
        metadata.save_category(conn, principal=SYSTEM, code="SEX", name_zh="性别", name_en="Sex", options=[
            {"code": "M", "name_zh": "男\x00", "name_en": "Male"}])
    assert [(p.field, p.row) for p in refused.value.problems] == [("name_zh", 1)]
