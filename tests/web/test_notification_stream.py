"""The live stream of notifications (server-sent events): bearer or ticket, resume with
Last-Event-ID, only the reader's own notifications, an end at shutdown; and across two real
`drivershub web` processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from tortoise.transactions import in_transaction

from models import auth, hubs
from models.members import Member, MemberState
from models.notifications import center, live
from models.notifications.tables import Notification
from models.passwords import hash_password
from models.users import User
from tests.bot.conftest import DRIVERSHUB, clean_env, free_port
from tests.conftest import TEST_CACHE_URL, TEST_DATABASE_URL
from tests.web.conftest import problem_of
from web import notifications as routes

API = "/api/v1/notifications"
STREAM = f"{API}/stream"
KIND = "account.password_changed"  # no hub, shown in-app


@pytest.fixture(autouse=True)
def quick_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    # Streams a test leaves behind notice the closed connection at their next keep-alive.
    monkeypatch.setattr(routes, "KEEPALIVE_SECONDS", 0.2)


async def _user(name: str = "alice") -> tuple[User, dict[str, str]]:
    user = await User.create(username=name)
    tokens = await auth.start_session(user, "discord")
    return user, {"Authorization": f"Bearer {tokens.access_token}"}


async def _notify(user: User, **data: Any) -> int:
    async with in_transaction():
        [note] = await center.notify([user.id], KIND, data)
    return note.id


async def next_event(response: ClientResponse, within: float = 5.0) -> dict[str, str]:
    """The next event's fields (comment lines skipped); {} when the stream ended."""
    fields: dict[str, str] = {}
    async with asyncio.timeout(within):
        while True:
            raw = await response.content.readline()
            if not raw:
                return fields
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                continue
            if not line:
                if fields:
                    return fields
                continue
            name, _, value = line.partition(": ")
            fields[name] = value


async def _open(client: TestClient, path: str = STREAM, **options: Any) -> ClientResponse:
    response = await client.get(path, **options)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/event-stream"
    await _connected(response)
    return response


async def _connected(response: ClientResponse) -> None:
    """The stream's first lines: the server listens for wake-ups from now on."""
    assert await response.content.readline() == b": connected\n"
    assert await response.content.readline() == b"\n"


@pytest.fixture
async def streams() -> AsyncIterator[list[ClientResponse]]:
    """Responses a test opened, closed after it."""
    opened: list[ClientResponse] = []
    yield opened
    for response in opened:
        response.close()


async def test_a_notification_made_after_connecting_arrives_as_an_event(
    client: TestClient, streams: list[ClientResponse]
) -> None:
    alice, headers = await _user()
    streams.append(response := await _open(client, headers=headers))
    assert response.headers["Cache-Control"] == "no-cache"
    note_id = await _notify(alice)
    event = await next_event(response)
    assert event["id"] == str(note_id)
    assert event["event"] == "notification"
    body = json.loads(event["data"])
    assert body["id"] == note_id
    assert body["title"] == "Your password was changed"
    assert body["read"] is False


async def test_nothing_old_is_sent_without_a_last_event_id(
    client: TestClient, streams: list[ClientResponse]
) -> None:
    alice, headers = await _user()
    await _notify(alice)
    streams.append(response := await _open(client, headers=headers))
    fresh = await _notify(alice)
    assert (await next_event(response))["id"] == str(fresh)


async def test_resuming_with_last_event_id_sends_the_missed_ones_in_order_then_live(
    client: TestClient, streams: list[ClientResponse]
) -> None:
    alice, headers = await _user()
    seen, *missed = [await _notify(alice) for _ in range(3)]
    resume = headers | {"Last-Event-ID": str(seen)}
    streams.append(response := await _open(client, headers=resume))
    assert [int((await next_event(response))["id"]) for _ in missed] == missed
    live_one = await _notify(alice)
    assert (await next_event(response))["id"] == str(live_one)


async def test_other_users_notifications_never_appear(
    client: TestClient, streams: list[ClientResponse]
) -> None:
    alice, headers = await _user()
    bob, _ = await _user("bob")
    streams.append(response := await _open(client, headers=headers | {"Last-Event-ID": "0"}))
    await _notify(bob)
    mine = await _notify(alice)
    assert (await next_event(response))["id"] == str(mine)
    assert await Notification.filter(user_id=bob.id).count() == 1


