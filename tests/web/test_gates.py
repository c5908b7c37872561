"""The gates in front of every route, walked over the whole OpenAPI document.

- An application token with the read scope cannot write: every non-GET operation that takes
  credentials answers 403 insufficient_scope, before it reads the body.
- A disabled plugin is really off: every operation of it answers 404 plugin_disabled, to
  strangers and to the hub's owner alike.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from models import auth, hubs, plugins
from models.hubs import Hub
from models.users import User
from tests.web.conftest import fill_path, problem_of


async def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    document = await (await client.get("/api/v1/openapi.json")).json()
    return [
        (method.upper(), fill_path(path), operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


async def _owner_token() -> str:
    owner = await User.create(username="olga", discord_id=10)
    return (await auth.start_session(owner, "discord")).access_token


async def _read_only_app_token() -> str:
    owner = await User.get(discord_id=10)
    _token, secret = await auth.create_app_token(owner.id, "reader", ["read"], None)
    return secret


async def test_a_read_only_token_cannot_write_anywhere(client: TestClient) -> None:
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    await Hub.filter(id=hub.id).update(plugins=plugins.plugin_keys())
    await _owner_token()
    headers = {"Authorization": f"Bearer {await _read_only_app_token()}"}
    writes = [(m, p) for m, p, op in await _operations(client) if "security" in op and m != "GET"]
    assert len(writes) > 10
    for method, path in writes:
        response = await client.request(method, path, headers=headers, data="{")
        body = await problem_of(response, 403, "insufficient_scope")
        assert "write" in body["detail"], (method, path)


async def test_no_application_token_touches_the_account_itself(client: TestClient) -> None:
    # Logins, sessions, tokens, MFA, linked accounts: a leaked write token must not be able
    # to take the account over, so those operations refuse every application token.
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    owner = await User.create(username="olga", discord_id=10)
    _token, secret = await auth.create_app_token(owner.id, "writer", ["write"], None)
    headers = {"Authorization": f"Bearer {secret}"}
    personal = [
        (m, p)
        for m, p, op in await _operations(client)
        if "security" in op and {"appToken"} - {k for s in op["security"] for k in s}
    ]
    assert ("POST", "/api/v1/auth/discord/link") in personal
    assert ("DELETE", "/api/v1/auth/steam/link") in personal
    for method, path in personal:
        response = await client.request(method, path, headers=headers, data="{")
        await problem_of(response, 403, "session_required")
    assert await auth.active_sessions(owner.id) == []  # nothing was started or ended


async def test_a_read_only_token_can_read(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    await _owner_token()
    headers = {"Authorization": f"Bearer {await _read_only_app_token()}"}
    me = await client.get("/api/v1/users/@me", headers=headers)
    assert me.status == 200
    history = await client.get("/api/v1/hubs/road-kings/settings/history", headers=headers)
    assert history.status == 200  # the owner's token may read what the owner may read


async def test_a_write_token_writes_but_never_counts_as_a_recent_login(
    client: TestClient,
) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    owner = await User.create(username="olga", discord_id=10)
    _token, secret = await auth.create_app_token(owner.id, "bot", ["write"], None)
    headers = {"Authorization": f"Bearer {secret}"}
    changed = await client.patch(
        "/api/v1/hubs/road-kings", json={"language": "de"}, headers=headers
    )
    assert changed.status == 200
    on = await client.patch(
        "/api/v1/hubs/road-kings", json={"plugins": {"shoutbox": True}}, headers=headers
    )
    assert on.status == 200
    off = await client.patch(
        "/api/v1/hubs/road-kings", json={"plugins": {"shoutbox": False}}, headers=headers
    )
    await problem_of(off, 403, "reauthentication_required")


async def test_every_operation_of_a_disabled_plugin_is_not_found(client: TestClient) -> None:
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    await Hub.filter(id=hub.id).update(plugins=[])
    owner = {"Authorization": f"Bearer {await _owner_token()}"}
    walked = set()
    for method, path, operation in await _operations(client):
        if "x-plugin" not in operation:
            continue
        for headers in ({}, owner):
            response = await client.request(method, path, headers=headers, data="{")
            body = await problem_of(response, 404, "plugin_disabled")
            assert body["plugin"] == operation["x-plugin"]  # the key for machines
            assert "turned off" in body["detail"]  # its label for people
        walked.add(operation["x-plugin"])
    assert walked == set(plugins.plugin_keys())  # every installed plugin has routes


async def test_an_unknown_scope_is_refused_when_the_token_is_made(client: TestClient) -> None:
    owner = {"Authorization": f"Bearer {await _owner_token()}"}
    response = await client.post(
        "/api/v1/auth/app-tokens", json={"name": "x", "scopes": ["admin"]}, headers=owner
    )
    await problem_of(response, 422, None)
