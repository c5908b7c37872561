"""Guilds, roles, members and scheduled events."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..server import BODY, DiscordError, emulator_of, json_response, no_content, not_found
from ..state import Guild, Member, Role

log = logging.getLogger(__name__)

MANAGE_NICKNAMES = 1 << 27
MANAGE_ROLES = 1 << 28
MANAGE_EVENTS = 1 << 33
EVENT_FIELDS = (
    "name",
    "description",
    "scheduled_start_time",
    "scheduled_end_time",
    "privacy_level",
    "status",
    "entity_type",
    "entity_metadata",
    "channel_id",
)


def guild_for_bot(request: web.Request) -> Guild:
    guild = emulator_of(request).guilds.get(int(request.match_info["guild_id"]))
    if guild is None:
        raise not_found(10004, "Guild")
    if not guild.bot_present:
        raise DiscordError(403, 50001, "Missing Access")
    return guild


def member_in(request: web.Request, guild: Guild) -> Member:
    member = guild.member(int(request.match_info["user_id"]))
    if member is None:
        raise not_found(10007, "Member")
    return member


def role_in(request: web.Request, guild: Guild, role_id: int | str | None = None) -> Role:
    role = guild.roles.get(int(role_id if role_id is not None else request.match_info["role_id"]))
    if role is None:
        raise not_found(10011, "Role")
    return role


def bot_member(request: web.Request, guild: Guild) -> Member:
    member = guild.member(emulator_of(request).bot_user)
    assert member is not None, "the bot is present but has no member"
    return member


def require_permission(request: web.Request, guild: Guild, permission: int) -> Member:
    member = bot_member(request, guild)
    if not member.permissions & permission:
        raise DiscordError(403, 50013, "Missing Permissions")
    return member


def require_manageable(request: web.Request, guild: Guild, role: Role) -> None:
    """Discord's role hierarchy: a bot only manages roles below its highest role."""
    bot = require_permission(request, guild, MANAGE_ROLES)
    if role.managed or role.id == guild.id or role.position >= bot.top_position:
        raise DiscordError(403, 50013, "Missing Permissions")


