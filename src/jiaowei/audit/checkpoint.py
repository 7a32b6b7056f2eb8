"""Signed checkpoints: the audit chain's head, anchored outside the database.

The hash chain alone cannot tell a rewritten log from the real one: whoever can write to the
database can edit an entry and re-hash every entry after it, or delete the newest entries and move
``audit_head`` back. A checkpoint is a small JSON document naming the head (``seq`` and ``hash``),
signed with an Ed25519 key that lives in a file outside the database (``JIAOWEI_AUDIT_KEY_FILE``).
Kept elsewhere, it proves later that the log still holds that entry, unchanged, with every entry
before it (see ``docs/decisions/0010-audit-chain-threat-model.md``).

The signature covers the canonical JSON (sorted keys, no spaces, ASCII) of every field but
``signature``. ``key`` is the SHA-256 fingerprint of the raw 32-byte public key.

Every error names what is wrong; its text is a message of the catalog (:class:`Text`), so the
command line can say it in the user's language.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from jiaowei.errors import ConfigurationError, Conflict, IntegrityError, JiaoweiError, ValidationError
from jiaowei.i18n import translate

FORMAT = "jiaowei-audit-checkpoint/1"
FIELDS = {"format": str, "seq": int, "hash": str, "at": str, "key": str, "signature": str}
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", re.ASCII)
MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Text:
    """A catalog message with its values: English by default, any language on request."""

    template: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format(**self.params)

    def said_in(self, language: str) -> str:
        params = {k: v.said_in(language) if isinstance(v, Text) else v for k, v in self.params.items()}
        return translate(language, self.template).format(**params)


def error(kind: type[JiaoweiError], template: str, **params: Any) -> JiaoweiError:
    """An error of ``kind`` whose detail is ``template`` filled in; ``.text`` keeps both apart."""
    text = Text(template, params)
    found = kind(str(text))
    found.text = text  # type: ignore[attr-defined]
    return found


def text_of(error: JiaoweiError) -> Text | None:
    """The catalog message behind an error raised here (None for other errors)."""
    found = getattr(error, "text", None)
    return found if isinstance(found, Text) else None


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain's entry ``seq`` had ``hash`` at time ``at`` (UTC)."""

    seq: int
    hash: str
    at: str
    key: str  # the signing key's fingerprint, "sha256:<hex>"
    signature: str  # base64 of the 64-byte Ed25519 signature
    format: str = FORMAT

    def signed_bytes(self) -> bytes:
        fields = {k: v for k, v in asdict(self).items() if k != "signature"}
        return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=2) + "\n"


# ---------------------------------------------------------------- keys


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def generate_key(path: Path) -> Ed25519PublicKey:
    """Write a new private key to ``path`` (mode 0600, never over an existing file)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise error(Conflict, "The key file {path} exists already; it is never overwritten. "
                    "Move it away first if you mean to replace the key.", path=str(path)) from None
    except OSError as failed:
        raise error(ConfigurationError, "Cannot create the key file {path}: {reason}.",
                    path=str(path), reason=failed.strerror or str(failed)) from None
    with os.fdopen(handle, "wb") as out:
        out.write(pem)
    return key.public_key()


def key_path(path: Path | None) -> Path:
    """The key file's path, as set (``JIAOWEI_AUDIT_KEY_FILE``); a configuration error when unset."""
    if path is None:
        raise error(ConfigurationError, "No key file is set: set JIAOWEI_AUDIT_KEY_FILE to the path of "
                    "the checkpoint key (create one with 'jiaowei audit keygen').")
    return path


def load_private_key(path: Path | None) -> Ed25519PrivateKey:
    """The signing key in ``path``: it must exist, be readable by its owner only, and be Ed25519."""
    path = key_path(path)
    if not path.exists():
        raise error(ConfigurationError, "The key file {path} does not exist; create it with 'jiaowei audit "
                    "keygen', or set JIAOWEI_AUDIT_KEY_FILE to where it is.", path=str(path))
    data = _read(path, missing=ConfigurationError)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise error(ConfigurationError, "The key file {path} can be read by other users; "
                    "allow its owner only (chmod 600).", path=str(path))
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise error(ConfigurationError, "The key file {path} does not hold an Ed25519 private key in "
                    "PEM form.", path=str(path))
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key in ``path`` (PEM, as ``jiaowei audit keygen`` prints it)."""
    data = _read(path, missing=ValidationError)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise error(ValidationError, "The file {path} does not hold an Ed25519 public key in PEM form.",
                    path=str(path))
    return key


def _read(path: Path, *, missing: type[JiaoweiError]) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as failed:
        raise error(missing, "Cannot read {path}: {reason}.", path=str(path),
                    reason=failed.strerror or str(failed)) from None


# ---------------------------------------------------------------- signing and checking


def sign(key: Ed25519PrivateKey, *, seq: int, hash: str, at: str) -> Checkpoint:
    unsigned = Checkpoint(seq=seq, hash=hash, at=at, key=fingerprint(key.public_key()), signature="")
    signature = base64.b64encode(key.sign(unsigned.signed_bytes())).decode()
    return Checkpoint(seq=seq, hash=hash, at=at, key=unsigned.key, signature=signature)


def read_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint in ``path``, its shape checked (not yet its signature)."""
    data = _read(path, missing=ValidationError)
    try:
        document = json.loads(data.decode("utf-8")) if len(data) <= MAX_FILE_BYTES else None
    except (UnicodeDecodeError, ValueError):
        document = None
    if not isinstance(document, dict):
        raise error(ValidationError, "{path} is not a checkpoint: a JSON object of at most 64 KiB was "
                    "expected.", path=str(path))
    return parse(document, source=str(path))


def parse(document: dict[str, Any], *, source: str) -> Checkpoint:
    if set(document) != set(FIELDS):
        raise error(ValidationError, "{path} is not a checkpoint: its fields are {found}, "
                    "expected {wanted}.",
                    path=source, found=", ".join(sorted(document)) or "none",
                    wanted=", ".join(sorted(FIELDS)))
    for name, kind in FIELDS.items():
        value = document[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise error(ValidationError, "{path} is not a checkpoint: the field {field} has the wrong type.",
                         path=source, field=name)
    if document["format"] != FORMAT:
        raise error(ValidationError, "{path} has the format {found}; this version reads {wanted}.",
                    path=source, found=document["format"][:64], wanted=FORMAT)
    _check_shape(document, source)
    return Checkpoint(**document)


def _check_shape(document: dict[str, Any], source: str) -> None:
    valid = {
        "seq": document["seq"] >= 0,
        "hash": bool(_HEX64.fullmatch(document["hash"])),
        "at": bool(_AT.fullmatch(document["at"])),
        "key": document["key"].startswith("sha256:") and bool(_HEX64.fullmatch(document["key"][7:])),
    }
    for name, ok in valid.items():
        if not ok:
            raise error(ValidationError, "{path} is not a checkpoint: the field {field} is malformed.",
                         path=source, field=name)


def check_signature(checkpoint: Checkpoint, public_key: Ed25519PublicKey, *, source: str) -> None:
    """Refuse a checkpoint signed by another key, or whose signature does not verify."""
    expected = fingerprint(public_key)
    if checkpoint.key != expected:
        raise error(IntegrityError, "{path} was signed by the key {found}, not by this public key "
                    "({wanted}).", path=source, found=checkpoint.key, wanted=expected)
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        public_key.verify(signature, checkpoint.signed_bytes())
    except (InvalidSignature, binascii.Error, ValueError):
        raise error(IntegrityError, "The signature of {path} does not verify: the checkpoint was altered "
                    "or forged.", path=source) from None
