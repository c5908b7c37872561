"""FakeDiscord: the emulator's facade that tests build worlds and assert with."""

# The scenario API takes `timeout=` on purpose: it is the deadline of the assertion.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .faults import Fault
from .gateway import Gateway
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
    ) -> None:
        self.token = token
        self.interaction_timeout = interaction_timeout
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
        if body.get("enforce_nonce") and body.get("nonce") is not None:
            for message in channel.messages:
                if message.nonce == body["nonce"] and message.author is self.bot_user:
                    return message
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

    def take_errors(self) -> list[str]:
        """Return and forget the recorded errors (for tests that provoke them on purpose)."""
        errors, self.errors = self.errors, []
        return errors

    def assert_no_errors(self) -> None:
        if self.errors:
            raise EmulatorError(
                "the bot did things Discord would reject:\n  " + "\n  ".join(self.errors)
            )

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


def _guild_id(channel: Channel) -> int | None:
    return channel.guild.id if channel.guild is not None else None
