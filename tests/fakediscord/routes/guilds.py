"""Guilds, roles, members and scheduled events."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ..server import (
    BODY,
    DiscordError,
    emulator_of,
    invalid_form,
    json_response,
    no_content,
    not_found,
)
from ..spec import Violation
from ..state import (
    EVENT_ACTIVE,
    EVENT_CANCELED,
    EVENT_COMPLETED,
    EVENT_SCHEDULED,
    EXTERNAL_EVENT,
    Guild,
    Member,
    Role,
    parse_time,
)

log = logging.getLogger(__name__)

BAN_MEMBERS = 1 << 2
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
    "recurrence_rule",
)
# Discord's documented status transitions; COMPLETED and CANCELED are final.
STATUS_STEPS = {
    (EVENT_SCHEDULED, EVENT_ACTIVE),
    (EVENT_ACTIVE, EVENT_COMPLETED),
    (EVENT_SCHEDULED, EVENT_CANCELED),
}
YEARLY, MONTHLY, WEEKLY, DAILY = 0, 1, 2, 3  # recurrence rule frequencies
# The weekday sets a DAILY rule may name (0 = Monday), per the recurrence "system limitations".
DAILY_WEEKDAY_SETS = [{0, 1, 2, 3, 4}, {1, 2, 3, 4, 5}, {6, 0, 1, 2, 3}, {4, 5}, {5, 6}, {6, 0}]
RULE_DEFAULTS = {
    "end": None,
    "interval": 1,
    "by_weekday": None,
    "by_n_weekday": None,
    "by_month": None,
    "by_month_day": None,
    "by_year_day": None,
    "count": None,
}


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


async def get_ban(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    require_permission(request, guild, BAN_MEMBERS)
    user_id = int(request.match_info["user_id"])
    if user_id not in guild.bans:
        raise not_found(10026, "Ban")
    user = emulator_of(request).users[user_id]
    return json_response({"user": user.payload(), "reason": guild.bans[user_id]})


def _flag(request: web.Request, name: str) -> bool:
    """A boolean query string parameter ("true", "True" or "1", as Discord reads them)."""
    return request.query.get(name, "").lower() in ("true", "1")


def _entity_problems(event: dict[str, Any]) -> Iterator[Violation]:
    """Field requirements by entity type (after merging an edit into the event)."""
    if event.get("entity_type") == EXTERNAL_EVENT:
        if not (event.get("entity_metadata") or {}).get("location"):
            yield Violation("$.entity_metadata.location", "external events need a location")
        if not event.get("scheduled_end_time"):
            yield Violation("$.scheduled_end_time", "external events need an end time")
        if event.get("channel_id") is not None:
            yield Violation("$.channel_id", "must be null for external events")
    elif event.get("channel_id") is None:
        yield Violation("$.channel_id", "stage and voice events need a channel")


def _time_problems(event: dict[str, Any], body: dict[str, Any]) -> Iterator[Violation]:
    start = parse_time(event["scheduled_start_time"])
    now = datetime.datetime.now(datetime.UTC)
    if body.get("scheduled_start_time") and start < now:
        yield Violation("$.scheduled_start_time", "cannot schedule an event in the past")
    end = event.get("scheduled_end_time")
    if end and parse_time(end) <= start:
        yield Violation("$.scheduled_end_time", "must be after scheduled_start_time")


def _rule_problems(rule: dict[str, Any]) -> Iterator[Violation]:
    """The recurrence rule's documented "system limitations"."""
    where = "$.recurrence_rule"
    for key in ("count", "end", "by_year_day"):
        if rule.get(key) is not None:
            yield Violation(f"{where}.{key}", "cannot be set by an app")
    frequency, interval = rule.get("frequency"), int(rule.get("interval") or 1)
    by_weekday, by_n_weekday = rule.get("by_weekday"), rule.get("by_n_weekday")
    by_month, by_month_day = rule.get("by_month"), rule.get("by_month_day")
    if sum(map(bool, (by_weekday, by_n_weekday, by_month or by_month_day))) > 1:
        yield Violation(where, "by_weekday, by_n_weekday and by_month(+_day) exclude each other")
    if by_weekday and frequency == DAILY and set(by_weekday) not in DAILY_WEEKDAY_SETS:
        yield Violation(f"{where}.by_weekday", f"{by_weekday} is not an allowed set of days")
    elif by_weekday and frequency == WEEKLY and len(by_weekday) != 1:
        yield Violation(f"{where}.by_weekday", "weekly events recur on exactly one day")
    elif by_weekday and frequency not in (DAILY, WEEKLY):
        yield Violation(f"{where}.by_weekday", "only daily and weekly events")
    if by_n_weekday and (frequency != MONTHLY or len(by_n_weekday) != 1):
        yield Violation(f"{where}.by_n_weekday", "only monthly events, exactly one entry")
    if (by_month or by_month_day) and frequency != YEARLY:
        yield Violation(f"{where}.by_month", "by_month and by_month_day only for yearly events")
    elif (by_month or by_month_day) and (len(by_month or []), len(by_month_day or [])) != (1, 1):
        yield Violation(f"{where}.by_month", "yearly events need one by_month and one by_month_day")
    if interval != 1 and (frequency, interval) != (WEEKLY, 2):
        yield Violation(f"{where}.interval", "only 1, or 2 for weekly events (every other week)")


