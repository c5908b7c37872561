"""Backups of a SQLite hub: one archive with the database, the data directory and a manifest.

`drivershub backup` runs next to a live hub: SQLite's online backup API copies the database in
one read transaction, so the copy is a consistent snapshot even while the hub keeps writing.
`drivershub restore` replaces the database and the data directory's files, so it refuses while
any drivershub process uses them (see `data_dir_lock`). PostgreSQL has its own tools.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import importlib
import io
import json
import os
import pkgutil
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath
from typing import Any

from core.config import Settings

FORMAT = 1
LOCK_FILE = "drivershub.lock"
MANIFEST = "manifest.json"
DATABASE = "database.sqlite3"
DATA = "data"
SQLITE_SIDECARS = ("", "-wal", "-shm", "-journal")


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why and what to do."""


class DataDirInUse(BackupError):
    """Another process holds the data directory (a running hub, or a restore)."""


def postgres_hint(data_dir: Path) -> str:
    """What to do instead on PostgreSQL, whose own tools are better at it than we could be."""
    return (
        "drivershub: backup and restore cover SQLite; this hub uses PostgreSQL, so use its"
        " tools (see README, Backups):\n"
        '  pg_dump -Fc -f drivershub.dump "$DATABASE_URL"\n'
        '  pg_restore --clean --if-exists --no-owner -d "$DATABASE_URL" drivershub.dump\n'
        f"and copy the data directory too ({data_dir / 'keys'} holds the token signing keys,"
        f" {data_dir / 'encryption-keys'} the keys without which TOTP secrets cannot be read)."
    )


# The data directory lock.


