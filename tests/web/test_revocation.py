"""Revocation is durable: the session row decides, the cache only speeds the check up.

A logged-out token stays refused after the cache is emptied (a restart of Redis, a flush, a
new process with an empty memory cache), in another process, and while the cache is down.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta

import pytest
import time_machine
from aiocache import RedisCache
from aiohttp.test_utils import TestClient

import models.cache
from models import auth
from models.auth.sessions import LOCAL_LIVE_TTL
from models.cache import clear_cache, configure_cache
from models.users import User
from tests.conftest import TEST_CACHE_URL
from tests.web.conftest import ClientFactory, problem_of

ME = "/api/v1/users/@me"


def _bearer(pair: auth.TokenPair) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair.access_token}"}


async def _sessions(count: int) -> list[auth.TokenPair]:
    user = await User.create(username="alice")
    return [await auth.start_session(user, "password") for _ in range(count)]


async def _status(client: TestClient, pair: auth.TokenPair) -> int:
    return (await client.get(ME, headers=_bearer(pair))).status


async def _refused(client: TestClient, pair: auth.TokenPair) -> None:
    await problem_of(await client.get(ME, headers=_bearer(pair)), 401, "invalid_token")


async def _refused_there(client: TestClient, pair: auth.TokenPair) -> None:
    """Refused in the other process: at once through a shared cache (Redis); with a memory
    cache of its own, once the "live" it saw has run out (the documented bound)."""
    if models.cache.cache().shared:
        await _refused(client, pair)
    with time_machine.travel(auth.now() + timedelta(seconds=LOCAL_LIVE_TTL + 1)):
        await _refused(client, pair)


@contextlib.asynccontextmanager
async def _two_processes(api_client: ClientFactory) -> AsyncIterator[tuple[TestClient, TestClient]]:
    """Two app instances built from the same settings, as two `drivershub web` would be."""
    async with api_client() as first, api_client() as second:
        yield first, second


Switch = Callable[[], contextlib.AbstractContextManager[None]]


@pytest.fixture
async def other_process() -> AsyncIterator[Switch]:
    """`with other_process():` runs requests with the cache a second process would have:
    its own memory (memory://), or its own connection to the same Redis."""
    mine = models.cache.cache()
    theirs = configure_cache(TEST_CACHE_URL, mine.namespace)
    models.cache._cache = mine  # configure_cache installed theirs: this process keeps its own

    @contextlib.contextmanager
    def switch() -> Iterator[None]:
        models.cache._cache = theirs
        try:
            yield
        finally:
            models.cache._cache = mine

    yield switch
    if isinstance(theirs.backend, RedisCache):
        await theirs.backend.client.aclose()


async def test_a_logged_out_token_stays_refused_when_the_cache_is_emptied(
    client: TestClient,
) -> None:
    [pair] = await _sessions(1)
    assert await _status(client, pair) == 200
    assert (await client.post("/api/v1/auth/logout", headers=_bearer(pair))).status == 204
    await clear_cache()
    await _refused(client, pair)
    await _refused(client, pair)  # the refusal read from the row is cached and holds


async def test_log_out_everywhere_stays_refused_when_the_cache_is_emptied(
    client: TestClient,
) -> None:
    laptop, phone = await _sessions(2)
    assert {await _status(client, laptop), await _status(client, phone)} == {200}
    alice = await User.get(username="alice")
    assert await auth.revoke_all_sessions(alice.id) == 2  # as `promote --revoke` does
    await clear_cache()
    await _refused(client, laptop)
    await _refused(client, phone)


async def test_a_live_token_still_works_after_the_cache_is_emptied(client: TestClient) -> None:
    [pair] = await _sessions(1)
    await clear_cache()
    assert await _status(client, pair) == 200


async def test_logout_in_one_process_is_refused_in_another(
    api_client: ClientFactory, other_process: Switch
) -> None:
    [pair] = await _sessions(1)
    async with _two_processes(api_client) as (first, second):
        with other_process():
            assert await _status(second, pair) == 200  # seen live there before the logout
        assert (await first.post("/api/v1/auth/logout", headers=_bearer(pair))).status == 204
        with other_process():
            await _refused_there(second, pair)
        await _refused(first, pair)


async def test_log_out_everywhere_in_one_process_is_refused_in_another(
    api_client: ClientFactory, other_process: Switch
) -> None:
    laptop, phone = await _sessions(2)
    async with _two_processes(api_client) as (first, second):
        with other_process():
            assert {await _status(second, laptop), await _status(second, phone)} == {200}
        out = await first.post("/api/v1/auth/logout-everywhere", headers=_bearer(laptop))
        assert out.status == 204
        with other_process():
            await _refused_there(second, laptop)
            await _refused_there(second, phone)


async def test_revocation_is_read_from_the_database_while_the_cache_is_down(
    client: TestClient, cache_outage: Callable[[], None]
) -> None:
    live, ended = await _sessions(2)
    assert (await client.post("/api/v1/auth/logout", headers=_bearer(ended))).status == 204
    await clear_cache()  # the outage began after the logout, and Redis came back empty
    cache_outage()
    assert await _status(client, live) == 200  # served without the cache, not 503
    await _refused(client, ended)


async def test_logout_while_the_cache_is_down_is_saved_and_holds_afterwards(
    client: TestClient, cache_outage: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    [pair] = await _sessions(1)
    backend = models.cache.cache().backend
    cache_outage()
    assert (await client.post("/api/v1/auth/logout", headers=_bearer(pair))).status == 204
    await _refused(client, pair)
    monkeypatch.setattr(models.cache.cache(), "backend", backend)  # the cache is back
    await _refused(client, pair)
