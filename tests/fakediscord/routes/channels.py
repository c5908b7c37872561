"""Channels, messages, pins, reactions, threads, forum posts and crossposts."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from .. import rules
from ..server import (
    BODY,
    FILES,
    DiscordError,
    emulator_of,
    invalid_form,
    json_response,
    no_content,
    not_found,
)
from ..spec import Violation
from ..state import (
    ANNOUNCEMENT_THREAD,
    CROSSPOSTED,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    REQUIRE_TAG,
    THREAD_ONLY_TYPES,
    Channel,
    Message,
    Thread,
    iso_now,
)
from .guilds import bot_member, guild_for_bot, require_permission

log = logging.getLogger(__name__)

MANAGE_CHANNELS = 1 << 4
MANAGE_MESSAGES = 1 << 13
MANAGE_THREADS = 1 << 34
ANNOUNCEMENT = 5
# The thread types each parent channel type allows ("type" of POST /channels/{id}/threads).
THREAD_KINDS = {0: (PUBLIC_THREAD, PRIVATE_THREAD), ANNOUNCEMENT: (ANNOUNCEMENT_THREAD,)}
WRONG_CHANNEL_TYPE = (50024, "Cannot execute action on this channel type")


def channel_for_bot(request: web.Request, *, sending: bool = False) -> Channel:
    """The channel in the path, if the bot can see it (and send to it)."""
    emulator = emulator_of(request)
    channel = emulator.channels.get(int(request.match_info["channel_id"]))
    if channel is None:
        raise not_found(10003, "Channel")
    parent = channel.parent if isinstance(channel, Thread) else None
    hidden = not channel.bot_can_view or (parent is not None and not parent.bot_can_view)
    if channel.guild is not None and (not channel.guild.bot_present or hidden):
        raise DiscordError(403, 50001, "Missing Access")
    if sending and channel.recipient is not None and not channel.recipient.accepts_dms:
        raise DiscordError(403, 50007, "Cannot send messages to this user")
    if sending and not channel.bot_can_send:
        raise DiscordError(403, 50013, "Missing Permissions")
    return channel


def message_in(request: web.Request, channel: Channel) -> Message:
    message = channel.message(int(request.match_info["message_id"]))
    if message is None:
        raise not_found(10008, "Message")
    return message


def own_message(request: web.Request, channel: Channel) -> Message:
    message = message_in(request, channel)
    if message.author is not emulator_of(request).bot_user:
        raise DiscordError(
            403, 50005, "Cannot edit a message authored by another user", record=True
        )
    return message


async def get_channel(request: web.Request) -> web.Response:
    return json_response(channel_for_bot(request).payload())


def bot_can(request: web.Request, channel: Channel, permission: int) -> bool:
    assert channel.guild is not None
    return bool(bot_member(request, channel.guild).permissions & permission)


def _reopen_for_message(request: web.Request, thread: Thread) -> None:
    """Sending unarchives a thread, unless a moderator locked it."""
    if thread.locked and not bot_can(request, thread, MANAGE_THREADS):
        raise DiscordError(403, 160005, "Thread is locked", record=True)
    if thread.archived and thread.locked:
        raise DiscordError(400, 50083, "Thread is archived", record=True)
    if thread.archived:
        thread.update(archived=False)


async def create_message(request: web.Request) -> web.Response:
    channel = channel_for_bot(request, sending=True)
    if channel.type in THREAD_ONLY_TYPES:
        raise DiscordError(400, 40058, "Cannot send a message in a forum channel", record=True)
    if isinstance(channel, Thread):
        _reopen_for_message(request, channel)
    emulator = emulator_of(request)
    message = emulator.send_bot_message(channel, request[BODY] or {}, request[FILES])
    return json_response(message.payload())


async def list_messages(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    messages = list(reversed(channel.visible_messages))  # newest first, like Discord
    if "before" in request.query:
        messages = [m for m in messages if m.id < int(request.query["before"])]
    if "after" in request.query:
        messages = [m for m in messages if m.id > int(request.query["after"])][::-1]
    limit = int(request.query.get("limit", 50))
    return json_response([message.payload() for message in messages[:limit]])


async def get_message(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    return json_response(message_in(request, channel).payload())


async def edit_message(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    message = own_message(request, channel)
    if isinstance(channel, Thread) and channel.archived:
        raise DiscordError(400, 50083, "Thread is archived", record=True)
    message.apply_edit(request[BODY] or {})
    emulator_of(request).emit_message_update(message)
    return json_response(message.payload())


async def delete_message(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    emulator_of(request).delete_message(message_in(request, channel))
    return no_content()


async def list_pins(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    pinned = [message for message in channel.visible_messages if message.pinned]
    return json_response([message.payload() for message in reversed(pinned)])


async def list_message_pins(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    pinned = [message for message in channel.visible_messages if message.pinned]
    items = [{"pinned_at": iso_now(), "message": message.payload()} for message in reversed(pinned)]
    return json_response({"items": items, "has_more": False})


async def pin(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    message_in(request, channel).pinned = request.method == "PUT"
    return no_content()


async def react(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    message = message_in(request, channel)
    emoji = unquote(request.match_info["emoji_name"])
    if request.method == "PUT" and emoji not in message.reactions:
        message.reactions.append(emoji)
    elif request.method == "DELETE" and emoji in message.reactions:
        message.reactions.remove(emoji)
    return no_content()


async def typing(request: web.Request) -> web.Response:
    channel_for_bot(request, sending=True)
    return no_content()


async def crosspost(request: web.Request) -> web.Response:
    """Publish an announcement to the channels following it (flag CROSSPOSTED)."""
    channel = channel_for_bot(request)
    message = message_in(request, channel)
    if channel.type != ANNOUNCEMENT:
        detail = f"(#{channel.name} is type {channel.type}; only announcement channels, type 5)"
        raise DiscordError(400, *WRONG_CHANNEL_TYPE, record=True, detail=detail)
    if message.crossposted:
        raise DiscordError(400, 40033, "This message has already been crossposted", record=True)
    own = message.author is emulator_of(request).bot_user
    if not own and not bot_can(request, channel, MANAGE_MESSAGES):
        raise DiscordError(403, 50013, "Missing Permissions")
    message.flags |= CROSSPOSTED
    emulator_of(request).emit_message_update(message)
    return json_response(message.payload())


# -- threads and forum posts ----------------------------------------------------------------------


def checked_tags(
    request: web.Request, forum: Channel, ids: Any, *, creating: bool, moderator: bool
) -> list[int]:
    """Tag ids for a post in `forum`: known tags, REQUIRE_TAG, moderated tags."""
    tag_ids = [int(tag_id) for tag_id in ids or []]
    known = {int(tag["id"]): tag for tag in forum.available_tags}
    unknown = [tag_id for tag_id in tag_ids if tag_id not in known]
    if unknown:
        problem = Violation("$.applied_tags", f"{unknown} are not tags of #{forum.name}")
        raise invalid_form([problem], where="applied_tags")
    if creating and not tag_ids and forum.flags & REQUIRE_TAG:
        message = "A tag is required to create a forum post in this channel"
        raise DiscordError(400, 40067, message, record=True, detail=f"(#{forum.name})")
    if not moderator and any(known[tag_id]["moderated"] for tag_id in tag_ids):
        detail = "(moderated tags need MANAGE_THREADS)"
        raise DiscordError(403, 50013, "Missing Permissions", record=True, detail=detail)
    return tag_ids


def check_new_message(request: web.Request, message: Any, where: str) -> dict[str, Any]:
    """A message body nested in (or sent with) another request: present, within Discord's
    limits, not empty."""
    if not isinstance(message, dict):
        problem = Violation(where, "a forum post needs its first message")
        raise invalid_form([problem], where="a forum post")
    violations = rules.check_message(message, where)
    if violations:
        raise invalid_form(violations, where="the message breaks Discord's limits")
    keys = ("content", "embeds", "components", "sticker_ids", "poll")
    if not any(message.get(key) for key in keys) and not request[FILES]:
        raise DiscordError(400, 50006, "Cannot send an empty message", record=True)
    return message


def _archive_after(body: dict[str, Any]) -> int:
    return int(body.get("auto_archive_duration") or 1440)


async def create_thread(request: web.Request) -> web.Response:
    """A forum post (thread + first message) or a thread without a message."""
    channel = channel_for_bot(request, sending=True)
    assert channel.guild is not None, "channel_for_bot lets no DM through here"
    body = request[BODY] or {}
    bot = emulator_of(request).bot_user
    if channel.type in THREAD_ONLY_TYPES:
        message = check_new_message(request, body.get("message"), "$.message")
        tags = checked_tags(
            request,
            channel,
            body.get("applied_tags"),
            creating=True,
            moderator=bot_can(request, channel, MANAGE_THREADS),
        )
        thread = channel.guild.create_post(
            channel,
            body["name"],
            author=bot,
            body=message,
            files=request[FILES],
            applied_tags=tags,
            auto_archive_duration=_archive_after(body),
        )
        first = {"message": thread.messages[0].payload()}
        return json_response({**thread.payload(), **first}, status=201)
    kind = int(body.get("type") or PRIVATE_THREAD)  # Discord's documented default
    if channel.type not in THREAD_KINDS:
        raise DiscordError(400, *WRONG_CHANNEL_TYPE, record=True, detail=f"(type {channel.type})")
    if kind not in THREAD_KINDS[channel.type]:
        problem = Violation("$.type", f"type {kind} threads cannot live in #{channel.name}")
        raise invalid_form([problem], where="the new thread")
    thread = channel.guild.start_thread(
        channel, body["name"], owner=bot, type=kind, auto_archive_duration=_archive_after(body)
    )
    return json_response(thread.payload(), status=201)


async def create_thread_from_message(request: web.Request) -> web.Response:
    channel = channel_for_bot(request, sending=True)
    message = message_in(request, channel)
    if channel.type not in THREAD_KINDS or channel.guild is None:
        raise DiscordError(400, *WRONG_CHANNEL_TYPE, record=True, detail=f"(type {channel.type})")
    if message.id in channel.guild.threads:
        message_text = "A thread has already been created for this message"
        raise DiscordError(400, 160004, message_text, record=True)
    body = request[BODY] or {}
    kind = ANNOUNCEMENT_THREAD if channel.type == ANNOUNCEMENT else PUBLIC_THREAD
    thread = channel.guild.start_thread(
        channel,
        body["name"],
        owner=emulator_of(request).bot_user,
        type=kind,
        thread_id=message.id,  # Discord gives the thread its starter message's id
        auto_archive_duration=_archive_after(body),
    )
    emulator_of(request).emit_message_update(message)  # the message now carries `thread`
    return json_response(thread.payload(), status=201)


def _thread_changes(request: web.Request, thread: Thread, body: dict[str, Any]) -> dict[str, Any]:
    """Discord's rules for editing a thread, then the changes to apply."""
    manager = bot_can(request, thread, MANAGE_THREADS)
    owner = thread.owner_id == emulator_of(request).bot_user.id
    if thread.archived and body.get("archived") is not False:
        raise DiscordError(400, 50083, "Thread is archived", record=True)
    moderating = {"locked", "rate_limit_per_user"} & body.keys()
    owning = {"name", "archived", "auto_archive_duration", "applied_tags"} & body.keys()
    forbidden = ((moderating or thread.locked) and not manager) or (
        owning and not (manager or owner)
    )
    if forbidden:
        raise DiscordError(403, 50013, "Missing Permissions", record=True, detail=str(body))
    keys = ("name", "archived", "locked", "auto_archive_duration", "invitable")
    changes: dict[str, Any] = {key: body[key] for key in keys if body.get(key) is not None}
    if body.get("flags") is not None:
        changes["flags"] = int(body["flags"])
    if body.get("applied_tags") is not None and thread.parent is not None:
        changes["applied_tags"] = checked_tags(
            request, thread.parent, body["applied_tags"], creating=False, moderator=manager
        )
    return changes


