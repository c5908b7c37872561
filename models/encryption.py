"""Secrets at rest: values we must read back (TOTP secrets) are sealed with AES-256-GCM.

A sealed value names the key that sealed it (`enc1:<kid>:<nonce and ciphertext>`), so keys can
rotate: the newest key seals, every key still in the ring unseals. The keys come from
`[auth] encryption_key` (one or more, newest first) or are generated into a directory of the
data directory on first start, like the token signing keys (models.keys).

Named `encryption`, not `secrets`, so it is never confused with the standard library module
that the same files import for random values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

VERSION = "enc1"  # the format: AES-256-GCM, 96-bit random nonce, the header as associated data
KEY_BYTES = 32
NONCE_BYTES = 12
RELOAD_INTERVAL = 10.0  # seconds between re-reads of the key directory


class SealError(ValueError):
    """A sealed value no key of the ring opens: an unknown key, or the value was altered."""


def parse_keys(text: str) -> list[bytes]:
    """Keys as written in config: 32 bytes each in base64 (standard or URL-safe), by commas."""
    keys = [_decode_key(part) for part in text.split(",") if part.strip()]
    if not keys:
        raise ValueError("needs at least one key")
    return keys


def _decode_key(text: str) -> bytes:
    urlsafe = text.strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(urlsafe + "=" * (-len(urlsafe) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a key must be base64 (e.g. from `openssl rand -base64 32`)") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key must be {KEY_BYTES} bytes, not {len(key)}")
    return key


def key_id(key: bytes) -> str:
    # A short hash names the key in sealed values; it reveals nothing useful about the key.
    return hashlib.sha256(key).hexdigest()[:8]


def is_sealed(value: str) -> bool:
    """Whether `value` is sealed (TOTP secrets in the clear are base32: never a colon)."""
    return value.startswith(f"{VERSION}:")


class Sealer:
    """The keys that seal and unseal, newest first; a key directory is re-read on rotation."""

    def __init__(self, keys: list[bytes], directory: Path | None = None) -> None:
        self.directory = directory
        self._loaded_at = time.monotonic()
        self._use(keys)

    def _use(self, keys: list[bytes]) -> None:
        self._keys = {key_id(key): AESGCM(key) for key in keys}
        self.active_kid = key_id(keys[0])

    def reload(self, *, force: bool = False) -> None:
        """Pick up keys another process added (rotation), at most every few seconds."""
        if self.directory is None:
            return
        if not force and time.monotonic() - self._loaded_at < RELOAD_INTERVAL:
            return
        self._loaded_at = time.monotonic()
        keys = _read_directory(self.directory)
        if keys:
            self._use(keys)

    def seal(self, text: str) -> str:
        self.reload()
        header = f"{VERSION}:{self.active_kid}"
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.active_kid].encrypt(nonce, text.encode(), header.encode())
        return f"{header}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def unseal(self, value: str) -> str:
        version, _, rest = value.partition(":")
        kid, _, payload = rest.partition(":")
        if version != VERSION or not payload:
            raise SealError("not a sealed value")
        if kid not in self._keys:
            self.reload(force=True)  # sealed a moment ago by a process with a newer key
        aead = self._keys.get(kid)
        if aead is None:
            raise SealError(f"no encryption key {kid!r}: was a key removed too early?")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            plain = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{VERSION}:{kid}".encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise SealError(f"a value sealed with key {kid!r} does not open") from None
        return plain.decode()

    def is_current(self, value: str) -> bool:
        """Sealed with the newest key (else `seal` would store it differently now)."""
        self.reload()
        return value.startswith(f"{VERSION}:{self.active_kid}:")


# Key files: <ms since epoch>-<kid>.key, the newest seals.


def _read_directory(directory: Path) -> list[bytes]:
    paths = sorted(directory.glob("*.key"), reverse=True) if directory.is_dir() else []
    return [_decode_key(path.read_text(encoding="ascii")) for path in paths]


def add_key(directory: Path) -> Path:
    """Write a new random key; it seals from now on, the older ones still unseal."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = os.urandom(KEY_BYTES)
    # Names sort by their millisecond stamp: a key added within the same millisecond as the
    # newest one must still sort after it, or the older key would keep sealing.
    stamps = [int(p.name.split("-", 1)[0]) for p in directory.glob("*.key")]
    stamp = max([int(time.time() * 1000), *(s + 1 for s in stamps)])
    path = directory / f"{stamp}-{key_id(key)}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.urlsafe_b64encode(key).decode() + "\n")
    return path


def load_sealer(directory: Path, configured: str | None = None) -> Sealer:
    """The configured keys, else those in `directory` (creating one on first start)."""
    if configured:
        return Sealer(parse_keys(configured))
    keys = _read_directory(directory)
    if not keys:
        path = add_key(directory)
        log.info("generated a new encryption key in %s", path.parent)
        keys = _read_directory(directory)
    return Sealer(keys, directory)


# The process's sealer, configured once at start-up (bot.runtime.setup_encryption).

_sealer: Sealer | None = None


def configure_encryption(sealer: Sealer) -> None:
    global _sealer
    _sealer = sealer


def sealer() -> Sealer:
    if _sealer is None:
        raise RuntimeError("encryption keys are not loaded: call configure_encryption first")
    return _sealer


def seal(text: str) -> str:
    """`text` encrypted with the newest key, as a string to store."""
    return sealer().seal(text)


def unseal(value: str) -> str:
    """The text `seal` sealed, with whichever key of the ring sealed it."""
    return sealer().unseal(value)
