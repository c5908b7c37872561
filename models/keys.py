"""Signing keys for access tokens: generated into the data directory, rotated, published."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

log = logging.getLogger(__name__)

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private: PrivateKey | None  # None for a retired key kept only to verify
    public: Any
    created: float

    def jwk(self) -> dict[str, Any]:
        codec = OKPAlgorithm if self.algorithm == "EdDSA" else RSAAlgorithm
        data = json.loads(codec.to_jwk(self.public))
        return {**data, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def public_pem(self) -> str:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def _generate(algorithm: str) -> PrivateKey:
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _algorithm_of(key: Any) -> str:
    return "EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey) else "RS256"


def _kid(key: PrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


RELOAD_INTERVAL = 10.0  # seconds between re-reads of the key directory on an unknown kid


class KeyRing:
    """The active signing key plus retired keys whose tokens may still be alive."""

    def __init__(
        self, keys: list[SigningKey], keep_retired: float, directory: Path | None = None
    ) -> None:
        self.keep_retired = keep_retired
        self.directory = directory
        self._loaded_at = time.monotonic()
        self._use(keys)

    def _use(self, keys: list[SigningKey]) -> None:
        self.keys = sorted(keys, key=lambda k: k.created, reverse=True)
        self._by_kid = {k.kid: k for k in self.published()}

    def reload(self) -> None:
        """Pick up keys another process added (rotation), at most every few seconds."""
        if self.directory is None or time.monotonic() - self._loaded_at < RELOAD_INTERVAL:
            return
        self._loaded_at = time.monotonic()
        keys = [_load_file(p) for p in sorted(self.directory.glob("*.pem"))]
        if keys:
            self._use(keys)

    @property
    def active(self) -> SigningKey:
        """The newest key (re-read every few seconds, so a rotation reaches every process)."""
        self.reload()
        return self.keys[0]

    def published(self) -> list[SigningKey]:
        """The active key and keys retired less than a token lifetime ago."""
        now = time.time()
        result = [self.keys[0]]
        for newer, key in zip(self.keys, self.keys[1:], strict=False):
            if now - newer.created < self.keep_retired:
                result.append(key)
        return result

    def get(self, kid: str) -> SigningKey | None:
        key = self._by_kid.get(kid)
        if key is None:
            self.reload()
            key = self._by_kid.get(kid)
        return key

    def jwks(self) -> dict[str, Any]:
        self.reload()
        return {"keys": [key.jwk() for key in self.published()]}


def _load_file(path: Path) -> SigningKey:
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey)
    created = int(path.stem.split("-", 1)[0]) / 1000  # the file name starts with ms since epoch
    return SigningKey(_kid(private), _algorithm_of(private), private, private.public_key(), created)


def _write(directory: Path, key: PrivateKey) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = directory / f"{int(time.time() * 1000)}-{_kid(key)}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return path


def load_keyring(
    directory: Path, algorithm: str, keep_retired: float, configured_pem: str | None = None
) -> KeyRing:
    """Load keys from `directory` (creating one on first start) or use the configured key."""
    if configured_pem:
        private = serialization.load_pem_private_key(configured_pem.encode(), password=None)
        assert isinstance(private, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey)
        key = SigningKey(_kid(private), _algorithm_of(private), private, private.public_key(), 0)
        return KeyRing([key], keep_retired)
    paths = sorted(directory.glob("*.pem")) if directory.is_dir() else []
    keys = [_load_file(p) for p in paths]
    if not keys or keys[-1].algorithm != algorithm:
        path = _write(directory, _generate(algorithm))
        log.info("generated a new %s signing key in %s", algorithm, path.parent)
        keys.append(_load_file(path))
    return KeyRing(keys, keep_retired, directory)


def rotate(directory: Path, algorithm: str) -> Path:
    """Add a new active key; older keys stay published until their tokens expire."""
    return _write(directory, _generate(algorithm))
