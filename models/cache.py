"""The shared cache: in memory for one process, Redis when several processes share state.

The cache only speeds things up and coordinates processes; the database stays the source of
truth. When the backend cannot be reached, calls raise `CacheUnavailable` (a 503 with
Retry-After), and each caller decides: go on without the cache where that is safe (reads,
invalidations after a commit, revocation checks), or refuse (limits on logins, one-time
nonces, login flows), so no request answers 500 because Redis is down.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiocache import RedisCache, SimpleMemoryCache
from aiocache.base import BaseCache
from redis.exceptions import RedisError

from models.errors import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

# What a backend raises when it cannot answer: refused or reset connections and timeouts
# (OSError, TimeoutError included) and Redis' own errors. aiocache's answers (ValueError from
# add() when the key exists, TypeError from increment() on a non-number) pass through.
BACKEND_ERRORS: tuple[type[Exception], ...] = (OSError, RedisError)
# An outage is logged at most this often, not once per request.
OUTAGE_LOG_INTERVAL = 30.0
MARKS_KEPT = 100_000  # mark_once keys a process remembers before it drops the expired
REDIS_TIMEOUT = 2.0  # seconds to connect to Redis, and to wait for any one answer


class CacheUnavailable(Unavailable):
    """The cache cannot be reached right now."""


class Cache:
    """The configured backend, with its failures raised as `CacheUnavailable`."""

    def __init__(self, backend: BaseCache) -> None:
        self.backend = backend
        self._marks: dict[str, float] = {}  # mark_once: key -> until when this process skips

    async def mark_once(self, key: str, ttl: int, local: int) -> bool:
        """Set a marker for `ttl` seconds unless it is set: True for the one caller that set it.

        For throttles that may be a little late (last seen): this process then skips the
        call for `local` seconds (at most `ttl`) after it saw the marker, so a busy member
        costs one cache call a minute instead of one per request.
        """
        current = datetime.now(UTC).timestamp()
        if self._marks.get(key, 0.0) > current:
            return False
        if len(self._marks) >= MARKS_KEPT:
            kept = {k: until for k, until in self._marks.items() if until > current}
            self._marks = kept if len(kept) < MARKS_KEPT // 2 else {}
        try:
            return await self.add(key, 1, ttl=ttl)
        except ValueError:  # set by someone else, or by us earlier
            return False
        finally:
            self._marks[key] = current + min(local, ttl)

    @property
    def namespace(self) -> str:
        return self.backend.namespace or ""

    @property
    def shared(self) -> bool:
        """Whether every process sees the same entries (Redis), not one process's memory."""
        return not isinstance(self.backend, SimpleMemoryCache)

    async def get(self, key: str, default: Any = None, **options: Any) -> Any:
        return await _guarded(self.backend.get(key, default, **options))

    async def multi_get(self, keys: list[str], **options: Any) -> list[Any]:
        return await _guarded(self.backend.multi_get(keys, **options))

    async def set(self, key: str, value: Any, **options: Any) -> bool:
        return await _guarded(self.backend.set(key, value, **options))

    async def add(self, key: str, value: Any, **options: Any) -> bool:
        """Store `value` unless `key` exists (then aiocache raises ValueError)."""
        return await _guarded(self.backend.add(key, value, **options))

    async def delete(self, key: str, **options: Any) -> int:
        return await _guarded(self.backend.delete(key, **options))

    async def increment(self, key: str, delta: int = 1, **options: Any) -> int:
        return await _guarded(self.backend.increment(key, delta, **options))

    async def expire(self, key: str, ttl: int, **options: Any) -> bool:
        return await _guarded(self.backend.expire(key, ttl, **options))


async def _guarded(call: Awaitable[T]) -> T:
    try:
        return await call
    except BACKEND_ERRORS as exc:
        raise CacheUnavailable() from exc


_cache: Cache | None = None
_last_outage_log = 0.0


def configure_cache(url: str, namespace: str = "drivershub") -> Cache:
    """Create the process's cache from a `memory://` or `redis://host:port/db` URL."""
    global _cache
    parts = urlsplit(url)
    # Keys read "<namespace>:<key>", so one Redis database can serve several deployments.
    namespace = f"{namespace.rstrip(':')}:"
    if parts.scheme == "memory":
        # No timeout: a dict cannot hang, and aiocache's timeout wraps each call in a Task.
        backend: BaseCache = SimpleMemoryCache(namespace=namespace, timeout=None)
    else:
        backend = RedisCache(
            endpoint=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            db=int(parts.path.strip("/") or 0),
            password=parts.password,
            namespace=namespace,
            # Redis' own socket timeouts bound every call (aiocache's `timeout` would run each
            # call as a Task under asyncio.wait_for: a third of what a cache call costs).
            timeout=None,
            create_connection_timeout=REDIS_TIMEOUT,
            connection_pool_kwargs={"socket_timeout": REDIS_TIMEOUT},
        )
    _cache = Cache(backend)
    return _cache


