"""The emulated Discord world: users, guilds, channels, roles, members, messages, commands."""

from __future__ import annotations

import copy
import datetime
import itertools
import logging
import secrets
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
IS_COMPONENTS_V2 = 1 << 15
CROSSPOSTED = 1 << 0  # message flag
REQUIRE_TAG = 1 << 4  # channel flag of forum and media channels
PINNED_THREAD = 1 << 1  # channel flag of a forum post
ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD = 10, 11, 12
THREAD_ONLY_TYPES = (15, 16)  # forum and media channels hold posts, never plain messages
EVENT_SCHEDULED, EVENT_ACTIVE, EVENT_COMPLETED, EVENT_CANCELED = 1, 2, 3, 4
EXTERNAL_EVENT = 3
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
    webhook: bool = False  # the author of a webhook's messages (its id is the webhook's)

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0000" if self.webhook else "0",
            "global_name": None if self.webhook else self.name,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "primary_guild": None,
        }

    def private_payload(self) -> dict[str, Any]:
        """The user as /users/@me shows them to themselves (their own settings included)."""
        return {**self.payload(), "mfa_enabled": False, "locale": self.locale}

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

    async def create_post(
        self, forum: Channel, title: str, content: str, *, tags: Iterable[str] = ()
    ) -> Thread:
        """Open a post in a forum channel, tags by name (THREAD_CREATE, then MESSAGE_CREATE)."""
        assert forum.guild is not None, "not a guild channel"
        assert forum.type in THREAD_ONLY_TYPES, "not a forum channel"
        thread = forum.guild.create_post(
            forum, title, author=self, body={"content": content}, applied_tags=forum.tag_ids(tags)
        )
        await self.emulator.gateway.flush()
        return thread

    def mark_interested(self, event: dict[str, Any]) -> None:
        """Click "Interested" on a scheduled event (GUILD_SCHEDULED_EVENT_USER_ADD)."""
        self.emulator.guilds[int(event["guild_id"])].mark_interested(event, self)

    def unmark_interested(self, event: dict[str, Any]) -> None:
        """Take the interest back (GUILD_SCHEDULED_EVENT_USER_REMOVE)."""
        self.emulator.guilds[int(event["guild_id"])].unmark_interested(event, self)


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
    created: float = field(default_factory=time.monotonic, repr=False)  # for the nonce window

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def crossposted(self) -> bool:
        return bool(self.flags & CROSSPOSTED)

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
        self.check_edit(body)
        for key in ("content", "embeds", "components", "attachments"):
            if key in body:
                setattr(
                    self,
                    key,
                    body[key] if body[key] is not None else ([] if key != "content" else ""),
                )
        if body.get("flags") is not None:
            # Visibility is fixed when a message is created (or deferred): an edit keeps it.
            self.flags = (self.flags & EPHEMERAL) | (int(body["flags"]) & ~EPHEMERAL)
        self.flags &= ~LOADING
        self.edited_timestamp = iso_now()
        self.edits += 1

    def check_edit(self, body: dict[str, Any]) -> None:
        """Rules only the message can tell: IS_COMPONENTS_V2 stays once set, and an edit that
        sends no flags keeps the message's (so V2 forbids content, legacy takes only rows)."""
        from .rules import check_layout  # rules -> this module
        from .server import invalid_form  # server -> rules -> this module
        from .spec import Violation

        flags = body.get("flags")
        if flags is None:
            violations = check_layout(body, self.flags)
        elif self.flags & IS_COMPONENTS_V2 and not int(flags) & IS_COMPONENTS_V2:
            violations = [Violation("$.flags", "the IS_COMPONENTS_V2 flag cannot be removed")]
        else:
            violations = []  # the request's own flags: the server checked the body with them
        if violations:
            raise invalid_form(violations, where=f"editing message {self.id}")

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
            "components": with_component_ids(self.components),
        }
        if self.reactions:
            data["reactions"] = [
                {
                    "emoji": {"id": None, "name": emoji},
                    "count": 1,
                    "count_details": {"burst": 0, "normal": 1},
                    "burst_colors": [],
                    "me_burst": False,
                    "me": True,
                }
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
        if self.author.webhook:
            data["webhook_id"] = str(self.author.id)
        thread = self.channel.guild.threads.get(self.id) if self.channel.guild else None
        if thread is not None and thread.parent is self.channel:  # a thread started from it
            data["thread"] = thread.payload()
        return data


def parse_time(value: str) -> datetime.datetime:
    """An ISO 8601 timestamp as an aware datetime (naive ones are UTC)."""
    moment = datetime.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def next_event_status(event: dict[str, Any], now: datetime.datetime) -> int | None:
    """The status Discord's automation moves a scheduled event to by `now`, one step, or None."""
    status, end = event["status"], event.get("scheduled_end_time")
    started = parse_time(event["scheduled_start_time"]) <= now
    if status == EVENT_SCHEDULED and event.get("entity_type") == EXTERNAL_EVENT and started:
        return EVENT_ACTIVE
    if status == EVENT_ACTIVE and end and parse_time(end) <= now:
        return EVENT_COMPLETED
    return None


def with_component_ids(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy in which every component has an `id`, as Discord numbers them: 1, 2, ... in
    depth-first order, skipping the ids the bot chose itself."""
    copied = copy.deepcopy(components)
    taken = {item["id"] for item in walk_components(copied) if item.get("id") is not None}
    counter = itertools.count(1)
    for item in walk_components(copied):
        if item.get("id") is None:
            item["id"] = next(number for number in counter if number not in taken)
    return copied


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
    flags: int = 0  # REQUIRE_TAG on forums, PINNED_THREAD on posts
    # Forum tags as Discord sends them: id, name, moderated, emoji_id, emoji_name.
    available_tags: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def threads(self) -> list[Thread]:
        """Threads (forum posts) started in this channel, oldest first, archived ones too."""
        if self.guild is None:
            return []
        return [thread for thread in self.guild.threads.values() if thread.parent is self]

    def thread(self, name: str) -> Thread:
        return next(thread for thread in self.threads if thread.name == name)

    @property
    def webhooks(self) -> list[Webhook]:
        if self.guild is None:
            return []
        return [hook for hook in self.guild.webhooks.values() if hook.channel is self]

    def tag(self, name: str) -> dict[str, Any]:
        """A forum tag by name, e.g. to pass its id to the bot."""
        return next(tag for tag in self.available_tags if tag["name"] == name)

    def tag_ids(self, names: Iterable[str]) -> list[int]:
        return [int(self.tag(name)["id"]) for name in names]

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
            "flags": self.flags,
        }
        if self.recipient is not None:
            return {**data, "recipients": [self.recipient.payload()]}
        data = {
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
        if self.type in THREAD_ONLY_TYPES:
            newest = max((thread.id for thread in self.threads), default=None)
            data["last_message_id"] = str(newest) if newest else None  # the newest post
            data.update(
                available_tags=self.available_tags,
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                default_thread_rate_limit_per_user=0,
            )
        return data

    def set_tags(self, tags: Iterable[str | dict[str, Any]]) -> None:
        """Replace the forum's tags: names, or dicts with name, moderated, emoji_name, id."""
        self.available_tags = [self._tag(tag) for tag in tags]

    def _tag(self, tag: str | dict[str, Any]) -> dict[str, Any]:
        spec = {"name": tag} if isinstance(tag, str) else tag
        tag_id = spec.get("id") or self.emulator.snowflakes.next()
        return {
            "id": str(tag_id),
            "name": spec["name"],
            "moderated": bool(spec.get("moderated")),
            "emoji_id": str(spec["emoji_id"]) if spec.get("emoji_id") else None,
            "emoji_name": spec.get("emoji_name") or spec.get("emoji"),
        }


@dataclass(eq=False)
class Thread(Channel):
    """A forum post, or a thread in a text or announcement channel (kept in `guild.threads`)."""

    parent: Channel | None = field(default=None, repr=False)
    owner_id: int = 0
    archived: bool = False
    locked: bool = False
    applied_tags: list[int] = field(default_factory=list)
    auto_archive_duration: int = 1440
    invitable: bool = True
    created_at: str = field(default_factory=iso_now)
    archive_timestamp: str = field(default_factory=iso_now)

    @property
    def starter_message(self) -> Message | None:
        """A post's first message, or the message a thread was started from (same id)."""
        own = self.message(self.id)
        if own is None and self.parent is not None:
            return self.parent.message(self.id)
        return own

    @property
    def tag_names(self) -> list[str]:
        tags = self.parent.available_tags if self.parent is not None else []
        names = {int(tag["id"]): tag["name"] for tag in tags}
        return [names.get(tag_id, str(tag_id)) for tag_id in self.applied_tags]

    def payload(self) -> dict[str, Any]:
        assert self.guild is not None
        assert self.parent is not None
        # Counts leave out a post's first message, as Discord's do.
        sent = [message for message in self.messages if message.id != self.id]
        authors = {self.owner_id, *(m.author.id for m in self.messages if not m.author.webhook)}
        metadata: dict[str, Any] = {
            "archived": self.archived,
            "archive_timestamp": self.archive_timestamp,
            "auto_archive_duration": self.auto_archive_duration,
            "locked": self.locked,
            "create_timestamp": self.created_at,
        }
        if self.type == PRIVATE_THREAD:
            metadata["invitable"] = self.invitable
        last = self.messages[-1].id if self.messages else None
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild.id),
            "parent_id": str(self.parent.id),
            "owner_id": str(self.owner_id),
            "name": self.name,
            "last_message_id": str(last) if last else None,
            "flags": self.flags,
            "rate_limit_per_user": 0,
            "message_count": sum(1 for message in sent if not message.deleted),
            "total_message_sent": len(sent),
            "member_count": min(len(authors), 50),  # Discord stops counting at 50
            "thread_metadata": metadata,
        }
        if self.parent.type in THREAD_ONLY_TYPES:
            data["applied_tags"] = [str(tag_id) for tag_id in self.applied_tags]
        return data

    def update(self, **changes: Any) -> None:
        """Change the thread as a moderator would (dispatches THREAD_UPDATE)."""
        archiving = "archived" in changes and changes["archived"] != self.archived
        if archiving or "auto_archive_duration" in changes:
            self.archive_timestamp = iso_now()
        if changes.get("archived"):
            self.flags &= ~PINNED_THREAD  # archiving unpins a post
        for key, value in changes.items():
            setattr(self, key, value)
        assert self.guild is not None
        self.guild.emit("THREAD_UPDATE", self.payload())


