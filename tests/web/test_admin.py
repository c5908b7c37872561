"""Administration over HTTP: who may call each route, what it answers, and what it audits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pyotp
import pytest
import time_machine
from aiohttp.test_utils import TestClient

from models import auth, hubs
from models.audit import AuditLog
from models.users import User
from tests.web.auth_client import NO_LIMITS, bearer, create_user, login, login_tokens
from tests.web.conftest import ClientFactory, problem_of

API = "/api/v1"
DISCORD_ID = 111_222_333_444_555_666
MISSING = 2**63 - 1

# Every route, with {} for the user id (none for the hub list).
ROUTES = {
    "deactivate": ("POST", "/users/{}/deactivate"),
    "reactivate": ("POST", "/users/{}/reactivate"),
    "delete": ("DELETE", "/users/{}"),
    "promote": ("PUT", "/users/{}/superuser"),
    "demote": ("DELETE", "/users/{}/superuser"),
    "reset_mfa": ("POST", "/users/{}/mfa/reset"),
    "unlink": ("DELETE", "/users/{}/identities/discord"),
    "hubs": ("GET", "/admin/hubs"),
}
USER_ROUTES = sorted(set(ROUTES) - {"hubs"})
# What each successful call leaves in the audit log (the target is the user's id).
AUDITED = {
    "deactivate": "user.deactivate",
    "reactivate": "user.reactivate",
    "delete": "user.delete",
    "promote": "user.superuser",
    "demote": "user.superuser",
    "reset_mfa": "user.mfa_reset",
    "unlink": "user.unlink_discord",
}
SUCCESS = {"delete": 204}


@pytest.fixture
async def client(api_client: ClientFactory) -> AsyncIterator[TestClient]:
    async with api_client(rate_limit=NO_LIMITS) as started:
        yield started


async def boss_headers(client: TestClient) -> dict[str, str]:
    boss = await create_user("boss@example.com", username="boss")
    await User.filter(id=boss.id).update(is_superuser=True)
    return bearer(await login_tokens(client, "boss@example.com"))


async def target(**fields: Any) -> User:
    """Alice, in the state each route can act on."""
    user = await create_user("alice@example.com", username="alice")
    defaults = {"discord_id": DISCORD_ID, "mfa_enabled": True, "mfa_secret": "JBSWY3DPEHPK3PXP"}
    await User.filter(id=user.id).update(**(defaults | fields))
    return await User.get(id=user.id)


def url(name: str, user_id: int | str = "") -> tuple[str, str]:
    method, path = ROUTES[name]
    return method, API + path.format(user_id)


# Gates: every route


@pytest.mark.parametrize("name", sorted(ROUTES))
async def test_each_route_works_for_a_superuser_and_is_audited(
    client: TestClient, name: str
) -> None:
    headers = await boss_headers(client)
    user = await target(is_active=name != "reactivate", is_superuser=name == "demote")
    method, path = url(name, user.id)
    response = await client.request(method, path, headers=headers)
    assert response.status == SUCCESS.get(name, 200), await response.text()
    if name == "hubs":
        assert (await response.json())["items"] == []
        return
    if response.status == 200:
        assert (await response.json())["id"] == user.id
    boss = await User.get(username="boss")
    entry = await AuditLog.get(action=AUDITED[name])
    assert entry.actor_id == boss.id
    assert str(user.id) in (entry.target, str(entry.details.get("user_id")))


@pytest.mark.parametrize("name", sorted(ROUTES))
async def test_each_route_refuses_other_users(client: TestClient, name: str) -> None:
    user = await target(is_active=name != "reactivate")
    await create_user("bob@example.com", username="bob")
    headers = bearer(await login_tokens(client, "bob@example.com"))
    response = await client.request(*url(name, user.id), headers=headers)
    await problem_of(response, 403, "forbidden")
    assert await AuditLog.all().count() == 0


@pytest.mark.parametrize("name", sorted(ROUTES))
async def test_each_route_refuses_application_tokens(client: TestClient, name: str) -> None:
    await boss_headers(client)
    boss = await User.get(username="boss")
    _token, secret = await auth.create_app_token(boss.id, "script", ["read", "write"], None)
    user = await target()
    response = await client.request(
        *url(name, user.id), headers={"Authorization": f"Bearer {secret}"}
    )
    await problem_of(response, 403, "session_required")


@pytest.mark.parametrize("name", USER_ROUTES)
async def test_each_route_answers_404_for_an_unknown_user(client: TestClient, name: str) -> None:
    headers = await boss_headers(client)
    for missing in (MISSING, "nope"):
        response = await client.request(*url(name, missing), headers=headers)
        await problem_of(response, 404, "user_not_found")


@pytest.mark.parametrize("name", ["deactivate", "delete", "demote", "reset_mfa", "unlink"])
async def test_destructive_routes_need_a_recent_login_and_another_account(
    client: TestClient, name: str
) -> None:
    headers = await boss_headers(client)
    boss = await User.get(username="boss")
    await User.filter(id=boss.id).update(discord_id=DISCORD_ID + 1, mfa_enabled=True)
    own = await client.request(*url(name, boss.id), headers=headers)
    await problem_of(own, 403, "own_account")
    user = await target(is_superuser=True)
    with time_machine.travel(auth.now() + timedelta(seconds=700)):
        stale = await client.request(*url(name, user.id), headers=headers)
    await problem_of(stale, 403, "reauthentication_required")
    assert await AuditLog.all().count() == 0


# Deactivating and reactivating


async def test_a_deactivated_user_is_refused_everywhere_until_reactivated(
    client: TestClient,
) -> None:
    headers = await boss_headers(client)
    user = await target(mfa_enabled=False)
    tokens = await login_tokens(client)
    _token, secret = await auth.create_app_token(user.id, "tracker", ["read"], None)
    app_headers = {"Authorization": f"Bearer {secret}"}
    assert (await client.get(f"{API}/users/@me", headers=app_headers)).status == 200

    deactivated = await client.post(f"{API}/users/{user.id}/deactivate", headers=headers)
    assert (await deactivated.json())["is_active"] is False

    await problem_of(await login(client), 403, "account_disabled")
    refresh = {"refresh_token": tokens["refresh_token"]}
    await problem_of(await client.post(f"{API}/auth/refresh", json=refresh), 401, "invalid_token")
    await problem_of(
        await client.get(f"{API}/users/@me", headers=bearer(tokens)), 401, "invalid_token"
    )
    await problem_of(
        await client.get(f"{API}/users/@me", headers=app_headers), 401, "invalid_token"
    )
    again = await client.post(f"{API}/users/{user.id}/deactivate", headers=headers)
    await problem_of(again, 409, "already_inactive")

    reactivated = await client.post(f"{API}/users/{user.id}/reactivate", headers=headers)
    assert (await reactivated.json())["is_active"] is True
    assert (await login(client)).status == 200
    assert (await client.get(f"{API}/users/@me", headers=app_headers)).status == 200
    twice = await client.post(f"{API}/users/{user.id}/reactivate", headers=headers)
    await problem_of(twice, 409, "already_active")


# Deleting: the admin route and the self-service one share /users/...


async def test_admin_delete_and_self_deletion_both_reach_their_route(client: TestClient) -> None:
    headers = await boss_headers(client)
    user = await target(mfa_enabled=False)
    await create_user("bob@example.com", username="bob")
    bob = bearer(await login_tokens(client, "bob@example.com"))
    own = await client.delete(f"{API}/users/@me", headers=bob)
    assert own.status == 202
    assert "erase_after" in await own.json()
    assert (await User.get(username="bob")).email == "bob@example.com"  # only scheduled

    deleted = await client.delete(f"{API}/users/{user.id}", headers=headers)
    assert deleted.status == 204
    erased = await User.get(id=user.id)
    assert (erased.username, erased.email, erased.is_active) == ("Deleted user", None, False)
    await problem_of(await login(client), 401, "invalid_credentials")
    me = await client.get(f"{API}/users/@me", headers=headers)
    assert (await me.json())["username"] == "boss"


# Superuser, MFA, identities


async def test_promote_and_demote(client: TestClient) -> None:
    headers = await boss_headers(client)
    user = await target(mfa_enabled=False)
    promoted = await client.put(f"{API}/users/{user.id}/superuser", headers=headers)
    assert (await promoted.json())["is_superuser"] is True
    alice = bearer(await login_tokens(client))
    assert (await client.get(f"{API}/admin/hubs", headers=alice)).status == 200
    demoted = await client.delete(f"{API}/users/{user.id}/superuser", headers=headers)
    assert (await demoted.json())["is_superuser"] is False
    await problem_of(await client.get(f"{API}/admin/hubs", headers=alice), 401, "invalid_token")


async def test_reset_mfa_lets_the_user_log_in_without_a_code(client: TestClient) -> None:
    headers = await boss_headers(client)
    user = await target(mfa_secret=pyotp.random_base32())
    assert (await (await login(client)).json())["mfa_required"] is True
    reset = await client.post(f"{API}/users/{user.id}/mfa/reset", headers=headers)
    assert (await reset.json())["mfa_enabled"] is False
    assert "access_token" in await (await login(client)).json()
    again = await client.post(f"{API}/users/{user.id}/mfa/reset", headers=headers)
    await problem_of(again, 409, "mfa_not_enabled")


async def test_unlink_keeps_the_last_way_in_and_knows_its_providers(client: TestClient) -> None:
    headers = await boss_headers(client)
    user = await target()
    unlinked = await client.delete(f"{API}/users/{user.id}/identities/discord", headers=headers)
    assert (await unlinked.json())["discord_id"] is None
    gone = await client.delete(f"{API}/users/{user.id}/identities/discord", headers=headers)
    await problem_of(gone, 404, "identity_not_linked")
    unknown = await client.delete(f"{API}/users/{user.id}/identities/github", headers=headers)
    await problem_of(unknown, 404, "provider_not_found")
    only = await User.create(username="discord-only", discord_id=DISCORD_ID)
    last = await client.delete(f"{API}/users/{only.id}/identities/discord", headers=headers)
    await problem_of(last, 409, "last_login_method")


# Lists


async def test_users_are_searched_a_page_at_a_time(client: TestClient) -> None:
    headers = await boss_headers(client)
    await target()
    await create_user("bob@example.com", username="Bobby")

    async def search(**params: Any) -> dict[str, Any]:
        response = await client.get(f"{API}/users", params=params, headers=headers)
        assert response.status == 200, await response.text()
        return await response.json()

    assert [u["username"] for u in (await search(q="BOB"))["items"]] == ["Bobby"]
    by_discord = (await search(q=str(DISCORD_ID)))["items"]
    assert [(u["username"], u["discord_id"]) for u in by_discord] == [("alice", str(DISCORD_ID))]
    first = await search(q="example.com", limit=2)
    rest = await search(q="example.com", limit=2, cursor=first["next_cursor"])
    names = [u["username"] for u in first["items"] + rest["items"]]
    assert (names, rest["next_cursor"]) == (["boss", "alice", "Bobby"], None)
    assert len((await search(q=""))["items"]) == 3  # an empty search box lists everyone
    bad = await client.get(f"{API}/users", params={"q": "x" * 255}, headers=headers)
    await problem_of(bad, 422, "validation_failed")


async def test_hubs_list_shows_inactive_and_private_hubs(client: TestClient) -> None:
    headers = await boss_headers(client)
    await hubs.ensure_hub_for_guild(42, "Road Kings", 7)
    await hubs.deactivate_guild(42)
    private = await hubs.ensure_hub_for_guild(43, "Night Owls", 7)
    await hubs.Hub.filter(id=private.id).update(public=False)
    first = await (await client.get(f"{API}/admin/hubs?limit=1", headers=headers)).json()
    rest = await (
        await client.get(
            f"{API}/admin/hubs", params={"cursor": first["next_cursor"]}, headers=headers
        )
    ).json()
    states = [(h["slug"], h["active"], h["public"], h["guild_id"]) for h in first["items"]]
    states += [(h["slug"], h["active"], h["public"], h["guild_id"]) for h in rest["items"]]
    assert states == [("road-kings", False, True, "42"), ("night-owls", True, False, "43")]
    assert rest["next_cursor"] is None
    public = await (await client.get(f"{API}/hubs")).json()
    assert public["items"] == []  # what the public list never shows
    bad = await client.get(f"{API}/admin/hubs?cursor=nope", headers=headers)
    await problem_of(bad, 422, None)
