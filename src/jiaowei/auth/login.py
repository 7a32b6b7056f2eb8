"""Logging in with a password: throttled without ever locking the owner out, in constant time.

Every attempt whose password was checked is a row of ``login_attempts`` (username, client
address, succeeded, time). Before a password is checked, three counts over the last
``window_minutes`` decide how long the client must wait (see decision 0012):

- **this account from this address** (since the last success there): after ``max_failures``
  failures each further try waits 2 s, 4 s, 8 s … since the last failure, up to the window;
- **this account from every address**: past ``max_failures_per_account`` the account is under
  attack, and an address that failed on it waits a minute, then 2, 4 … up to the window, after
  each of its failures; an address without failures on it still tries at once;
- **this address, every account**: after ``max_failures_per_address`` failures (spraying one
  password over many usernames) each try from it waits 2 s, 4 s … up to the window.

The delay is never a lock on the account: the owner, from an address without recent failures,
gets in with the right password whatever an attacker did elsewhere. A refused try answers 429 with
``Retry-After`` and checks no password, so it teaches nothing and is not recorded.

The answer takes the same time whether or not the user exists: an unknown or disabled user's
password is checked against a dummy argon2 hash made with the same parameters.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, case, func, insert, or_, select

from jiaowei.auth.model import Principal
from jiaowei.auth.service import hash_password, principal_for
from jiaowei.auth.store import login_attempts, users
from jiaowei.errors import M_, NotAuthenticated, TooManyAttempts
from jiaowei.settings import Settings

_hasher = PasswordHasher()  # verifies; the parameters come from each hash
DELAY_SECONDS = 2.0  # the first wait, doubled after each further failure
UNDER_ATTACK_DELAY_SECONDS = 60.0  # the first wait of an address failing on an account under attack


@dataclass(frozen=True)
class LoginPolicy:
    """The throttle's limits (the settings ``JIAOWEI_LOGIN_*``)."""

    max_failures: int = 5
    max_failures_per_account: int = 20
    max_failures_per_address: int = 30
    window_minutes: int = 15

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(max_failures=settings.login_max_failures,
                   max_failures_per_account=settings.login_max_failures_per_account,
                   max_failures_per_address=settings.login_max_failures_per_address,
                   window_minutes=settings.login_window_minutes)


@dataclass
class LoginThrottled(TooManyAttempts):
    """Too many failures from this address: try again in ``retry_after`` seconds."""

    retry_after: int = 1


def log_in(conn: Connection, *, username: str, password: str, remote: str,
           policy: LoginPolicy) -> Principal:
    """The user, if the password is right and the address may try now; records the attempt.

    Raises :class:`LoginThrottled` (nothing checked, nothing recorded) or ``NotAuthenticated``
    (recorded: the caller answers it rather than raise it, so that the transaction keeps the row).
    """
    wait = seconds_to_wait(conn, username=username, remote=remote, policy=policy)
    if wait > 0:
        seconds = math.ceil(wait)
        raise LoginThrottled(M_("Too many failed logins from this address; try again in {seconds} seconds.",
                                seconds=seconds),
                             retry_after=seconds)
    try:
        principal = check_password(conn, username=username, password=password)
    except NotAuthenticated:
        record_attempt(conn, username=username, remote=remote, succeeded=False)
        raise
    record_attempt(conn, username=username, remote=remote, succeeded=True)
    return principal


def check_password(conn: Connection, *, username: str, password: str) -> Principal:
    """The active user with this password, or ``NotAuthenticated``; one argon2 check either way."""
    row = conn.execute(select(users.c.id, users.c.password_hash, users.c.active)
                       .where(users.c.username == username)).first()
    usable = row is not None and bool(row.active)
    ok: bool
    try:
        ok = _hasher.verify(row.password_hash if row is not None and usable else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not (ok and usable and row is not None):
        raise NotAuthenticated("Wrong username or password.")
    return principal_for(conn, user_id=row.id)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(24))


def record_attempt(conn: Connection, *, username: str, remote: str, succeeded: bool) -> None:
    conn.execute(insert(login_attempts).values(username=username[:64], remote=remote[:64],
                                               succeeded=succeeded, at=_now()))


def seconds_to_wait(conn: Connection, *, username: str, remote: str, policy: LoginPolicy,
                    now: dt.datetime | None = None) -> float:
    """How long ``remote`` must wait before trying ``username`` again (0: it may try now)."""
    now = now or _now()
    since = now - dt.timedelta(minutes=policy.window_minutes)
    cap = policy.window_minutes * 60.0
    pair_failures, pair_last = _pair_failures(conn, username=username[:64], remote=remote[:64], since=since)
    account, address, address_last = _failures(conn, username=username[:64], remote=remote[:64], since=since)
    waits = [_until(pair_last, _delay(pair_failures, policy.max_failures, DELAY_SECONDS, cap), now),
             _until(address_last, _delay(address, policy.max_failures_per_address, DELAY_SECONDS, cap), now)]
    if account >= policy.max_failures_per_account:
        waits.append(_until(pair_last, _delay(pair_failures, 1, UNDER_ATTACK_DELAY_SECONDS, cap), now))
    return max(waits)


def _pair_failures(conn: Connection, *, username: str, remote: str,
                   since: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Failures of ``username`` from ``remote`` since ``since`` and its last success there; the last one."""
    a = login_attempts
    rows = conn.execute(select(a.c.succeeded, a.c.at).where(a.c.username == username, a.c.remote == remote,
                                                           a.c.at >= since).order_by(a.c.at)).all()
    failures: list[dt.datetime] = []
    for row in rows:
        failures = [] if row.succeeded else [*failures, _aware(row.at)]
    return len(failures), (failures[-1] if failures else None)


def _failures(conn: Connection, *, username: str, remote: str,
              since: dt.datetime) -> tuple[int, int, dt.datetime | None]:
    """Failures since ``since``: of the account from anywhere, of the address on any account, and
    the address's last one."""
    a = login_attempts
    same_user, same_address = a.c.username == username, a.c.remote == remote
    row = conn.execute(select(
        func.count(case((same_user, 1))), func.count(case((same_address, 1))),
        func.max(case((same_address, a.c.at))),
    ).where(a.c.succeeded.is_(False), a.c.at >= since, or_(same_user, same_address))).one()
    last = row[2]
    if isinstance(last, str):  # SQLite returns the aggregate over a CASE as text
        last = dt.datetime.fromisoformat(last)
    return int(row[0]), int(row[1]), _aware(last) if last is not None else None


def _delay(failures: int, free: int, base: float, cap: float) -> float:
    """No wait for the first ``free`` failures, then ``base`` doubled after each, up to ``cap``."""
    if failures < free:
        return 0.0
    return min(cap, base * 2.0 ** min(failures - free, 40))


def _until(last: dt.datetime | None, delay: float, now: dt.datetime) -> float:
    if last is None or delay <= 0:
        return 0.0
    return max(0.0, (last - now).total_seconds() + delay)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