async def test_keep_alive_comments_flow_while_nothing_happens(
    client: TestClient, streams: list[ClientResponse]
) -> None:
    _alice, headers = await _user()
    streams.append(response := await _open(client, headers=headers))
    line = await asyncio.wait_for(response.content.readline(), 5)
    assert line == b": keep-alive\n"


async def test_a_ticket_opens_one_stream_then_is_refused(
    client: TestClient, streams: list[ClientResponse]
) -> None:
    alice, headers = await _user()
    issued = await client.post(f"{API}/stream-ticket", headers=headers)
    assert issued.status == 200, await issued.text()
    body = await issued.json()
    assert body["expires_in"] == live.STREAM_TICKET_TTL
    streams.append(response := await _open(client, params={"ticket": body["ticket"]}))
    note_id = await _notify(alice)
    assert (await next_event(response))["id"] == str(note_id)
    again = await client.get(STREAM, params={"ticket": body["ticket"]})
    await problem_of(again, 401, "invalid_ticket")


async def test_a_reconnection_with_a_new_ticket_resumes_from_the_query(
    client: TestClient, streams: list[ClientResponse]
) -> None:
    alice, headers = await _user()
    first, second = await _notify(alice), await _notify(alice)
    ticket = (await (await client.post(f"{API}/stream-ticket", headers=headers)).json())["ticket"]
    params = {"ticket": ticket, "last_event_id": str(first)}
    streams.append(response := await _open(client, params=params))
    assert (await next_event(response))["id"] == str(second)


async def test_bad_expired_and_missing_credentials_are_refused(client: TestClient) -> None:
    alice, _ = await _user()
    expired = await auth.issue_ticket(
        alice.id,
        live.STREAM_TICKET,
        live.STREAM_TICKET_TTL,
        {"session": str(uuid.uuid4())},
        since=auth.now() - timedelta(seconds=live.STREAM_TICKET_TTL + 1),
    )
    for params in ({"ticket": "forged"}, {"ticket": expired}):
        await problem_of(await client.get(STREAM, params=params), 401, "invalid_ticket")
    await problem_of(await client.get(STREAM), 401, None)
    bad = {"Authorization": "Bearer not-a-token"}
    await problem_of(await client.get(STREAM, headers=bad), 401, "invalid_token")
    refused = await client.post(f"{API}/stream-ticket")
    await problem_of(refused, 401, None)


async def test_a_malformed_last_event_id_is_422(client: TestClient) -> None:
    _alice, headers = await _user()
    response = await client.get(STREAM, headers=headers | {"Last-Event-ID": "yesterday"})
    await problem_of(response, 422, None)


async def test_application_tokens_stream_with_read_but_get_no_tickets(
    client: TestClient, streams: list[ClientResponse]
) -> None:
    alice, _ = await _user()
    _token, secret = await auth.create_app_token(alice.id, "feed", ["read"], None)
    headers = {"Authorization": f"Bearer {secret}"}
    streams.append(await _open(client, headers=headers))
    _token, writer = await auth.create_app_token(alice.id, "w", ["write"], None)
    refused = await client.post(
        f"{API}/stream-ticket", headers={"Authorization": f"Bearer {writer}"}
    )
    await problem_of(refused, 403, "session_required")


async def test_streams_end_when_the_server_hangs_up(client: TestClient) -> None:
    _alice, headers = await _user()
    response = await _open(client, headers=headers)
    live.hang_up()
    assert await next_event(response) == {}  # the end of the body, at once
    assert response.content.at_eof()


# Two real processes sharing PostgreSQL and Redis


needs_shared_backends = pytest.mark.skipif(
    not (TEST_DATABASE_URL and TEST_CACHE_URL.startswith("redis")),
    reason="two processes share state through PostgreSQL and Redis only",
)


WebProcesses = tuple[list[str], str, list[subprocess.Popen[bytes]]]