def _check_event(event: dict[str, Any], body: dict[str, Any], *, what: str) -> None:
    problems = [*_entity_problems(event), *_time_problems(event, body)]
    if body.get("recurrence_rule"):
        problems += _rule_problems(body["recurrence_rule"])
    if problems:
        raise invalid_form(problems, where=f"{what} breaks Discord's scheduled event rules")


def _stored_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = {key: value for key, value in body.items() if key in EVENT_FIELDS}
    if fields.get("channel_id") is not None:  # Discord answers snowflakes as strings
        fields["channel_id"] = str(fields["channel_id"])
    if fields.get("recurrence_rule"):  # as sent, plus the fields Discord always returns
        fields["recurrence_rule"] = {**RULE_DEFAULTS, **fields["recurrence_rule"]}
    return fields


def _new_event(request: web.Request, guild: Guild, body: dict[str, Any]) -> dict[str, Any]:
    emulator = emulator_of(request)
    event = {field: None for field in EVENT_FIELDS}
    event.update(_stored_fields(body))
    event.update(
        id=str(emulator.snowflakes.next()),
        guild_id=str(guild.id),
        creator_id=str(emulator.bot_user.id),
        creator=emulator.bot_user.payload(),
        status=EVENT_SCHEDULED,
        entity_id=None,
        image=None,
        guild_scheduled_event_exceptions=[],
    )
    _check_event(event, body, what="the new event")
    return event


def event_in(request: web.Request, guild: Guild) -> dict[str, Any]:
    event = guild.scheduled_events.get(int(request.match_info["guild_scheduled_event_id"]))
    if event is None:
        raise not_found(10070, "Guild Scheduled Event")
    return event


async def create_event(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    require_permission(request, guild, MANAGE_EVENTS)
    event = _new_event(request, guild, request[BODY] or {})
    guild.scheduled_events[int(event["id"])] = event
    guild.emit("GUILD_SCHEDULED_EVENT_CREATE", guild.event_payload(event))
    return json_response(guild.event_payload(event))


async def list_events(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    guild.advance_events()
    counted = _flag(request, "with_user_count")
    events = guild.scheduled_events.values()
    return json_response([guild.event_payload(e, with_user_count=counted) for e in events])


async def get_event(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    guild.advance_events()
    event = event_in(request, guild)
    counted = _flag(request, "with_user_count")
    return json_response(guild.event_payload(event, with_user_count=counted))


def _check_status(event: dict[str, Any], body: dict[str, Any]) -> None:
    wanted = body.get("status")
    if wanted is None or int(wanted) == event["status"]:
        return
    if (event["status"], int(wanted)) not in STATUS_STEPS:
        problem = Violation("$.status", f"cannot go from status {event['status']} to {wanted}")
        raise invalid_form([problem], where="the event's status")


async def edit_event(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    require_permission(request, guild, MANAGE_EVENTS)
    guild.advance_events()
    event = event_in(request, guild)
    body = request[BODY] or {}
    _check_status(event, body)
    edited = {**event, **_stored_fields(body)}
    _check_event(edited, body, what="the edited event")
    event.update(edited)
    guild.emit("GUILD_SCHEDULED_EVENT_UPDATE", guild.event_payload(event))
    return json_response(guild.event_payload(event))


async def delete_event(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    require_permission(request, guild, MANAGE_EVENTS)
    event = event_in(request, guild)
    del guild.scheduled_events[int(event["id"])]
    guild.event_users.pop(int(event["id"]), None)
    guild.emit("GUILD_SCHEDULED_EVENT_DELETE", guild.event_payload(event))
    return no_content()


def _page(request: web.Request, users: list[Any]) -> list[Any]:
    """Ascending by user id; `before` wins over `after`, as Discord documents."""
    limit = int(request.query.get("limit", 100))
    if not 1 <= limit <= 100:
        problem = Violation("$.limit", f"limit {limit} is not within 1-100")
        raise invalid_form([problem], where="the query string")
    if "before" in request.query:
        return [user for user in users if user.id < int(request.query["before"])][-limit:]
    after = int(request.query.get("after", 0))
    return [user for user in users if user.id > after][:limit]


async def list_event_users(request: web.Request) -> web.Response:
    guild = guild_for_bot(request)
    event = event_in(request, guild)
    with_member = _flag(request, "with_member")
    items = []
    for user in _page(request, guild.interested_users(event)):
        item = {
            "guild_scheduled_event_id": event["id"],
            "user_id": str(user.id),
            "user": user.payload(),
            "response": 1,  # INTERESTED
        }
        member = guild.member(user)
        if with_member and member is not None:
            item["member"] = member.payload()
        items.append(item)
    return json_response(items)


MEMBER = "/guilds/{guild_id}/members/{user_id}"
EVENT = "/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}"
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
    ("GET", "/guilds/{guild_id}/bans/{user_id}", get_ban),
    ("GET", "/guilds/{guild_id}/scheduled-events", list_events),
    ("POST", "/guilds/{guild_id}/scheduled-events", create_event),
    ("GET", EVENT, get_event),
    ("PATCH", EVENT, edit_event),
    ("DELETE", EVENT, delete_event),
    ("GET", EVENT + "/users", list_event_users),
]
