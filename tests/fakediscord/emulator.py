"""FakeDiscord: the emulator's facade that tests build worlds and assert with."""

# The scenario API takes `timeout=` on purpose: it is the deadline of the assertion.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .faults import Fault
from .gateway import HEARTBEAT_INTERVAL_MS, Gateway
from .ratelimits import RateLimiter, RateLimits
from .routes.oauth2 import OAuth2
from .scenario import Interaction, InteractionDriver
from .server import API_PREFIX, DiscordError, RecordedRequest, create_app
from .spec import OpenAPISpec
from .state import (
    ADMINISTRATOR,
    DEFAULT_EVERYONE_PERMISSIONS,
    EPHEMERAL,
    LOCALES,
    Channel,
    CommandRegistry,
    Guild,
    Member,
    Message,
    Role,
    Snowflakes,
    User,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
# Where the bot's errors end up when a handler swallows them: discord.py and the project.
CAPTURED_LOGGERS = ("discord", "bot", "cogs", "web")
# discord.py logs its own reconnects at ERROR; that is recovery, not a swallowed error.
BENIGN_LOG_ERRORS = ("Attempting a reconnect",)
SETTLE_SECONDS = 0.05
NONCE_WINDOW = 120.0  # seconds during which enforce_nonce deduplicates, like Discord's few minutes


class EmulatorError(AssertionError):
    """The bot did something real Discord would reject (or the test misused the emulator)."""


class FakeDiscord:
    """A local Discord (REST v10 + gateway) on 127.0.0.1 for the unmodified discord.py client."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        bot_name: str = "Drivers Hub",
        interaction_timeout: float = 3.0,
        recommended_shards: int = 1,
        spec_path: Path | None = None,
        rate_limits: RateLimits | None = None,
        heartbeat_interval: float = HEARTBEAT_INTERVAL_MS / 1000,
    ) -> None:
        self.token = token
        self.interaction_timeout = interaction_timeout
        # Real buckets and the global limit, with windows scaled down (see ratelimits.py).
        self.rate_limiter = RateLimiter(rate_limits)
        # Seconds; sent in HELLO, and a connection silent for longer (plus grace) is closed.
        self.heartbeat_interval = heartbeat_interval
        self.recommended_shards = recommended_shards
        self.spec = OpenAPISpec.load(spec_path)
        self.snowflakes = Snowflakes()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.dm_channels: dict[int, Channel] = {}
        self.commands = CommandRegistry()
        self.faults: list[Fault] = []
        self.errors: list[str] = []
        self.requests: list[RecordedRequest] = []
        self.owner_user: User | None = None
        self.bot_user = self.user(bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.gateway = Gateway(self)
        self.interactions = InteractionDriver(self)
        self.oauth2 = OAuth2()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(create_app(self), handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.gateway.start()
        log.info("fake Discord listening on %s", self.base_url)

    async def close(self) -> None:
        await self.gateway.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def authorize_url(self) -> str:
        """The OAuth2 consent page (discord.com/oauth2/authorize)."""
        return f"{self.base_url}/oauth2/authorize"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- building the world ---------------------------------------------------------------------

    def user(
        self, name: str, *, locale: str = "en-US", bot: bool = False, accepts_dms: bool = True
    ) -> User:
        if locale not in LOCALES:
            raise ValueError(f"{locale!r} is not a Discord locale ({sorted(LOCALES)})")
        user = User(self, self.snowflakes.next(), name, locale, bot, accepts_dms)
        self.users[user.id] = user
        return user

    def guild(
        self,
        name: str,
        *,
        owner: User | None = None,
        locale: str = "en-US",
        bot_permissions: int = ADMINISTRATOR,
        channels: tuple[str, ...] = ("general",),
        shard: tuple[int, int] | None = None,
    ) -> Guild:
        """A guild with @everyone, the bot's managed role (on top), the owner and channels."""
        owner = owner or self.user(f"{name} owner")
        guild_id = self.snowflakes.next_on_shard(*shard) if shard else self.snowflakes.next()
        guild = Guild(self, guild_id, name, owner.id, locale)
        guild.roles[guild.id] = Role(guild, guild.id, "@everyone", DEFAULT_EVERYONE_PERMISSIONS, 0)
        bot_role = Role(
            guild, self.snowflakes.next(), self.bot_user.name, bot_permissions, 100, managed=True
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[owner.id] = Member(guild, owner)
        guild.members[self.bot_user.id] = Member(guild, self.bot_user, [bot_role.id])
        for channel_name in channels:
            channel = Channel(
                self, self.snowflakes.next(), channel_name, 0, guild, len(guild.channels)
            )
            guild.channels[channel.id] = channel
            self.channels[channel.id] = channel
        self.guilds[guild.id] = guild
        self.owner_user = self.owner_user or owner
        self.gateway.emit(
            "GUILD_CREATE", guild.gateway_payload(include_members=True), guild_id=guild.id
        )
        return guild

    def member(self, guild: Guild, user: User) -> Member:
        member = guild.member(user)
        if member is None:
            raise EmulatorError(f"{user.name} is not a member of {guild.name}")
        return member

    def dm_channel(self, user: User) -> Channel:
        if user.id not in self.dm_channels:
            channel = Channel(self, self.snowflakes.next(), f"dm-{user.name}", 1, recipient=user)
            self.dm_channels[user.id] = channel
            self.channels[channel.id] = channel
        return self.dm_channels[user.id]

    def dms(self, user: User) -> list[Message]:
        """Messages the bot sent to the user in DMs."""
        channel = self.dm_channels.get(user.id)
        return [m for m in channel.visible_messages if m.author is self.bot_user] if channel else []

    def remove_bot_from(self, guild: Guild) -> None:
        """The bot is kicked or leaves (GUILD_DELETE without `unavailable`)."""
        guild.bot_present = False
        self.gateway.emit("GUILD_DELETE", {"id": str(guild.id)}, guild_id=guild.id)

    def add_bot_to(self, guild: Guild) -> None:
        guild.bot_present = True
        self.gateway.emit(
            "GUILD_CREATE", guild.gateway_payload(include_members=True), guild_id=guild.id
        )

    # -- messages -------------------------------------------------------------------------------

    def create_message(
        self,
        channel: Channel,
        body: dict[str, Any],
        files: list[dict[str, Any]],
        *,
        author: User | None = None,
        flags: int | None = None,
        type: int = 0,
        interaction: Interaction | None = None,
    ) -> Message:
        message = Message(
            channel,
            self.snowflakes.next(),
            author or self.bot_user,
            content=body.get("content") or "",
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=int(body.get("flags") or 0) if flags is None else flags,
            type=type,
            nonce=body.get("nonce"),
            reference=body.get("message_reference"),
            attachments=[self._attachment(file) for file in files],
        )
        if interaction is not None:
            message.interaction_id, message.application_id = interaction.id, self.application_id
        channel.messages.append(message)
        if not message.flags & EPHEMERAL:
            self.gateway.emit(
                "MESSAGE_CREATE", self._event_payload(message), guild_id=_guild_id(channel)
            )
        return message

    def _attachment(self, file: dict[str, Any]) -> dict[str, Any]:
        attachment_id = self.snowflakes.next()
        url = f"{self.base_url}/attachments/{attachment_id}/{file['filename']}"
        return {
            "id": str(attachment_id),
            "filename": file["filename"],
            "size": file["size"],
            "url": url,
            "proxy_url": url,
        }

    def _event_payload(self, message: Message) -> dict[str, Any]:
        payload = message.payload()
        member = message.channel.guild.member(message.author) if message.channel.guild else None
        if member is not None:
            payload["member"] = member.payload(with_user=False)
        return payload

    def send_bot_message(
        self, channel: Channel, body: dict[str, Any], files: list[dict[str, Any]]
    ) -> Message:
        """POST /channels/{id}/messages: Discord's emptiness and nonce rules, then store."""
        if (
            not any(
                body.get(key) for key in ("content", "embeds", "components", "sticker_ids", "poll")
            )
            and not files
        ):
            raise DiscordError(400, 50006, "Cannot send an empty message", record=True)
        nonce = body.get("nonce")
        if body.get("enforce_nonce") and nonce is not None:
            # Discord deduplicates only within its window, and its answer for a duplicate
            # whose message is gone is the deleted message's 404. Nonces are ints or strings.
            horizon = time.monotonic() - NONCE_WINDOW
            earlier = next(
                (
                    message
                    for message in reversed(channel.messages)
                    if message.author is self.bot_user
                    and message.nonce is not None
                    and str(message.nonce) == str(nonce)
                    and message.created >= horizon
                ),
                None,
            )
            if earlier is not None and earlier.deleted:
                raise DiscordError(404, 10008, "Unknown Message")
            if earlier is not None:
                return earlier
        return self.create_message(channel, body, files)

    def emit_message_update(self, message: Message) -> None:
        if not message.ephemeral:
            self.gateway.emit(
                "MESSAGE_UPDATE", self._event_payload(message), guild_id=_guild_id(message.channel)
            )

    def delete_message(self, message: Message) -> None:
        message.deleted = True
        data = {"id": str(message.id), "channel_id": str(message.channel.id)}
        if message.channel.guild is not None:
            data["guild_id"] = str(message.channel.guild.id)
        if not message.ephemeral:
            self.gateway.emit("MESSAGE_DELETE", data, guild_id=_guild_id(message.channel))

    async def post_user_message(self, user: User, channel: Channel, content: str) -> Message:
        message = self.create_message(channel, {"content": content}, [], author=user)
        await self.gateway.flush()
        return message

    # -- waiting and asserting ------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], T | Awaitable[T]],
        timeout: float = 5.0,
        message: str = "condition",
    ) -> T:
        """Poll `predicate` until it returns something truthy; fail with `message` on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            if time.monotonic() > deadline:
                errors = f"; emulator errors: {self.errors}" if self.errors else ""
                raise TimeoutError(f"timed out after {timeout} s waiting for: {message}{errors}")
            await asyncio.sleep(0.01)

    async def expect_dm(self, user: User, *, contains: str = "", timeout: float = 5.0) -> Message:
        """Wait for a DM from the bot to `user` whose text contains `contains`."""

        def find() -> Message | None:
            return next((m for m in reversed(self.dms(user)) if contains in m.text), None)

        return await self.wait_for(find, timeout, f"a DM to {user.name} containing {contains!r}")

    async def expect_message(
        self, channel: Channel, *, contains: str = "", timeout: float = 5.0
    ) -> Message:
        """Wait for a visible bot message in `channel` whose text contains `contains`."""

        def find() -> Message | None:
            candidates = [m for m in channel.visible_messages if m.author is self.bot_user]
            return next((m for m in reversed(candidates) if contains in m.text), None)

        return await self.wait_for(
            find, timeout, f"a message in #{channel.name} containing {contains!r}"
        )

    def record_error(self, error: str) -> None:
        log.error("fakediscord: %s", error)
        self.errors.append(error)

    def unanswered(self) -> list[str]:
        """Interactions the bot never answered (a user would see "interaction failed")."""
        return [
            f"{interaction.describe()} was never answered"
            for interaction in self.interactions.by_id.values()
            if interaction.response_type is None and not interaction.excused
        ]

    def take_errors(self) -> list[str]:
        """Return and forget everything the teardown would fail on: rejected requests, errors
        the bot only logged, and interactions it has not answered (for tests that provoke them
        on purpose; assert on the result)."""
        unanswered = self.unanswered()
        for interaction in self.interactions.by_id.values():
            interaction.excused = interaction.excused or interaction.response_type is None
        errors, self.errors = self.errors, []
        return errors + unanswered

    def assert_no_errors(self) -> None:
        problems = self.errors + self.unanswered()
        if problems:
            raise EmulatorError(
                "the bot did things Discord would reject, or swallowed errors:\n  "
                + "\n  ".join(problems)
            )

    @contextlib.contextmanager
    def capturing_log_errors(self, loggers: Iterable[str] = CAPTURED_LOGGERS) -> Iterator[None]:
        """Record every ERROR the bot logs (discord.py only logs exceptions in views, modals,
        dynamic items and the command tree), so a swallowed error fails the test."""
        handler = LogErrorHandler(self)
        targets = [logging.getLogger(name) for name in loggers]
        for logger in targets:
            logger.addHandler(handler)
        try:
            yield
        finally:
            for logger in targets:
                logger.removeHandler(handler)

    async def settle(self) -> None:
        """Let the bot finish what it was doing (a callback may still raise after answering)."""
        await self.gateway.flush()
        if self.interactions.by_id:
            await asyncio.sleep(SETTLE_SECONDS)

    def requests_to(self, pattern: str) -> list[RecordedRequest]:
        """Requests whose method and route match, e.g. "POST /channels/{channel_id}/messages"."""
        probe = Fault(pattern, "probe", times=None)
        return [r for r in self.requests if probe.matches(r.method, r.template, r.path)]

    # -- faults ---------------------------------------------------------------------------------

    def rate_limit(
        self, pattern: str, *, times: int = 1, retry_after: float = 0.1, global_: bool = False
    ) -> Fault:
        """Answer matching requests with 429 (per-route bucket, or global) `times` times."""
        kind = "global_rate_limit" if global_ else "rate_limit"
        return self._add_fault(Fault(pattern, kind, times=times, seconds=retry_after))

    def fail(self, pattern: str, *, status: int = 500, times: int = 1) -> Fault:
        """Answer matching requests with a server error `times` times."""
        return self._add_fault(Fault(pattern, "status", times=times, status=status))

    def delay(self, pattern: str, seconds: float, *, times: int | None = None) -> Fault:
        """Make matching requests slow (forever unless `times` is given)."""
        return self._add_fault(Fault(pattern, "delay", times=times, seconds=seconds))

    def _add_fault(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def drop_gateway(self, shard: int | None = None) -> None:
        """Cut the gateway connection(s) abruptly; the client must RESUME."""
        self.gateway.drop(shard)

    async def invalidate_session(self, shard: int | None = None) -> None:
        """Send INVALID_SESSION (d=false); the client must IDENTIFY again."""
        await self.gateway.invalidate_session(shard)

    async def request_reconnect(self, shard: int | None = None) -> None:
        """Send RECONNECT (op 7); the client must reconnect and RESUME."""
        await self.gateway.request_reconnect(shard)


class LogErrorHandler(logging.Handler):
    """Turns ERROR log records into emulator errors."""

    def __init__(self, emulator: FakeDiscord) -> None:
        super().__init__(logging.ERROR)
        self.emulator = emulator

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith(BENIGN_LOG_ERRORS):
            return
        self.emulator.errors.append(describe_log_record(record))


def describe_log_record(record: logging.LogRecord) -> str:
    """One line, e.g. `discord.ui.view logged: Ignoring ... -> ValueError: boom (at x.py:3)`."""
    text = f"{record.name} logged: {record.getMessage()}"
    error = record.exc_info[1] if record.exc_info else None
    if error is None:
        return text
    text += f" -> {type(error).__name__}: {error}"
    while error.__cause__ is not None:  # CommandInvokeError wraps the handler's own error
        error = error.__cause__
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        text += f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})"
    return text


def _guild_id(channel: Channel) -> int | None:
    return channel.guild.id if channel.guild is not None else None
