"""DHIS2 metadata bundles in and out of the metadata services, on both databases."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import Conflict, PermissionDenied, ValidationError
from jiaowei.indicators import store
from jiaowei.indicators.metadata import bundle, bundle_export, queries
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from tests.factories import make_user, small_tree


def zh(value: str) -> list[dict[str, str]]:
    return [{"locale": "zh_CN", "property": "NAME", "value": value}]


def dhis2_document() -> dict[str, Any]:
    """A bundle as DHIS2 exports it: ids, references by id or code, the default combo, translations."""
    return {
        "system": {"version": "2.40.3"},
        "date": "2020-09-01T00:00:00.000",
        "categoryOptions": [
            {"id": "OptMale0001", "code": "M", "name": "Male", "translations": zh("男")},
            {"id": "OptFemale01", "code": "F", "name": "Female", "translations": zh("女")},
            {"id": "xYerKDKCefk", "name": "default"},
        ],
        "categories": [
            {
                "id": "CatSex00001",
                "code": "SEX",
                "name": "Sex",
                "translations": zh("性别"),
                "dataDimensionType": "DISAGGREGATION",
                "categoryOptions": [{"id": "OptMale0001"}, {"id": "OptFemale01"}],
            },
            {
                "id": "CatStage001",
                "code": "STAGE",
                "name": "Stage",
                "name_zh": "学段",
                "categoryOptions": [
                    {"code": "PRI", "name": "Primary", "translations": zh("小学")},
                    {"code": "JUN", "name": "Junior", "translations": zh("初中")},
                    {"code": "SEN", "name": "Senior", "translations": zh("高中")},
                ],
            },
            {"id": "GLevLNI9wkl", "name": "default", "categoryOptions": [{"id": "xYerKDKCefk"}]},
        ],
        "categoryCombos": [
            {
                "id": "bjDvmb4bfuf",
                "name": "default",
                "dataDimensionType": "DISAGGREGATION",
                "categories": [{"id": "GLevLNI9wkl"}],
            },
            {
                "id": "ComboSexSt1",
                "code": "SEX_STAGE",
                "name": "Sex and stage",
                "translations": zh("性别和学段"),
                "dataDimensionType": "DISAGGREGATION",
                "categories": [{"id": "CatSex00001"}, {"code": "STAGE"}],
            },
        ],
        "dataElements": [
            {
                "id": "DePupils001",
                "code": "PUPILS",
                "name": "Pupils",
                "shortName": "Pupils",
                "translations": zh("在校学生数"),
                "domainType": "AGGREGATE",
                "valueType": "INTEGER",
                "aggregationType": "SUM",
                "zeroIsSignificant": True,
                "categoryCombo": {"id": "ComboSexSt1"},
            },
            {
                "id": "DeTeacher01",
                "code": "TEACHERS",
                "name": "Teachers",
                "translations": zh("专任教师数"),
                "domainType": "AGGREGATE",
                "valueType": "INTEGER",
                "aggregationType": "SUM",
                "categoryCombo": {"id": "bjDvmb4bfuf"},
            },
            {
                "code": "RATE",
                "name": "Pass rate",
                "valueType": "PERCENTAGE",
                "aggregationType": "AVERAGE",
                "description": "Share of pupils passing the fitness test",
            },
        ],
        "dataSets": [
            {
                "id": "DsSchoolY01",
                "code": "SCHOOL_Y",
                "name": "School annual",
                "translations": zh("学校年报"),
                "periodType": "Yearly",
                "timelyDays": 15.0,
                "expiryDays": 30,
                "dataSetElements": [
                    {"dataElement": {"id": "DePupils001"}},
                    {"dataElement": {"code": "TEACHERS"}},
                    {"dataElement": {"code": "RATE"}},
                ],
                "organisationUnits": [{"code": "S1"}, {"code": "S2"}],
                "unitTypes": ["primary_school"],
            },
        ],
        "indicatorTypes": [{"id": "IndTypePct1", "name": "Percent", "factor": 100}],
        "indicators": [
            {
                "id": "IndPtr00001",
                "code": "PTR",
                "name": "Pupils per teacher",
                "translations": zh("生师比"),
                "numerator": "#{PUPILS}",
                "denominator": "#{TEACHERS}",
                "decimals": 1,
                "indicatorType": {"factor": 1},
            },
            {
                "code": "GIRLS",
                "name": "Share of girls",
                "translations": zh("女生占比"),
                "numerator": "#{PUPILS.F_PRI}+#{PUPILS.F_JUN}+#{PUPILS.F_SEN}",
                "denominator": "#{PUPILS}",
                "numeratorDescription": "Girls",
                "denominatorDescription": "Pupils",
                "indicatorType": {"id": "IndTypePct1"},
            },
        ],
        "validationRules": [
            {
                "id": "VrPupils001",
                "code": "PUPILS_GE_TEACHERS",
                "name": "Pupils at least teachers",
                "translations": zh("学生不少于教师"),
                "importance": "HIGH",
                "operator": "greater_than_or_equal_to",
                "periodType": "Yearly",
                "instruction": "Check the head counts",
                "leftSide": {"expression": "#{PUPILS}", "missingValueStrategy": "SKIP_IF_ALL_VALUES_MISSING"},
                "rightSide": {"expression": "#{TEACHERS}", "missingValueStrategy": "NEVER_SKIP"},
            },
        ],
    }


TABLES = (
    store.categories,
    store.category_options,
    store.category_combos,
    store.category_option_combos,
    store.data_elements,
    store.data_sets,
    store.data_set_elements,
    store.data_set_units,
    store.indicators,
    store.validation_rules,
)


def counts(conn: Connection) -> tuple[int, ...]:
    return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in TABLES)


def klass(report: dict[str, Any], kind: str) -> dict[str, int]:
    return next(t["stats"] for t in report["typeReports"] if t["klass"] == kind)


@pytest.fixture
def imported(conn: Connection) -> dict[str, Any]:
    """The small tree, and the DHIS2 document imported into it; the import report."""
    small_tree(conn)
    return bundle.import_bundle(conn, principal=SYSTEM, bundle=dhis2_document())


def test_a_dhis2_document_is_imported_and_reported_kind_by_kind(imported: dict[str, Any]) -> None:
    report = imported
    assert report["status"] == "OK" and report["dryRun"] is False
    assert klass(report, "dataElements") == {
        "created": 3,
        "updated": 0,
        "deleted": 0,
        "ignored": 0,
        "total": 3,
    }
    assert klass(report, "categoryCombos")["created"] == 1 and klass(report, "categoryCombos")["ignored"] == 1
    assert (
        klass(report, "categoryOptions")["created"] == 2 and klass(report, "categoryOptions")["ignored"] == 1
    )
    assert report["stats"]["created"] == 2 + 2 + 1 + 3 + 1 + 2 + 1


def test_an_imported_data_element_keeps_its_id_translation_and_combo(
    conn: Connection, imported: dict[str, Any]
) -> None:
    catalog = queries.load_catalog(conn)
    pupils = catalog.element("PUPILS")
    assert pupils is not None and pupils.uid == "DePupils001" and pupils.name_zh == "在校学生数"
    assert pupils.zero_is_significant and catalog.combos[pupils.combo_id] == "SEX_STAGE"


def test_an_imported_combo_crosses_its_options_in_order_with_translated_names(
    conn: Connection, imported: dict[str, Any]
) -> None:
    catalog = queries.load_catalog(conn)
    pupils = catalog.element("PUPILS")
    assert pupils is not None
    assert [c.code for c in catalog.cocs_of(pupils.combo_id)] == [
        "M_PRI",
        "M_JUN",
        "M_SEN",
        "F_PRI",
        "F_JUN",
        "F_SEN",
    ]
    assert catalog.cocs_of(pupils.combo_id)[0].name_zh == "男，小学"


def test_an_untranslated_data_element_takes_its_name_and_the_default_combo(
    conn: Connection, imported: dict[str, Any]
) -> None:
    catalog = queries.load_catalog(conn)
    rate = catalog.element("RATE")
    assert rate is not None and rate.name_zh == "Pass rate" and catalog.combos[rate.combo_id] == "default"


def test_an_imported_data_set_keeps_its_days_units_and_elements(
    conn: Connection, imported: dict[str, Any]
) -> None:
    ds = queries.load_catalog(conn).data_set("SCHOOL_Y")
    assert ds is not None and ds.due_days == 15 and ds.expiry_days == 30 and len(ds.unit_ids) == 2
    assert ds.unit_types == {"primary_school"} and len(ds.element_ids) == 3


def test_imported_indicators_keep_their_display_and_descriptions(
    conn: Connection, imported: dict[str, Any]
) -> None:
    indicators = {r.code: r for r in conn.execute(select(store.indicators))}
    assert indicators["PTR"].display == "number" and indicators["GIRLS"].display == "percent"
    assert indicators["GIRLS"].numerator_description == "Girls"


def test_an_imported_validation_rule_keeps_its_importance_strategy_and_translation(
    conn: Connection, imported: dict[str, Any]
) -> None:
    rule = conn.execute(select(store.validation_rules)).one()
    assert (rule.importance, rule.left_missing, rule.name_zh) == (
        "HIGH",
        "SKIP_IF_ALL_VALUES_MISSING",
        "学生不少于教师",
    )


def test_reimport_ignores_what_is_unchanged_and_updates_the_rest(conn: Connection) -> None:
    small_tree(conn)
    bundle.import_bundle(conn, principal=SYSTEM, bundle=dhis2_document())
    again = bundle.import_bundle(conn, principal=SYSTEM, bundle=dhis2_document())
    assert again["stats"]["created"] == 0 and again["stats"]["updated"] == 0
    assert again["stats"]["ignored"] == again["stats"]["total"]
    changed = dhis2_document()
    changed["dataElements"][2]["name"] = "Fitness pass rate"
    changed["categoryOptions"][0]["translations"] = zh("男生")
    changed["indicators"][0]["decimals"] = 2
    report = bundle.import_bundle(conn, principal=SYSTEM, bundle=changed)
    assert klass(report, "dataElements") == {
        "created": 0,
        "updated": 1,
        "deleted": 0,
        "ignored": 2,
        "total": 3,
    }
    assert klass(report, "categories")["updated"] == 1 and klass(report, "categoryOptions")["updated"] == 1
    assert klass(report, "indicators")["updated"] == 1
    name = conn.execute(select(store.data_elements.c.name_en).where(store.data_elements.c.code == "RATE"))
    assert name.scalar_one() == "Fitness pass rate"


def test_errors_name_kind_index_field_and_value_and_write_nothing(conn: Connection) -> None:
    small_tree(conn)
    bad = dhis2_document()
    bad["dataElements"][1]["valueType"] = "FILE_RESOURCE"
    bad["dataElements"][2]["categoryCombo"] = {"code": "NO_SUCH_COMBO"}
    bad["dataSets"][0]["organisationUnits"].append({"code": "ZZ"})
    bad["indicators"][0]["decimals"] = "two"
    bad["validationRules"][0]["leftSide"]["expression"] = "#{PUPILS"
    before = counts(conn)
    with pytest.raises(ValidationError) as raised:
        bundle.import_bundle(conn, principal=SYSTEM, bundle=bad)
    found = {(p.field, p.row, p.value) for p in raised.value.problems}
    assert ("dataElements[1].valueType", 2, "FILE_RESOURCE") in found
    assert ("dataElements[2].categoryCombo", 3, "NO_SUCH_COMBO") in found
    assert ("dataSets[0].organisationUnits[2]", 1, "ZZ") in found
    assert ("indicators[0].decimals", 1, "two") in found
    assert any(f == "validationRules[0].leftSide.expression" and r == 1 for f, r, _ in found)
    expected = {p.field: p.expected for p in raised.value.problems}
    assert "INTEGER" in (expected["dataElements[1].valueType"] or "")
    assert counts(conn) == before


def test_junk_is_refused_with_problems_never_a_crash(conn: Connection) -> None:
    small_tree(conn)
    junk: list[Any] = [
        [],
        {"dataElements": {"code": "X"}},
        {"dataElementGroups": 3},
        {"dataElements": [1, 2]},
        {"dataElements": [{"code": {"a": 1}, "name": ["x"], "valueType": {"t": 1}, "translations": "zh"}]},
        {"categories": [{"code": "C", "name": "C", "categoryOptions": [{"code": "O"}]}]},
        {"categoryCombos": [{"code": "X", "name": "X", "categories": "SEX"}]},
        {
            "dataSets": [
                {
                    "code": "X",
                    "name": "X",
                    "periodType": "Yearly",
                    "timelyDays": True,
                    "dataSetElements": [{"dataElement": "PUPILS"}],
                    "unitTypes": [3],
                }
            ]
        },
        {"indicators": [{"code": "X", "name": "X", "numerator": 3, "indicatorType": {"factor": 7}}]},
        {"validationRules": [{"code": "X", "name": "X", "leftSide": "1", "operator": "=="}]},
        {"dataElements": [{"id": "not an id!", "name": "Y"}]},
        {"dataElements": [{"code": "A" * 51, "name": "Y" * 300, "shortName": "S" * 101}]},
        {"dataElements": [{"code": "SAME", "name": "A"}, {"code": "SAME", "name": "B"}]},
        {"dataElements": [{"code": "EL", "name": "E", "domainType": "TRACKER"}]},
        {
            "categoryCombos": [
                {"code": "ATTR", "name": "A", "dataDimensionType": "ATTRIBUTE", "categories": []}
            ]
        },
    ]
    before = counts(conn)
    for document in junk:
        with pytest.raises(ValidationError) as raised:
            bundle.import_bundle(conn, principal=SYSTEM, bundle=document)
        assert raised.value.problems, document
        assert all(p.field or p.value is not None for p in raised.value.problems), document
    assert counts(conn) == before
    with pytest.raises(ValidationError) as raised:
        bundle.import_bundle(conn, principal=SYSTEM, bundle={"dataElements": [{}] * 50_001})
    assert raised.value.problems[0].message == "too many objects"


def test_an_id_taken_by_another_code_is_refused(conn: Connection) -> None:
    small_tree(conn)
    bundle.import_bundle(conn, principal=SYSTEM, bundle=dhis2_document())
    clash = {"dataElements": [{"id": "DePupils001", "code": "OTHER", "name": "Other"}]}
    with pytest.raises(ValidationError) as raised:
        bundle.import_bundle(conn, principal=SYSTEM, bundle=clash)
    assert raised.value.problems[0].field == "dataElements[0].id"


def test_a_change_forbidden_by_data_is_a_conflict(conn: Connection) -> None:
    from jiaowei.indicators.values import service as values

    small_tree(conn)
    bundle.import_bundle(conn, principal=SYSTEM, bundle=dhis2_document())
    values.import_values(
        conn,
        principal=SYSTEM,
        source="dhis2-json",
        check_expiry=False,
        rows=[ValueRow(data_element="TEACHERS", period="2020", org_unit="S1", value="12", row=1)],
    )
    changed = {"dataElements": [{"code": "TEACHERS", "name": "Teachers", "valueType": "NUMBER"}]}
    with pytest.raises(Conflict) as raised:
        bundle.import_bundle(conn, principal=SYSTEM, bundle=changed)
    field = raised.value.problems[0].field
    assert field is not None and field.startswith("dataElements[0]")


def test_dry_run_reports_and_writes_nothing(conn: Connection) -> None:
    small_tree(conn)
    before = counts(conn)
    report = bundle.import_bundle(conn, principal=SYSTEM, bundle=dhis2_document(), dry_run=True)
    assert report["dryRun"] is True and klass(report, "dataElements")["created"] == 3
    assert counts(conn) == before


def test_only_metadata_writers_import(conn: Connection) -> None:
    small_tree(conn)
    district = make_user(conn, role="district_staff", capture=["D1"])
    with pytest.raises(PermissionDenied):
        bundle.import_bundle(conn, principal=district, bundle=dhis2_document())
    commission = make_user(conn, role="commission_staff", capture=["SH"])
    assert bundle.import_bundle(conn, principal=commission, bundle=dhis2_document())["status"] == "OK"


def kinds_only(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k in bundle_export.KINDS}


def test_export_then_import_into_an_empty_database_reproduces_the_metadata(conn: Connection) -> None:
    small_tree(conn)
    bundle.import_bundle(conn, principal=SYSTEM, bundle=dhis2_document())
    exported = bundle_export.export_bundle(conn)
    assert exported["dataElements"][0]["translations"][0] == {
        "locale": "zh_CN",
        "property": "NAME",
        "value": "在校学生数",
    }
    combo = next(c for c in exported["categoryCombos"] if c["code"] == "SEX_STAGE")
    assert [c["code"] for c in combo["categoryOptionCombos"]][:2] == ["M_PRI", "M_JUN"]
    for kind in reversed(bundle_export.KINDS[1:]):  # empty the metadata through the services
        for obj in exported[kind]:
            delete = {
                "categories": metadata.delete_category,
                "categoryCombos": metadata.delete_category_combo,
            }
            if kind in delete:
                delete[kind](conn, principal=SYSTEM, code=obj["code"])
            else:
                metadata.delete_object(conn, principal=SYSTEM, kind=kind, code=obj["code"])
    assert counts(conn)[0] == 0 and counts(conn)[4] == 0
    report = bundle.import_bundle(conn, principal=SYSTEM, bundle=kinds_only(copy.deepcopy(exported)))
    assert report["stats"]["updated"] == 0 and report["stats"]["created"] > 0
    assert _same_but_coc_ids(kinds_only(bundle_export.export_bundle(conn)), kinds_only(exported))


def _without_coc_ids(combo: dict[str, Any]) -> dict[str, Any]:
    return {
        **combo,
        "categoryOptionCombos": [
            {k: v for k, v in c.items() if k != "id"} for c in combo["categoryOptionCombos"]
        ],
    }


def _same_but_coc_ids(a: dict[str, Any], b: dict[str, Any]) -> bool:
    strip = {"categoryCombos": lambda combos: [_without_coc_ids(c) for c in combos]}
    return {k: strip.get(k, lambda v: v)(v) for k, v in a.items()} == {
        k: strip.get(k, lambda v: v)(v) for k, v in b.items()
    }


def test_export_of_chosen_kinds_and_unknown_kinds(conn: Connection) -> None:
    small_tree(conn)
    bundle.import_bundle(conn, principal=SYSTEM, bundle=dhis2_document())
    only = bundle_export.export_bundle(conn, kinds=["categories"])
    assert {k for k in only if k in bundle_export.KINDS} == {"categoryOptions", "categories"}
    with pytest.raises(ValidationError):
        bundle_export.export_bundle(conn, kinds=["users"])
    units = bundle_export.export_bundle(conn, kinds=["organisationUnits"])  # the registry's, for DHIS2
    assert {u["code"] for u in units["organisationUnits"]} == {"SH", "D1", "D2", "S1", "S2"}


def test_a_district_principal_sees_only_its_units_of_a_data_set(conn: Connection) -> None:
    small_tree(conn)
    bundle.import_bundle(conn, principal=SYSTEM, bundle=dhis2_document())
    district = make_user(conn, role="district_staff", capture=["D1"])
    shown = bundle_export.export_objects(conn, kind="dataSets", keys=["SCHOOL_Y"], principal=district)
    assert shown[0]["organisationUnits"] == [{"code": "S1"}]