async def get_guild(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    counts = {"approximate_member_count": len(guild.members), "approximate_presence_count": 0}
    return json_response({**guild.payload(), **counts})


async def list_channels(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    return json_response([channel.payload() for channel in guild.channels.values()])


async def list_roles(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    return json_response([role.payload() for role in guild.roles.values()])


async def create_role(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    require_permission(request, guild, MANAGE_ROLES)
    body: dict[str, Any] = request[BODY] or {}
    role = guild.create_role(
        body.get("name") or "new role",
        permissions=int(body.get("permissions") or 0),
        position=1,
        color=int(body.get("color") or 0),
        hoist=bool(body.get("hoist")),
        mentionable=bool(body.get("mentionable")),
    )
    return json_response(role.payload())


async def edit_role(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    role = role_in(request, guild)
    require_manageable(request, guild, role)
    body = request[BODY] or {}
    changes = {
        key: body[key]
        for key in ("name", "color", "hoist", "mentionable")
        if body.get(key) is not None
    }
    if body.get("permissions") is not None:
        changes["permissions"] = int(body["permissions"])
    role.update(**changes)
    return json_response(role.payload())


async def delete_role(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    role = role_in(request, guild)
    require_manageable(request, guild, role)
    guild.delete_role(role)
    return no_content()


async def get_member(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    return json_response(member_in(request, guild).payload())


async def list_members(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    after = int(request.query.get("after", 0))
    limit = int(request.query.get("limit", 1))
    members = sorted(
        (m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id
    )
    return json_response([member.payload() for member in members[:limit]])


async def change_member_role(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    member = member_in(request, guild)
    role = role_in(request, guild)
    require_manageable(request, guild, role)
    if request.method == "PUT" and role.id not in member.role_ids:
        member.set_roles([*member.role_ids, role.id])
    elif request.method == "DELETE" and role.id in member.role_ids:
        member.set_roles([role_id for role_id in member.role_ids if role_id != role.id])
    return no_content()


async def edit_member(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    member = member_in(request, guild)
    body = request[BODY] or {}
    if "nick" in body:
        require_permission(request, guild, MANAGE_NICKNAMES)
        if member.user.id == guild.owner_id:
            raise DiscordError(403, 50013, "Missing Permissions")
        member.nick = body["nick"] or None
    if body.get("roles") is not None:
        wanted = [role_in(request, guild, role_id).id for role_id in body["roles"]]
        for role_id in set(wanted) ^ set(member.role_ids):
            require_manageable(request, guild, guild.roles[role_id])
        member.role_ids = wanted
    guild.emit_member_update(member)
    return json_response(member.payload())


def _event_payload(request: web.Request, guild: Guild, body: dict[str, Any]) -> dict[str, Any]:
    emulator = emulator_of(request)
    if body.get("entity_type") == 3 and not (body.get("entity_metadata") or {}).get("location"):
        raise DiscordError(
            400, 50035, "Invalid Form Body", record=True, detail="external events need a location"
        )
    if body.get("entity_type") == 3 and not body.get("scheduled_end_time"):
        raise DiscordError(
            400, 50035, "Invalid Form Body", record=True, detail="external events need an end time"
        )
    event = {field: body.get(field) for field in EVENT_FIELDS}
    return {
        **event,
        "id": str(emulator.snowflakes.next()),
        "guild_id": str(guild.id),
        "creator_id": str(emulator.bot_user.id),
        "creator": emulator.bot_user.payload(),
        "status": 1,
        "entity_id": None,
        "user_count": 0,
        "image": None,
        "recurrence_rule": None,
    }


def event_in(request: web.Request, guild: Guild) -> dict[str, Any]:
    event = guild.scheduled_events.get(int(request.match_info["event_id"]))
    if event is None:
        raise not_found(10070, "Guild Scheduled Event")
    return event


async def create_event(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    require_permission(request, guild, MANAGE_EVENTS)
    event = _event_payload(request, guild, request[BODY] or {})
    guild.scheduled_events[int(event["id"])] = event
    guild.emit("GUILD_SCHEDULED_EVENT_CREATE", event)
    return json_response(event)


async def list_events(request: web.Request) -> web.Response:
    return json_response(list(guild_for_bot(request).scheduled_events.values()))


async def get_event(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    return json_response(event_in(request, guild))


async def edit_event(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    require_permission(request, guild, MANAGE_EVENTS)
    event = event_in(request, guild)
    event.update(
        {key: value for key, value in (request[BODY] or {}).items() if key in EVENT_FIELDS}
    )
    guild.emit("GUILD_SCHEDULED_EVENT_UPDATE", event)
    return json_response(event)


async def delete_event(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    require_permission(request, guild, MANAGE_EVENTS)
    event = event_in(request, guild)
    del guild.scheduled_events[int(event["id"])]
    guild.emit("GUILD_SCHEDULED_EVENT_DELETE", event)
    return no_content()


MEMBER = "/guilds/{guild_id}/members/{user_id}"
EVENT = "/guilds/{guild_id}/scheduled-events/{event_id}"
ROUTES = [
    ("GET", "/guilds/{guild_id}", get_guild),
    ("GET", "/guilds/{guild_id}/channels", list_channels),
    ("GET", "/guilds/{guild_id}/roles", list_roles),
    ("POST", "/guilds/{guild_id}/roles", create_role),
    ("PATCH", "/guilds/{guild_id}/roles/{role_id}", edit_role),
    ("DELETE", "/guilds/{guild_id}/roles/{role_id}", delete_role),
    ("GET", "/guilds/{guild_id}/members", list_members),
    ("GET", MEMBER, get_member),
    ("PATCH", MEMBER, edit_member),
    ("PUT", MEMBER + "/roles/{role_id}", change_member_role),
    ("DELETE", MEMBER + "/roles/{role_id}", change_member_role),
    ("GET", "/guilds/{guild_id}/scheduled-events", list_events),
    ("POST", "/guilds/{guild_id}/scheduled-events", create_event),
    ("GET", EVENT, get_event),
    ("PATCH", EVENT, edit_event),
    ("DELETE", EVENT, delete_event),
]
