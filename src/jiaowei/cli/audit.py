"""``jiaowei audit``: check the audit chain and the live tables it vouches for; sign checkpoints.

Messages follow the language of ``LC_ALL``, ``LC_MESSAGES`` or ``LANG`` (Chinese for ``zh_*``,
English otherwise).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from jiaowei.audit import checkpoint, reconcile
from jiaowei.audit import service as audit_service
from jiaowei.audit.checkpoint import Text
from jiaowei.cli import common
from jiaowei.cli.common import err, out, transaction
from jiaowei.errors import Conflict, IntegrityError, JiaoweiError, ValidationError
from jiaowei.i18n import negotiate
from jiaowei.settings import get_settings

audit = typer.Typer(help="Check the audit log and sign checkpoints of its head.", no_args_is_help=True)

CHECKPOINT_HELP = "a signed checkpoint the log must still contain (repeatable)"
NEW_ONLY_HELP = ("check only the entries after where the last verification stopped (without it, or with "
                 "--checkpoint: the whole chain)")
PUBLIC_KEY_HELP = "the public key to check checkpoints with (default: that of JIAOWEI_AUDIT_KEY_FILE)"


def language() -> str:
    """The language of the user's locale: zh_CN for ``zh_*``, else English (the source)."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return negotiate(value.replace("_", "-")) or "en"
    return "en"


def say(template: str, **params: Any) -> str:
    return Text(template, params).said_in(language())


@contextmanager
def in_language() -> Iterator[None]:
    """Errors raised with a catalog message are reported in the user's language."""
    try:
        yield
    except JiaoweiError as error:
        text = checkpoint.text_of(error)
        if text is not None:
            error.detail = text.said_in(language())
        raise


@audit.command("keygen")
def keygen(
    key_file: Annotated[Path | None, typer.Option("--key-file", help="where to write the private key "
                                                   "(default: JIAOWEI_AUDIT_KEY_FILE)")] = None,
) -> None:
    """Create the Ed25519 key that signs checkpoints (mode 0600, never overwritten); print its public key."""
    with in_language():
        path = checkpoint.key_path(key_file if key_file is not None else get_settings().audit_key_file)
        public = checkpoint.generate_key(path)
    err.print(say("Private key written to {path}; keep it off the database server's backups, and keep "
                  "the public key below with your checkpoints. Fingerprint: {key}",
                  path=str(path), key=checkpoint.fingerprint(public)), highlight=False)
    print(checkpoint.public_pem(public), end="")


@audit.command("checkpoint")
def make_checkpoint(
    out_file: Annotated[Path | None, typer.Option("--out", help="write the checkpoint here "
                                                  "(default: standard output)")] = None,
) -> None:
    """Sign a checkpoint of the chain's head with the key in JIAOWEI_AUDIT_KEY_FILE."""
    with in_language():
        key = checkpoint.load_private_key(get_settings().audit_key_file)
        with transaction(write=False) as conn:
            signed = audit_service.sign_head(conn, key=key)
        if out_file is None:
            print(signed.as_json(), end="")
            return
        _write_new(out_file, signed.as_json())
    err.print(say("Checkpoint of entry {seq} written to {path}.", seq=signed.seq, path=str(out_file)),
              highlight=False)


def _write_new(path: Path, text: str) -> None:
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise checkpoint.error(Conflict, "{path} exists already; a checkpoint is never written over "
                               "another.", path=str(path)) from None
    except OSError as failed:
        raise checkpoint.error(ValidationError, "Cannot write {path}: {reason}.", path=str(path),
                               reason=failed.strerror or str(failed)) from None


@audit.command("verify")
def verify(
    checkpoints: Annotated[list[Path] | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = None,
    public_key: Annotated[Path | None, typer.Option("--public-key", help=PUBLIC_KEY_HELP)] = None,
    new_only: Annotated[bool, typer.Option("--new-only", help=NEW_ONLY_HELP)] = False,
) -> None:
    """Check the audit hash chain (against signed checkpoints, if given) and the tables it vouches for."""
    with in_language():
        anchors = _anchors(checkpoints or [], public_key)
        with _snapshot() as conn:
            # with a checkpoint the whole chain is read, so that the checkpoint's entry is checked too
            after = audit_service.last_verified(conn) if new_only and not anchors else None
            report = audit_service.verify(conn, anchors=anchors, after=after)
            mismatches = reconcile.reconcile(conn) if report.ok else []
        if audit_service.moves_mark(report):
            with transaction() as conn:
                audit_service.remember_verified(conn, report=report)
        _refuse(report, mismatches)
    message = say("{n} entries, chain intact; every live table matches its history.", n=report.entries)
    if report.since:
        message += " " + say("Entries 1 to {since} were verified before; {read} entries after them were "
                             "read now.", since=report.since, read=report.read)
    if anchors:
        message += " " + say("The log still holds the head of every checkpoint given ({files}).",
                             files=", ".join(a.label for a in anchors))
    out.print(message, highlight=False)


@contextmanager
def _snapshot() -> Iterator[Connection]:
    """One read-only snapshot of the database for the chain walk and every check (no false mismatch
    from a write that a running server commits meanwhile)."""
    db = common.database()
    try:
        with db.snapshot() as conn:
            yield conn
    finally:
        db.engine.dispose()


def _anchors(files: list[Path], public_key: Path | None) -> list[audit_service.Anchor]:
    """Each checkpoint read and its signature checked: the heads the chain must still contain."""
    if not files:
        return []
    if public_key is not None:
        key = checkpoint.load_public_key(public_key)
    else:
        key = checkpoint.load_private_key(get_settings().audit_key_file).public_key()
    anchors = []
    for path in files:
        found = checkpoint.read_checkpoint(path)
        checkpoint.check_signature(found, key, source=str(path))
        anchors.append(audit_service.Anchor(found.seq, found.hash, label=path.name))
    return anchors


def _refuse(report: audit_service.ChainReport, mismatches: list[reconcile.Mismatch]) -> None:
    if not report.ok:
        raise checkpoint.error(IntegrityError, "Audit chain broken at entry {seq}: {reason} ({n} entries "
                               "before it are intact).", seq=report.first_bad_seq,
                               reason=Text(report.template, report.params), n=report.entries)
    if mismatches:
        raise IntegrityError(say("{n} live rows differ from the audit log:", n=len(mismatches)) + "\n"
                             + reconcile.describe(mismatches, language=language()))
