"""``jiaowei secret rotate`` and the clear error for data sealed under another key, on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select, text

from jiaowei.admissions import queries, service
from jiaowei.admissions.applications import sealing
from jiaowei.admissions.crypto import SealedWithAnotherKey
from jiaowei.admissions.store import applicants
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.errors import NotFound, ValidationError
from tests.admissions.test_campaign import campaign, world
from tests.cli.test_cli import cli_env, create_pg_database, drop_pg_database, jiaowei
from tests.conftest import BACKENDS
from tests.factories import make_user, token_for

OLD = "old-secret-" + "o" * 32
NEW = "test-secret-" + "x" * 32  # the key of the ``client`` fixture's app
BORN = dt.date(2013, 5, 17)


def people(count: int, *, dated_ids: bool = True) -> list[service.ApplicantSpec]:
    """Applicants whose ID numbers hold their date of birth (as real ones do), or not."""
    return [service.ApplicantSpec(
        name=f"李{n}号", id_number=f"31010120130517{n:03d}X" if dated_ids else f"99999999{n:03d}X",
        birth_date=BORN + dt.timedelta(days=n), district="D1", residence_tier=1, catchment="S1",
        choices=("P1",)) for n in range(count)]


def registered(conn: Connection, key: str, *, count: int = 3, dated_ids: bool = True) -> str:
    world(conn)
    code = campaign(conn)
    service.register_applicants(conn, principal=SYSTEM, campaign=code, secret_key=key,
                                people=people(count, dated_ids=dated_ids))
    return code


def sealed(conn: Connection) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in conn.execute(select(applicants.c.name_sealed, applicants.c.id_number_sealed,
                                                  applicants.c.birth_check).order_by(applicants.c.id))]


def test_data_sealed_under_another_key_answers_a_clear_503_not_a_500(client: Any, conn: Connection) -> None:
    code = registered(conn, OLD)
    admin = token_for(conn, make_user(conn, "ops", role="administrator"))
    response = client.get(f"/api/admissions/campaigns/{code}/applicants", headers=admin)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["type"].endswith("/sealed-with-another-key")
    assert "sealed with another secret key" in body["detail"] and "jiaowei secret rotate" in body["detail"]
    chinese = client.get(f"/api/admissions/campaigns/{code}/applicants",
                         headers={**admin, "Accept-Language": "zh-CN"}).json()
    assert "密钥" in chinese["detail"] and "jiaowei secret rotate" in chinese["detail"]
    with pytest.raises(SealedWithAnotherKey):
        queries.staff_results(conn, principal=SYSTEM, code=code, secret_key=NEW)


def test_rotation_reseals_names_id_numbers_and_birth_checks(client: Any, conn: Connection) -> None:
    code = registered(conn, OLD)
    done = sealing.rotate(conn, old_key=OLD, new_key=NEW)
    assert (done.resealed, done.already_current) == (3, 0)
    shown = queries.staff_results(conn, principal=SYSTEM, code=code, secret_key=NEW).items
    assert sorted((p.name, p.id_number) for p in shown) == [
        (f"李{n}号", f"31010120130517{n:03d}X") for n in range(3)]
    for p in shown:  # the first's ID number holds its date of birth; the others' are found by search
        born = BORN + dt.timedelta(days=int(p.id_number[14:17]))
        found = queries.lookup(conn, code=code, number=p.number, birth_date=born.isoformat(), secret_key=NEW)
        assert found.number == p.number
    with pytest.raises(SealedWithAnotherKey):
        queries.staff_results(conn, principal=SYSTEM, code=code, secret_key=OLD)
    admin = token_for(conn, make_user(conn, "ops", role="administrator"))
    assert client.get(f"/api/admissions/campaigns/{code}/applicants", headers=admin).status_code == 200
    logged = conn.execute(text("SELECT entity_key, \"after\" FROM audit_log "
                               "WHERE action = 'secret.rotate'")).all()
    assert len(logged) == 1 and "李" not in str(logged) and "3101" not in str(logged)


def test_dates_of_birth_are_found_without_the_id_number(conn: Connection) -> None:
    code = registered(conn, OLD, count=2, dated_ids=False)
    sealing.rotate(conn, old_key=OLD, new_key=NEW)
    shown = queries.staff_results(conn, principal=SYSTEM, code=code, secret_key=NEW).items
    for n, p in enumerate(sorted(shown, key=lambda p: p.id_number)):
        found = queries.lookup(conn, code=code, number=p.number,
                               birth_date=(BORN + dt.timedelta(days=n)).isoformat(), secret_key=NEW)
        assert found.number == p.number
        with pytest.raises(NotFound):
            queries.lookup(conn, code=code, number=p.number, birth_date="2013-01-01", secret_key=NEW)


def test_a_wrong_old_key_changes_nothing_and_names_the_applicant(conn: Connection) -> None:
    registered(conn, OLD)
    before = sealed(conn)
    with pytest.raises(ValidationError) as refused:
        sealing.rotate(conn, old_key="not-the-old-key-" + "z" * 32, new_key=NEW)
    assert "C2020/" in str(refused.value) and "nothing was changed" in str(refused.value)
    assert sealed(conn) == before
    with pytest.raises(ValidationError):
        sealing.rotate(conn, old_key=NEW, new_key=NEW)


def test_values_already_under_the_current_key_are_left_alone(conn: Connection) -> None:
    code = registered(conn, OLD, count=2)
    service.register_applicants(conn, principal=SYSTEM, campaign=code, secret_key=NEW, people=[
        service.ApplicantSpec(name="王新", id_number="310101201401010009", birth_date=dt.date(2014, 1, 1),
                              district="D1", residence_tier=1, catchment="S1", choices=("P1",))])
    newest = sealed(conn)[-1]
    done = sealing.rotate(conn, old_key=OLD, new_key=NEW)
    assert (done.resealed, done.already_current) == (2, 1)
    assert sealed(conn)[-1] == newest
    names = {p.name for p in queries.staff_results(conn, principal=SYSTEM, code=code, secret_key=NEW).items}
    assert names == {"李0号", "李1号", "王新"}


# ---------------------------------------------------------------- the command, as operators run it


def _seed(url: str) -> None:
    """Two applicants sealed under the old key, committed to the database at ``url``."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            registered(conn, OLD, count=2)
    finally:
        engine.dispose()


