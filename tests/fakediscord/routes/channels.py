"""Channels, messages, pins and reactions."""

from __future__ import annotations

import logging
from urllib.parse import unquote

from aiohttp import web

from ..server import BODY, FILES, DiscordError, emulator_of, json_response, no_content, not_found
from ..state import Channel, Message, iso_now

log = logging.getLogger(__name__)


def channel_for_bot(request: web.Request, *, sending: bool = False) -> Channel:
    """The channel in the path, if the bot can see it (and send to it)."""
    emulator = emulator_of(request)
    channel = emulator.channels.get(int(request.match_info["channel_id"]))
    if channel is None:
        raise not_found(10003, "Channel")
    if channel.guild is not None and (not channel.guild.bot_present or not channel.bot_can_view):
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


async def create_message(request: web.Request) -> web.Response:
    channel = channel_for_bot(request, sending=True)
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


MESSAGE = "/channels/{channel_id}/messages/{message_id}"
ROUTES = [
    ("GET", "/channels/{channel_id}", get_channel),
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
