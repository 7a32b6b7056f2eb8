"""Re-sealing applicants' personal data under a new secret key (``jiaowei secret rotate``).

Every applicant's name and ID number are unsealed with the old key and sealed with the current one,
and the keyed digest of the application number and date of birth is computed again under the current
key. The date of birth is not stored: it is found again with the old key among the dates the ID
number holds (YYYYMMDD), then the campaign's age window, then every day of the 25 years before the
campaign. Applicants already sealed under the current key (registered after the key changed) are
left as they are. One transaction: the caller commits; any applicant that cannot be re-sealed stops
the whole rotation, naming the applicant, and nothing changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from jiaowei.admissions import crypto
from jiaowei.admissions.store import applicants, campaigns
from jiaowei.audit import service as audit
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import M_, Problem, ValidationError

Progress = Callable[[str, int, int], None]
SEARCH_YEARS = 25
BATCH = 500


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: applicants re-sealed, and those already under the current key."""

    resealed: int
    already_current: int


def rotate(conn: Connection, *, old_key: str, new_key: str, progress: Progress | None = None) -> Rotation:
    """Re-seal every applicant's personal data from ``old_key`` to ``new_key``, all or nothing."""
    if old_key == new_key:
        raise ValidationError(M_("The old secret key is the current JIAOWEI_SECRET_KEY; nothing to re-seal."))
    report = progress or (lambda stage, done, total: None)
    rows = conn.execute(_query()).all()
    changed: list[dict[str, Any]] = []
    current = 0
    for done, row in enumerate(rows, start=1):
        if crypto.opens(new_key, row.name_sealed):
            current += 1
        else:
            changed.append(_resealed(row, old_key, new_key))
        if done % BATCH == 0 or done == len(rows):
            report("re-sealing", done, len(rows))
    for start in range(0, len(changed), BATCH):
        conn.execute(update(applicants).where(applicants.c.id == bindparam("pk")).values(
            name_sealed=bindparam("name"), id_number_sealed=bindparam("id_number"),
            birth_check=bindparam("check")), changed[start:start + BATCH])
    audit.record(conn, actor=SYSTEM.username, action="secret.rotate", entity="applicants",
                 entity_key="sealed-personal-data",
                 after={"resealed": len(changed), "already_current": current},
                 note="personal data re-sealed under the current secret key; no values in the log")
    return Rotation(resealed=len(changed), already_current=current)


def _query() -> Any:
    a, c = applicants.c, campaigns.c
    return (select(a.id, a.number, a.name_sealed, a.id_number_sealed, a.birth_check, c.code, c.year,
                   c.born_from, c.born_to)
            .join(campaigns, c.id == a.campaign_id)
            .order_by(a.id))


def _resealed(row: Any, old_key: str, new_key: str) -> dict[str, Any]:
    who = f"{row.code}/{row.number}"
    if not crypto.opens(old_key, row.name_sealed) or not crypto.opens(old_key, row.id_number_sealed):
        raise _refused(who, M_("sealed with neither the old key nor the current one"))
    id_number = crypto.unseal(old_key, row.id_number_sealed)
    born = crypto.recover_birth_date(old_key, row.number, row.birth_check, _candidates(row, id_number))
    if born is None:
        raise _refused(who, M_("its date of birth digest matches no date under the old key"))
    return {"pk": row.id, "name": crypto.reseal(old_key, new_key, row.name_sealed),
            "id_number": crypto.seal(new_key, id_number),
            "check": crypto.birth_check(new_key, row.number, born.isoformat())}


def _candidates(row: Any, id_number: str) -> Iterator[dt.date]:
    """Dates of birth to try, likeliest first: those in the ID number, the age window, then 25 years."""
    yield from crypto.dates_in(id_number)
    last = dt.date(row.year, 12, 31)
    if row.born_from or row.born_to:
        yield from _days(row.born_from or last.replace(year=row.year - SEARCH_YEARS), row.born_to or last)
    yield from _days(dt.date(row.year - SEARCH_YEARS, 1, 1), last)


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    for n in range((last - first).days + 1):
        yield first + dt.timedelta(days=n)


def _refused(who: str, why: str) -> ValidationError:
    return ValidationError(
        M_("Applicant {who} cannot be re-sealed; nothing was changed. Is the old key the one the data was "
           "sealed with?", who=who),
        [Problem(why, field="applicant", value=who)])
