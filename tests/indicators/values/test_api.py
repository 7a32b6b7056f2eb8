"""The data value API and CLI: every exchange format in and out, conflicts, templates, cells."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection, func, select

from jiaowei.indicators import store
from tests.factories import indicator_setup, make_user, token_for

VALUES = [
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "M", "value": "120"},
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "F", "value": 110},
    {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "15", "comment": "含外聘"},
    {"dataElement": "RATE", "period": "2020", "orgUnit": "S2", "value": "86.5", "followup": True},
]


def admin(client: TestClient, conn: Connection) -> dict[str, str]:
    indicator_setup(conn)
    return token_for(conn, make_user(conn, "dataadmin"))


def stored(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(store.data_values)).scalar_one()


def post(client: TestClient, headers: dict[str, str], body: bytes, **params: str) -> Response:
    return client.post("/api/dataValueSets", content=body, params=params, headers=headers)


def test_json_import_then_every_format_exports_what_was_imported(
    client: TestClient, conn: Connection
) -> None:
    headers = admin(client, conn)
    response = post(client, headers, json.dumps({"dataValues": VALUES}).encode())
    assert response.status_code == 200, response.text
    counts = response.json()["response"]["importCount"]
    assert counts == {"imported": 4, "updated": 0, "ignored": 0, "deleted": 0}
    for fmt in ("dhis2-json", "dhis2-csv", "adx"):
        exported = client.get(
            "/api/dataValueSets",
            headers=headers,
            params={"orgUnit": "SH", "children": "true", "period": "2020", "format": fmt},
        )
        assert exported.status_code == 200, exported.text
        again = post(client, headers, exported.content, format=fmt)
        assert again.status_code == 200, (fmt, again.text)
        counts = again.json()["response"]["importCount"]
        assert counts == {"imported": 0, "updated": 0, "ignored": 4, "deleted": 0}, fmt
    assert stored(conn) == 4


def test_adx_carries_the_disaggregation_as_category_attributes(client: TestClient, conn: Connection) -> None:
    headers = admin(client, conn)
    post(client, headers, json.dumps({"dataValues": VALUES}).encode())
    adx = client.get(
        "/api/dataValueSets", headers=headers, params={"orgUnit": "S1", "period": "2020", "format": "adx"}
    ).text
    assert 'SEX="M"' in adx and 'period="2020-01-01/P1Y"' in adx and "urn:ihe:qrph:adx:2015" in adx
    changed = adx.replace('value="120"', 'value="121"')
    summary = post(client, headers, changed.encode(), format="adx").json()["response"]
    assert summary["importCount"]["updated"] == 1


def test_a_file_with_conflicts_answers_409_and_writes_nothing(client: TestClient, conn: Connection) -> None:
    headers = admin(client, conn)
    bad = [*VALUES, {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S2", "value": "lots"}]
    response = post(client, headers, json.dumps({"dataValues": bad}).encode())
    assert response.status_code == 409
    body = response.json()["response"]
    assert body["status"] == "ERROR" and stored(conn) == 0
    assert body["conflicts"] == [
        {
            "object": "lots",
            "property": "value",
            "value": body["conflicts"][0]["value"],
            "indexes": [4],
            "row": 5,
            "field": "value",
            "reason": body["conflicts"][0]["reason"],
            "expected": "a whole number, e.g. 120",
        }
    ]
    partial = post(client, headers, json.dumps({"dataValues": bad}).encode(), atomicMode="NONE")
    assert partial.status_code == 200 and partial.json()["response"]["status"] == "WARNING"
    assert stored(conn) == 4
    dry = post(
        client, headers, json.dumps({"dataValues": bad}).encode(), dryRun="true", importStrategy="DELETE"
    )
    assert dry.json()["response"]["dryRun"] is True and stored(conn) == 4


def test_unreadable_files_get_a_problem_naming_the_place(client: TestClient, conn: Connection) -> None:
    headers = admin(client, conn)
    for body, fmt in (
        (b'{"dataValues": [{"dataElement": 5}]}', None),
        (b"not,a\ncsv", "dhis2-csv"),
        (b"<adx><group/></adx>", "adx"),
        ('<!DOCTYPE adx [<!ENTITY a "a">]><adx>&a;</adx>'.encode("utf-16-le"), "adx"),
        (b"PK\x03\x04junk", "xlsx"),
    ):
        response = post(client, headers, body, **({"format": fmt} if fmt else {}))
        assert response.status_code == 422, (fmt, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["problems"], fmt


def test_the_xlsx_template_is_prefilled_and_imports_back(client: TestClient, conn: Connection) -> None:
    headers = admin(client, conn)
    post(client, headers, json.dumps({"dataValues": VALUES}).encode())
    response = client.get(
        "/api/dataValueSets/template",
        headers=headers,
        params={"dataSet": "SCHOOL_Y", "period": "2020", "orgUnit": "S1", "language": "en"},
    )
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    cells = [c.value for row in book.active.iter_rows() for c in row]
    assert "120" in map(str, cells) and "Pupils" in cells
    for row in book.active.iter_rows():
        texts = [str(c.value) for c in row]
        if "RATE" in texts:
            row[texts.index("RATE") + 4].value = 91  # code, combo code, names, value
    buffer = io.BytesIO()
    book.save(buffer)
    summary = client.post(
        "/api/dataValueSets",
        headers=headers,
        files={"file": ("SCHOOL_Y.xlsx", buffer.getvalue(), "application/octet-stream")},
    )
    assert summary.status_code == 200, summary.text
    assert summary.json()["response"]["importCount"]["imported"] == 1


def test_one_cell_is_saved_deleted_and_its_history_shown(client: TestClient, conn: Connection) -> None:
    headers = admin(client, conn)
    cell = {"dataElement": "RATE", "period": "2020", "orgUnit": "S1", "value": "85"}
    assert client.post("/api/dataValues", json=cell, headers=headers).json()["dataValue"]["value"] == "85"
    refused = client.post("/api/dataValues", json={**cell, "value": "185"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["problems"][0]["field"] == "value"
    client.post(
        "/api/dataValues", json={**cell, "value": "", "comment": "核对过", "followup": True}, headers=headers
    )
    gone = client.delete("/api/dataValues", params={"de": "RATE", "pe": "2020", "ou": "S1"}, headers=headers)
    assert gone.json()["importSummary"]["importCount"]["deleted"] == 1
    history = client.get(
        "/api/dataValues/history", params={"de": "RATE", "pe": "2020", "ou": "S1"}, headers=headers
    ).json()["changes"]
    assert [h["change"] for h in history] == ["DELETE", "UPDATE", "CREATE"]
    assert history[1]["comment"] == "核对过" and history[1]["followup"] is True


def test_a_reporter_writes_only_their_school(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    reporter = token_for(conn, make_user(conn, "s1reporter", role="unit_reporter", capture=["S1"]))
    mine = {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "12"}
    assert client.post("/api/dataValues", json=mine, headers=reporter).status_code == 200
    other = client.post("/api/dataValues", json={**mine, "orgUnit": "S2"}, headers=reporter)
    assert other.status_code == 422 and "scope" in other.json()["detail"]
    file = post(client, reporter, json.dumps({"dataValues": [mine, {**mine, "orgUnit": "S2"}]}).encode())
    assert file.status_code == 409 and [c["row"] for c in file.json()["response"]["conflicts"]] == [2]


def test_the_cli_imports_with_a_dry_run_and_exports_every_format(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from jiaowei.auth.model import SYSTEM
    from jiaowei.db.migrate import upgrade
    from tests.cli.test_cli import cli_env, jiaowei
    from tests.factories import indicator_metadata, small_tree

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        small_tree(conn)
        indicator_metadata(conn)
    engine.dispose()
    env = cli_env(tmp_path, url)
    source = tmp_path / "values.json"
    source.write_text(json.dumps({"dataValues": VALUES}), encoding="utf-8")
    dry = jiaowei(env, "data", "import", str(source), "--dry-run")
    assert "would have imported 4" in dry.stdout and SYSTEM.username
    jiaowei(env, "data", "import", str(source))
    for fmt, name in (("dhis2-json", "v.json"), ("dhis2-csv", "v.csv"), ("adx", "v.xml")):
        jiaowei(
            env,
            "data",
            "export",
            "--format",
            fmt,
            "--unit",
            "SH",
            "--children",
            "--period",
            "2020",
            "--out",
            str(tmp_path / name),
        )
        again = jiaowei(env, "data", "import", str(tmp_path / name))
        assert "imported 0, updated 0, deleted 0, ignored 4" in again.stdout, again.stdout
    jiaowei(
        env,
        "data",
        "export",
        "--format",
        "xlsx",
        "--data-set",
        "SCHOOL_Y",
        "--unit",
        "S1",
        "--period",
        "2020",
        "--out",
        str(tmp_path / "form.xlsx"),
    )
    assert (tmp_path / "form.xlsx").read_bytes()[:2] == b"PK"
    bad = tmp_path / "bad.csv"
    bad.write_text("dataelement,period,orgunit,catoptcombo,attroptcombo,value\nTEACHERS,2020,S1,,,many\n")
    refused = jiaowei(env, "data", "import", str(bad), expect=2)
    assert "many" in refused.stdout and "whole number" in refused.stdout


def test_adx_rows_naming_unknown_elements_or_options_are_conflicts_of_their_own(
    client: TestClient, conn: Connection
) -> None:
    headers = admin(client, conn)
    adx = (
        '<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="S1" period="2020-01-01/P1Y" dataSet="SCHOOL_Y">'
        '<dataValue dataElement="TEACHERS" value="15"/><dataValue dataElement="NOPE" value="1"/>'
        '<dataValue dataElement="PUPILS" SEX="X" value="3"/></group></adx>'
    )
    summary = post(client, headers, adx.encode(), format="adx", atomicMode="NONE").json()["response"]
    assert summary["importCount"]["imported"] == 1
    assert [(c["row"], c["field"]) for c in summary["conflicts"]] == [
        (2, "dataElement"),
        (3, "categoryOptionCombo"),
    ]
    exported = client.get(
        "/api/dataValueSets",
        headers=headers,
        params={"orgUnit": "S1", "period": "2020", "dataSet": "SCHOOL_Y", "format": "adx"},
    )
    assert 'dataSet="SCHOOL_Y"' in exported.text


def test_the_cli_moves_metadata_between_databases(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from jiaowei.db.migrate import upgrade
    from tests.cli.test_cli import cli_env, jiaowei
    from tests.factories import indicator_metadata, small_tree

    first, second = f"sqlite:///{tmp_path / 'a.sqlite3'}", f"sqlite:///{tmp_path / 'b.sqlite3'}"
    engine = create_engine(first)
    upgrade(engine)
    with engine.begin() as conn:
        small_tree(conn)
        indicator_metadata(conn)
    engine.dispose()
    exported = jiaowei(cli_env(tmp_path, first), "metadata", "export", "--out", str(tmp_path / "meta.json"))
    assert "3 dataElements" in exported.stdout and "1 dataSets" in exported.stdout
    target = cli_env(tmp_path, second)
    jiaowei(target, "init")
    jiaowei(target, "units", "import", str(_units_csv(tmp_path)))
    dry = jiaowei(target, "metadata", "import", str(tmp_path / "meta.json"), "--dry-run")
    assert "Dry run" in dry.stdout
    done = jiaowei(target, "metadata", "import", str(tmp_path / "meta.json"))
    # updated: the two option combos take the ids the export lists them with
    assert "created 9, updated 2" in done.stdout
    again = jiaowei(target, "metadata", "import", str(tmp_path / "meta.json"))
    assert "created 0, updated 0" in again.stdout
    (tmp_path / "bad.json").write_text(
        '{"dataElements": [{"code": "X", "name": "X", "valueType": "COLOUR"}]}'
    )
    refused = jiaowei(target, "metadata", "import", str(tmp_path / "bad.json"), expect=2)
    assert "COLOUR" in refused.stderr


def _units_csv(folder: Path) -> Path:
    path = folder / "units.csv"
    path.write_text(
        "code,name_zh,name_en,type,parent,valid_from\nSH,教委,Commission,commission,,2000-01-01\n"
        "D1,一区,District 1,district_bureau,SH,2000-01-01\nD2,二区,District 2,district_bureau,SH,2000-01-01\n"
        "S1,学校一,School 1,primary_school,D1,2000-01-01\nS2,学校二,School 2,primary_school,D2,2000-01-01\n",
        encoding="utf-8",
    )
    return path


def test_the_entry_page_offers_the_units_the_user_may_enter_data_for(
    client: TestClient, conn: Connection
) -> None:
    from tests.factories import login

    indicator_setup(conn)
    make_user(conn, "d1entry", role="district_staff", capture=["D1"])
    login(client, "d1entry")
    page = client.get("/data/entry", params={"ds": "SCHOOL_Y"}).text
    assert "data-unit-picker" in page  # the picker searches the user's scope (tests/registry/test_search_api)
    found = client.get("/api/unit-search", params={"q": "S"}).json()["items"]
    assert "S1" in [u["code"] for u in found] and "S2" not in [u["code"] for u in found]
    form = client.get("/data/entry", params={"ds": "SCHOOL_Y", "pe": "2020", "ou": "S1"}).text
    assert 'data-de="PUPILS" data-co="M"' in form and "此表单只读" not in form


def test_saving_a_cell_answers_the_problems_of_its_form(client: TestClient, conn: Connection) -> None:
    from jiaowei.auth.model import SYSTEM
    from jiaowei.indicators.metadata import service as metadata

    headers = admin(client, conn)
    metadata.save_validation_rule(
        conn,
        principal=SYSTEM,
        code="PTR_MAX",
        name_zh="生师比不超过40",
        name_en="At most 40 pupils a teacher",
        left="#{PUPILS}",
        operator="less_than_or_equal_to",
        right="#{TEACHERS} * 40",
    )
    cell = {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "M"}
    first = client.post("/api/dataValues", json={**cell, "value": "120"}, headers=headers).json()
    assert [v["rule"] for v in first["validationRuleViolations"]] == ["PTR_MAX"]  # no teachers yet: 120 > 0
    teachers = {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "3"}
    fixed = client.post("/api/dataValues", json=teachers, headers=headers).json()
    assert fixed["validationRuleViolations"] == []


def test_a_form_with_synthetic_values_says_so(client: TestClient, conn: Connection) -> None:
    from jiaowei.auth.model import SYSTEM
    from jiaowei.indicators.model import ValueRow
    from jiaowei.indicators.values import service as values
    from tests.factories import login

    indicator_setup(conn)
    make_user(conn, "synthviewer", role="viewer", view=["SH"])
    values.import_values(
        conn,
        principal=SYSTEM,
        source="demo",
        synthetic=True,
        rows=[ValueRow(data_element="TEACHERS", period="2020", org_unit="S1", value="9", row=1)],
    )
    login(client, "synthviewer")
    synthetic = client.get("/data/entry", params={"ds": "SCHOOL_Y", "pe": "2020", "ou": "S1"}).text
    real = client.get("/data/entry", params={"ds": "SCHOOL_Y", "pe": "2020", "ou": "S2"}).text
    assert "badge--synthetic" in synthetic and "badge--synthetic" not in real
    assert "disabled" in synthetic  # a viewer's form is read-only
    values.import_values(  # the answer is kept per process under the imports' stamp: an import renews it
        conn, principal=SYSTEM, source="demo", synthetic=True,
        rows=[ValueRow(data_element="TEACHERS", period="2020", org_unit="S2", value="7", row=1)])
    later = client.get("/data/entry", params={"ds": "SCHOOL_Y", "pe": "2020", "ou": "S2"}).text
    assert "badge--synthetic" in later


def test_the_entry_page_upload_answers_4xx_when_it_refuses_a_file(client: TestClient,
                                                                   conn: Connection) -> None:
    from tests.factories import login

    indicator_setup(conn)
    make_user(conn, "uploader")
    csrf = login(client, "uploader")
    html = {"accept": "text/html", "x-csrf-token": csrf}
    query = {"ds": "SCHOOL_Y", "pe": "2020", "ou": "S1"}

    def upload(name: str, body: bytes, media: str) -> Response:
        return client.post("/data/entry/upload", headers=html, data=query,
                           files={"file": (name, body, media)})

    unreadable = upload("v.xml", b"<adx><group></adx>", "application/adx+xml")
    assert unreadable.status_code == 422 and "not well-formed" in unreadable.text
    back = 'href="/data/entry?ds=SCHOOL_Y&amp;pe=2020&amp;ou=S1"'
    assert back in unreadable.text  # the import is a job: its page leads back to the form
    unknown = {"dataValues": [{"dataElement": "NOPE", "period": "2020", "orgUnit": "S1", "value": "1"}]}
    conflicted = upload("v.json", json.dumps(unknown).encode(), "application/json")
    assert conflicted.status_code == 409, conflicted.text
    good = upload("v.json", json.dumps({"dataValues": VALUES[:1]}).encode(), "application/json")
    assert good.status_code == 200, good.text
    assert stored(conn) == 1
