"""Rate limits: per identity, per sensitive route, shared through the cache, proxy-aware."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from models import auth, ratelimit
from models.errors import RateLimited
from models.hubs import ensure_hub_for_guild
from models.users import User
from tests.web.conftest import ClientFactory, problem_of, with_sections
from web.app import create_app

LIMITS = {"global_limit": 3, "global_window": 60, "auth_limit": 2, "auth_window": 60}


async def test_global_limit_answers_429_with_headers(api_client: ClientFactory) -> None:
    await ensure_hub_for_guild(1, "Road Kings", None)
    async with api_client(rate_limit=LIMITS) as client:
        answers = [await client.get("/api/v1/hubs/road-kings") for _ in range(3)]
        refused = await client.get("/api/v1/hubs/road-kings")
        await problem_of(refused, 429, "rate_limited")
        health = await client.get("/api/v1/health")
    assert [a.status for a in answers] == [200, 200, 200]
    assert answers[0].headers["RateLimit-Policy"] == '"global";q=3;w=60'
    assert answers[2].headers["RateLimit"].startswith('"global";r=0;t=')
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert health.status == 200  # health checks are never limited


async def test_authenticated_callers_have_their_own_budget(api_client: ClientFactory) -> None:
    user = await User.create(username="alice")
    pair = await auth.start_session(user, "password")
    headers = {"Authorization": f"Bearer {pair.access_token}"}
    async with api_client(rate_limit=LIMITS) as client:
        for _ in range(3):
            await client.get("/api/v1/hubs")
        anonymous = await client.get("/api/v1/hubs")
        signed_in = await client.get("/api/v1/users/@me", headers=headers)
    assert anonymous.status == 429
    assert signed_in.status == 200


async def test_sensitive_routes_have_a_smaller_budget(api_client: ClientFactory) -> None:
    async with api_client(rate_limit={**LIMITS, "global_limit": 100}) as client:
        statuses = [
            (
                await client.post("/api/v1/auth/refresh", json={"refresh_token": "dhr_nopenope"})
            ).status
            for _ in range(3)
        ]
    assert statuses == [401, 401, 429]


async def test_two_processes_share_one_budget(settings) -> None:
    """Two app instances (as two processes would) count against the same cache budget."""
    limited = with_sections(settings, rate_limit=LIMITS)
    async with (
        TestClient(TestServer(create_app(limited))) as first,
        TestClient(TestServer(create_app(limited))) as second,
    ):
        statuses = [(await c.get("/api/v1/hubs")).status for c in (first, second, first, second)]
    assert statuses == [200, 200, 200, 429]


async def test_forwarded_for_counts_only_from_trusted_proxies(api_client: ClientFactory) -> None:
    proxied = {"X-Forwarded-For": "203.0.113.7"}
    other = {"X-Forwarded-For": "198.51.100.9"}
    async with api_client(rate_limit=LIMITS, web={"trusted_proxies": ["127.0.0.1/32"]}) as client:
        for _ in range(3):
            await client.get("/api/v1/hubs", headers=proxied)
        blocked = await client.get("/api/v1/hubs", headers=proxied)
        separate = await client.get("/api/v1/hubs", headers=other)
    assert (blocked.status, separate.status) == (429, 200)
    async with api_client(rate_limit=LIMITS) as untrusting:  # no trusted proxies: header ignored
        for _ in range(3):
            await untrusting.get("/api/v1/hubs", headers=proxied)
        spoofed = await untrusting.get("/api/v1/hubs", headers=other)
    assert spoofed.status == 429


async def test_failed_logins_throttle_the_account_from_any_ip() -> None:
    ratelimit.configure_account_limit(failures=3, window=900)
    try:
        for _ in range(3):
            await ratelimit.check_account("Alice@Example.com")
            await ratelimit.record_failure("alice@example.com")
        with pytest.raises(RateLimited):
            await ratelimit.check_account("ALICE@example.com")
        await ratelimit.check_account("bob@example.com")
    finally:
        ratelimit.configure_account_limit(failures=5, window=900)