@pytest.fixture
def web_processes(database_url: str, tmp_path: Path) -> Iterator[WebProcesses]:
    """Two `drivershub web` processes on the test database and Redis: their base URLs, the
    cache namespace they share, and the processes."""
    namespace = f"test-sse-{uuid.uuid4().hex[:8]}"
    started: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for index in range(2):  # one after the other: the first writes the signing keys
            port = free_port()
            env = clean_env(
                tmp_path,
                DRIVERSHUB_DATABASE__URL=database_url,
                DRIVERSHUB_DATABASE__AUTO_MIGRATE="false",
                DRIVERSHUB_CACHE__URL=TEST_CACHE_URL,
                DRIVERSHUB_CACHE__NAMESPACE=namespace,
                DRIVERSHUB_WEB__PORT=str(port),
                DRIVERSHUB_METRICS__LISTEN="",
                TMPDIR=str(tmp_path),
            )
            log = (tmp_path / f"web-{index}.log").open("wb")
            started.append(
                subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
                    [DRIVERSHUB, "web"], cwd=tmp_path, env=env, stdout=log, stderr=log
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
            _wait_ready(started[-1], urls[-1], tmp_path / f"web-{index}.log")
        yield urls, namespace, started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(10)


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    port = urlsplit(url).port
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/api/v1/ready")
                if conn.getresponse().status == 200:
                    return
            finally:
                conn.close()
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not ready: {log.read_text(errors='replace')}")


async def _login(http: aiohttp.ClientSession, url: str, email: str) -> dict[str, str]:
    response = await http.post(
        f"{url}/api/v1/auth/login", json={"email": email, "password": "a long passphrase"}
    )
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


async def _people() -> tuple[User, str]:
    """A hub with its owner and one member (alice); the hub's slug."""
    password = await hash_password("a long passphrase")
    await User.create(
        username="olga",
        email="olga@example.com",
        password_hash=password,
        discord_id=10,
        is_verified=True,
    )
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    alice = await User.create(
        username="alice",
        email="alice@example.com",
        password_hash=password,
        discord_id=11,
        is_verified=True,
    )
    await Member.create(hub_id=hub.id, user_id=alice.id, state=MemberState.MEMBER, number=1)
    return alice, hub.slug


@needs_shared_backends
async def test_a_notification_made_through_one_process_reaches_a_stream_on_another(
    web_processes: WebProcesses,
) -> None:
    (first, second), namespace, _ = web_processes
    alice, slug = await _people()
    async with aiohttp.ClientSession() as http:
        reader = await _login(http, first, "alice@example.com")
        response = await http.get(f"{first}{STREAM}", headers=reader)
        assert response.status == 200, await response.text()
        await _connected(response)
        # Staff send a notice through the second process: it writes the notification and
        # publishes the wake-up; the first one's stream reads it from the database.
        staff = await _login(http, second, "olga@example.com")
        sent = await http.post(
            f"{second}/api/v1/hubs/{slug}/notices",
            json={"title": "Convoy tonight", "text": "Meet at Calais."},
            headers=staff,
        )
        assert sent.status == 202, await sent.text()
        event = await next_event(response, within=10)
        body = json.loads(event["data"])
        assert (body["kind"], body["title"]) == ("hub.notice", "Convoy tonight")
        # And from a third process (this one), through `notify` and its own bus.
        bus = await live.start(TEST_CACHE_URL, namespace)
        assert bus is not None
        try:
            await asyncio.wait_for(bus.connected.wait(), 5)
            note_id = await _notify(alice)
            assert (await next_event(response, within=10))["id"] == str(note_id)
        finally:
            await live.stop()
        response.close()


@needs_shared_backends
async def test_a_process_stopping_ends_its_streams_at_once(web_processes: WebProcesses) -> None:
    (first, _), _, (process, _) = web_processes
    await _people()
    async with aiohttp.ClientSession() as http:
        reader = await _login(http, first, "alice@example.com")
        response = await http.get(f"{first}{STREAM}", headers=reader)
        await _connected(response)
        started = time.monotonic()
        process.terminate()
        assert await next_event(response, within=3) == {}  # ended, not cut off at the timeout
        assert process.wait(3) == 0
        assert time.monotonic() - started < 3  # the shutdown timeout (5 s) was not waited out
