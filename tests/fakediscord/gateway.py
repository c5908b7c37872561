"""The gateway: a websocket speaking Discord's op codes to discord.py's shards."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .state import shard_of

if TYPE_CHECKING:
    from .emulator import FakeDiscord

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, REQUEST_MEMBERS = 0, 1, 2, 6, 7, 8
INVALID_SESSION, HELLO, HEARTBEAT_ACK = 9, 10, 11
HEARTBEAT_INTERVAL_MS = 41250  # what Discord sends in HELLO; FakeDiscord(heartbeat_interval=...)
# A missed heartbeat: Discord's docs say "If your app fails to send a heartbeat event in time, your
# connection will be closed and you will be forced to Resume", so the session survives and only
# the socket goes. 4009 (Session timed out) is the wrong answer: its documented meaning is
# "reconnect and start a new one", i.e. re-IDENTIFY. Discord documents no close code of its own
# for this, so we close with 4000 (unknown error, reconnect): clients treat it as resumable
# (discord.py resumes on every code but 1000 and 4004/4010-4014), and the session stays open for
# the RESUME. The grace covers the latency Discord says is already tolerated in the interval.
HEARTBEAT_GRACE = 1.5  # close after interval * grace without an op 1
HEARTBEAT_TIMEOUT_CLOSE = 4000
GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT = (
    1,
    2,
    1 << 9,
    1 << 12,
    1 << 15,
)
GUILD_SCHEDULED_EVENTS = 1 << 16
GUILD_WEBHOOKS = 1 << 5
GUILD_MODERATION = 1 << 2
# Which intent an event needs; events not listed are always sent.
EVENT_INTENTS = {
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "GUILD_SCHEDULED_EVENT_CREATE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_UPDATE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_DELETE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_USER_ADD": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_USER_REMOVE": GUILD_SCHEDULED_EVENTS,
    "WEBHOOKS_UPDATE": GUILD_WEBHOOKS,
    "GUILD_BAN_ADD": GUILD_MODERATION,
    "GUILD_BAN_REMOVE": GUILD_MODERATION,
}
for _event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE", "CHANNEL_CREATE", "CHANNEL_UPDATE"):
    EVENT_INTENTS[_event] = GUILDS
for _event in ("CHANNEL_DELETE", "GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE", "GUILD_ROLE_DELETE"):
    EVENT_INTENTS[_event] = GUILDS
for _event in ("THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE"):
    EVENT_INTENTS[_event] = GUILDS


@dataclass(eq=False)
class Session:
    """One identified shard session; it outlives its websocket so it can be resumed."""

    id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list, repr=False)
    ws: web.WebSocketResponse | None = field(default=None, repr=False)
    request: web.Request | None = field(default=None, repr=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def owns(self, guild_id: int | None) -> bool:
        return shard_of(guild_id or 0, self.shard_count) == self.shard_id

    def wants(self, event: str, data: dict[str, Any]) -> bool:
        needed = EVENT_INTENTS.get(event, 0)
        if event == "MESSAGE_CREATE":
            needed = GUILD_MESSAGES if data.get("guild_id") else DIRECT_MESSAGES
        return needed == 0 or bool(self.intents & needed)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Number the event and send it; kept for replay if the socket is down."""
        async with self.lock:
            self.seq += 1
            frame = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
            self.sent.append(frame)
            await self._send(frame)

    async def _send(self, frame: dict[str, Any]) -> None:
        if self.ws is None or self.ws.closed:
            return
        try:
            await self.ws.send_str(json.dumps(frame))
        except ConnectionError:
            log.debug("session %s lost its socket while sending %s", self.id, frame.get("t"))

    async def replay_after(self, seq: int) -> list[str]:
        async with self.lock:
            missed = [frame for frame in self.sent if frame["s"] > seq]
            for frame in missed:
                await self._send(frame)
            return [frame["t"] for frame in missed]


class Gateway:
    """Accepts shard connections and fans dispatches out to the shard that owns each guild."""

    def __init__(self, emulator: FakeDiscord) -> None:
        self.emulator = emulator
        self.sessions: dict[str, Session] = {}
        self.identifies: list[tuple[int, int]] = []  # (shard_id, shard_count) per IDENTIFY
        self.resumes: list[str] = []  # session ids, per successful RESUME
        self.replayed: list[str] = []  # event names re-sent on RESUME
        self.heartbeat_timeouts: list[str | None] = []  # session ids closed for missed heartbeats
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], int | None]] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    def start(self) -> None:
        self._pump = asyncio.create_task(self._run_pump(), name="fakediscord-gateway-pump")

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        for ws in list(self._sockets):
            await ws.close(code=1001)

    @property
    def connected_shards(self) -> set[int]:
        return {s.shard_id for s in self.sessions.values() if s.ws is not None and not s.ws.closed}

    def emit(self, event: str, data: dict[str, Any], *, guild_id: int | None = None) -> None:
        """Queue a dispatch; the pump keeps the order in which tests caused events."""
        self._queue.put_nowait((event, data, guild_id))

    async def flush(self) -> None:
        """Wait until every emitted event was handed to the sessions."""
        await self._queue.join()

    async def _run_pump(self) -> None:
        while True:
            event, data, guild_id = await self._queue.get()
            try:
                await self.dispatch(event, data, guild_id=guild_id)
            except Exception:
                log.exception("failed to dispatch %s", event)
            finally:
                self._queue.task_done()

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None = None
    ) -> None:
        for session in list(self.sessions.values()):
            if session.owns(guild_id) and session.wants(event, data):
                await session.dispatch(event, data)

    # -- faults ------------------------------------------------------------------------------

    def _targets(self, shard_id: int | None) -> list[Session]:
        return [s for s in self.sessions.values() if shard_id is None or s.shard_id == shard_id]

    def drop(self, shard_id: int | None = None) -> None:
        """Cut the TCP connection without a close frame; the session stays resumable."""
        for session in self._targets(shard_id):
            request, session.ws, session.request = session.request, None, None
            if request is not None and request.transport is not None:
                request.transport.abort()

    async def invalidate_session(self, shard_id: int | None = None) -> None:
        """Send op 9 (d=false): the client must IDENTIFY again with a new session."""
        for session in self._targets(shard_id):
            self.sessions.pop(session.id, None)
            if session.ws is not None:
                await session.ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False}))

    async def request_reconnect(self, shard_id: int | None = None) -> None:
        """Send op 7: the client must reconnect and RESUME."""
        for session in self._targets(shard_id):
            if session.ws is not None:
                await session.ws.send_str(json.dumps({"op": RECONNECT, "d": None}))

    # -- the websocket -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        interval = self.emulator.heartbeat_interval
        hello = {"heartbeat_interval": round(interval * 1000)}
        await ws.send_str(json.dumps({"op": HELLO, "d": hello}))
        connection = _Connection(self, ws, request)
        watchdog = asyncio.create_task(
            connection.watch_heartbeats(interval * HEARTBEAT_GRACE), name="fakediscord-heartbeat"
        )
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await connection.receive(json.loads(message.data))
        finally:
            watchdog.cancel()
            self._sockets.discard(ws)
            connection.detach()
        return ws


