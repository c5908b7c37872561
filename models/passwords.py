"""Password hashing with argon2id, always in a worker thread so logins never stall the loop."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 256

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile; changing them here
# makes existing hashes "need a rehash", and they are upgraded at the next login.
hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash nobody's password matches, so unknown accounts cost one real verification."""
    return hasher.hash("not a password: the account does not exist")


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check `password`; without a hash (no such account) the same work is done, then False."""
    return await asyncio.to_thread(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)
