"""Messages with values (``M_``) read as English and are translated as a whole, values put back in."""

from __future__ import annotations

import copy
import datetime as dt
import pickle

import pytest

from jiaowei import clock
from jiaowei.errors import M_, NotFound, Problem
from jiaowei.i18n import catalog, translate
from jiaowei.settings import Settings, using
from jiaowei.web.forms import in_language


def _with_translation(monkeypatch: pytest.MonkeyPatch, msgid: str, msgstr: str) -> None:
    table = dict(catalog("zh_CN"))
    table[msgid] = msgstr
    monkeypatch.setattr("jiaowei.i18n.catalog", lambda language: table if language == "zh_CN" else {})


def test_a_message_reads_as_its_english_text_and_keeps_its_template():
    message = M_("No unit with code {code}.", code="310101")
    assert message == "No unit with code 310101."
    assert message.template == "No unit with code {code}." and message.values == {"code": "310101"}
    assert copy.copy(message).template == message.template
    assert pickle.loads(pickle.dumps(message)).values == {"code": "310101"}


def test_translation_puts_the_values_into_the_translated_template(monkeypatch):
    _with_translation(monkeypatch, "No unit with code {code}.", "没有代码为 {code} 的单位。")
    translated = translate("zh_CN", M_("No unit with code {code}.", code="Key tasks"))
    assert translated == "没有代码为 Key tasks 的单位。"
    assert translate("en", M_("No unit with code {code}.", code="X")) == "No unit with code X."


def test_values_that_are_messages_are_translated_and_plain_values_are_not(monkeypatch):
    table = dict(catalog("zh_CN"))
    table.update({"{what} was refused: {why}": "{what}被拒绝：{why}", "the file is empty": "文件为空"})
    monkeypatch.setattr("jiaowei.i18n.catalog", lambda language: table)
    message = M_("{what} was refused: {why}", what="Code", why=M_("the file is empty"))
    assert translate("zh_CN", message) == "Code被拒绝：文件为空"


def test_a_translation_naming_a_value_the_message_lacks_falls_back_to_english(monkeypatch):
    _with_translation(monkeypatch, "Row {row} is bad.", "第 {line} 行有误。")
    assert translate("zh_CN", M_("Row {row} is bad.", row=3)) == "Row 3 is bad."


def test_errors_and_problems_carry_messages_into_the_chosen_language(monkeypatch):
    _with_translation(monkeypatch, "No task with id {id}.", "没有编号为 {id} 的任务。")
    error = NotFound(M_("No task with id {id}.", id="new"),
                     problems=[Problem(M_("No task with id {id}.", id="a"), row=2)])
    shown = in_language(error, "zh_CN")
    assert shown.detail == "没有编号为 new 的任务。"
    assert shown.problems[0].message == "没有编号为 a 的任务。"
    assert str(error).startswith("No task with id new.")


def test_the_commission_clock_uses_its_time_zone_and_the_fixed_day():
    moment = dt.datetime(2020, 12, 31, 17, 30, tzinfo=dt.UTC)
    with using(Settings(time_zone="Asia/Shanghai")):
        assert clock.local(moment) == "2021-01-01 01:30"
        assert clock.local("2020-12-31T17:30:00") == "2021-01-01 01:30"  # naive text means UTC
        assert clock.local(None) == ""
    with using(Settings(time_zone="UTC")):
        assert clock.local(moment, seconds=True) == "2020-12-31 17:30:00"
    with using(Settings(today=dt.date(2020, 9, 1))):
        assert clock.today() == dt.date(2020, 9, 1)
        assert clock.now().astimezone(clock.zone()).date() == dt.date(2020, 9, 1)


def test_an_unknown_time_zone_is_refused_with_what_is_accepted():
    with pytest.raises(ValueError, match="IANA name"):
        Settings(time_zone="Mars/Olympus")


def test_a_refusal_names_the_role_and_the_action_in_words_of_the_chosen_language():
    from jiaowei.auth.model import ACTION_LABELS, ROLE_LABELS, Action, Principal, Role
    from jiaowei.auth.scope import require_action
    from jiaowei.errors import PermissionDenied

    assert set(ROLE_LABELS) == {r.value for r in Role} and set(ACTION_LABELS) == {a.value for a in Action}
    viewer = Principal(user_id=None, username="v", role=Role.VIEWER)
    with pytest.raises(PermissionDenied) as refused:
        require_action(viewer, Action.REGISTRY_WRITE)
    assert str(refused.value.detail) == "The role Viewer may not change the unit registry (registry.write)."
    assert translate("zh_CN", refused.value.detail) == "角色“只读用户”无权修改单位名录（registry.write）。"
