"""One backup archive: the database dump, every file the platform keeps, and a manifest with checksums.

``jiaowei backup --out FILE`` writes a gzip-compressed tar file (mode 0600) holding:

- ``database/jiaowei.sqlite3`` (SQLite's online backup) or ``database/jiaowei.dump`` (``pg_dump -Fc``);
- ``home/…``: every file under ``JIAOWEI_HOME`` (the lottery's case files and proof bundles, evidence
  files, report jobs' files, …) except the SQLite database itself (the dump holds it), the audit
  checkpoint key (``JIAOWEI_AUDIT_KEY_FILE``: kept apart from the data on purpose), the analytics copy,
  ``JIAOWEI_HOME/backups`` and temporary files;
- ``evidence/…``: the evidence files, when ``JIAOWEI_EVIDENCE_DIR`` is outside ``JIAOWEI_HOME``;
- ``manifest.json``: each member's path, size and SHA-256, the schema revision, the jiaowei version
  and the time. Its own SHA-256 is the backup's digest, recorded in the audit log by a restore.

A restore checks the whole archive against the manifest before it touches anything, restores the
database, then swaps the files into place folder by folder (moving the old ones back on a failure).
Older backups (a plain SQLite file or ``pg_dump`` file) still restore: the database only.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy.engine import make_url

from jiaowei import __version__
from jiaowei.audit import service as audit
from jiaowei.db import backup as dumps
from jiaowei.db.engine import Database, make_engine
from jiaowei.db.migrate import current_revision, head_revision, upgrade
from jiaowei.errors import M_, IntegrityError, NotFound, Problem, ValidationError
from jiaowei.settings import Settings

FORMAT = "jiaowei-backup/1"
MANIFEST = "manifest.json"
GZIP_MAGIC = b"\x1f\x8b"
BACKUPS = "backups"  # JIAOWEI_HOME/backups: a place for backups that is never itself backed up
_TEMPORARY = (".writing-", ".jiaowei-")  # files being written (jobs/files.py) and our own staging folders
_CHUNK = 1024 * 1024
SYSTEM_ACTOR = "system"  # as jiaowei.auth.model.SYSTEM, the actor of the operators' commands


@dataclass(frozen=True)
class Member:
    """One file of the archive as the manifest lists it."""

    path: str
    size: int
    sha256: str


@dataclass
class Manifest:
    """What an archive holds; ``digest`` is the SHA-256 of manifest.json as stored."""

    created: str
    version: str
    schema_revision: str
    backend: str
    members: list[Member] = field(default_factory=list)
    digest: str = ""

    def as_json(self) -> bytes:
        body = {"format": FORMAT, "created": self.created, "jiaowei_version": self.version,
                "schema_revision": self.schema_revision, "database": self.backend,
                "members": [m.__dict__ for m in self.members]}
        return json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True).encode()


@dataclass(frozen=True)
class Restored:
    """What a restore did: the manifest (None for an older, database-only backup) and the file's digest."""

    manifest: Manifest | None
    digest: str
    files: int


# ---------------------------------------------------------------- where the kept files are


