"""Reconciliation of the account tables with the audit chain (see :mod:`jiaowei.audit.reconcile`).

Users: every entry about a user (``user.create``, ``user.update``, ``user.disable``, ``user.enable``,
``user.password_reset``, ``user.password_change``) holds the user's full new state in ``after``:
role, active, must change password, capture and view scopes as unit codes, and the SHA-256 of the
password hash. Replaying them gives what the live ``users`` and ``user_scopes`` rows must be; a
viewer promoted to administrator by direct SQL, a scope added, a re-enabled account or a
password hash swapped are each reported. Entries written before the full state was recorded
(``user.create`` with role and scopes only) are read as they are: what they do not say is not
checked until a later entry says it. The display name and the language are not audited (users
change their language themselves) and so are not checked.

API tokens: ``token.create`` (entity ``api_token``, keyed by the token's id) holds its user, expiry
and ``revoked: false``; ``token.revoke`` holds ``revoked: true``. A token created before tokens
were keyed by id is accounted for by an older ``token.create`` entry about its user (one entry
per token); any other token row is reported, as is a revoked token made usable again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from jiaowei.audit.checkpoint import Text
from jiaowei.audit.reconcile import N_, Chain, Mismatch, term
from jiaowei.auth import queries
from jiaowei.auth.store import api_tokens, users

STATE_KEYS = ("role", "active", "must_change_password", "capture", "view", "password")
SECOND = dt.timedelta(seconds=1)
TERMS = (N_("users"), N_("user_scopes"), N_("api_tokens"), N_("role"), N_("active"),
         N_("must_change_password"), N_("capture"), N_("view"), N_("none"), N_("true"), N_("false"))
USER_ACTIONS = ("user.create", "user.update", "user.disable", "user.enable", "user.password_reset",
                "user.password_change")


def replay_users(chain: Chain) -> dict[str, dict[str, Any]]:
    """Each user's state as the chain says it, by username (keys the entries did not give are absent)."""
    states: dict[str, dict[str, Any]] = {}
    for entry in chain.entries(entity="user", actions=USER_ACTIONS):
        after = entry.after if isinstance(entry.after, dict) else {}
        state = states.setdefault(entry.entity_key, {"active": True, "must_change_password": False})
        for key in STATE_KEYS:
            if key in after:
                state[key] = sorted(set(after[key])) if key in ("capture", "view") else after[key]
    return states


def check_users(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """Every user row and its scopes equal the replay of the chain; no user is missing or extra."""
    expected = replay_users(chain)
    rows = conn.execute(select(users).order_by(users.c.username)).all()
    scopes = queries.scope_codes(conn, [r.id for r in rows])
    for row in rows:
        said = expected.pop(row.username, None)
        if said is None:
            yield Mismatch("users", row.username, N_("the user is not in the audit log"))
            continue
        live = queries.state_of(row, scopes[row.id])
        for key in STATE_KEYS:
            if key in said and live[key] != said[key]:
                reason = _difference(key, live[key], said[key])
                yield Mismatch("user_scopes" if key in ("capture", "view") else "users", row.username,
                               reason.template, reason.params)
    for username in expected:
        yield Mismatch("users", username, N_("the user was deleted without an audit entry"))


def _difference(key: str, live: Any, said: Any) -> Text:
    if key == "password":
        return Text(N_("the password hash differs from the one the audit log vouches for"))
    return Text(N_("{field} is {live}, the audit log says {logged}"),
                {"field": term(key), "live": _words(live), "logged": _words(said)})


def _words(value: Any) -> str | Text:
    if isinstance(value, list):
        return ", ".join(value) or term("none")
    return term(str(value).lower()) if isinstance(value, bool) else str(value)


def replay_tokens(chain: Chain) -> tuple[dict[str, dict[str, Any]], Counter[str]]:
    """Each keyed token's state by id, and how many unkeyed (older) tokens each user was given."""
    states: dict[str, dict[str, Any]] = {}
    for entry in chain.entries(entity="api_token", actions=("token.create", "token.revoke")):
        after = entry.after if isinstance(entry.after, dict) else {}
        state = states.setdefault(entry.entity_key, {"created": False})
        state["created"] = state["created"] or entry.action == "token.create"
        state.update({k: after[k] for k in ("user", "expires_at", "revoked") if k in after})
    legacy = Counter(e.entity_key for e in chain.entries(entity="user", actions=("token.create",)))
    return states, legacy


def check_tokens(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """Every API token row was created, and revoked if it is, as the chain says."""
    expected, legacy = replay_tokens(chain)
    rows = conn.execute(select(api_tokens, users.c.username).join(users, users.c.id == api_tokens.c.user_id)
                        .order_by(api_tokens.c.id)).all()
    for row in rows:
        key = str(row.id)
        said = expected.pop(key, None)
        if said is None or not said["created"]:
            if legacy[row.username] <= 0:
                yield Mismatch("api_tokens", key, N_("the token of {user} is not in the audit log"),
                               {"user": row.username})
                continue
            legacy[row.username] -= 1
            said = {"revoked": False, **(said or {})}
            said.pop("user", None)
        yield from _token_differences(row, key, said)
    for key, said in expected.items():
        if said["created"]:
            yield Mismatch("api_tokens", key, N_("the token was deleted without an audit entry"))


def _token_differences(row: Any, key: str, said: dict[str, Any]) -> Iterator[Mismatch]:
    if "user" in said and row.username != said["user"]:
        yield Mismatch("api_tokens", key, N_("the token acts as {live}, the audit log says {logged}"),
                       {"live": row.username, "logged": said["user"]})
    if "revoked" in said and bool(row.revoked) != said["revoked"]:
        yield Mismatch("api_tokens", key, N_("the token is revoked, the audit log says the opposite")
                       if row.revoked else N_("the token is not revoked, the audit log says the opposite"))
    if "expires_at" in said and abs(_aware(row.expires_at) - _parse(said["expires_at"])) > SECOND:
        yield Mismatch("api_tokens", key, N_("the token expires {live}, the audit log says {logged}"),
                       {"live": _aware(row.expires_at).isoformat(), "logged": said["expires_at"]})


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _parse(text: str) -> dt.datetime:
    return _aware(dt.datetime.fromisoformat(text))
