"""One client-IP rule: X-Forwarded-For counts only from trusted proxies, wherever an IP is used."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from models import auth, hubs
from models.audit import AuditLog
from models.users import User
from tests.fixtures.captcha import HUMAN, fake_captcha
from tests.web.auth_client import NO_LIMITS, PASSWORD, bearer, create_user
from tests.web.conftest import ClientFactory

API = "/api/v1"
PROXY = {"trusted_proxies": ["127.0.0.1/32"]}  # the test client connects from 127.0.0.1


def forwarded(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def login_from(client: TestClient, ip: str) -> dict[str, Any]:
    body = {"email": "alice@example.com", "password": PASSWORD, "captcha_token": HUMAN}
    response = await client.post(f"{API}/auth/login", json=body, headers=forwarded(ip))
    assert response.status == 200, await response.text()
    return await response.json()


async def session_ips(client: TestClient, tokens: dict[str, Any]) -> list[str]:
    listed = await (await client.get(f"{API}/auth/sessions", headers=bearer(tokens))).json()
    return [session["ip"] for session in listed["items"]]


async def test_behind_a_trusted_proxy_sessions_and_captcha_see_the_forwarded_ip(
    api_client: ClientFactory,
) -> None:
    await create_user()
    async with (
        fake_captcha() as captcha,
        api_client(rate_limit=NO_LIMITS, web=PROXY, captcha=captcha.sections) as client,
    ):
        tokens = await login_from(client, "203.0.113.7")
        assert await session_ips(client, tokens) == ["203.0.113.7"]
        refreshed = await client.post(
            f"{API}/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            headers=forwarded("198.51.100.9"),
        )
        assert refreshed.status == 200
        assert await session_ips(client, await refreshed.json()) == ["198.51.100.9"]
    assert captcha.checks[0]["remoteip"] == "203.0.113.7"


async def test_without_trusted_proxies_the_header_is_ignored(api_client: ClientFactory) -> None:
    await create_user()
    async with (
        fake_captcha() as captcha,
        api_client(rate_limit=NO_LIMITS, captcha=captcha.sections) as client,
    ):
        tokens = await login_from(client, "203.0.113.7")
        assert await session_ips(client, tokens) == ["127.0.0.1"]
    assert captcha.checks[0]["remoteip"] == "127.0.0.1"


async def test_the_audit_log_records_the_forwarded_ip_of_a_change(
    api_client: ClientFactory,
) -> None:
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    owner = await User.create(username="olga", discord_id=10)
    pair = await auth.start_session(owner, "discord")
    headers = {"Authorization": f"Bearer {pair.access_token}", **forwarded("203.0.113.7")}
    async with api_client(rate_limit=NO_LIMITS, web=PROXY) as client:
        changed = await client.patch(
            f"{API}/hubs/road-kings", json={"language": "de"}, headers=headers
        )
    assert changed.status == 200
    entry = await AuditLog.get(hub_id=hub.id, action="hub.update")
    assert entry.ip == "203.0.113.7"
