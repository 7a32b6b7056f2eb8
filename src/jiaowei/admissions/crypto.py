"""Personal data at rest: names and ID numbers sealed with Fernet, dates of birth as keyed digests.

Both keys are derived from ``JIAOWEI_SECRET_KEY`` with HKDF-SHA256, each under its own
``info`` label, so the sealing key and the digest key are independent of each other and of
the session secret's other uses. See docs/decisions/0005-encrypting-personal-data.md
(rotation: changing the secret key makes sealed values unreadable until they are re-sealed with
``jiaowei secret rotate``, which uses :func:`reseal` and :func:`recover_birth_date` here).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jiaowei.errors import M_, JiaoweiError

SEAL_INFO = b"jiaowei/admissions/personal-data/1"
CHECK_INFO = b"jiaowei/admissions/birth-check/1"
SALT = b"jiaowei-admissions"
_EIGHT_DIGITS = re.compile(r"(?=(\d{8}))")


class SealedWithAnotherKey(JiaoweiError):
    """Personal data sealed under another secret key (a restored backup, a changed JIAOWEI_SECRET_KEY).

    503, not 500: nothing is broken in the request or the code; the installation cannot serve this
    data until its operator sets the old key back or re-seals the data under the new one.
    """

    code = "sealed-with-another-key"
    title = "Personal data sealed with another secret key"
    status = 503
    exit_code = 9


WRONG_KEY = M_("Personal data in this database was sealed with another secret key, so it cannot be read "
               "with the current JIAOWEI_SECRET_KEY (was the key changed, or a backup restored from another "
               "installation?). Set JIAOWEI_SECRET_KEY back to the key the data was sealed with, or re-seal "
               "the data under the current key: jiaowei secret rotate --old-key-file FILE (see "
               "docs/operators.md, \"Secret key rotation\").")


def derive(secret_key: str, info: bytes) -> bytes:
    """32 bytes for one purpose, derived from the installation's secret key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=info).derive(secret_key.encode())


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive(secret_key, SEAL_INFO)))


@lru_cache(maxsize=8)
def _check_key(secret_key: str) -> bytes:
    return derive(secret_key, CHECK_INFO)


def seal(secret_key: str, text: str) -> str:
    """Encrypt and authenticate ``text``; the result is ASCII (a Fernet token)."""
    return _fernet(secret_key).encrypt(text.encode()).decode("ascii")


def unseal(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise SealedWithAnotherKey(WRONG_KEY) from None


def opens(secret_key: str, token: str) -> bool:
    """Whether ``token`` was sealed under ``secret_key``."""
    try:
        _fernet(secret_key).decrypt(token.encode("ascii"))
    except InvalidToken:
        return False
    return True


def reseal(old_key: str, new_key: str, token: str) -> str:
    """``token`` (sealed under ``old_key``) sealed again under ``new_key``."""
    return seal(new_key, unseal(old_key, token))


def birth_check(secret_key: str, number: str, birth_date: str) -> str:
    """A keyed digest of an application number and a date of birth (YYYY-MM-DD).

    Keyed, so that the table alone does not let anyone try the few thousand possible dates.
    """
    message = f"{number}\n{birth_date}".encode()
    return hmac.new(_check_key(secret_key), message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def recover_birth_date(secret_key: str, number: str, check: str,
                       candidates: Iterable[dt.date]) -> dt.date | None:
    """The date of birth among ``candidates`` whose digest under ``secret_key`` is ``check`` (None: none).

    Only the holder of the key can do this: re-keying the digests on rotation needs the dates again.
    """
    prefix = f"{number}\n".encode()
    keyed = hmac.new(_check_key(secret_key), prefix, hashlib.sha256)
    for day in candidates:
        attempt = keyed.copy()
        attempt.update(day.isoformat().encode())
        if hmac.compare_digest(attempt.hexdigest(), check):
            return day
    return None


def dates_in(text: str) -> Iterator[dt.date]:
    """Every date written as YYYYMMDD inside ``text`` (an ID number holds the date of birth so)."""
    for digits in _EIGHT_DIGITS.findall(text):
        try:
            yield dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            continue
