"""The emulated Discord world: users, guilds, channels, roles, members, messages, commands."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import FakeDiscord
    from .scenario import Interaction

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1420070400000
ADMINISTRATOR = 1 << 3
MANAGE_ROLES = 1 << 28
ALL_PERMISSIONS = (1 << 53) - 1
DEFAULT_EVERYONE_PERMISSIONS = (
    (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31)
)  # view, send, history, use commands
EPHEMERAL = 1 << 6
LOADING = 1 << 7
LOCALES = frozenset(
    {
        *("id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu"),
        *("nl", "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru"),
        *("uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko"),
    }
)


def iso_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


class Snowflakes:
    """Snowflake ids; each id is 1 ms later so consecutive guilds spread over shards."""

    def __init__(self) -> None:
        self._ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        self._counter = 0

    def next(self) -> int:
        self._ms += 1
        self._counter = (self._counter + 1) & 0xFFF
        return (self._ms << 22) | self._counter

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        while True:
            snowflake = self.next()
            if shard_of(snowflake, shard_count) == shard_id:
                return snowflake


def shard_of(guild_id: int, shard_count: int) -> int:
    return (guild_id >> 22) % shard_count


@dataclass(eq=False)
class User:
    """A Discord user; tests act through it (`await alice.run("hub info", guild=guild)`)."""

    emulator: FakeDiscord = field(repr=False)
    id: int
    name: str
    locale: str = "en-US"
    bot: bool = False
    accepts_dms: bool = True  # False -> the bot gets 50007 Cannot send messages to this user

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.name,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
        }

    async def run(self, command: str, **kwargs: Any) -> Interaction:
        """Invoke a registered slash command, e.g. run("hub settings", guild=g, timezone="UTC")."""
        return await self.emulator.interactions.run_command(self, command, **kwargs)

    async def autocomplete(
        self, command: str, option: str, value: str, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Type into an autocomplete option and return the choices the bot offers."""
        return await self.emulator.interactions.autocomplete(self, command, option, value, **kwargs)

    async def click(
        self, message: Message | Interaction, component: str, **kwargs: Any
    ) -> Interaction:
        """Press a button (or pick `values=[...]` in a select) by label or custom_id."""
        return await self.emulator.interactions.click(self, message, component, **kwargs)

    async def submit_modal(
        self, modal_from: Interaction, values: dict[str, str] | None = None, **fields: str
    ) -> Interaction:
        """Fill in and submit the modal the bot opened, fields by custom_id or label."""
        return await self.emulator.interactions.submit_modal(
            self, modal_from, {**(values or {}), **fields}
        )

    async def say(self, channel: Channel, content: str) -> Message:
        """Post a plain message (dispatched to the bot as MESSAGE_CREATE)."""
        return await self.emulator.post_user_message(self, channel, content)


@dataclass(eq=False)
class Role:
    guild: Guild = field(repr=False)
    id: int
    name: str
    permissions: int = 0
    position: int = 1
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }

    def update(self, **changes: Any) -> None:
        """Change the role as a guild admin would (dispatches GUILD_ROLE_UPDATE)."""
        for key, value in changes.items():
            setattr(self, key, value)
        self.guild.emit(
            "GUILD_ROLE_UPDATE", {"guild_id": str(self.guild.id), "role": self.payload()}
        )


@dataclass(eq=False)
class Message:
    channel: Channel = field(repr=False)
    id: int
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    pinned: bool = False
    deleted: bool = False
    edited_timestamp: str | None = None
    timestamp: str = field(default_factory=iso_now)
    reactions: list[str] = field(default_factory=list)
    interaction_id: int | None = None
    application_id: int | None = None
    nonce: str | int | None = None
    reference: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    edits: int = 0

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def text(self) -> str:
        """Content and all embed text, for `contains` assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            parts += [(embed.get("footer") or {}).get("text") or ""]
            for item in embed.get("fields") or []:
                parts += [item.get("name") or "", item.get("value") or ""]
        parts += [item.get("content", "") for item in walk_components(self.components)]
        return "\n".join(part for part in parts if part)

    def component(self, label_or_id: str) -> dict[str, Any] | None:
        for item in walk_components(self.components):
            if label_or_id in (item.get("custom_id"), item.get("label")):
                return item
        return None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [item for item in walk_components(self.components) if item.get("type") == 2]

    def apply_edit(self, body: dict[str, Any]) -> None:
        for key in ("content", "embeds", "components", "attachments"):
            if key in body:
                setattr(
                    self,
                    key,
                    body[key] if body[key] is not None else ([] if key != "content" else ""),
                )
        if body.get("flags") is not None:
            self.flags = (self.flags & EPHEMERAL) | int(body["flags"])
        self.flags &= ~LOADING
        self.edited_timestamp = iso_now()
        self.edits += 1

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel.id),
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self.attachments,
            "embeds": [{"type": "rich", **embed} for embed in self.embeds],
            "pinned": self.pinned,
            "type": self.type,
            "flags": self.flags,
            "components": self.components,
        }
        if self.reactions:
            data["reactions"] = [
                {"emoji": {"id": None, "name": emoji}, "count": 1, "me": True}
                for emoji in self.reactions
            ]
        if self.channel.guild is not None:
            data["guild_id"] = str(self.channel.guild.id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
            data["webhook_id"] = str(self.application_id)
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.reference is not None:
            data["message_reference"] = self.reference
        return data


def walk_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component, depth first, through action rows, sections, containers and labels."""
    for item in components:
        yield item
        yield from walk_components(item.get("components") or [])
        for key in ("component", "accessory"):
            if isinstance(item.get(key), dict):
                yield from walk_components([item[key]])