def roots(settings: Settings) -> dict[str, Path]:
    """The folders whose files go into an archive, by their name in it."""
    found = {"home": settings.home}
    evidence = settings.evidence_dir
    if evidence is not None and not _inside(evidence, settings.home):
        found["evidence"] = evidence
    return found


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _left_out(settings: Settings, *also: Path) -> set[Path]:
    """Files and folders never archived nor replaced: the database, the checkpoint key, caches."""
    out = {settings.home.resolve() / BACKUPS, *(p.resolve() for p in also)}
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        base = Path(url.database).resolve()
        out |= {Path(f"{base}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}
    for extra in (settings.audit_key_file, settings.analytics_dir):
        if extra is not None:
            out.add(extra.resolve())
    return out


def _kept(root: Path, left_out: set[Path]) -> Iterator[tuple[str, Path]]:
    """(path relative to ``root``, file) for every regular file under ``root`` worth keeping."""
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if _keeps(here / d, left_out) and not (here / d).is_symlink())
        for name in sorted(files):
            path = here / name
            if _keeps(path, left_out) and path.is_file() and not path.is_symlink():
                yield path.relative_to(root).as_posix(), path


def _keeps(path: Path, left_out: set[Path]) -> bool:
    return (not path.name.startswith(_TEMPORARY) and path.name != "__pycache__"
            and path.resolve() not in left_out)


# ---------------------------------------------------------------- writing


def write(settings: Settings, out: Path, *, schema_revision: str) -> Manifest:
    """Write the archive of the database at ``settings``' URL and its kept files to ``out`` (0600)."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    backend = make_url(url).get_backend_name()
    manifest = Manifest(created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), version=__version__,
                        schema_revision=schema_revision, backend=backend)
    with _staging(out.parent) as staging:
        dump = staging / ("jiaowei.sqlite3" if backend == "sqlite" else "jiaowei.dump")
        dumps.backup(url, dump)
        files = [(f"database/{dump.name}", dump)]
        left_out = _left_out(settings, out, staging)
        for name, root in roots(settings).items():
            files += [(f"{name}/{relative}", path) for relative, path in _kept(root, left_out)]
        partial = staging / "archive.tar.gz"
        with _private_file(partial) as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, \
                tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, path in files:
                manifest.members.append(_add(tar, name, path))
            data = manifest.as_json()
            _add_bytes(tar, MANIFEST, data)
        manifest.digest = hashlib.sha256(data).hexdigest()
        os.replace(partial, out)
    return manifest


@contextmanager
def _private_file(path: Path) -> Iterator[IO[bytes]]:
    """A new file that only its owner can read (0600 from the start, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as handle:
        yield handle


def _add(tar: tarfile.TarFile, name: str, path: Path) -> Member:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as source:
        info = tar.gettarinfo(fileobj=source, arcname=name)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o600
        tar.addfile(info, _Hashing(source, digest))
        size = info.size
    return Member(path=name, size=size, sha256=digest.hexdigest())


class _Hashing:
    """A file wrapper that hashes what is read through it (tar reads each member once)."""

    def __init__(self, source: IO[bytes], digest: Any) -> None:
        self.source, self.digest = source, digest

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size)
        self.digest.update(chunk)
        return chunk


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    tar.addfile(info, io.BytesIO(data))


@contextmanager
def _staging(near: Path) -> Iterator[Path]:
    """A private folder next to ``near`` (same file system, so moves are renames), removed at the end."""
    near.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".jiaowei-", dir=near))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- checking and restoring


def is_archive(source: Path) -> bool:
    with source.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def file_digest(source: Path) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def restore(settings: Settings, source: Path) -> Restored:
    """Check ``source`` against its manifest, then restore the database and the files (or nothing)."""
    if not source.is_file():
        raise NotFound(M_("No backup file {path!r}.", path=str(source)))
    url = settings.effective_database_url
    if not is_archive(source):  # an older backup: the database dump alone
        dumps.restore(url, source)
        return Restored(manifest=None, digest=file_digest(source), files=0)
    folders = roots(settings)
    with _staging(settings.home.absolute()) as staging:
        manifest = unpack(source, staging / "new")
        _expect_backend(manifest, make_url(url).get_backend_name(), source)
        names = {m.path.split("/", 1)[0] for m in manifest.members} - {"database"}
        if unknown := sorted(names - folders.keys()):
            raise ValidationError(M_("{file} holds files for {folder}/, which this installation does not "
                                     "keep (set JIAOWEI_EVIDENCE_DIR as it was when the backup was made).",
                                     file=str(source), folder=unknown[0]))
        dump = next(staging / "new" / m.path for m in manifest.members if m.path.startswith("database/"))
        dumps.restore(url, dump)
        left_out = _left_out(settings, source, staging)
        _swap(folders, staging, left_out)
    return Restored(manifest=manifest, digest=manifest.digest,
                    files=sum(not m.path.startswith("database/") for m in manifest.members))


def unpack(source: Path, into: Path) -> Manifest:
    """Extract ``source`` into ``into`` and check every member against the manifest; its manifest."""
    into.mkdir(parents=True)
    try:
        with tarfile.open(source, mode="r:gz") as tar:
            found = {info.name: _extract(tar, info, into) for info in tar}
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise ValidationError(M_("{file} is not a readable backup archive: {reason}",
                                 file=str(source), reason=str(error))) from None
    manifest = _read_manifest(into / MANIFEST, source, MANIFEST in found)
    listed = {m.path: m for m in manifest.members}
    problems = [_problem(M_("missing from the archive"), path) for path in listed if path not in found]
    problems += [_problem(M_("changed since the backup was made (size or SHA-256 differs)"), path)
                 for path, member in listed.items()
                 if path in found and found[path] != (member.size, member.sha256)]
    problems += [_problem(M_("not listed in the manifest"), path) for path in found
                 if path != MANIFEST and path not in listed]
    if not any(path.startswith("database/") for path in listed):
        problems.append(_problem(M_("missing from the archive"), "database/"))
    if problems:
        raise IntegrityError(M_("{file} does not match its manifest; nothing was restored.",
                                file=str(source)), problems)
    return manifest