@dataclass(eq=False)
class Webhook:
    """A channel webhook ("incoming", type 1); its messages come from `author()`."""

    channel: Channel = field(repr=False)
    id: int
    name: str
    creator: User | None = field(default=None, repr=False)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    avatar: str | None = None
    sent: list[Message] = field(default_factory=list, repr=False)

    @property
    def guild(self) -> Guild:
        assert self.channel.guild is not None
        return self.channel.guild

    @property
    def messages(self) -> list[Message]:
        """What the webhook posted and is still visible, in its channel and in threads."""
        return [message for message in self.sent if not message.deleted]

    def author(self, username: str | None = None) -> User:
        """The pseudo user a webhook message shows: the webhook's id, a per-message name."""
        return User(self.channel.emulator, self.id, username or self.name, bot=True, webhook=True)

    def payload(self, *, with_user: bool = True) -> dict[str, Any]:
        """The webhook object; with the token in the path Discord leaves out `user`."""
        base = self.channel.emulator.api_base
        data: dict[str, Any] = {
            "application_id": None,
            "avatar": self.avatar,
            "channel_id": str(self.channel.id),
            "guild_id": str(self.guild.id),
            "id": str(self.id),
            "name": self.name,
            "type": 1,
            "token": self.token,
            "url": f"{base}/webhooks/{self.id}/{self.token}",
        }
        if with_user and self.creator is not None:
            data["user"] = self.creator.payload()
        return data


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
    threads: dict[int, Thread] = field(default_factory=dict, repr=False)
    webhooks: dict[int, Webhook] = field(default_factory=dict, repr=False)
    # Scheduled event id -> the users marked "Interested", by user id.
    event_users: dict[int, dict[int, User]] = field(default_factory=dict, repr=False)
    # Banned users by id -> the ban's reason.
    bans: dict[int, str | None] = field(default_factory=dict, repr=False)

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

    def ban(self, user: User, *, reason: str | None = None) -> None:
        """A moderator bans the user (GUILD_BAN_ADD); a member is removed from the guild too."""
        self.bans[user.id] = reason
        self.emit("GUILD_BAN_ADD", {"guild_id": str(self.id), "user": user.payload()})
        if user.id in self.members:
            self.remove_member(user)

    def unban(self, user: User) -> None:
        """A moderator lifts the user's ban (GUILD_BAN_REMOVE)."""
        self.bans.pop(user.id, None)
        self.emit("GUILD_BAN_REMOVE", {"guild_id": str(self.id), "user": user.payload()})

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

    def create_channel(
        self,
        name: str,
        *,
        type: int = 0,
        tags: Iterable[str | dict[str, Any]] = (),
        **extra: Any,
    ) -> Channel:
        """Create a channel (dispatches CHANNEL_CREATE).

        A forum is `type=15`, its `tags` names or dicts (name, moderated, emoji_name), and
        `flags=REQUIRE_TAG` makes posts without a tag fail.
        """
        channel = Channel(
            self.emulator,
            self.emulator.snowflakes.next(),
            name,
            type,
            self,
            len(self.channels),
            **extra,
        )
        channel.set_tags(tags)
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

    # -- threads and forum posts ----------------------------------------------------------------

    def thread(self, name: str) -> Thread:
        return next(thread for thread in self.threads.values() if thread.name == name)

    def start_thread(
        self,
        parent: Channel,
        name: str,
        *,
        owner: User,
        type: int = PUBLIC_THREAD,
        thread_id: int | None = None,
        applied_tags: Iterable[int] = (),
        auto_archive_duration: int = 1440,
    ) -> Thread:
        """Open a thread in `parent` (dispatches THREAD_CREATE with `newly_created`)."""
        thread = Thread(
            self.emulator,
            thread_id or self.emulator.snowflakes.next(),
            name,
            type,
            self,
            parent=parent,
            owner_id=owner.id,
            applied_tags=list(applied_tags),
            auto_archive_duration=auto_archive_duration,
        )
        self.threads[thread.id] = thread
        self.emulator.channels[thread.id] = thread
        self.emit("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return thread

    def create_post(
        self,
        forum: Channel,
        name: str,
        *,
        author: User,
        body: dict[str, Any],
        files: Iterable[dict[str, Any]] = (),
        applied_tags: Iterable[int] = (),
        auto_archive_duration: int = 1440,
    ) -> Thread:
        """A forum post: a thread whose first message has the thread's id (THREAD_CREATE and
        MESSAGE_CREATE). Rules (tags, empty messages) are the caller's to check."""
        thread = self.start_thread(
            forum,
            name,
            owner=author,
            applied_tags=applied_tags,
            auto_archive_duration=auto_archive_duration,
        )
        message = Message(
            thread,
            thread.id,
            author,
            content=body.get("content") or "",
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=int(body.get("flags") or 0),
            attachments=[self.emulator._attachment(file) for file in files],
        )
        thread.messages.append(message)
        self.emit("MESSAGE_CREATE", self.emulator._event_payload(message))
        return thread

    def delete_thread(self, thread: Thread) -> None:
        """Delete a thread and its messages (dispatches THREAD_DELETE)."""
        self.threads.pop(thread.id, None)
        self.emulator.channels.pop(thread.id, None)
        assert thread.parent is not None
        data = {"id": str(thread.id), "guild_id": str(self.id), "type": thread.type}
        self.emit("THREAD_DELETE", {**data, "parent_id": str(thread.parent.id)})

    # -- webhooks -------------------------------------------------------------------------------

    def create_webhook(
        self, channel: Channel, name: str, *, creator: User | None = None
    ) -> Webhook:
        """A channel webhook, e.g. one an admin made by hand (dispatches WEBHOOKS_UPDATE)."""
        hook = Webhook(channel, self.emulator.snowflakes.next(), name, creator)
        self.webhooks[hook.id] = hook
        self.emit_webhooks_update(channel)
        return hook

    def emit_webhooks_update(self, channel: Channel) -> None:
        self.emit("WEBHOOKS_UPDATE", {"guild_id": str(self.id), "channel_id": str(channel.id)})

    # -- scheduled events -----------------------------------------------------------------------

    def scheduled_event(self, name: str) -> dict[str, Any]:
        return next(event for event in self.scheduled_events.values() if event["name"] == name)

    def interested_users(self, event: dict[str, Any]) -> list[User]:
        """Users marked "Interested", by ascending id (the order Discord lists them in)."""
        users = self.event_users.get(int(event["id"]), {})
        return sorted(users.values(), key=lambda user: user.id)

    def event_payload(
        self, event: dict[str, Any], *, with_user_count: bool = False
    ) -> dict[str, Any]:
        """The event as Discord returns it; `user_count` only when asked for."""
        data = dict(event)
        if with_user_count:
            data["user_count"] = len(self.event_users.get(int(event["id"]), {}))
        return data

    def mark_interested(self, event: dict[str, Any], user: User) -> None:
        """`user` marks the event "Interested" (GUILD_SCHEDULED_EVENT_USER_ADD)."""
        if self.member(user) is None:
            raise ValueError(f"{user.name} is not a member of {self.name}")
        if event["status"] in (EVENT_COMPLETED, EVENT_CANCELED):
            raise ValueError(f"event {event['name']!r} is over (status {event['status']})")
        users = self.event_users.setdefault(int(event["id"]), {})
        if user.id not in users:
            users[user.id] = user
            self.emit("GUILD_SCHEDULED_EVENT_USER_ADD", self._event_user(event, user))

    def unmark_interested(self, event: dict[str, Any], user: User) -> None:
        """`user` takes the interest back (GUILD_SCHEDULED_EVENT_USER_REMOVE)."""
        if self.event_users.get(int(event["id"]), {}).pop(user.id, None) is not None:
            self.emit("GUILD_SCHEDULED_EVENT_USER_REMOVE", self._event_user(event, user))

    def _event_user(self, event: dict[str, Any], user: User) -> dict[str, Any]:
        return {
            "guild_scheduled_event_id": event["id"],
            "user_id": str(user.id),
            "guild_id": str(self.id),
        }

    def advance_events(self, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
        """Move events on as Discord's clock does: an external event becomes ACTIVE at its start
        time, an active event with an end time COMPLETED at its end. Each step dispatches
        GUILD_SCHEDULED_EVENT_UPDATE. Returns the events that changed.

        The REST reads of events call this with the real time; tests pass `now` to jump ahead.
        """
        now = now or datetime.datetime.now(datetime.UTC)
        changed: list[dict[str, Any]] = []
        for event in self.scheduled_events.values():
            while (status := next_event_status(event, now)) is not None:
                event["status"] = status
                self.emit("GUILD_SCHEDULED_EVENT_UPDATE", self.event_payload(event))
                if event not in changed:
                    changed.append(event)
        return changed

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
            # Required by Discord's GuildResponse schema, though discord.py ignores them.
            "home_header": None,
            "region": "deprecated",
            "widget_enabled": False,
            "widget_channel_id": None,
            "max_presences": None,
            "max_stage_video_channel_users": 50,
            "max_video_channel_users": 25,
            "nsfw": False,
            "incidents_data": None,
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
            # Active threads only, as Discord syncs them; archived ones must be fetched.
            "threads": [t.payload() for t in self.threads.values() if not t.archived],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [
                self.event_payload(event, with_user_count=True)
                for event in self.scheduled_events.values()
            ],
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