def _rotate_through_the_command(env: dict[str, str], tmp_path: Path) -> None:
    _seed(env["JIAOWEI_DATABASE_URL"])
    env_new = {**env, "JIAOWEI_SECRET_KEY": NEW}
    missing = jiaowei(env_new, "secret", "rotate", expect=2)
    assert "--old-key-file" in missing.stderr and "JIAOWEI_OLD_SECRET_KEY" in missing.stderr
    key_file = tmp_path / "old.key"
    key_file.write_text("wrong-" + OLD + "\n", encoding="utf-8")
    wrong = jiaowei(env_new, "secret", "rotate", "--old-key-file", str(key_file), expect=2)
    assert "nothing was changed" in wrong.stderr
    key_file.write_text(OLD + "\n", encoding="utf-8")
    done = jiaowei(env_new, "secret", "rotate", "--old-key-file", str(key_file))
    assert "Re-sealed the personal data of 2 applicants" in done.stdout
    again = jiaowei({**env_new, "JIAOWEI_OLD_SECRET_KEY": OLD}, "secret", "rotate")
    assert "of 0 applicants" in again.stdout and "(2 were sealed under it already)" in again.stdout
    assert "chain intact" in jiaowei(env_new, "audit", "verify").stdout
    engine = make_engine(env["JIAOWEI_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            names = {p.name for p in queries.staff_results(conn, principal=SYSTEM, code="C2020",
                                                           secret_key=NEW).items}
    finally:
        engine.dispose()
    assert names == {"李0号", "李1号"}


def test_the_command_rotates_on_sqlite(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", f"sqlite:///{tmp_path / 'rotate.sqlite3'}")
    _rotate_through_the_command(env, tmp_path)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not selected")
def test_the_command_rotates_on_postgresql(pg_cluster: Any, tmp_path: Path) -> None:
    name = "jiaowei_cli_rotate"
    url = create_pg_database(pg_cluster.url, name)
    try:
        _rotate_through_the_command(cli_env(tmp_path / "home", url), tmp_path)
    finally:
        drop_pg_database(pg_cluster.url, name)
