"""Reads in DHIS2's shapes for its clients: the system's description, the user (``/api/me``), the
category option combos and the category options.

Every function takes the principal and reads through the other domains' public read APIs (the
registry's and the metadata's queries), so scope and permissions are theirs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, select

from jiaowei import __version__
from jiaowei.auth import queries as accounts
from jiaowei.auth.model import ROLE_ACTIONS, ROLE_LABELS, Principal, Role
from jiaowei.indicators.metadata import queries as metadata
from jiaowei.registry import queries as registry

DHIS2_VERSION = "2.40.0"
"""The DHIS2 release whose Web API shapes jiaowei answers in (docs/dhis2.md says why)."""
UID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def system_info(*, time_zone: str, now: dt.datetime, context_path: str) -> dict[str, Any]:
    """``GET /api/system/info``: what a DHIS2 client reads to know the server."""
    return {
        "version": DHIS2_VERSION,
        "revision": f"jiaowei-{__version__}",
        "buildTime": None,
        "serverDate": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
        "serverTimeZoneId": time_zone,
        "serverTimeZoneDisplayName": time_zone,
        "calendar": "iso8601",
        "dateFormat": "yyyy-mm-dd",
        "systemName": "jiaowei",
        "contextPath": context_path,
        "jiaowei": True,
        "jiaoweiVersion": __version__,
    }


def user_uid(user_id: int | None, username: str) -> str:
    """A stable DHIS2-shaped id for a user (jiaowei's users have none): a letter, then 10 of
    ``[A-Za-z0-9]``, from a digest of the user's number and name."""
    digest = hashlib.sha256(f"user:{user_id}:{username}".encode()).digest()
    first = UID_ALPHABET[digest[0] % 52]
    return first + "".join(UID_ALPHABET[b % len(UID_ALPHABET)] for b in digest[1:11])


def _unit_refs(conn: Connection, principal: Principal, day: dt.date) -> list[dict[str, Any]]:
    """The principal's top units (its scope's, or the tree's roots), as DHIS2 references."""
    top = registry.children(conn, principal=principal, code=None, as_of=day)
    codes = registry.unit_codes()
    uid = codes.c.get("uid")  # the units' DHIS2 ids (issue 13); a unit without one is named by code
    uids: dict[str, str] = {}
    if uid is not None and top:
        query = select(codes.c.code, uid).where(codes.c.code.in_([u.code for u in top]))
        uids = dict(conn.execute(query).all())
    return [{"id": uids.get(u.code) or u.code, "code": u.code, "name": u.name_en, "displayName": u.name_zh}
            for u in top]


def me(conn: Connection, *, principal: Principal, day: dt.date) -> dict[str, Any]:
    """``GET /api/me``: jiaowei's account fields, with DHIS2's beside them."""
    own: dict[str, Any] = {"username": principal.username, "role": principal.role.value}
    if principal.user_id is not None:
        own = asdict(accounts.get_user(conn, username=principal.username))
    name = principal.display_name or principal.username
    units = _unit_refs(conn, principal, day)
    return {
        **own,
        "id": user_uid(principal.user_id, principal.username),
        "name": name,
        "displayName": name,
        "organisationUnits": units,
        "dataViewOrganisationUnits": units,
        "authorities": _authorities(principal.role),
        "userRoles": [{"id": principal.role.value, "name": str(ROLE_LABELS[principal.role.value])}],
        "settings": {"keyUiLocale": principal.language or "zh_CN"},
    }


def _authorities(role: Role) -> list[str]:
    actions = sorted(action.value for action in ROLE_ACTIONS[role])
    return ["ALL", *actions] if role == Role.ADMINISTRATOR else actions


def _ref(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": obj.get("id"), "code": obj.get("code")}


def option_combos(conn: Connection, *, principal: Principal) -> list[dict[str, Any]]:
    """``GET /api/categoryOptionCombos``: every option combo (the default one too), by code."""
    catalog = metadata.read_catalog(conn, principal=principal)
    exported = metadata.export_objects
    combos = {c["code"]: c for c in exported(conn, kind="categoryCombos", principal=principal)}
    options = {o["code"]: o for o in exported(conn, kind="categoryOptions", principal=principal)}
    out = []
    for coc in catalog.option_combos.values():
        combo_code = catalog.combos.get(coc.combo_id, "")
        combo = combos.get(combo_code, {"id": None, "code": combo_code})
        out.append({
            "id": coc.uid,
            "code": coc.code,
            "name": coc.name_en,
            "displayName": coc.name_en,
            "translations": [{"locale": "zh_CN", "property": "NAME", "value": coc.name_zh}],
            "categoryCombo": _ref(combo),
            "categoryOptions": [_ref(options.get(code, {"code": code})) for code in coc.options],
            "ignoreApproval": False,
        })
    return sorted(out, key=lambda c: (c["categoryCombo"]["code"] or "", c["code"]))


def category_options(conn: Connection, *, principal: Principal) -> list[dict[str, Any]]:
    """``GET /api/categoryOptions``: every option, with its categories and option combos."""
    options = metadata.export_objects(conn, kind="categoryOptions", principal=principal)
    categories = metadata.export_objects(conn, kind="categories", principal=principal)
    in_categories: dict[str, list[dict[str, Any]]] = {}
    for category in categories:
        for option in category.get("categoryOptions", []):
            in_categories.setdefault(option.get("code"), []).append(_ref(category))
    in_combos: dict[str, list[dict[str, Any]]] = {}
    for coc in option_combos(conn, principal=principal):
        for option in coc["categoryOptions"]:
            in_combos.setdefault(option["code"], []).append(_ref(coc))
    return [
        {**option, "displayName": option.get("name"), "categories": in_categories.get(option["code"], []),
         "categoryOptionCombos": in_combos.get(option["code"], [])}
        for option in options
    ]


def find(objects: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The object whose id or code is ``key``."""
    return next((o for o in objects if key in (o.get("id"), o.get("code"))), None)
