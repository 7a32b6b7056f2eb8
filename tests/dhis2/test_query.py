"""The list engine (jiaowei.dhis2.query) on plain dicts: fields, filter, order, paging; with
Hypothesis properties (paging covers every object once, order is stable, eq and ne split the list,
fields give a subset)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiaowei.dhis2.query import (
    ListParameters,
    answer_list,
    matches,
    page_url,
    parse_fields,
    parse_filter,
    parse_order,
    read_parameters,
    select_fields,
    sort_objects,
)
from jiaowei.errors import ValidationError

DATA_SET = {
    "id": "pBOMPrpg1QX", "code": "DS_MAL", "name": "Malaria", "created": "2020-01-01",
    "lastUpdated": "2020-02-01", "shortName": "Mal", "description": "d", "periodType": "Monthly",
    "categoryCombo": {"id": "bjDvmb4bfuf", "code": "default", "name": "default"},
    "dataSetElements": [
        {"dataElement": {"id": "fbfJHSPpUQD", "code": "DE_A", "name": "ANC 1st"}},
        {"dataElement": {"id": "cYeuwXTCPkU", "code": "DE_B", "name": "ANC 2nd"}},
    ],
}
URL = "http://testserver/api/40/dataElements.json?fields=id&page=2"


def objects(n: int) -> list[dict[str, Any]]:
    return [{"id": f"id{i:03d}", "code": f"C{i % 7}", "name": f"Name {i}", "value": i % 5} for i in range(n)]


def params(**given_params: str) -> ListParameters:
    return read_parameters(list(given_params.items()))


# ---------------------------------------------------------------- fields


def test_plain_fields_keep_only_those_named() -> None:
    assert select_fields(DATA_SET, parse_fields("id,name")) == {"id": "pBOMPrpg1QX", "name": "Malaria"}


def test_star_and_all_keep_everything_and_exclusion_takes_away() -> None:
    for preset in ("*", ":all"):
        assert select_fields(DATA_SET, parse_fields(preset)) == DATA_SET
    cut = select_fields(DATA_SET, parse_fields(":all,!dataSetElements,!description"))
    assert "dataSetElements" not in cut and "description" not in cut and cut["periodType"] == "Monthly"


def test_identifiable_and_nameable_presets() -> None:
    assert set(select_fields(DATA_SET, parse_fields(":identifiable"))) == {
        "id", "name", "code", "created", "lastUpdated"}
    assert set(select_fields(DATA_SET, parse_fields(":nameable"))) == {
        "id", "name", "code", "created", "lastUpdated", "shortName", "description"}


def test_nested_fields_walk_into_objects_and_lists() -> None:
    cut = select_fields(DATA_SET, parse_fields("id,categoryCombo[id],dataSetElements[dataElement[id,name]]"))
    assert cut == {
        "id": "pBOMPrpg1QX",
        "categoryCombo": {"id": "bjDvmb4bfuf"},
        "dataSetElements": [{"dataElement": {"id": "fbfJHSPpUQD", "name": "ANC 1st"}},
                            {"dataElement": {"id": "cYeuwXTCPkU", "name": "ANC 2nd"}}],
    }
    assert select_fields(DATA_SET, parse_fields("categoryCombo[:identifiable]"))["categoryCombo"] == {
        "id": "bjDvmb4bfuf", "code": "default", "name": "default"}
    assert select_fields(DATA_SET, parse_fields("categoryCombo(id,code)")) == {
        "categoryCombo": {"id": "bjDvmb4bfuf", "code": "default"}}


def test_unknown_fields_are_dropped_and_display_name_falls_back_to_name() -> None:
    assert select_fields(DATA_SET, parse_fields("id,noSuchField,displayName")) == {
        "id": "pBOMPrpg1QX", "displayName": "Malaria"}


@pytest.mark.parametrize("bad", ["id,categoryCombo[id", "id]", "name~rename(n)", "a[b]c", "id,:nosuch",
                                 "1abc"])
def test_malformed_fields_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_fields(bad)
    assert refused.value.problems[0].field == "fields"


# ---------------------------------------------------------------- filter


def test_each_operator() -> None:
    obj = {"id": "abc", "name": "Kindergarten No. 3", "value": 12, "code": None, "flag": True}
    held = {
        "name:eq:Kindergarten No. 3": True, "name:!eq:Kindergarten No. 3": False, "name:ne:x": True,
        "name:like:garten": True, "name:like:GARTEN": False, "name:ilike:GARTEN": True,
        "name:!ilike:GARTEN": False, "name:!like:zoo": True, "name:$like:Kinder": True,
        "name:like$:3": True, "name:$ilike:kinder": True, "name:ilike$:NO. 3": True,
        "id:in:[x,abc]": True, "id:!in:[x,abc]": False, "code:null": True, "code:!null": False,
        "name:null": False, "value:gt:11": True, "value:ge:12": True, "value:lt:12": False,
        "value:le:12": True, "value:eq:12": True, "flag:eq:true": True, "name:token:kinder 3": True,
        "name:token:school": False, "identifiable:token:abc": True, "missing:null": True,
    }
    for text, expected in held.items():
        assert matches(obj, parse_filter(text)) is expected, text


def test_dotted_properties_reach_through_lists() -> None:
    assert matches(DATA_SET, parse_filter("dataSetElements.dataElement.id:eq:cYeuwXTCPkU"))
    assert not matches(DATA_SET, parse_filter("dataSetElements.dataElement.id:eq:nope"))
    assert matches(DATA_SET, parse_filter("categoryCombo.code:eq:default"))
    assert matches(DATA_SET, parse_filter("dataSetElements.dataElement.name:ilike:anc 2"))


def test_an_unknown_operator_is_a_400_naming_it() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_filter("name:sortof:x")
    assert "sortof" in refused.value.detail
    for bad in ("name:eq", "na me:eq:x", "code:in:A,B"):
        with pytest.raises(ValidationError):
            parse_filter(bad)


def test_root_junction_and_or() -> None:
    items = objects(20)
    both = answer_list(items, params(filter="value:eq:1", paging="false"), key="x", url=URL)["x"]
    assert {o["value"] for o in both} == {1}
    pairs = [("filter", "value:eq:1"), ("filter", "code:eq:C0"), ("paging", "false")]
    anded = answer_list(items, read_parameters(pairs), key="x", url=URL)["x"]
    ored = answer_list(items, read_parameters([*pairs, ("rootJunction", "OR")]), key="x", url=URL)["x"]
    assert all(o["value"] == 1 and o["code"] == "C0" for o in anded)
    assert {o["id"] for o in ored} == {o["id"] for o in items if o["value"] == 1 or o["code"] == "C0"}
    with pytest.raises(ValidationError):
        read_parameters([("rootJunction", "XOR")])


def test_a_filter_or_order_on_a_property_no_object_has_is_a_400() -> None:
    with pytest.raises(ValidationError):
        answer_list(objects(3), params(filter="naem:eq:x"), key="x", url=URL)
    with pytest.raises(ValidationError):
        answer_list(objects(3), params(order="naem:asc"), key="x", url=URL)


# ---------------------------------------------------------------- order and paging


def test_order_by_several_properties_and_directions() -> None:
    items = objects(12)
    ordered = sort_objects(items, parse_order(["value:desc,id:asc"]))
    assert [o["value"] for o in ordered] == sorted((o["value"] for o in items), reverse=True)
    assert [o["id"] for o in ordered if o["value"] == 4] == sorted(o["id"] for o in items if o["value"] == 4)
    mixed = [{"name": "b"}, {"name": "A"}, {"name": "a"}, {"id": "x"}]
    assert [o.get("name") for o in sort_objects(mixed, parse_order(["name:asc"]))] == ["A", "a", "b", None]
    assert [o.get("name") for o in sort_objects(mixed, parse_order(["name:idesc"]))] == ["b", "A", "a", None]
    with pytest.raises(ValidationError):
        parse_order(["name:sideways"])


def test_pager_with_next_and_previous_pages_as_dhis2_writes_them() -> None:
    answer = answer_list(objects(120), params(page="2", pageSize="50"), key="dataElements", url=URL)
    assert answer["pager"] == {
        "page": 2, "pageCount": 3, "total": 120, "pageSize": 50,
        "nextPage": "http://testserver/api/40/dataElements.json?fields=id&page=3",
        "prevPage": "http://testserver/api/40/dataElements.json?fields=id&page=1",
    }
    assert [o["id"] for o in answer["dataElements"]] == [f"id{i:03d}" for i in range(50, 100)]
    first = answer_list(objects(120), params(), key="x", url=URL)["pager"]
    assert "prevPage" not in first and first["nextPage"].endswith("page=2")
    assert page_url("http://h/api/x?page=1&a=b", 4) == "http://h/api/x?a=b&page=4"


def test_paging_false_gives_everything_without_a_pager() -> None:
    answer = answer_list(objects(120), params(paging="false"), key="x", url=URL)
    assert "pager" not in answer and len(answer["x"]) == 120
    with pytest.raises(ValidationError):
        read_parameters([("paging", "maybe")])
    for bad in ("0", "-1", "x"):
        with pytest.raises(ValidationError):
            read_parameters([("pageSize", bad)])


# ---------------------------------------------------------------- properties

ITEMS = st.lists(
    st.fixed_dictionaries({
        "code": st.sampled_from(["A", "B", "C", "a", "b"]),
        "value": st.integers(-3, 3),
        "name": st.text(alphabet="abcXYZ ", max_size=4),
    }),
    max_size=40,
).map(lambda items: [{**item, "id": f"id{i:03d}"} for i, item in enumerate(items)])


@given(ITEMS, st.integers(1, 15))
def test_paging_covers_every_object_once(items: list[dict[str, Any]], size: int) -> None:
    first = answer_list(items, params(pageSize=str(size)), key="x", url=URL)
    seen = []
    for page in range(1, first["pager"]["pageCount"] + 1):
        shown = answer_list(items, params(pageSize=str(size), page=str(page)), key="x", url=URL)["x"]
        seen += [o["id"] for o in shown]
    assert sorted(seen) == sorted(o["id"] for o in items) and len(seen) == len(set(seen))


@given(ITEMS, st.sampled_from(["code", "value", "name"]), st.sampled_from(["asc", "desc", "iasc", "idesc"]))
def test_order_is_stable_and_sorted(items: list[dict[str, Any]], prop: str, direction: str) -> None:
    ordered = sort_objects(items, parse_order([f"{prop}:{direction}"]))
    assert sorted(o["id"] for o in ordered) == sorted(o["id"] for o in items)
    for before, after in zip(ordered, ordered[1:], strict=False):
        a, b = before[prop], after[prop]
        if isinstance(a, str) and direction.startswith("i"):
            a, b = a.casefold(), b.casefold()
        assert (a <= b) if not direction.endswith("desc") else (a >= b)
        if a == b:  # equal keys keep the order they came in
            assert before["id"] < after["id"]


@given(ITEMS, st.sampled_from(["code", "value"]), st.sampled_from(["A", "b", "0", "3", "-1"]))
def test_eq_and_ne_split_the_list(items: list[dict[str, Any]], prop: str, value: str) -> None:
    equal = answer_list(items, params(filter=f"{prop}:eq:{value}", paging="false"), key="x", url=URL)["x"]
    other = answer_list(items, params(filter=f"{prop}:ne:{value}", paging="false"), key="x", url=URL)["x"]
    assert sorted(o["id"] for o in equal + other) == sorted(o["id"] for o in items)
    assert not {o["id"] for o in equal} & {o["id"] for o in other}


@given(ITEMS, st.lists(st.sampled_from(["id", "code", "value", "name", "nope", "displayName"]), min_size=1))
def test_fields_give_a_subset(items: list[dict[str, Any]], names: list[str]) -> None:
    cut = answer_list(items, params(fields=",".join(names), paging="false"), key="x", url=URL)["x"]
    for original, shown in zip(items, cut, strict=True):
        assert set(shown) <= set(names)
        assert all(shown[k] == original[k] for k in shown if k in original)
