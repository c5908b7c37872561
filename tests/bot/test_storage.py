"""Uploaded files in the data directory: streamed to disk under a size limit, never half
stored, never reachable outside the store, and part of `drivershub backup`."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import tarfile
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core import backup
from core.config import Settings
from core.storage import FILES_DIR, FileTooLarge, LocalFiles, UnknownFile

# No database of the run's: files and a SQLite file of its own.
pytestmark = pytest.mark.backend_independent

CHUNK = 64 * 1024


async def _stream(total: int, byte: bytes = b"x") -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        size = min(CHUNK, total - sent)
        yield byte * size
        sent += size


def _leftovers(store: LocalFiles) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()]


async def test_a_large_file_is_written_as_it_streams_not_held_in_memory(tmp_path: Path) -> None:
    store = LocalFiles(tmp_path)
    total = 24 * 1024 * 1024
    tracemalloc.start()
    try:
        stored = await store.save(_stream(total), max_size=total)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024  # a few chunks, not 24 MiB
    assert stored.size == total
    path = store.path(stored.key)
    assert path.stat().st_size == total
    assert path.is_relative_to(tmp_path / FILES_DIR)
    assert _leftovers(store) == [path]  # nothing left in the incoming directory


async def test_past_the_limit_nothing_is_stored(tmp_path: Path) -> None:
    store = LocalFiles(tmp_path)
    with pytest.raises(FileTooLarge) as caught:
        await store.save(_stream(CHUNK * 3), max_size=CHUNK * 2)
    assert caught.value.limit == CHUNK * 2
    assert _leftovers(store) == []
    exact = await store.save(_stream(CHUNK * 2), max_size=CHUNK * 2)
    assert exact.size == CHUNK * 2


async def test_an_interrupted_upload_leaves_nothing(tmp_path: Path) -> None:
    store = LocalFiles(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"a" * CHUNK
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.save(broken(), max_size=10 * CHUNK)
    assert _leftovers(store) == []


async def test_keys_are_random_and_only_the_stores_own_are_found(tmp_path: Path) -> None:
    store = LocalFiles(tmp_path)
    first, second = await asyncio.gather(
        store.save(_stream(10, b"a"), max_size=100), store.save(_stream(10, b"a"), max_size=100)
    )
    assert first.key != second.key
    assert first.sha256 == second.sha256
    (tmp_path / "secret.txt").write_text("not a stored file")
    for bad in ("../secret.txt", "/etc/passwd", "ab/../../secret.txt", "", first.key + "x"):
        with pytest.raises(UnknownFile):
            store.path(bad)
    assert await store.delete(first.key) is True
    assert await store.delete(first.key) is False
    with pytest.raises(UnknownFile):
        store.path(first.key)
    assert store.path(second.key).read_bytes() == b"a" * 10


async def test_a_backup_holds_the_stored_files(tmp_path: Path) -> None:
    database = tmp_path / "hub.sqlite3"
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute("CREATE TABLE tortoise_migrations (id INTEGER PRIMARY KEY, app, name)")
    settings = Settings(data_dir=tmp_path / "data", database={"url": f"sqlite://{database}"})
    stored = await LocalFiles(settings.data_dir).save(_stream(1000, b"m"), max_size=1000)
    archive = backup.backup(settings, tmp_path / "backup.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert any(name.endswith(f"{FILES_DIR}/{stored.key}") for name in names), names
