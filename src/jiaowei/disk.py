"""Files written whole: into a temporary file beside the target, then renamed into place.

A reader (a download, a backup) sees the old file or the new one, never half of one; a failure
leaves no partial file behind. The temporary file's name starts with :data:`WRITING`, which
readers of a folder skip (``jobs/files.py`` lists a job's file, ``db/archive.py`` leaves such
files out of a backup). Pure standard library: any layer may use it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

WRITING = ".writing-"
"""The name prefix of a file being written."""


def write_whole(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` (its folder made if need be), replacing it in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=WRITING)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
