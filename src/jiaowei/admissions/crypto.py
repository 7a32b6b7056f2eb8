"""Personal data at rest: names and ID numbers sealed with Fernet, dates of birth as keyed digests.

Both keys are derived from ``JIAOWEI_SECRET_KEY`` with HKDF-SHA256, each under its own
``info`` label, so the sealing key and the digest key are independent of each other and of
the session secret's other uses. See docs/decisions/0005-encrypting-personal-data.md
(rotation: changing the secret key makes sealed values unreadable until they are re-sealed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jiaowei.errors import IntegrityError

SEAL_INFO = b"jiaowei/admissions/personal-data/1"
CHECK_INFO = b"jiaowei/admissions/birth-check/1"
SALT = b"jiaowei-admissions"


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
        raise IntegrityError(
            "A sealed value cannot be read with this secret key; was JIAOWEI_SECRET_KEY changed?"
        ) from None


def birth_check(secret_key: str, number: str, birth_date: str) -> str:
    """A keyed digest of an application number and a date of birth (YYYY-MM-DD).

    Keyed, so that the table alone does not let anyone try the few thousand possible dates.
    """
    message = f"{number}\n{birth_date}".encode()
    return hmac.new(_check_key(secret_key), message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
