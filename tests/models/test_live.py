"""Live streams: local wake-ups, what a stream reads next, stream tickets, and the Redis bus
that wakes streams of other processes (on the test Redis only)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from models import auth
from models.actor import Actor, Scope
from models.auth import Session
from models.errors import Forbidden, Unauthorized
from models.notifications import live
from models.notifications.tables import Notification
from models.users import User
from tests.conftest import TEST_CACHE_URL

KIND = "account.password_changed"  # a kind without a hub, shown in-app
redis_only = pytest.mark.skipif(
    not TEST_CACHE_URL.startswith("redis"), reason="the bus needs DRIVERSHUB_TEST_CACHE_URL"
)


async def _note(user: User, note_id: int, *, in_app: bool = True) -> Notification:
    return await Notification.create(id=note_id, user_id=user.id, kind=KIND, in_app=in_app)


async def _ids(follower: live.Follower) -> list[int]:
    return [view.id for view in [v async for v in follower.new()]]


def test_wake_sets_the_events_of_the_users_named_only() -> None:
    with live.listening(1) as first, live.listening(1) as again, live.listening(2) as other:
        live.wake([1, 3])
        assert first.is_set()
        assert again.is_set()
        assert not other.is_set()
        assert live.open_streams() == 3
    assert live.open_streams() == 0


def test_hang_up_wakes_every_stream_and_marks_it_ended() -> None:
    started = live.generation()
    with live.listening(5) as event:
        live.hang_up()
        assert event.is_set()
    assert live.hung_up(started)
    assert not live.hung_up(live.generation())  # a stream opened afterwards goes on


async def test_a_new_follower_sends_nothing_old_then_each_new_one_once() -> None:
    alice = await User.create(username="alice")
    await _note(alice, 10)
    follower = live.Follower(alice.id, "en")
    await follower.start(None)
    assert await _ids(follower) == []
    await _note(alice, 11)
    await _note(alice, 12, in_app=False)  # muted in the app: DM or e-mail only
    assert await _ids(follower) == [11]
    assert await _ids(follower) == []


async def test_resuming_sends_what_came_after_the_last_id_in_id_order() -> None:
    alice, bob = await User.create(username="alice"), await User.create(username="bob")
    for note_id in (3, 1, 2, 4):
        await _note(alice, note_id)
    await _note(bob, 5)
    follower = live.Follower(alice.id, "en")
    await follower.start(1)
    assert await _ids(follower) == [2, 3, 4]


async def test_a_row_committed_after_a_larger_id_was_sent_is_still_sent() -> None:
    alice = await User.create(username="alice")
    follower = live.Follower(alice.id, "en")
    await follower.start(None)
    await _note(alice, 20)
    assert await _ids(follower) == [20]
    await _note(alice, 15)  # its transaction took the id first and committed last
    assert await _ids(follower) == [15]
    assert await _ids(follower) == []


async def test_a_late_row_of_a_transaction_open_when_the_stream_started_is_sent() -> None:
    alice = await User.create(username="alice")
    await _note(alice, 30)  # already there: old
    follower = live.Follower(alice.id, "en")
    await follower.start(None)
    await _note(alice, 29)  # taken before the stream started, committed after
    assert await _ids(follower) == [29]


async def test_reading_pages_through_a_long_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "PAGE", 3)
    alice = await User.create(username="alice")
    await Notification.bulk_create(
        [Notification(id=i, user_id=alice.id, kind=KIND) for i in range(1, 9)]
    )
    follower = live.Follower(alice.id, "en")
    await follower.start(0)
    assert await _ids(follower) == list(range(1, 9))


# Stream tickets


async def _session_actor(user: User) -> Actor:
    await auth.start_session(user, "discord")
    session = await Session.get(user_id=user.id)
    return Actor(user.id, session_id=str(session.id))


async def test_a_stream_ticket_opens_once_for_its_user() -> None:
    alice = await User.create(username="alice")
    secret = await live.issue_stream_ticket(await _session_actor(alice))
    assert (await live.redeem_stream_ticket(secret)).user_id == alice.id
    with pytest.raises(Unauthorized):
        await live.redeem_stream_ticket(secret)


async def test_a_ticket_of_a_session_ended_since_is_refused() -> None:
    alice = await User.create(username="alice")
    secret = await live.issue_stream_ticket(await _session_actor(alice))
    await auth.revoke_session(await Session.get(user_id=alice.id))
    with pytest.raises(Unauthorized):
        await live.redeem_stream_ticket(secret)


async def test_an_expired_or_foreign_ticket_is_refused() -> None:
    alice = await User.create(username="alice")
    expired = await auth.issue_ticket(
        alice.id,
        live.STREAM_TICKET,
        live.STREAM_TICKET_TTL,
        {"session": str(uuid.uuid4())},
        since=auth.now() - timedelta(seconds=live.STREAM_TICKET_TTL + 1),
    )
    reset = await auth.issue_ticket(alice.id, "password_reset", 600)  # another purpose
    for secret in (expired, reset, "nonsense"):
        with pytest.raises(Unauthorized):
            await live.redeem_stream_ticket(secret)


async def test_tickets_need_a_person_logged_in_with_read_access() -> None:
    with pytest.raises(Unauthorized):
        await live.issue_stream_ticket(Actor(None))
    with pytest.raises(Forbidden):
        live.reader(Actor(7, scopes=frozenset()))  # a token without read
    with pytest.raises(Forbidden):  # an application token: it can send headers
        await live.issue_stream_ticket(Actor(7, scopes=frozenset({Scope.READ.value})))


# Between processes, through Redis


@pytest.fixture
async def buses() -> AsyncIterator[tuple[live.Bus, live.Bus]]:
    """Two processes' buses on the test Redis, with a namespace of their own."""
    namespace = f"test-live-{uuid.uuid4().hex[:8]}"
    pair = (live.Bus(TEST_CACHE_URL, namespace), live.Bus(TEST_CACHE_URL, namespace))
    for bus in pair:
        bus.start()
    for bus in pair:
        await asyncio.wait_for(bus.connected.wait(), 5)
    yield pair
    for bus in pair:
        await bus.stop()


