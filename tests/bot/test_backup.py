"""`drivershub backup` and `restore` as an operator runs them, next to a real hub process.

Backups are SQLite's: every hub here has its own SQLite file, whatever the run's database.
The run's database only decides what the PostgreSQL advice test points the command at.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import signal
import sqlite3
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import backup
from core.backup import data_dir_lock
from core.config import Settings
from models.keys import rotate
from tests.bot.conftest import DRIVERSHUB, clean_env, free_port
from tests.conftest import TEST_DATABASE_URL

# Runs its own SQLite or no database at all: the PostgreSQL pass of .ci/run leaves it out.
pytestmark = pytest.mark.backend_independent

COMMAND_TIMEOUT = 60.0
START_TIMEOUT = 15.0


def drivershub(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `drivershub ARGS` in `workdir` (its hub: workdir/hub.sqlite3 and workdir/data)."""
    return subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [DRIVERSHUB, *args],
        cwd=workdir,
        env=clean_env(workdir, **env),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The command's own error lines (log lines go to stderr too)."""
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("drivershub:")]


class Hub:
    """A running `drivershub run` (API and workers, no Discord token)."""

    def __init__(self, popen: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.popen = popen
        self.port = port
        self.log = log

    def get(self, path: str) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            conn.close()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.popen.poll() is None, self.log.read_text()
            with contextlib.suppress(OSError):
                if self.get("/api/v1/ready")[0] == 200:
                    return
            assert time.monotonic() < deadline, f"not ready in time: {self.log.read_text()}"
            time.sleep(0.05)


@contextlib.contextmanager
def hub_running(workdir: Path, **env: str) -> Iterator[Hub]:
    port = free_port()
    log = workdir / f"hub-{port}.log"
    with log.open("wb") as stderr:
        popen = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [DRIVERSHUB, "run"],
            cwd=workdir,
            env=clean_env(workdir, DRIVERSHUB_WEB__PORT=str(port), **env),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    hub = Hub(popen, port, log)
    try:
        hub.wait_ready()
        yield hub
    finally:
        if popen.poll() is None:
            popen.kill()
        popen.wait()


class Writer(threading.Thread):
    """Commits rows one at a time through its own connection, as a busy hub does."""

    def __init__(self, database: Path) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.acknowledged: list[str] = []
        self.busy = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        now = datetime.now(UTC).isoformat()
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as db:
            for number in itertools.count():
                if self.stop.is_set():
                    return
                key = f"write-{number}"
                with db:  # commits: from here on the write is acknowledged
                    db.execute(
                        "INSERT INTO key_values (key, value, updated_at) VALUES (?, ?, ?)",
                        (key, "x", now),
                    )
                self.acknowledged.append(key)
                if number == 20:
                    self.busy.set()


def rename_hubs(database: Path, name: str) -> None:
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db, db:
        db.execute("UPDATE hubs SET name = ?", (name,))


def hub_names(database: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return [name for (name,) in db.execute("SELECT name FROM hubs ORDER BY id")]


def members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return tar.getnames()


def manifest_of(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return json.load(member)


def rows_in(archive: Path, query: str, tmp_path: Path) -> set[str]:
    """Run `query` on the archive's database; also checks it is intact."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("database.sqlite3")
        assert member is not None
        copy = tmp_path / "inspected.sqlite3"
        copy.write_bytes(member.read())
    with contextlib.closing(sqlite3.connect(copy)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {value for (value,) in db.execute(query)}


def test_a_backup_during_writes_holds_every_write_acknowledged_before_it(tmp_path: Path) -> None:
    assert drivershub(tmp_path, "migrate").returncode == 0
    key = rotate(tmp_path / "data" / "keys", "EdDSA")
    (tmp_path / "backups").mkdir()
    writer = Writer(tmp_path / "hub.sqlite3")
    writer.start()
    try:
        assert writer.busy.wait(COMMAND_TIMEOUT)
        before = list(writer.acknowledged)
        result = drivershub(tmp_path, "backup", str(tmp_path / "backups"))
        during = len(writer.acknowledged) - len(before)
    finally:
        writer.stop.set()
        writer.join()
    assert result.returncode == 0, result.stderr
    [archive] = (tmp_path / "backups").glob("drivershub-*.tar.gz")
    assert result.stdout.strip() == f"backup written to {archive}"
    assert during > 0, "the writer must keep committing while the backup runs"
    copied = rows_in(archive, "SELECT key FROM key_values", tmp_path)
    assert set(before) <= copied
    assert archive.stat().st_mode & 0o077 == 0  # it holds the signing keys
    manifest = manifest_of(archive)
    assert manifest["format"] == 1
    assert {"app": "drivershub", "name": "0001_initial"} in manifest["migrations"]
    [sealing] = (tmp_path / "data" / "encryption-keys").iterdir()  # made by `migrate`
    assert manifest["files"] == [f"encryption-keys/{sealing.name}", f"keys/{key.name}"]
    assert datetime.fromisoformat(manifest["created_at"]).tzinfo is not None


def test_restore_into_a_fresh_data_dir_brings_hubs_and_keys_back(tmp_path: Path) -> None:
    source, fresh = tmp_path / "source", tmp_path / "fresh"
    source.mkdir()
    fresh.mkdir()
    assert drivershub(source, "create-hub", "Night Owls").returncode == 0
    key = rotate(source / "data" / "keys", "EdDSA")
    archive = tmp_path / "night-owls.tar.gz"
    assert drivershub(source, "backup", str(archive)).returncode == 0

    restored = drivershub(fresh, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith("restored the backup of ")
    assert (fresh / "data" / "keys" / key.name).read_bytes() == key.read_bytes()
    [sealing] = (source / "data" / "encryption-keys").iterdir()  # TOTP secrets open again
    assert (fresh / sealing.relative_to(source)).read_bytes() == sealing.read_bytes()
    with hub_running(fresh) as hub:  # which migrates, as on every start on SQLite
        status, night_owls = hub.get("/api/v1/hubs/night-owls")
        _, jwks = hub.get("/api/v1/auth/jwks.json")
    assert (status, night_owls["name"]) == (200, "Night Owls")
    # The same signing key: tokens issued before the backup still verify.
    assert key.stem.split("-", 1)[1] in [k["kid"] for k in jwks["keys"]]


def test_restore_refuses_while_the_hub_runs_and_not_after_it_was_killed(tmp_path: Path) -> None:
    # The default layout: the database lives in the data directory.
    inside = {"DRIVERSHUB_DATABASE__URL": f"sqlite://{tmp_path / 'data' / 'hub.sqlite3'}"}
    database, archive = tmp_path / "data" / "hub.sqlite3", tmp_path / "backup.tar.gz"
    with hub_running(tmp_path, **inside) as hub:
        assert drivershub(tmp_path, "create-hub", "Night Owls", **inside).returncode == 0
        backed_up = drivershub(tmp_path, "backup", str(archive), **inside)
        rename_hubs(database, "Renamed")  # a change after the backup
        refused = drivershub(tmp_path, "restore", str(archive), **inside)
        assert hub.get("/api/v1/hubs/night-owls")[1]["name"] == "Renamed"  # nothing replaced
        hub.popen.send_signal(signal.SIGKILL)  # no clean shut-down: the lock must not linger
        hub.popen.wait()
    assert backed_up.returncode == 0, backed_up.stderr
    names = members(archive)
    assert {"manifest.json", "database.sqlite3"} <= set(names)
    data = tmp_path / "data"
    keys = sorted([*(data / "encryption-keys").iterdir(), *(data / "keys").iterdir()])
    assert [n for n in names if n.startswith("data/")] == [
        f"data/{k.relative_to(data).as_posix()}" for k in keys
    ]
    assert refused.returncode == 1
    assert errors(refused) == [
        f"drivershub: the hub is running (a drivershub process holds"
        f" {tmp_path / 'data' / 'drivershub.lock'}); stop it before restoring"
    ]

    restored = drivershub(tmp_path, "restore", str(archive), **inside)
    assert restored.returncode == 0, restored.stderr
    [kept] = (tmp_path / "data").glob("hub.sqlite3.replaced-*Z")
    assert f"the database it replaced is kept as {kept}" in restored.stdout
    assert hub_names(database) == ["Night Owls"]
    # The killed hub's last writes may be in its WAL only: that moved with its database.
    assert hub_names(kept) == ["Renamed"]


def test_the_hub_does_not_start_while_a_restore_holds_the_data_dir(tmp_path: Path) -> None:
    with data_dir_lock(tmp_path / "data", exclusive=True):
        started = drivershub(tmp_path, "run")
    assert started.returncode == 1
    assert errors(started) == [
        f"drivershub: a restore into {tmp_path / 'data'} is in progress; try again when it is done"
    ]
    assert not (tmp_path / "hub.sqlite3").exists()


def test_restore_refuses_what_it_cannot_bring_back_and_changes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "hub.sqlite3"
    settings = Settings(data_dir=tmp_path / "data", database={"url": f"sqlite://{database}"})
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute("CREATE TABLE tortoise_migrations (id INTEGER PRIMARY KEY, app, name)")
        db.execute(
            "INSERT INTO tortoise_migrations (app, name) VALUES ('drivershub', '0001_initial')"
        )
    stored = tmp_path / "data" / "keys" / "stored.pem"
    stored.parent.mkdir(parents=True)
    stored.write_text("in the backups")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(backup.backup(settings, tmp_path / "good.tar.gz").read_bytes()[:-200])
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute("INSERT INTO tortoise_migrations (app, name) VALUES ('drivershub', '9999_new')")
    newer = backup.backup(settings, tmp_path / "newer.tar.gz")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a backup")
    before = database.read_bytes()
    stored.write_text("changed since")

    refusals = {
        newer: r"has migrations this version lacks \(drivershub/9999_new\)",
        cut: r"cut\.tar\.gz is not a drivershub backup, or is damaged",
        notes: r"notes\.txt is not a drivershub backup",
    }
    for archive, reason in refusals.items():
        with pytest.raises(backup.BackupError, match=reason):
            backup.restore(settings, archive)
    assert database.read_bytes() == before
    assert not list(tmp_path.glob("hub.sqlite3.replaced-*"))
    assert stored.read_text() == "changed since"


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_on_postgresql_the_commands_point_to_pg_dump(tmp_path: Path, command: str) -> None:
    # The run's own PostgreSQL database when there is one; the command never connects anyway.
    url = TEST_DATABASE_URL or "postgres://drivershub@127.0.0.1:5432/drivershub"
    result = drivershub(tmp_path, command, "hub.tar.gz", DRIVERSHUB_DATABASE__URL=url)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "this hub uses PostgreSQL" in result.stderr
    assert 'pg_dump -Fc -f drivershub.dump "$DATABASE_URL"' in result.stderr
    assert "pg_restore --clean" in result.stderr
    assert str(tmp_path / "data" / "keys") in result.stderr
    assert not (tmp_path / "hub.tar.gz").exists()