@dataclass(eq=False)
class Channel:
    emulator: FakeDiscord = field(repr=False)
    id: int
    name: str
    type: int = 0  # 0 text, 1 DM, 2 voice, 4 category, 5 announcement
    guild: Guild | None = field(default=None, repr=False)
    position: int = 0
    topic: str | None = None
    recipient: User | None = None
    bot_can_view: bool = True  # False -> 50001 Missing Access
    bot_can_send: bool = True  # False -> 50013 Missing Permissions
    messages: list[Message] = field(default_factory=list, repr=False)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def visible_messages(self) -> list[Message]:
        """Messages everyone sees: not deleted, not ephemeral."""
        return [
            message for message in self.messages if not message.deleted and not message.ephemeral
        ]

    @property
    def last_message(self) -> Message | None:
        messages = self.visible_messages
        return messages[-1] if messages else None

    def message(self, message_id: int) -> Message | None:
        return next((m for m in self.messages if m.id == message_id and not m.deleted), None)

    def payload(self) -> dict[str, Any]:
        last = self.messages[-1].id if self.messages else None
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "last_message_id": str(last) if last else None,
            "flags": 0,
        }
        if self.recipient is not None:
            return {**data, "recipients": [self.recipient.payload()]}
        return {
            **data,
            "guild_id": str(self.guild.id) if self.guild else None,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": self.topic,
            "rate_limit_per_user": 0,
            "parent_id": None,
        }


@dataclass(eq=False)
class Member:
    guild: Guild = field(repr=False)
    user: User
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    @property
    def roles(self) -> list[Role]:
        return [
            self.guild.roles[role_id] for role_id in self.role_ids if role_id in self.guild.roles
        ]

    @property
    def role_names(self) -> set[str]:
        return {role.name for role in self.roles}

    @property
    def permissions(self) -> int:
        if self.guild.owner_id == self.user.id:
            return ALL_PERMISSIONS
        value = self.guild.everyone.permissions
        for role in self.roles:
            value |= role.permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    @property
    def top_position(self) -> int:
        return max((role.position for role in self.roles), default=0)

    def payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(role_id) for role_id in self.role_ids],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data

    def set_roles(self, roles: Iterable[Role | int]) -> None:
        """Change the member's roles as a guild admin would (dispatches GUILD_MEMBER_UPDATE)."""
        self.role_ids = [getattr(role, "id", role) for role in roles]
        self.guild.emit_member_update(self)

    def add_roles(self, *roles: Role) -> None:
        self.set_roles(
            [*self.role_ids, *(role.id for role in roles if role.id not in self.role_ids)]
        )

    def remove_roles(self, *roles: Role) -> None:
        removed = {role.id for role in roles}
        self.set_roles([role_id for role_id in self.role_ids if role_id not in removed])