def _problem(message: str, path: str) -> Problem:
    return Problem(message, field="member", value=path)


def _extract(tar: tarfile.TarFile, info: tarfile.TarInfo, into: Path) -> tuple[int, str]:
    """Extract one regular file (nothing else, nowhere outside ``into``); its size and SHA-256."""
    path = PurePosixPath(info.name)
    if not info.isfile() or path.is_absolute() or ".." in path.parts or not path.parts:
        raise tarfile.TarError(f"member {info.name!r} is not a plain file inside the archive")
    target = into.joinpath(*path.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    source = tar.extractfile(info)
    assert source is not None  # a regular file always has contents
    with source, _private_file(target) as sink:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            sink.write(chunk)
    return info.size, digest.hexdigest()


def _read_manifest(path: Path, source: Path, present: bool) -> Manifest:
    if not present:
        raise IntegrityError(M_("{file} has no manifest.json; nothing was restored.", file=str(source)))
    data = path.read_bytes()
    try:
        body = json.loads(data)
        if body["format"] != FORMAT:
            raise ValueError(body["format"])
        members = [Member(path=str(m["path"]), size=int(m["size"]), sha256=str(m["sha256"]))
                   for m in body["members"]]
        return Manifest(created=str(body["created"]), version=str(body["jiaowei_version"]),
                        schema_revision=str(body["schema_revision"]), backend=str(body["database"]),
                        members=members, digest=hashlib.sha256(data).hexdigest())
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(M_("The manifest.json of {file} is not one jiaowei writes ({format}); nothing "
                                "was restored.", file=str(source), format=FORMAT)) from None


def _expect_backend(manifest: Manifest, backend: str, source: Path) -> None:
    if manifest.backend != backend:
        raise ValidationError(M_("{file} is not a backup for this database.", file=str(source)), [
            Problem(M_("a backup of a {kind} database", kind=manifest.backend), field="file",
                    value=str(source), expected=M_("a backup of a {kind} database", kind=backend))])


def _swap(folders: dict[str, Path], staging: Path, left_out: set[Path]) -> None:
    """Put the restored files in place of the current ones, entry by entry; undo every move on failure."""
    moves: list[tuple[Path, Path]] = []  # (from, to), in the order done
    try:
        for name, root in folders.items():
            root.mkdir(parents=True, exist_ok=True)
            new = staging / "new" / name
            old = staging / "old" / name
            old.mkdir(parents=True, exist_ok=True)
            for entry in sorted(p for p in root.iterdir() if _keeps(p, left_out)):
                _move(entry, old / entry.name, moves)
            for entry in sorted(new.iterdir()) if new.is_dir() else []:
                _move(entry, root / entry.name, moves)
    except OSError:
        for done_from, done_to in reversed(moves):
            shutil.move(done_to, done_from)
        raise


def _move(source: Path, target: Path, moves: list[tuple[Path, Path]]) -> None:
    shutil.move(source, target)  # a rename, or a copy when the folder is on another file system
    moves.append((source, target))


# ---------------------------------------------------------------- the commands' use cases


def back_up(settings: Settings, out: Path) -> Manifest:
    """``jiaowei backup``: the archive of this installation, at the database's current schema revision."""
    engine = make_engine(settings.effective_database_url)
    try:
        dumps.expect_database(settings.effective_database_url)
        with engine.connect() as conn:
            revision = current_revision(conn) or ""
    finally:
        engine.dispose()
    return write(settings, out, schema_revision=revision)


def restore_and_record(settings: Settings, source: Path) -> tuple[Restored, str | None]:
    """``jiaowei restore``: restore, bring the schema to this jiaowei's head, and record the restore
    (with the manifest's digest) in the audit log; also returns the revision upgraded from, if any."""
    restored = restore(settings, source)
    engine = make_engine(settings.effective_database_url)
    try:
        with engine.connect() as conn:
            was = current_revision(conn)
        upgraded = None if was == head_revision() else (was or "")
        upgrade(engine)
        with Database(engine).transaction() as conn:
            audit.record(conn, actor=SYSTEM_ACTOR, action="backup.restore", entity="backup",
                         entity_key=restored.digest, after=_summary(restored, source))
    finally:
        engine.dispose()
    return restored, upgraded


def _summary(restored: Restored, source: Path) -> dict[str, Any]:
    manifest = restored.manifest
    if manifest is None:
        return {"file": source.name, "sha256": restored.digest, "kind": "database only (older backup)"}
    return {"file": source.name, "manifest_sha256": manifest.digest, "created": manifest.created,
            "jiaowei_version": manifest.version, "schema_revision": manifest.schema_revision,
            "files": restored.files}