def _channel_changes(request: web.Request, channel: Channel, body: dict[str, Any]) -> None:
    """Name, topic, flags, position and forum tags of a guild channel (CHANNEL_UPDATE)."""
    assert channel.guild is not None
    require_permission(request, channel.guild, MANAGE_CHANNELS)
    nullable = {"topic"}
    keys = ("name", "topic", "flags", "position")
    changes = {k: body[k] for k in keys if k in body and (k in nullable or body[k] is not None)}
    if body.get("available_tags") is not None:
        channel.set_tags(body["available_tags"])
    channel.guild.update_channel(channel, **changes)


async def edit_channel(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    body = request[BODY] or {}
    if isinstance(channel, Thread):
        channel.update(**_thread_changes(request, channel, body))
    elif channel.guild is not None:
        _channel_changes(request, channel, body)
    else:
        raise DiscordError(400, *WRONG_CHANNEL_TYPE, record=True, detail="(a DM)")
    return json_response(channel.payload())


async def delete_channel(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    payload = channel.payload()
    guild = channel.guild
    if isinstance(channel, Thread) and guild is not None:
        require_permission(request, guild, MANAGE_THREADS)
        guild.delete_thread(channel)
    elif guild is not None:
        require_permission(request, guild, MANAGE_CHANNELS)
        for thread in channel.threads:  # they go with their channel, without events of their own
            guild.threads.pop(thread.id, None)
            emulator_of(request).channels.pop(thread.id, None)
        guild.delete_channel(channel)
    return json_response(payload)


def _threads_response(threads: list[Thread], *, has_more: bool = False) -> dict[str, Any]:
    payloads = [thread.payload() for thread in threads]
    return {"threads": payloads, "members": [], "has_more": has_more}


async def list_active_threads(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    active = [thread for thread in guild.threads.values() if not thread.archived]
    return json_response(_threads_response(active))


async def list_public_archived_threads(request: web.Request) -> web.Response:
    """Archived public threads, newest archive first, `before` an ISO timestamp."""
    channel = channel_for_bot(request)
    archived = [t for t in channel.threads if t.archived and t.type != PRIVATE_THREAD]
    archived.sort(key=lambda thread: thread.archive_timestamp, reverse=True)
    if "before" in request.query:
        archived = [t for t in archived if t.archive_timestamp < request.query["before"]]
    limit = int(request.query.get("limit", 50))
    return json_response(_threads_response(archived[:limit], has_more=len(archived) > limit))


MESSAGE = "/channels/{channel_id}/messages/{message_id}"
ROUTES = [
    ("GET", "/channels/{channel_id}", get_channel),
    ("PATCH", "/channels/{channel_id}", edit_channel),
    ("DELETE", "/channels/{channel_id}", delete_channel),
    ("POST", "/channels/{channel_id}/threads", create_thread),
    ("POST", MESSAGE + "/threads", create_thread_from_message),
    ("POST", MESSAGE + "/crosspost", crosspost),
    ("GET", "/channels/{channel_id}/threads/archived/public", list_public_archived_threads),
    ("GET", "/guilds/{guild_id}/threads/active", list_active_threads),
    ("GET", "/channels/{channel_id}/messages/pins", list_message_pins),
    ("PUT", "/channels/{channel_id}/messages/pins/{message_id}", pin),
    ("DELETE", "/channels/{channel_id}/messages/pins/{message_id}", pin),
    ("GET", "/channels/{channel_id}/pins", list_pins),
    ("PUT", "/channels/{channel_id}/pins/{message_id}", pin),
    ("DELETE", "/channels/{channel_id}/pins/{message_id}", pin),
    ("POST", "/channels/{channel_id}/messages", create_message),
    ("GET", "/channels/{channel_id}/messages", list_messages),
    ("GET", MESSAGE, get_message),
    ("PATCH", MESSAGE, edit_message),
    ("DELETE", MESSAGE, delete_message),
    ("PUT", MESSAGE + "/reactions/{emoji_name}/@me", react),
    ("DELETE", MESSAGE + "/reactions/{emoji_name}/@me", react),
    ("POST", "/channels/{channel_id}/typing", typing),
]
