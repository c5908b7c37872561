"""Helpers shared by the kinds of credentials: random secrets, their hashes, the time."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

REFRESH_PREFIX = "dhr_"
APP_TOKEN_PREFIX = "dha_"  # noqa: S105 - a prefix, not a secret


def now() -> datetime:
    return datetime.now(UTC)


def hash_secret(secret: str) -> str:
    """Tokens are stored as SHA-256: they are long random values, so no slow hash is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)
