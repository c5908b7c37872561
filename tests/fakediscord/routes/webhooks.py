"""Channel webhooks: management (bot auth, or the token in the path) and execution, also into
threads and as new forum posts.

Interaction webhooks share the `/webhooks/{webhook_id}/{webhook_token}` paths (their id is the
application's); a request whose id is no channel webhook's goes on to routes/interactions.py.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from aiohttp import web

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
from ..state import THREAD_ONLY_TYPES, Message, Thread, Webhook
from . import interactions
from .channels import MANAGE_THREADS, bot_can, channel_for_bot, check_new_message, checked_tags
from .guilds import guild_for_bot, require_permission

log = logging.getLogger(__name__)

MANAGE_WEBHOOKS = 1 << 29
MAX_PER_CHANNEL = 15
FORBIDDEN_IN_NAMES = ("clyde", "discord")
# Channels that take webhooks: text, voice, announcement, stage, forum, media (no threads).
WEBHOOK_CHANNEL_TYPES = (0, 2, 5, 13, 15, 16)


def find_webhook(request: web.Request) -> Webhook | None:
    """The channel webhook in the path, or None (an interaction webhook, or unknown)."""
    hook_id = int(request.match_info["webhook_id"])
    for guild in emulator_of(request).guilds.values():
        if hook_id in guild.webhooks:
            return guild.webhooks[hook_id]
    return None


def _by_id(request: web.Request) -> Webhook:
    """/webhooks/{webhook_id}: the bot's token in the header, MANAGE_WEBHOOKS in the guild."""
    # server.py lets every /webhooks/ path through without auth (tokens are in the path).
    if request.headers.get("Authorization") != f"Bot {emulator_of(request).token}":
        raise DiscordError(401, 0, "401: Unauthorized")
    hook = find_webhook(request)
    if hook is None or not hook.guild.bot_present:
        raise not_found(10015, "Webhook")
    require_permission(request, hook.guild, MANAGE_WEBHOOKS)
    return hook


def _with_token(request: web.Request, hook: Webhook) -> Webhook:
    if hook.token != request.match_info["webhook_token"]:
        raise DiscordError(401, 50027, "Invalid Webhook Token")
    return hook


def _check_name(name: str) -> None:
    """Discord's rule beyond the spec's 1-80 characters."""
    for word in FORBIDDEN_IN_NAMES:
        if word in name.lower():
            problem = Violation("$.name", f"webhook names may not contain {word!r}")
            raise invalid_form([problem], where="the webhook's name")


