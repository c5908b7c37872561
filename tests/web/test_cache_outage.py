"""The cache (Redis) goes down: every operation answers as it does with the cache, or 503.

Walked over the whole OpenAPI document with the hub's owner's valid token (made before the
outage): no operation answers 500, every 503 says when to retry, a 503 wrote nothing, and a
write that succeeded is saved (its cache invalidation failing does not fail it).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from tortoise import Tortoise

from models import auth, hubs, plugins
from models.hubs import Hub
from models.users import User
from tests.web.conftest import fill_path, problem_of

API = "/api/v1"
# Last: they end every session or the account, which would turn the rest into 401s.
ENDING = {("POST", f"{API}/auth/logout-everywhere"), ("DELETE", f"{API}/users/@me")}

Operation = tuple[str, str]


async def _operations(client: TestClient) -> list[Operation]:
    document = await (await client.get(f"{API}/openapi.json")).json()
    walk = [
        (method.upper(), fill_path(path))
        for path, item in document["paths"].items()
        for method in item
    ]
    return sorted(walk, key=lambda operation: operation in ENDING)


async def _owner() -> User:
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    await Hub.filter(id=hub.id).update(plugins=plugins.plugin_keys())
    return await User.create(username="olga", discord_id=10, is_superuser=True)


async def _bearer(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await auth.start_session(user, 'discord')).access_token}"}


async def _rows() -> list[str]:
    """Every row of every table, to prove a request wrote nothing."""
    rows = []
    for app in (Tortoise.apps or {}).values():
        for model in app.values():
            rows += sorted(f"{model._meta.db_table}: {row}" for row in await model.all().values())
    return rows


async def _call(
    client: TestClient, operation: Operation, headers: dict[str, str]
) -> ClientResponse:
    method, path = operation
    return await client.request(method, path, headers=headers, json={}, allow_redirects=False)


async def _walk(
    client: TestClient, owner: User, operations: list[Operation]
) -> dict[Operation, int]:
    """Each operation's status; fresh sessions so that a logout ends only its own."""
    tokens = [await _bearer(owner) for _ in operations]
    return {
        op: (await _call(client, op, h)).status for op, h in zip(operations, tokens, strict=True)
    }


async def _check_unavailable(response: ClientResponse, operation: Operation) -> None:
    assert response.headers.get("Retry-After", "").isdigit(), operation
    if operation[1] != f"{API}/ready":  # the readiness report has its own body
        body = await problem_of(response, 503, None)
        assert body["code"] in ("unavailable", "login_unavailable"), operation


async def test_every_operation_answers_without_the_cache_or_503(
    client: TestClient, cache_outage: Callable[[], None]
) -> None:
    owner = await _owner()
    operations = await _operations(client)
    assert len(operations) > 40
    with_cache = await _walk(client, owner, operations)
    tokens = [await _bearer(owner) for _ in operations]  # made before the outage
    cache_outage()
    unavailable = []
    for operation, headers in zip(operations, tokens, strict=True):
        before = await _rows()
        response = await _call(client, operation, headers)
        assert response.status != 500, (operation, await response.text())
        if response.status == 503:
            await _check_unavailable(response, operation)
            assert await _rows() == before, f"{operation} answered 503 after a write"
            unavailable.append(operation)
        else:
            assert response.status == with_cache[operation], operation
    assert ("GET", f"{API}/ready") in unavailable
    assert ("POST", f"{API}/auth/login") in unavailable  # brute-force limits fail closed
    assert ("GET", f"{API}/users/@me") not in unavailable  # served from the database


async def test_writes_are_saved_and_answered_while_the_cache_is_down(
    client: TestClient, cache_outage: Callable[[], None]
) -> None:
    owner = await _owner()
    headers = await _bearer(owner)
    cache_outage()
    hub = await client.patch(f"{API}/hubs/road-kings", json={"language": "de"}, headers=headers)
    assert hub.status == 200, await hub.text()
    assert (await Hub.get(slug="road-kings")).language == "de"
    view = await client.get(f"{API}/hubs/road-kings")  # read from the database
    assert (await view.json())["language"] == "de"
    me = await client.patch(f"{API}/users/@me", json={"first_name": "Olga"}, headers=headers)
    assert me.status == 200, await me.text()
    assert (await User.get(id=owner.id)).first_name == "Olga"
    profile = await (await client.get(f"{API}/users/@me", headers=headers)).json()
    assert profile["first_name"] == "Olga"


async def test_refused_logins_leave_nothing_behind_while_the_cache_is_down(
    client: TestClient, cache_outage: Callable[[], None]
) -> None:
    await User.create(username="alice", email="alice@example.com")
    cache_outage()
    login = await client.post(
        f"{API}/auth/login", json={"email": "alice@example.com", "password": "x" * 12}
    )
    register = await client.post(
        f"{API}/auth/register",
        json={"email": "bob@example.com", "username": "bob", "password": "a long passphrase"},
    )
    for response in (login, register):
        await problem_of(response, 503, "unavailable")
        assert response.headers["Retry-After"] == "5"
    assert await auth.Session.all().count() == 0
    assert await User.filter(username="bob").count() == 0