class _Connection:
    """One websocket; becomes attached to a session after IDENTIFY or RESUME."""

    def __init__(self, gateway: Gateway, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.gateway = gateway
        self.emulator = gateway.emulator
        self.ws = ws
        self.request = request
        self.session: Session | None = None
        self.last_heartbeat = asyncio.get_running_loop().time()  # HELLO starts the clock

    async def watch_heartbeats(self, allowed_silence: float) -> None:
        """Close the socket (not the session) after `allowed_silence` s without a heartbeat."""
        loop = asyncio.get_running_loop()
        while not self.ws.closed:
            left = self.last_heartbeat + allowed_silence - loop.time()
            if left > 0:
                await asyncio.sleep(left)
                continue
            session_id = self.session.id if self.session is not None else None
            log.debug("no heartbeat for %.2f s on session %s: closing", allowed_silence, session_id)
            self.gateway.heartbeat_timeouts.append(session_id)
            await self.ws.close(code=HEARTBEAT_TIMEOUT_CLOSE, message=b"Heartbeat timed out.")
            return

    def detach(self) -> None:
        if self.session is not None and self.session.ws is self.ws:
            self.session.ws = None
            self.session.request = None

    async def send(self, payload: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(payload))

    async def receive(self, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == HEARTBEAT:
            self.last_heartbeat = asyncio.get_running_loop().time()
            await self.send({"op": HEARTBEAT_ACK, "d": None})
        elif op == IDENTIFY:
            await self.identify(data)
        elif op == RESUME:
            await self.resume(data)
        elif op == REQUEST_MEMBERS:
            await self.request_members(data)
        elif op in (3, 4):  # presence and voice state updates: accepted, not emulated
            log.debug("ignoring gateway op %s", op)
        else:
            self.emulator.record_error(f"gateway: unknown op code {op} in {payload!r}")
            await self.ws.close(code=4001)

    async def identify(self, data: dict[str, Any]) -> None:
        if data.get("token") != self.emulator.token:
            await self.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard_id, shard_count = data.get("shard") or [0, 1]
        if "intents" not in data:
            await self.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        session = Session(secrets.token_hex(16), shard_id, shard_count, int(data["intents"]))
        self.gateway.identifies.append((shard_id, shard_count))
        self._attach(session)
        self.gateway.sessions[session.id] = session
        guilds = [g for g in self.emulator.guilds.values() if g.bot_present and session.owns(g.id)]
        await session.dispatch("READY", self._ready_payload(session, guilds))
        for guild in guilds:
            members = bool(session.intents & GUILD_MEMBERS)
            await session.dispatch("GUILD_CREATE", guild.gateway_payload(include_members=members))

    def _ready_payload(self, session: Session, guilds: list[Any]) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.emulator.bot_user.payload(),
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.emulator.gateway_url,
            "shard": [session.shard_id, session.shard_count],
            "application": {"id": str(self.emulator.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
        }

    def _attach(self, session: Session) -> None:
        self.session = session
        session.ws = self.ws
        session.request = self.request

    async def resume(self, data: dict[str, Any]) -> None:
        session = self.gateway.sessions.get(data.get("session_id", ""))
        if session is None or data.get("token") != self.emulator.token:
            await self.send({"op": INVALID_SESSION, "d": False})
            return
        self._attach(session)
        missed = await session.replay_after(int(data.get("seq") or 0))
        self.gateway.resumes.append(session.id)
        self.gateway.replayed += missed
        log.debug("session %s resumed, replayed %s", session.id, missed)
        await session.dispatch("RESUMED", {})

    async def request_members(self, data: dict[str, Any]) -> None:
        guild = self.emulator.guilds.get(int(data["guild_id"]))
        if guild is None or self.session is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(user_id) for user_id in data["user_ids"]}
            members = [member for member in members if member.user.id in wanted]
        elif data.get("query"):
            members = [m for m in members if m.user.name.lower().startswith(data["query"].lower())]
        limit = data.get("limit") or 0
        chunk = {
            "guild_id": str(guild.id),
            "members": [member.payload() for member in members[: limit or None]],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self.session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