@redis_only
async def test_a_wake_up_published_by_one_process_wakes_the_streams_of_another(
    buses: tuple[live.Bus, live.Bus],
) -> None:
    _here, there = buses
    with live.listening(41) as mine, live.listening(42) as other:
        there.publish({41})  # only through Redis: nothing woke it in this process
        await asyncio.wait_for(mine.wait(), 5)
        assert not other.is_set()


@redis_only
async def test_the_subscriber_comes_back_after_losing_redis_and_wakes_every_stream(
    buses: tuple[live.Bus, live.Bus],
) -> None:
    here, there = buses
    admin = Redis.from_url(TEST_CACHE_URL)
    try:
        with live.listening(43) as event:
            clients = await admin.client_list()
            subscriber = next(c["id"] for c in clients if c["name"] == here.name)
            await admin.client_kill_filter(_id=subscriber)
            # Reconnected: every stream looks once (what was published meanwhile is lost).
            await asyncio.wait_for(event.wait(), 10)
            await asyncio.wait_for(here.connected.wait(), 5)
            event.clear()
            there.publish({43})
            await asyncio.wait_for(event.wait(), 5)
    finally:
        await admin.aclose()


class _Records(logging.Handler):
    """The live module's log records, with an event set at each one."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.logged = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.logged.set()


async def test_local_wake_ups_go_on_while_redis_is_down() -> None:
    records = _Records()
    logging.getLogger(live.__name__).addHandler(records)
    bus = await live.start("redis://:secret@127.0.0.1:1/0", "test-live-down")
    assert bus is not None
    try:
        with live.listening(44) as event:
            live.wake([44])
            assert event.is_set()
            await asyncio.wait_for(records.logged.wait(), 10)
            records.logged.clear()
            # Both the publisher and the subscriber retry within 1.5 s, fail again, and
            # log nothing more.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(records.logged.wait(), 1.5)
        assert len(records.records) == 1  # once per outage, not once per attempt
        assert "secret" not in records.records[0].getMessage()
    finally:
        logging.getLogger(live.__name__).removeHandler(records)
        await live.stop()
    assert await live.start("memory://", "x") is None  # one process: no bus at all