@contextlib.contextmanager
def data_dir_lock(data_dir: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold the data directory: shared by every hub process, exclusive for a restore.

    An flock, not a pid file or an SQLite lock probe: the kernel drops it when the process
    ends however it ends (even SIGKILL), so it never goes stale; it works across containers
    that share the volume, where pid files name another pid namespace; and an idle hub holds
    no SQLite lock at all, so a probe would call a running hub stopped.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _in_use(data_dir, exclusive) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _in_use(data_dir: Path, exclusive: bool) -> DataDirInUse:
    if exclusive:
        return DataDirInUse(
            f"the hub is running (a drivershub process holds {data_dir / LOCK_FILE});"
            " stop it before restoring"
        )
    return DataDirInUse(f"a restore into {data_dir} is in progress; try again when it is done")


@contextlib.contextmanager
def using_data_dir(settings: Settings) -> Iterator[None]:
    """Mark this process as a user of the data directory, so a restore waits for it to stop.

    Only on SQLite: that is what a restore replaces, and a PostgreSQL deployment may run
    from a read-only directory with its signing key in the configuration.
    """
    if not settings.database.is_sqlite:
        yield
        return
    with data_dir_lock(settings.data_dir, exclusive=False):
        yield


# Backup.


def sqlite_file(url: str) -> Path:
    """The database file of a sqlite:// URL."""
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    if not path or path == ":memory:":
        raise BackupError("the database is in memory: there is nothing to back up or restore")
    return Path(path)


def backup(settings: Settings, target: Path) -> Path:
    """Write a backup archive at `target` (or a dated one inside it, if it is a directory)."""
    database = sqlite_file(settings.database.url)
    if not database.is_file():
        raise BackupError(f"there is no database at {database}")
    path = _archive_path(target, settings.data_dir)
    with (
        data_dir_lock(settings.data_dir, exclusive=False),
        tempfile.TemporaryDirectory(dir=path.parent, prefix=".drivershub-backup-") as tmp,
    ):
        snapshot = Path(tmp) / DATABASE
        started = datetime.now(UTC)  # the copy holds every write committed before this
        _snapshot(database, snapshot)
        files = _stored_files(settings.data_dir, database)
        manifest = _manifest(snapshot, started, [name for name, _ in files])
        _write_archive(path, manifest, snapshot, files)
    return path


def _archive_path(target: Path, data_dir: Path) -> Path:
    if target.is_dir():
        target = target / f"drivershub-{_stamp()}.tar.gz"
    if target.resolve().is_relative_to(data_dir.resolve()):
        # Each backup would hold the previous ones, and a restore would bring them back.
        raise BackupError(f"{target} is inside the data directory; write backups elsewhere")
    if target.exists():
        raise BackupError(f"{target} already exists; choose another path")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _snapshot(database: Path, snapshot: Path) -> None:
    """Copy the live database with SQLite's backup API, as one consistent snapshot."""
    with (
        contextlib.closing(sqlite3.connect(database, timeout=30)) as source,
        contextlib.closing(sqlite3.connect(snapshot)) as copy,
    ):
        # All pages in one step: one read transaction, so writes made meanwhile (which the
        # hub's WAL mode lets go on) are neither half in the copy nor restarting it.
        source.backup(copy, pages=-1)
        # A self-contained file: no -wal beside it to lose on the way into the archive.
        copy.execute("PRAGMA journal_mode=DELETE")


def _stored_files(data_dir: Path, database: Path) -> list[tuple[str, Path]]:
    """The data directory's files, by relative name, without the databases or the lock."""
    if not data_dir.is_dir():
        return []
    return [
        (path.relative_to(data_dir).as_posix(), path)
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and not path.is_symlink() and not _not_data(path, data_dir, database)
    ]


def _not_data(path: Path, data_dir: Path, database: Path) -> bool:
    """Whether `path` is the lock, the live database or one a restore set aside.

    None of those is a stored file to copy or bring back (the default configuration keeps
    the database in the data directory).
    """
    path = path.resolve()
    if path == (data_dir / LOCK_FILE).resolve():
        return True
    home = database.parent.resolve()
    name = path.name
    return path.parent == home and (
        name.startswith(f"{database.name}.replaced-")
        or name in {database.name + suffix for suffix in SQLITE_SIDECARS}
    )


def _manifest(snapshot: Path, started: datetime, files: list[str]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "drivershub": _version(),
        "created_at": started.isoformat(timespec="seconds"),
        "database": "sqlite",
        "migrations": _applied_migrations(snapshot),
        "files": files,
    }


def _version() -> str:
    try:
        return version("drivershub")
    except PackageNotFoundError:
        return "unknown"


def _applied_migrations(database: Path) -> list[dict[str, str]]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        try:
            rows = db.execute("SELECT app, name FROM tortoise_migrations ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # never migrated
            return []
    return [{"app": app, "name": name} for app, name in rows]


def _write_archive(
    path: Path, manifest: dict[str, Any], snapshot: Path, files: list[tuple[str, Path]]
) -> None:
    """Write the archive beside `path` and rename it: a crash never leaves a half backup."""
    partial = path.with_name(f".{path.name}.partial")
    # Private: the archive holds password hashes, the token signing and encryption keys.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            with tarfile.open(fileobj=out, mode="w:gz") as archive:
                _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode())
                archive.add(snapshot, arcname=DATABASE, recursive=False)
                for name, file in files:
                    archive.add(file, arcname=f"{DATA}/{name}", recursive=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


# Restore.


def restore(settings: Settings, source: Path) -> tuple[dict[str, Any], Path | None]:
    """Bring back a backup; return its manifest and where the replaced database now is."""
    database = sqlite_file(settings.database.url)
    with (
        data_dir_lock(settings.data_dir, exclusive=True),
        _open_archive(source) as archive,
    ):
        manifest = _read_manifest(archive)
        _check_schema(manifest, settings.database.url)
        database.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=database.parent, prefix=".drivershub-") as tmp:
            staged = _stage_database(archive, Path(tmp) / DATABASE)
            _restore_files(archive, settings.data_dir, database)
            replaced = _replace_database(staged, database)
    return manifest, replaced


@contextlib.contextmanager
def _open_archive(source: Path) -> Iterator[tarfile.TarFile]:
    """Open a backup; a file that is not one, or is cut short, is a clear error."""
    if not source.is_file():
        raise BackupError(f"there is no file {source}")
    try:
        with tarfile.open(source, mode="r:gz") as archive:
            yield archive
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BackupError(f"{source} is not a drivershub backup, or is damaged ({exc})") from None


def _read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = archive.extractfile(MANIFEST)
        manifest = json.load(member) if member else None
    except (KeyError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format"), int):
        raise BackupError(f"{archive.name} is not a drivershub backup (no {MANIFEST})")
    if manifest["format"] > FORMAT:
        raise BackupError("the backup was written by a newer drivershub; upgrade to restore it")
    return manifest


def _check_schema(manifest: dict[str, Any], url: str) -> None:
    """Refuse a backup whose schema this version does not know (written by a newer one)."""
    known = _known_migrations(url)
    unknown = [
        f"{m['app']}/{m['name']}"
        for m in manifest.get("migrations", [])
        if m.get("app") in known and m.get("name") not in known[m["app"]]
    ]
    if unknown:
        raise BackupError(
            f"the backup's database has migrations this version lacks ({', '.join(unknown)});"
            f" install drivershub {manifest.get('drivershub', 'of that backup')} to restore it"
        )


def _known_migrations(url: str) -> dict[str, set[str]]:
    """Each installed app's migration names, as the migration loader finds them on disk."""
    from models import tortoise_config

    known = {}
    for label, app in tortoise_config(url)["apps"].items():
        if app.get("migrations"):
            module = importlib.import_module(app["migrations"])
            known[label] = {
                name
                for _, name, is_pkg in pkgutil.iter_modules(module.__path__)
                if not is_pkg and name[0] not in "_~"
            }
    return known


def _stage_database(archive: tarfile.TarFile, staged: Path) -> Path:
    """Extract the database beside its destination and check it before anything changes."""
    _extract(archive, DATABASE, staged)
    with contextlib.closing(sqlite3.connect(staged)) as db:
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            verdict = str(exc)
    if verdict != "ok":
        raise BackupError(f"the backup's database is damaged ({verdict})")
    return staged


def _restore_files(archive: tarfile.TarFile, data_dir: Path, database: Path) -> None:
    """Write the archive's data files over the data directory; other files stay as they are."""
    for member in archive.getmembers():
        relative = _data_name(member)
        if relative is None:
            continue
        target = data_dir.joinpath(*relative.parts)
        if _not_data(target, data_dir, database):
            continue
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = target.with_name(f".{target.name}.restoring")
        _extract(archive, member.name, staged, mode=member.mode & 0o777)
        os.replace(staged, target)


def _data_name(member: tarfile.TarInfo) -> PurePosixPath | None:
    """The path inside the data directory of a data file, None for anything else or unsafe."""
    path = PurePosixPath(member.name)
    if not member.isfile() or path.is_absolute() or ".." in path.parts:
        return None
    if len(path.parts) < 2 or path.parts[0] != DATA:
        return None
    return PurePosixPath(*path.parts[1:])


def _extract(archive: tarfile.TarFile, name: str, target: Path, mode: int = 0o644) -> None:
    try:
        member = archive.extractfile(name)
    except KeyError:
        member = None
    if member is None:
        raise BackupError(f"{archive.name} has no {name}: it is not a complete backup")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out, member:
        shutil.copyfileobj(member, out)


def _replace_database(staged: Path, database: Path) -> Path | None:
    """Put the restored database in place, keeping the old one (and its WAL) beside it."""
    aside = database.with_name(f"{database.name}.replaced-{_stamp()}")
    for suffix in SQLITE_SIDECARS:
        # The WAL moves with its database: beside the restored one it would be replayed
        # into it, and it may hold the old database's last writes.
        old = database.with_name(database.name + suffix)
        if old.exists():
            old.rename(aside.with_name(aside.name + suffix))
    os.replace(staged, database)
    return aside if aside.exists() else None
