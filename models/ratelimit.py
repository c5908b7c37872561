"""Fixed-window rate limits kept in the shared cache (one budget across every process)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from models.cache import cache
from models.errors import RateLimited

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    limit: int
    window: int  # seconds

    def policy(self) -> str:
        """The RateLimit-Policy header item (draft-ietf-httpapi-ratelimit-headers)."""
        return f'"{self.name}";q={self.limit};w={self.window}'


@dataclass(frozen=True, slots=True)
class Verdict:
    limit: Limit
    count: int
    reset: int  # seconds until the window ends

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit.limit - self.count)

    def header(self) -> str:
        """The RateLimit header item."""
        return f'"{self.limit.name}";r={self.remaining};t={self.reset}'

    def refuse(self) -> RateLimited:
        return RateLimited(seconds=max(1, self.reset))


def _window(limit: Limit, key: str) -> tuple[str, int]:
    now = time.time()
    bucket = int(now // limit.window)
    reset = int(limit.window - now % limit.window) or 1
    return f"rl:{limit.name}:{key}:{bucket}", reset


async def hit(limit: Limit, key: str, cost: int = 1) -> Verdict:
    """Count `cost` against `key`'s budget in the current window."""
    cache_key, reset = _window(limit, key)
    count = await cache().increment(cache_key, cost)
    if count == cost:  # first hit of this window: let the counter expire with it
        await cache().expire(cache_key, limit.window + 1)
    return Verdict(limit, count, reset)


async def peek(limit: Limit, key: str) -> Verdict:
    """The budget used so far, without spending any."""
    cache_key, reset = _window(limit, key)
    return Verdict(limit, int(await cache().get(cache_key) or 0), reset)


async def enforce(limit: Limit, key: str) -> Verdict:
    """Spend one unit, raising `RateLimited` when the budget is exhausted."""
    verdict = await hit(limit, key)
    if not verdict.allowed:
        raise verdict.refuse()
    return verdict


# Brute-force protection per account: failures count against the account, whatever the IP.

_account_limit = Limit("account", 5, 900)


def configure_account_limit(failures: int, window: int) -> None:
    global _account_limit  # set from [rate_limit] at start-up
    _account_limit = Limit("account", failures, window)


async def check_account(account: str) -> None:
    """Refuse a login attempt while the account has too many recent failures."""
    verdict = await peek(_account_limit, account.lower())
    if verdict.count >= _account_limit.limit:
        raise verdict.refuse()


async def record_failure(account: str) -> None:
    await hit(_account_limit, account.lower())
