"""``jiaowei secret rotate``: re-seal the personal data under the current ``JIAOWEI_SECRET_KEY``.

The old key is read from a file (``--old-key-file``) or from ``JIAOWEI_OLD_SECRET_KEY``, never from
the command line, where other users of the machine and the shell's history would see it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from jiaowei.cli.common import out, progress_bar, transaction
from jiaowei.errors import M_, NotFound, ValidationError
from jiaowei.settings import get_settings

app = typer.Typer(help="Manage the secret key that seals personal data.", no_args_is_help=True)

OLD_KEY_VARIABLE = "JIAOWEI_OLD_SECRET_KEY"


@app.callback()
def _group() -> None:
    """Manage the secret key that seals personal data (see docs/operators.md)."""


@app.command("rotate")
def rotate(
    old_key_file: Annotated[Path | None, typer.Option(
        "--old-key-file", help=f"a file holding the old secret key (default: ${OLD_KEY_VARIABLE})")] = None,
) -> None:
    """Re-seal every sealed value (names, ID numbers, date-of-birth digests) under the current key.

    Set JIAOWEI_SECRET_KEY to the new key first. One transaction: all values or none.
    """
    # Imported here: the admissions tables and crypto would slow every other command's start.
    from jiaowei.admissions.applications import sealing

    settings = get_settings()
    settings.check_production()
    old_key = _old_key(old_key_file)
    with progress_bar("Re-sealing personal data") as report, transaction() as conn:
        done = sealing.rotate(conn, old_key=old_key, new_key=settings.secret_key, progress=report)
    out.print(f"Re-sealed the personal data of {done.resealed} applicants under the current secret key "
              f"({done.already_current} were sealed under it already).", highlight=False)


def _old_key(path: Path | None) -> str:
    if path is not None:
        if not path.is_file():
            raise NotFound(M_("No old key file {path!r}.", path=str(path)))
        key = path.read_text(encoding="utf-8").strip("\r\n")
    else:
        key = os.environ.get(OLD_KEY_VARIABLE, "")
    if not key:
        raise ValidationError(M_("Give the old secret key in a file (--old-key-file FILE) or in the "
                                 "environment variable {variable}; it is never read from the command line.",
                                 variable=OLD_KEY_VARIABLE))
    return key
