"""Uploaded files (downloads, later attachments) in the data directory, behind one small
interface, so a backup already holds them (`drivershub backup` archives the data directory)
and another store (S3, ...) could replace it without touching its callers.

A file arrives as a stream of chunks and is written as it arrives: never held whole in
memory, and refused as soon as it passes the size limit (the partial file is removed). It
is written under a temporary name and renamed into place once complete, so a crash never
leaves a half file under a key.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

FILES_DIR = "files"
_INCOMING = ".incoming"
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{30}$")


class FileTooLarge(Exception):
    """The stream passed the size limit; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit} bytes")
        self.limit = limit


class UnknownFile(Exception):
    """No stored file has this key (or the key is not one this store makes)."""


@dataclass(frozen=True)
class StoredFile:
    key: str  # where the store keeps it; opaque to callers
    size: int
    sha256: str


class FileStore(Protocol):
    async def save(self, chunks: AsyncIterator[bytes], *, max_size: int) -> StoredFile: ...

    def path(self, key: str) -> Path: ...

    async def delete(self, key: str) -> bool: ...


class LocalFiles:
    """Files under `<data_dir>/files/`, named by random keys (`ab/cdef...`)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / FILES_DIR

    async def save(self, chunks: AsyncIterator[bytes], *, max_size: int) -> StoredFile:
        key = self._new_key()
        incoming = self.root / _INCOMING
        await asyncio.to_thread(incoming.mkdir, parents=True, exist_ok=True)
        partial = incoming / key.replace("/", "")
        digest, size = hashlib.sha256(), 0
        handle: IO[bytes] = await asyncio.to_thread(partial.open, "xb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_size:
                    raise FileTooLarge(max_size)
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_flush, handle)
        except BaseException:
            await asyncio.to_thread(_discard, handle, partial)
            raise
        await asyncio.to_thread(handle.close)
        target = self.root / key
        await asyncio.to_thread(target.parent.mkdir, exist_ok=True)
        await asyncio.to_thread(os.replace, partial, target)
        return StoredFile(key, size, digest.hexdigest())

    def path(self, key: str) -> Path:
        """Where the file of `key` is (UnknownFile if none): for a streamed response."""
        if not _KEY.match(key):  # also keeps "../" and absolute paths out
            raise UnknownFile(key)
        found = self.root / key
        if not found.is_file():
            raise UnknownFile(key)
        return found

    async def delete(self, key: str) -> bool:
        try:
            found = self.path(key)
        except UnknownFile:
            return False
        await asyncio.to_thread(found.unlink, missing_ok=True)
        return True

    @staticmethod
    def _new_key() -> str:
        name = secrets.token_hex(16)
        return f"{name[:2]}/{name[2:]}"


def _flush(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _discard(handle: IO[bytes], partial: Path) -> None:
    handle.close()
    partial.unlink(missing_ok=True)
