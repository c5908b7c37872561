"""The shared cache: in memory for one process, Redis when several processes share state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

from aiocache import RedisCache, SimpleMemoryCache
from aiocache.base import BaseCache

T = TypeVar("T")
_cache: BaseCache | None = None


def configure_cache(url: str, namespace: str = "drivershub") -> BaseCache:
    """Create the process's cache from a `memory://` or `redis://host:port/db` URL."""
    global _cache
    parts = urlsplit(url)
    # Keys read "<namespace>:<key>", so one Redis database can serve several deployments.
    namespace = f"{namespace.rstrip(':')}:"
    if parts.scheme == "memory":
        # No timeout: a dict cannot hang, and aiocache's timeout wraps each call in a Task.
        _cache = SimpleMemoryCache(namespace=namespace, timeout=None)
    else:
        _cache = RedisCache(
            endpoint=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            db=int(parts.path.strip("/") or 0),
            password=parts.password,
            namespace=namespace,
            timeout=2,
        )
    return _cache


def cache() -> BaseCache:
    """The configured cache (a memory cache until `configure_cache` is called)."""
    global _cache
    if _cache is None:
        _cache = SimpleMemoryCache(namespace="drivershub:", timeout=None)
    return _cache


async def close_cache() -> None:
    global _cache
    if isinstance(_cache, RedisCache):
        # aiocache 0.12.3 calls redis' deprecated close(); aclose() is the current API.
        await _cache.client.aclose()
    elif _cache is not None:
        await _cache.close()
    _cache = None


async def cached(key: str, ttl: int, load: Callable[[], Awaitable[T]]) -> T:
    """The value under `key`, or `load()`'s result stored there for `ttl` seconds.

    Writers delete the key when the data changes; the TTL bounds a missed invalidation.
    """
    value = await cache().get(key)
    if value is None:
        value = await load()
        await cache().set(key, value, ttl=ttl)
    return value


async def clear_cache() -> None:
    """Delete this deployment's keys only (aiocache's clear() without a namespace would
    flush the whole Redis database)."""
    current = cache()
    prefix = (current.namespace or "").rstrip(":")
    if isinstance(current, RedisCache):
        await current.clear(namespace=prefix)  # deletes "<prefix>:*"
    else:
        await current.clear(namespace=current.namespace)


async def ping_cache() -> None:
    """Raise if the cache cannot be reached (for readiness checks)."""
    await cache().set("__ping__", "1", ttl=5)
    if await cache().get("__ping__") != "1":
        raise ConnectionError("cache did not return what was stored")
