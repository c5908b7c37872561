"""Live streams of notifications: wake-ups between processes, and what a stream sends next.

A wake-up carries no content, only "user X has new notifications": a woken stream reads the
user's new in-app notifications from the database, so what it sends is what was committed
(`notify` wakes after the commit) and a lost wake-up loses nothing a later one cannot find.

- In this process each open stream has an `asyncio.Event` (`listening`); `wake` sets the
  events of the users named, at once.
- With a Redis cache every process runs a `Bus` (started and stopped by the runtime): `wake`
  also publishes the user ids on one channel named after the cache namespace, and the
  process's one subscriber connection wakes its own streams for what others published.
  Pub/sub keeps nothing for a listener that is away, so after (re)connecting the subscriber
  wakes every local stream once: they re-read the database and find what they missed.
  Redis being down never stops local wake-ups; it is logged once per outage.
- `Follower` is one stream's reader: in id order, nothing twice, and rows committed late (a
  transaction that took an id before another one but committed after it) still found.
- Stream tickets: a short-lived, single-use secret for browsers, whose EventSource cannot
  send an Authorization header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from models.actor import Actor, Scope, require_person, require_scope
from models.auth import sessions
from models.auth.common import now
from models.auth.tickets import consume_ticket, issue_ticket
from models.auth.tokens import Claims
from models.errors import Unauthorized
from models.i18n import N_
from models.notifications import center
from models.notifications.tables import Notification

log = logging.getLogger(__name__)

STREAM_TICKET = "notification-stream"
STREAM_TICKET_TTL = 60  # seconds: time enough for a page to open its EventSource
LATE_COMMIT_WINDOW = 60.0  # seconds a sent id is remembered, so a row committed late is found
PAGE = 100  # rows per database read of a stream
MAX_IDS_PER_MESSAGE = 5000  # user ids in one published message (a broadcast batch is 1,000)
MAX_UNSENT = 100_000  # ids kept for publishing while Redis is down; beyond, reconnects cover
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0

# Streams open in this process, by user: each has an event set when it should look.
_streams: dict[int, set[asyncio.Event]] = defaultdict(set)
# Bumped by `hang_up`: a stream started under an older generation ends.
_generation = 0
_bus: Bus | None = None


# Wake-ups in this process


@contextlib.contextmanager
def listening(user_id: int) -> Iterator[asyncio.Event]:
    """An event set whenever `user_id` may have new notifications, while the block runs."""
    event = asyncio.Event()
    _streams[user_id].add(event)
    try:
        yield event
    finally:
        events = _streams.get(user_id)
        if events is not None:
            events.discard(event)
            if not events:
                del _streams[user_id]


def wake(user_ids: Iterable[int]) -> None:
    """Wake these users' streams in this process and, with Redis, in every other one.

    Synchronous (it runs in after-commit callbacks): publishing is left to the bus's task.
    """
    users = set(user_ids)
    _wake_here(users)
    if _bus is not None:
        _bus.publish(users)


def _wake_here(user_ids: Iterable[int]) -> None:
    for user_id in user_ids:
        for event in _streams.get(user_id, ()):
            event.set()


def _wake_every_stream() -> None:
    for events in _streams.values():
        for event in events:
            event.set()


def open_streams() -> int:
    """How many streams are open in this process."""
    return sum(len(events) for events in _streams.values())


def generation() -> int:
    return _generation


def hung_up(since: int) -> bool:
    """Whether `hang_up` was called after a stream started at generation `since`."""
    return _generation != since


def hang_up() -> None:
    """End every open stream (the server is shutting down: they must not hold it up)."""
    global _generation
    _generation += 1
    _wake_every_stream()


# Between processes: Redis pub/sub


class Bus:
    """This process's link to the others: one publisher, one subscriber connection."""

    def __init__(self, url: str, namespace: str) -> None:
        self.channel = f"{namespace.rstrip(':')}:notifications:live"
        self._origin = uuid.uuid4().hex.encode()  # our own messages are not woken twice
        self.name = f"drivershub-live-{self._origin.decode()[:12]}"  # in CLIENT LIST
        # Publishing is bounded like every cache call; listening waits as long as it must.
        self._publisher = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        # No retries inside redis-py: a broken subscription must reach `_listen_forever`,
        # which resubscribes and wakes every stream for what was published meanwhile.
        self._subscriber = Redis.from_url(
            url,
            socket_connect_timeout=2.0,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
            client_name=self.name,
        )
        self._unsent: set[int] = set()
        self._pending = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = asyncio.Event()  # set while the subscription is up
        self._down = False

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._publish_forever(), name="live-publish"),
            asyncio.create_task(self._listen_forever(), name="live-listen"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._publisher.aclose()
        await self._subscriber.aclose()

    def publish(self, user_ids: set[int]) -> None:
        if len(self._unsent) < MAX_UNSENT:
            self._unsent |= user_ids
            self._pending.set()

    async def _publish_forever(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            await self._pending.wait()
            self._pending.clear()
            users, self._unsent = sorted(self._unsent), set()
            try:
                for start in range(0, len(users), MAX_IDS_PER_MESSAGE):
                    chunk = users[start : start + MAX_IDS_PER_MESSAGE]
                    await self._publisher.publish(self.channel, self._message(chunk))
            except (RedisError, OSError) as exc:
                self._lost(exc)
                self.publish(set(users))  # again after the pause (wake-ups are idempotent)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            delay = BACKOFF_FIRST

    def _message(self, user_ids: list[int]) -> bytes:
        return self._origin + b" " + ",".join(map(str, user_ids)).encode()

    async def _listen_forever(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            try:
                async with self._subscriber.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._back()
                    delay = BACKOFF_FIRST
                    _wake_every_stream()  # what was published while nobody listened
                    async for message in pubsub.listen():
                        self._received(message.get("data"))
            except (RedisError, OSError) as exc:
                self._lost(exc)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    def _received(self, data: Any) -> None:
        if not isinstance(data, bytes):
            return
        origin, _, ids = data.partition(b" ")
        if origin == self._origin:
            return  # woken here already, before publishing
        try:
            _wake_here(int(part) for part in ids.split(b",") if part)
        except ValueError:
            log.warning("ignored a malformed live-stream message on %s", self.channel)

    def _lost(self, exc: BaseException) -> None:
        self.connected.clear()
        if not self._down:  # once per outage; the URL (it may hold a password) is not logged
            self._down = True
            log.warning(
                "live notifications: Redis unreachable (%s); streams of this process get"
                " notifications made here only until it is back, then the rest",
                type(exc).__name__,
            )

    def _back(self) -> None:
        self.connected.set()
        if self._down:
            self._down = False
            log.info("live notifications: Redis reachable again")


async def start(url: str, namespace: str) -> Bus | None:
    """Start this process's bus when the cache is Redis (memory: one process, none needed)."""
    global _bus
    if not url.startswith(("redis://", "rediss://")):
        return None
    await stop()
    _bus = Bus(url, namespace)
    _bus.start()
    return _bus


async def stop() -> None:
    global _bus
    bus, _bus = _bus, None
    if bus is not None:
        await bus.stop()


# What a stream sends


class Follower:
    """One stream's reader: the user's new in-app notifications, in id order, each once.

    Ids are taken when a row is inserted, so a transaction may commit a smaller id after a
    larger one was already sent. Sent ids are remembered for `LATE_COMMIT_WINDOW` and every
    read starts below the oldest of them, so such a row is still found (and sent then, out
    of id order: clients key notifications by id).
    """

    def __init__(self, user_id: int, locale: str | None) -> None:
        self.user_id = user_id
        self.locale = locale
        self._floor = 0  # every id at or below it was sent, or is not for this stream
        self._sent: dict[int, float] = {}  # id -> when, for ids above the floor

    def _rows(self) -> Any:
        return Notification.filter(user_id=self.user_id, in_app=True)

    async def start(self, last_event_id: int | None) -> None:
        """Resume after `last_event_id`; without one, start with what comes next."""
        if last_event_id is not None:
            self._floor = last_event_id
            return
        # What exists now is old, but ids of the last moments may still be joined by
        # smaller ones committed late: those recent ids count as sent instead.
        cutoff = now() - timedelta(seconds=LATE_COMMIT_WINDOW)
        latest = await self._rows().order_by("-id").limit(PAGE).values_list("id", "created_at")
        recent = [row_id for row_id, created in latest if created >= cutoff]
        older = [row_id for row_id, created in latest if created < cutoff]
        if older:
            self._floor = max(older)
        elif len(latest) == PAGE:  # a burst: the page holds only recent rows
            self._floor = min(recent) - 1
        self._sent = dict.fromkeys(recent, time.monotonic())

    async def new(self) -> AsyncIterator[center.NotificationView]:
        """The notifications not sent yet, page by page (one query when there are few)."""
        after = self._floor
        while True:
            rows = await self._rows().filter(id__gt=after).order_by("id").limit(PAGE)
            for row in rows:
                if row.id not in self._sent:
                    self._sent[row.id] = time.monotonic()
                    yield center.view(row, self.locale)
            if len(rows) < PAGE:
                break
            after = rows[-1].id
        self._forget_old()

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - LATE_COMMIT_WINDOW
        old = [row_id for row_id, sent in self._sent.items() if sent < cutoff]
        for row_id in old:
            del self._sent[row_id]
        if old:
            self._floor = max(self._floor, *old)


# Who may stream


def reader(actor: Actor) -> int:
    """The user whose notifications `actor` may stream (read scope for application tokens)."""
    if actor.user_id is None:
        raise Unauthorized(N_("Log in to read your notifications."), code="not_logged_in")
    require_scope(actor, Scope.READ)
    return actor.user_id


async def issue_stream_ticket(actor: Actor) -> str:
    """A single-use secret opening one stream of the actor's notifications within
    `STREAM_TICKET_TTL` seconds; it stays bound to the actor's session."""
    user_id = reader(actor)
    require_person(actor.scopes)  # an application token can send headers
    if actor.session_id is None:
        raise Unauthorized(N_("Log in to read your notifications."), code="not_logged_in")
    return await issue_ticket(
        user_id, STREAM_TICKET, STREAM_TICKET_TTL, {"session": actor.session_id}
    )


async def redeem_stream_ticket(secret: str) -> Actor:
    """The actor a stream ticket was issued to; used, expired, unknown tickets and those of
    a session ended since are refused alike (401)."""
    ticket = await consume_ticket(secret, STREAM_TICKET)
    claims = Claims(
        user_id=ticket.user_id,  # type: ignore[attr-defined]
        session_id=str(ticket.data.get("session", "")) or None,
        discord_id=None,
        is_superuser=False,
        issued_at=0,
    )
    if claims.session_id is None:
        raise Unauthorized(N_("This link is invalid or has expired."), code="invalid_ticket")
    return await sessions.actor_for(claims)
