"""DHIS2-style identifiers (uids): a letter then ten letters or digits, as DHIS2 makes them.

Pure: the standard library only. The registry gives one to every unit, group, group set and
organisation unit level, so that DHIS2 files can name them (:mod:`jiaowei.dhis2.units`).
"""

from __future__ import annotations

import re
import secrets

UID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
UID_EXPECTED = "a DHIS2 uid: a letter then ten letters or digits"


def new_uid() -> str:
    """A fresh uid: a letter then ten letters or digits, from the system's secure random source."""
    return secrets.choice(UID_ALPHABET[:52]) + "".join(secrets.choice(UID_ALPHABET) for _ in range(10))


def is_uid(text: object) -> bool:
    """Whether ``text`` has the shape of a DHIS2 uid."""
    return isinstance(text, str) and UID.match(text) is not None