@dataclass(eq=False)
class Guild:
    emulator: FakeDiscord = field(repr=False)
    id: int
    name: str
    owner_id: int
    preferred_locale: str = "en-US"
    bot_present: bool = True
    roles: dict[int, Role] = field(default_factory=dict, repr=False)
    channels: dict[int, Channel] = field(default_factory=dict, repr=False)
    members: dict[int, Member] = field(default_factory=dict, repr=False)
    scheduled_events: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)
    features: list[str] = field(default_factory=list)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    @property
    def text_channels(self) -> list[Channel]:
        return [channel for channel in self.channels.values() if channel.type in (0, 5)]

    @property
    def default_channel(self) -> Channel:
        return self.text_channels[0]

    def channel(self, name: str) -> Channel:
        return next(channel for channel in self.channels.values() if channel.name == name)

    def role(self, name: str) -> Role:
        return next(role for role in self.roles.values() if role.name == name)

    def member(self, user: User | int) -> Member | None:
        return self.members.get(getattr(user, "id", user))

    def emit(self, event: str, data: dict[str, Any]) -> None:
        self.emulator.gateway.emit(event, data, guild_id=self.id)

    def emit_member_update(self, member: Member) -> None:
        self.emit("GUILD_MEMBER_UPDATE", {"guild_id": str(self.id), **member.payload()})

    def add_member(
        self, user: User, *, roles: Iterable[Role] = (), nick: str | None = None
    ) -> Member:
        """A user joins the guild (dispatches GUILD_MEMBER_ADD)."""
        member = Member(self, user, [role.id for role in roles], nick)
        self.members[user.id] = member
        self.emit("GUILD_MEMBER_ADD", {"guild_id": str(self.id), **member.payload()})
        return member

    def remove_member(self, user: User) -> None:
        """A user leaves the guild (dispatches GUILD_MEMBER_REMOVE)."""
        self.members.pop(user.id, None)
        self.emit("GUILD_MEMBER_REMOVE", {"guild_id": str(self.id), "user": user.payload()})

    def create_role(
        self, name: str, *, permissions: int = 0, position: int | None = None, **extra: Any
    ) -> Role:
        """Create a role (dispatches GUILD_ROLE_CREATE). Higher position = higher in the list.

        Like Discord, a new role lands at the bottom (position 1) unless a position is given.
        """
        position = 1 if position is None else position
        for other in self.roles.values():
            if other.id != self.id and other.position >= position:
                other.position += 1
        role = Role(self, self.emulator.snowflakes.next(), name, permissions, position, **extra)
        self.roles[role.id] = role
        self.emit("GUILD_ROLE_CREATE", {"guild_id": str(self.id), "role": role.payload()})
        return role

    def delete_role(self, role: Role) -> None:
        self.roles.pop(role.id, None)
        for member in self.members.values():
            if role.id in member.role_ids:
                member.role_ids.remove(role.id)
        self.emit("GUILD_ROLE_DELETE", {"guild_id": str(self.id), "role_id": str(role.id)})

    def create_channel(self, name: str, *, type: int = 0, **extra: Any) -> Channel:
        """Create a channel (dispatches CHANNEL_CREATE)."""
        channel = Channel(
            self.emulator,
            self.emulator.snowflakes.next(),
            name,
            type,
            self,
            len(self.channels),
            **extra,
        )
        self.channels[channel.id] = channel
        self.emulator.channels[channel.id] = channel
        self.emit("CHANNEL_CREATE", channel.payload())
        return channel

    def update_channel(self, channel: Channel, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(channel, key, value)
        self.emit("CHANNEL_UPDATE", channel.payload())

    def delete_channel(self, channel: Channel) -> None:
        self.channels.pop(channel.id, None)
        self.emulator.channels.pop(channel.id, None)
        self.emit("CHANNEL_DELETE", channel.payload())

    def update(self, **changes: Any) -> None:
        """Change guild settings such as name or preferred_locale (dispatches GUILD_UPDATE)."""
        for key, value in changes.items():
            setattr(self, key, value)
        self.emit("GUILD_UPDATE", self.payload())

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [role.payload() for role in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": self.features,
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.default_channel.id) if self.text_channels else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.preferred_locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def gateway_payload(self, *, include_members: bool) -> dict[str, Any]:
        """GUILD_CREATE data; without the GUILD_MEMBERS intent only the bot's member is sent."""
        bot_id = self.emulator.bot_user.id
        members = [m for m in self.members.values() if include_members or m.user.id == bot_id]
        return {
            **self.payload(),
            "joined_at": iso_now(),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": [member.payload() for member in members],
            "channels": [channel.payload() for channel in self.channels.values()],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": list(self.scheduled_events.values()),
            "soundboard_sounds": [],
        }


@dataclass
class CommandRegistry:
    """Application commands as registered by bulk overwrite, global and per guild."""

    global_commands: list[dict[str, Any]] = field(default_factory=list)
    guild_commands: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    overwrite_calls: int = 0

    def scope(self, guild_id: int | None) -> list[dict[str, Any]]:
        return self.global_commands if guild_id is None else self.guild_commands.get(guild_id, [])

    def find(self, name: str, guild_id: int | None, kind: int = 1) -> dict[str, Any] | None:
        """Guild commands shadow global ones, as in the Discord client."""
        scopes = ([guild_id] if guild_id is not None else []) + [None]
        for scope in scopes:
            for command in self.scope(scope):
                if command["name"] == name and command.get("type", 1) == kind:
                    return command
        return None

    def names(self, guild_id: int | None = None) -> list[str]:
        return [command["name"] for command in self.scope(guild_id)]
