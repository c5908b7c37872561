"""Password hashing with argon2id, always in a worker thread so logins never stall the loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")
MIN_LENGTH = 10
MAX_LENGTH = 256

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile; changing them here
# makes existing hashes "need a rehash", and they are upgraded at the next login.
hasher = PasswordHasher()


# Each hash takes 64 MiB and libargon2 runs 4 lane threads: a small pool bounds memory, and a
# lower priority keeps the event loop first in line for the CPU during bursts of logins.
HASH_WORKERS = min(2, os.cpu_count() or 1)


def _yield_to_the_loop() -> None:
    """Run this worker (and the lane threads it starts, which inherit it) at nice 10."""
    if sys.platform == "linux":  # per-thread priorities are Linux behaviour
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


_executor = ThreadPoolExecutor(
    HASH_WORKERS, thread_name_prefix="argon2", initializer=_yield_to_the_loop
)


async def _in_pool(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_executor, function, *args)


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
    return await _in_pool(hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check `password`; without a hash (no such account) the same work is done, then False."""
    return await _in_pool(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)