async def create_webhook(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    if channel.guild is None or channel.type not in WEBHOOK_CHANNEL_TYPES:
        detail = f"(no webhooks in channels of type {channel.type})"
        text = "Cannot execute action on this channel type"
        raise DiscordError(400, 50024, text, record=True, detail=detail)
    require_permission(request, channel.guild, MANAGE_WEBHOOKS)
    name = (request[BODY] or {})["name"]
    _check_name(name)
    if len(channel.webhooks) >= MAX_PER_CHANNEL:
        message = f"Maximum number of webhooks reached ({MAX_PER_CHANNEL})"
        raise DiscordError(400, 30007, message, record=True)
    hook = channel.guild.create_webhook(channel, name, creator=emulator_of(request).bot_user)
    return json_response(hook.payload())


async def list_channel_webhooks(request: web.Request) -> web.Response:
    channel = channel_for_bot(request)
    if channel.guild is None:
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    require_permission(request, channel.guild, MANAGE_WEBHOOKS)
    return json_response([hook.payload() for hook in channel.webhooks])


async def list_guild_webhooks(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    require_permission(request, guild, MANAGE_WEBHOOKS)
    return json_response([hook.payload() for hook in guild.webhooks.values()])


def _move(request: web.Request, hook: Webhook, channel_id: Any) -> None:
    target = emulator_of(request).channels.get(int(channel_id))
    if target is None or target.guild is not hook.guild or target.type not in WEBHOOK_CHANNEL_TYPES:
        problem = Violation(
            "$.channel_id", f"{channel_id} is no channel of this guild for webhooks"
        )
        raise invalid_form([problem], where="the webhook's new channel")
    old, hook.channel = hook.channel, target
    hook.guild.emit_webhooks_update(old)


def _manage(request: web.Request, hook: Webhook, *, with_token: bool) -> web.Response:
    """GET, PATCH or DELETE the webhook; only bot auth may move it to another channel."""
    if request.method == "DELETE":
        del hook.guild.webhooks[hook.id]
        hook.guild.emit_webhooks_update(hook.channel)
        return no_content()
    if request.method == "PATCH":
        body = request[BODY] or {}
        if body.get("name") is not None:
            _check_name(body["name"])
            hook.name = body["name"]
        if "avatar" in body:  # Discord answers an image hash, not the data URI
            avatar = body["avatar"]
            hook.avatar = hashlib.sha256(avatar.encode()).hexdigest()[:32] if avatar else None
        if body.get("channel_id") is not None and not with_token:
            _move(request, hook, body["channel_id"])
        hook.guild.emit_webhooks_update(hook.channel)
    return json_response(hook.payload(with_user=not with_token))


async def manage_webhook(request: web.Request) -> web.Response:
    return _manage(request, _by_id(request), with_token=False)


async def manage_webhook_with_token(request: web.Request) -> web.Response:
    hook = find_webhook(request)
    if hook is None:
        raise not_found(10015, "Webhook")
    return _manage(request, _with_token(request, hook), with_token=True)


def _thread_from_query(request: web.Request, hook: Webhook) -> Thread | None:
    """`?thread_id=`: a thread in the webhook's channel."""
    if "thread_id" not in request.query:
        return None
    thread = emulator_of(request).channels.get(int(request.query["thread_id"]))
    if not isinstance(thread, Thread) or thread.parent is not hook.channel:
        raise not_found(10003, "Channel")
    return thread


def _reopen(request: web.Request, thread: Thread) -> None:
    """Executing into a thread unarchives it, unless a moderator locked it."""
    if thread.locked and not bot_can(request, thread, MANAGE_THREADS):
        raise DiscordError(403, 160005, "Thread is locked", record=True)
    if thread.archived:
        thread.update(archived=False)


def _forum_rules(hook: Webhook, thread: Thread | None, thread_name: str | None) -> None:
    forum = hook.channel.type in THREAD_ONLY_TYPES
    if forum and thread is None and not thread_name:
        text = "Webhooks posted to forum channels must have a thread_name or thread_id"
        raise DiscordError(400, 220001, text, record=True)
    if forum and thread is not None and thread_name:
        text = "Webhooks posted to forum channels cannot have both a thread_name and thread_id"
        raise DiscordError(400, 220002, text, record=True)
    if not forum and thread_name:
        text = "Webhooks can only create threads in forum channels"
        raise DiscordError(400, 220003, text, record=True)


async def execute(request: web.Request) -> web.Response:
    hook = find_webhook(request)
    if hook is None:
        return await interactions.followup(request)
    _with_token(request, hook)
    body, files = request[BODY] or {}, request[FILES]
    thread = _thread_from_query(request, hook)
    _forum_rules(hook, thread, body.get("thread_name"))
    check_new_message(request, body, "$")
    author = hook.author(body.get("username"))
    if body.get("thread_name"):
        tags = checked_tags(
            request, hook.channel, body.get("applied_tags"), creating=True, moderator=True
        )
        post = hook.guild.create_post(
            hook.channel,
            body["thread_name"],
            author=author,
            body=body,
            files=files,
            applied_tags=tags,
        )
        message = post.messages[0]
    else:
        if thread is not None:
            _reopen(request, thread)
        target = thread or hook.channel
        message = emulator_of(request).create_message(target, body, files, author=author)
    hook.sent.append(message)
    if request.query.get("wait", "").lower() in ("true", "1"):
        return json_response(message.payload())
    return no_content()


def _sent_message(request: web.Request, hook: Webhook) -> Message:
    """A message this webhook sent; one in a thread needs that thread's `?thread_id=`."""
    thread = _thread_from_query(request, hook)
    message_id = request.match_info["message_id"]
    message = next((m for m in hook.messages if str(m.id) == message_id), None)
    in_thread = message.channel if message and isinstance(message.channel, Thread) else None
    if message is None or in_thread is not thread:
        raise not_found(10008, "Message")
    return message


async def webhook_message(request: web.Request) -> web.Response:
    hook = find_webhook(request)
    if hook is None:
        return await interactions.webhook_message(request)
    _with_token(request, hook)
    message = _sent_message(request, hook)
    emulator = emulator_of(request)
    if request.method == "DELETE":
        emulator.delete_message(message)
        return no_content()
    if request.method == "PATCH":
        if isinstance(message.channel, Thread) and message.channel.archived:
            raise DiscordError(400, 50083, "Thread is archived", record=True)
        message.apply_edit(request[BODY] or {})
        emulator.emit_message_update(message)
    return json_response(message.payload())


WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"
ROUTES = [
    ("POST", "/channels/{channel_id}/webhooks", create_webhook),
    ("GET", "/channels/{channel_id}/webhooks", list_channel_webhooks),
    ("GET", "/guilds/{guild_id}/webhooks", list_guild_webhooks),
    ("GET", "/webhooks/{webhook_id}", manage_webhook),
    ("PATCH", "/webhooks/{webhook_id}", manage_webhook),
    ("DELETE", "/webhooks/{webhook_id}", manage_webhook),
    ("GET", WEBHOOK, manage_webhook_with_token),
    ("PATCH", WEBHOOK, manage_webhook_with_token),
    ("DELETE", WEBHOOK, manage_webhook_with_token),
    # Shared with interaction webhooks; these hand them on to routes/interactions.py.
    ("POST", WEBHOOK, execute),
    ("GET", WEBHOOK + "/messages/{message_id}", webhook_message),
    ("PATCH", WEBHOOK + "/messages/{message_id}", webhook_message),
    ("DELETE", WEBHOOK + "/messages/{message_id}", webhook_message),
]