def cache() -> Cache:
    """The configured cache (a memory cache until `configure_cache` is called)."""
    global _cache
    if _cache is None:
        _cache = Cache(SimpleMemoryCache(namespace="drivershub:", timeout=None))
    return _cache


async def close_cache() -> None:
    global _cache
    backend = _cache.backend if _cache is not None else None
    if isinstance(backend, RedisCache):
        # aiocache 0.12.3 calls redis' deprecated close(); aclose() is the current API.
        await backend.client.aclose()
    elif backend is not None:
        await backend.close()
    _cache = None


def went_without(what: str, exc: BaseException) -> None:
    """Log that `what` went on without the cache (at most every OUTAGE_LOG_INTERVAL)."""
    global _last_outage_log
    if time.monotonic() - _last_outage_log >= OUTAGE_LOG_INTERVAL:
        _last_outage_log = time.monotonic()
        log.warning("cache unavailable, %s without it: %r", what, exc.__cause__ or exc)


async def cached(key: str, ttl: int, load: Callable[[], Awaitable[T]]) -> T:
    """The value under `key`, or `load()`'s result stored there for `ttl` seconds.

    Writers delete the key when the data changes; the TTL bounds a missed invalidation.
    When the cache is down every call loads from the database, which is always right.
    """
    try:
        value = await cache().get(key)
    except CacheUnavailable as exc:
        went_without("reading", exc)
        return await load()
    if value is None:
        value = await load()
        try:
            await cache().set(key, value, ttl=ttl)
        except CacheUnavailable as exc:
            went_without("reading", exc)
    return value


VERSION_TTL = 24 * 3600


async def versioned(version_key: str, key: str, ttl: int, load: Callable[[], Awaitable[T]]) -> T:
    """`load()`'s result, cached under `key` while `version_key` holds the version it was
    stored with: one round trip reads both. A writer makes every entry of a version old at
    once with `forget(version_key)` (after its commit); `ttl` bounds a missed one.

    An entry stored by a reader that loaded before a commit carries the version it read,
    which the writer's `forget` ends, so it is never served after the change.
    """
    try:
        version, entry = await cache().multi_get([version_key, key])
    except CacheUnavailable as exc:
        went_without("reading", exc)
        return await load()
    if version is not None and isinstance(entry, dict) and entry.get("v") == version:
        return entry["value"]  # type: ignore[no-any-return]
    value = await load()
    try:
        if version is None:
            version = secrets.token_hex(8)
            if not await _add_quietly(version_key, version):
                return value  # another reader started a version meanwhile: theirs stands
        await cache().set(key, {"v": version, "value": value}, ttl=ttl)
    except CacheUnavailable as exc:
        went_without("reading", exc)
    return value


async def _add_quietly(key: str, value: Any) -> bool:
    try:
        return await cache().add(key, value, ttl=VERSION_TTL)
    except ValueError:  # it exists
        return False


async def forget(key: str) -> None:
    """Delete `key` after its data changed (and was committed).

    A cache failure must not fail the request: the change is saved, and an error would tell
    the client otherwise. If the delete does not reach the cache, the entry's TTL bounds how
    long the old value can be read (only when the cache kept it through the outage).
    """
    try:
        await cache().delete(key)
    except CacheUnavailable as exc:
        went_without("invalidating", exc)


async def clear_cache() -> None:
    """Delete this deployment's keys only (aiocache's clear() without a namespace would
    flush the whole Redis database)."""
    cache()._marks.clear()  # what this process remembers of the markers goes with them
    backend = cache().backend
    prefix = (backend.namespace or "").rstrip(":")
    if isinstance(backend, RedisCache):
        await backend.clear(namespace=prefix)  # deletes "<prefix>:*"
    else:
        await backend.clear(namespace=backend.namespace)


async def ping_cache() -> None:
    """Raise if the cache cannot be reached (for readiness checks)."""
    await cache().set("__ping__", "1", ttl=5)
    if await cache().get("__ping__") != "1":
        raise ConnectionError("cache did not return what was stored")
