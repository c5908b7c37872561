"""Convoys (events) in Discord: RSVP buttons, Discord Scheduled Events, /event and /event-admin.

Every rule lives in `models.events`; this module shows events and carries their changes to
Discord and back.

- **RSVP**: the event post carries persistent Going / Maybe / Not going buttons
  (`dh:events:rsvp:<occurrence>:<answer>`). A click calls `ops.rsvp` (which refuses late
  answers, full events and visitors on members-only events, in the clicker's language) and
  answers privately; the post's counts are edited at most once per message every
  `PostEdits.interval` seconds, the pending edit showing the counts of its time.
- **Scheduled events**: the Discord-actions worker calls the `events.scheduled` renderer to
  make the guild's Scheduled Event of an occurrence match it (created, edited, cancelled).
  A refusal (the bot lacks Manage Events) is recorded on the occurrence, the event is kept.
- **Back from Discord**: edits staff make to the Scheduled Event in Discord (name,
  description, times, cancel) go to `ops.sync_from_discord`; the echo of the bot's own
  edits is ignored. "Interested" clicks go to `ops.discord_interest`. discord.py drops
  interest events of users it has not cached, so the cog reads the raw gateway events.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import re
import time
import zoneinfo
from collections.abc import Callable
from typing import Any, ClassVar

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands
from discord.http import handle_message_parameters
from pydantic import BaseModel, ConfigDict, Field

from bot import discord_actions
from bot.answer import answer, open_modal, update
from bot.components import PersistentButton, custom_id
from bot.context import Context, load_context
from bot.errors import handle_error, safe_autocomplete
from bot.i18n import locale_of, t
from bot.modals import FormField, FormModal
from bot.outbox import PermanentFailure
from bot.plugin import PluginCog
from bot.staff import staff
from models import kv
from models.discord_actions import DiscordAction
from models.errors import Invalid, NotFound
from models.hubs import Hub
from models.i18n import N_, translate
from models.users import User
from models.validation import field_error, field_errors, parse_id, validate

log = logging.getLogger(__name__)

KEY = "events"
MANAGE = "manage_events"
SCHEDULED_RENDERER = "events.scheduled"
UNSCHEDULED_RENDERER = "events.unscheduled"
POST_RENDERER = "events.post"
CHOICES = 25  # Discord's most autocomplete choices
PAGE = 10  # events per page of /event list
DESCRIPTION = 4096
EVENT_NAME = 100  # Discord's scheduled event name and location limits
EVENT_DESCRIPTION = 1000
LOCATION = 100
EXTERNAL = 3  # Discord's entity type of an event outside Discord
GUILD_ONLY = 2  # the only privacy level Discord allows
SCHEDULED, CANCELED = 1, 4  # Discord's scheduled event statuses
UNKNOWN_EVENT = 10070
NO_PINGS = discord.AllowedMentions.none()
ANSWERS: dict[str, tuple[str, discord.ButtonStyle]] = {
    "going": (N_("Going"), discord.ButtonStyle.success),
    "maybe": (N_("Maybe"), discord.ButtonStyle.secondary),
    "not_going": (N_("Not going"), discord.ButtonStyle.danger),
}
ANSWERED = {
    "going": N_("You are going to {title}."),
    "maybe": N_("You might come to {title}."),
    "not_going": N_("You are not going to {title}."),
}
# The raw gateway events the cog reads itself (see RawEvents).
RAW_EVENTS = (
    "GUILD_SCHEDULED_EVENT_UPDATE",
    "GUILD_SCHEDULED_EVENT_DELETE",
    "GUILD_SCHEDULED_EVENT_USER_ADD",
    "GUILD_SCHEDULED_EVENT_USER_REMOVE",
)
TIME_FORMAT = N_("YYYY-MM-DD HH:MM, e.g. {example} ({zone})")


def _ops() -> Any:
    from models.events import ops

    return ops


def _tables() -> Any:
    from models.events import tables

    return tables


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _get(row: Any, *names: str, default: Any = None) -> Any:
    """The first attribute `row` has among `names` (views and rows name a few differently)."""
    for name in names:
        value = getattr(row, name, None)
        if value is not None:
            return value
    return default


# Reading an occurrence


async def loaded(occurrence_id: int) -> Any | None:
    """The occurrence with its event and hub, or None when it is gone."""
    return (
        await _tables().Occurrence.filter(id=occurrence_id).select_related("event", "hub").first()
    )


def counts_of(occurrence: Any) -> dict[str, int]:
    """The answers kept on the occurrence (the domain counts them with each RSVP)."""
    return {name: int(getattr(occurrence, name, 0) or 0) for name in ANSWERS}


def is_cancelled(occurrence: Any) -> bool:
    return bool(occurrence.cancelled or occurrence.event.cancelled_at is not None)


def route_text(event: Any) -> str:
    """`Berlin (Tesla) → Calais (Tree-Et)`, or what of it is known."""
    ends = []
    for side in ("departure", "arrival"):
        city = _get(event, f"{side}_city", default="")
        company = _get(event, f"{side}_company", default="")
        ends.append(f"{city} ({company})" if city and company else city or company)
    return " → ".join(end for end in ends if end)


def location_text(event: Any) -> str:
    parts = [route_text(event), _get(event, "server", default="")]
    text = " · ".join(part for part in parts if part)
    return cut(text or _get(event, "title", default="?"), LOCATION)


def ends_at(occurrence: Any) -> datetime.datetime:
    end = _get(occurrence, "ends_at")
    if end is not None:
        return end
    minutes = _get(occurrence.event, "duration_minutes", default=120)
    start = _get(occurrence, "departure_at", "meetup_at")
    return start + datetime.timedelta(minutes=minutes)


# The event post and /event info


def event_embed(occurrence: Any, counts: dict[str, int], locale: str | None) -> discord.Embed:
    """The event as the post and /event info show it; times in each reader's own zone."""
    event = occurrence.event
    title = cut(event.title, 256)
    cancelled = is_cancelled(occurrence)
    if cancelled:
        title = cut(translate(N_("Cancelled: {title}"), locale, title=event.title), 256)
    embed = discord.Embed(
        title=title,
        description=cut(event.description or "", DESCRIPTION) or None,
        url=_get(event, "link") or None,
        color=0x95A5A6 if cancelled else 0xE67E22,
    )
    meetup, departure = occurrence.meetup_at, occurrence.departure_at
    embed.add_field(
        name=translate(N_("Meetup"), locale),
        value=f"{discord.utils.format_dt(meetup, 'F')} ({discord.utils.format_dt(meetup, 'R')})",
        inline=False,
    )
    if departure is not None:
        embed.add_field(
            name=translate(N_("Departure"), locale), value=discord.utils.format_dt(departure, "t")
        )
    if route := route_text(event):
        embed.add_field(name=translate(N_("Route"), locale), value=cut(route, 1024))
    for label, name in ((N_("Game"), "game"), (N_("Server"), "server")):
        value = _get(event, name, default="")
        value = getattr(value, "value", value)
        if value:
            embed.add_field(
                name=translate(label, locale),
                value=cut(str(value).upper() if name == "game" else str(value), 1024),
            )
    points = _get(event, "points", default=0)
    if points:
        embed.add_field(name=translate(N_("Points"), locale), value=str(points))
    embed.add_field(name="\u200b", value=counts_line(event, counts, locale), inline=False)
    return embed


def counts_line(event: Any, counts: dict[str, int], locale: str | None) -> str:
    slots = _get(event, "slots")
    going = f"{counts.get('going', 0)}/{slots}" if slots else str(counts.get("going", 0))
    return " · ".join(
        [
            translate(N_("Going: {count}"), locale, count=going),
            translate(N_("Maybe: {count}"), locale, count=counts.get("maybe", 0)),
            translate(N_("Not going: {count}"), locale, count=counts.get("not_going", 0)),
        ]
    )


def rsvp_view(occurrence: Any, locale: str | None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for name, (label, style) in ANSWERS.items():
        button = Rsvp(occurrence.id, name, translate(label, locale), style)
        button.item.disabled = is_cancelled(occurrence)
        view.add_item(button)
    return view


# Where an occurrence's post is (the domain's columns, else kept by the cog)


def _post_key(occurrence_id: int) -> str:
    return f"events.post:{occurrence_id}"


async def post_of(occurrence: Any) -> tuple[int, int] | None:
    channel_id, message_id = (
        _get(occurrence, "post_channel_id"),
        _get(occurrence, "post_message_id"),
    )
    if channel_id and message_id:
        return int(channel_id), int(message_id)
    stored = await kv.get_value(_post_key(occurrence.id))
    if not stored:
        return None
    channel, _, message = stored.partition(":")
    return int(channel), int(message)


async def record_post(occurrence_id: int, channel_id: int, message_id: int) -> None:
    recorder = getattr(_ops(), "record_event_post", None)
    if recorder is not None:
        await recorder(occurrence_id, channel_id, message_id)
        return
    await kv.set_value(_post_key(occurrence_id), f"{channel_id}:{message_id}")


class PostEdits:
    """Edits of event posts after RSVPs: at most one per message every `interval` seconds.

    A click asks for an edit; when the last edit of that post was less than `interval` ago,
    one edit is scheduled for then, and clicks meanwhile join it. The edit reads the counts
    when it runs, so it shows the latest ones.
    """

    interval: ClassVar[float] = 2.0

    def __init__(self, bot: discord.Client) -> None:
        self.bot = bot
        self.last: dict[int, float] = {}
        self.pending: dict[int, asyncio.Task[None]] = {}
        # Every edit task until it ends (a running edit is no longer pending), so closing
        # the cog cancels it instead of letting it meet a closed HTTP session.
        self.tasks: set[asyncio.Task[None]] = set()

    def request(self, occurrence_id: int) -> None:
        if occurrence_id in self.pending:
            return  # the waiting edit will show these counts too
        wait = self.last.get(occurrence_id, 0.0) + self.interval - time.monotonic()
        task = asyncio.create_task(self._edit_after(occurrence_id, max(0.0, wait)))
        self.pending[occurrence_id] = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _edit_after(self, occurrence_id: int, wait: float) -> None:
        try:
            if wait:
                await asyncio.sleep(wait)
            self.pending.pop(occurrence_id, None)
            self.last[occurrence_id] = time.monotonic()
            await edit_post(self.bot, occurrence_id)
        except Exception:  # an edit lost is healed by the next click; never crash the loop
            log.exception("could not update the post of occurrence %s", occurrence_id)
        finally:
            self.pending.pop(occurrence_id, None)

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.pending.clear()


async def edit_post(bot: discord.Client, occurrence_id: int) -> None:
    occurrence = await loaded(occurrence_id)
    if occurrence is None:
        return
    where = await post_of(occurrence)
    if where is None:
        return
    locale = occurrence.hub.language
    embed = event_embed(occurrence, counts_of(occurrence), locale)
    view = rsvp_view(occurrence, locale)
    with handle_message_parameters(embed=embed, view=view, allowed_mentions=NO_PINGS) as params:
        try:
            await bot.http.edit_message(where[0], where[1], params=params)
        except discord.NotFound:
            log.info("the post of occurrence %s was deleted", occurrence_id)


async def send_post(
    bot: discord.Client, occurrence: Any, channel_id: int, nonce: str | None = None
) -> int:
    """Post the event with its buttons in `channel_id`; record and return the message id."""
    locale = occurrence.hub.language
    embed = event_embed(occurrence, counts_of(occurrence), locale)
    with handle_message_parameters(
        embed=embed,
        view=rsvp_view(occurrence, locale),
        allowed_mentions=NO_PINGS,
        nonce=nonce or discord.utils.MISSING,
    ) as params:
        message = await bot.http.send_message(channel_id, params=params)
    await record_post(occurrence.id, channel_id, int(message["id"]))
    return int(message["id"])


_edits: PostEdits | None = None


def post_edits(bot: discord.Client) -> PostEdits:
    global _edits
    if _edits is None or _edits.bot is not bot:
        _edits = PostEdits(bot)
    return _edits


# RSVP buttons


class Rsvp(
    PersistentButton,
    template=r"dh:events:rsvp:(?P<occurrence>[0-9]+):(?P<answer>going|maybe|not_going)",
):
    """Going / Maybe / Not going under an event post (or /event info)."""

    plugin = KEY

    def __init__(
        self,
        occurrence_id: int,
        answer: str,
        label: str | None = None,
        style: discord.ButtonStyle | None = None,
    ) -> None:
        default_label, default_style = ANSWERS[answer]
        button = self.button(
            custom_id(KEY, "rsvp", occurrence_id, answer),
            label or default_label,
            style=style or default_style,
        )
        super().__init__(button)
        self.occurrence_id, self.answer = occurrence_id, answer

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Rsvp:
        return cls(cls.match_int(match, "occurrence"), match["answer"])

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        assert context.hub is not None
        from models.events.tables import Answer, RsvpSource

        result = await _ops().rsvp(
            context.actor,
            context.hub,
            self.occurrence_id,
            Answer(self.answer),
            source=RsvpSource.BOT,
            edit_post=False,  # PostEdits below coalesces a burst of clicks into one edit
        )
        await answer(interaction, t(interaction, ANSWERED[self.answer], title=result.title))
        post_edits(interaction.client).request(self.occurrence_id)


# Renderers: the Discord-actions worker calls them (bot.discord_actions)


def scheduled_body(occurrence: Any) -> dict[str, Any]:
    """The Scheduled Event that shows `occurrence` (an external event at the route)."""
    event = occurrence.event
    return {
        "name": cut(event.title, EVENT_NAME),
        "description": cut(event.description or "", EVENT_DESCRIPTION),
        "entity_type": EXTERNAL,
        "privacy_level": GUILD_ONLY,
        "entity_metadata": {"location": location_text(event)},
        "scheduled_start_time": occurrence.meetup_at.isoformat(),
        "scheduled_end_time": ends_at(occurrence).isoformat(),
    }


# What the bot last sent per Discord event id: its echo in the gateway is not a change.
_sent: dict[int, dict[str, Any]] = {}


def _remember(discord_event_id: int, body: dict[str, Any]) -> None:
    _sent[discord_event_id] = {key: body.get(key) for key in ("name", "description")} | {
        "start": _parse_time(body.get("scheduled_start_time")),
        "end": _parse_time(body.get("scheduled_end_time")),
    }


async def render_scheduled(bot: discord.Client, action: DiscordAction) -> None:
    """Make the guild's Scheduled Event of the occurrence match it."""
    occurrence = await loaded(int(action.payload["occurrence_id"]))
    if occurrence is None:
        return
    current = occurrence.discord_event_id
    try:
        if is_cancelled(occurrence) or not mirrored(occurrence):
            if current:
                await _cancel_scheduled(bot, action.guild_id, int(current))
                await _ops().record_discord_event(occurrence.id, None)
            return
        body = scheduled_body(occurrence)
        if current:
            try:
                await bot.http.edit_scheduled_event(action.guild_id, int(current), **body)
                _remember(int(current), body)
                await _ops().record_discord_event(occurrence.id, int(current))
                return
            except discord.NotFound as exc:
                if exc.code != UNKNOWN_EVENT:
                    raise
                # Deleted in Discord (before its delete reached us): made again below.
        created = await _earlier_event(
            bot, action, body
        ) or await bot.http.create_guild_scheduled_event(action.guild_id, **body)
        _remember(int(created["id"]), body)
        await _ops().record_discord_event(occurrence.id, int(created["id"]))
    except discord.Forbidden as exc:
        error = f"{exc.status} {exc.code} {exc.text}"
        await _ops().record_discord_event(occurrence.id, current and int(current), error=error)
        raise PermanentFailure(error) from None


def mirrored(occurrence: Any) -> bool:
    """Whether the occurrence shows as a Scheduled Event (members-only ones, unless the hub
    says so, do not: the whole server sees scheduled events)."""
    from models.events import common

    return common.mirrored(occurrence.hub, occurrence.event)


async def render_unscheduled(bot: discord.Client, action: DiscordAction) -> None:
    """Delete the Scheduled Event of an occurrence that is gone from the hub."""
    discord_event_id = int(action.payload["discord_event_id"])
    _sent[discord_event_id] = {"cancelled": True}
    try:
        await bot.http.delete_scheduled_event(action.guild_id, discord_event_id)
    except discord.NotFound:
        return  # deleted in Discord already


async def _earlier_event(
    bot: discord.Client, action: DiscordAction, body: dict[str, Any]
) -> dict[str, Any] | None:
    """On a retry: the event a lost answer made (scheduled events take no nonce)."""
    if action.attempts <= 1:
        return None
    start = _parse_time(body["scheduled_start_time"])
    for item in await bot.http.get_scheduled_events(action.guild_id, False):
        if item["name"] == body["name"] and _parse_time(item["scheduled_start_time"]) == start:
            return dict(item)
    return None


async def _cancel_scheduled(bot: discord.Client, guild_id: int, discord_event_id: int) -> None:
    """Cancel a waiting Scheduled Event; one that started (or cannot be cancelled) is deleted."""
    _sent[discord_event_id] = {"cancelled": True}
    try:
        await bot.http.edit_scheduled_event(guild_id, discord_event_id, status=CANCELED)
    except discord.NotFound:
        return
    except discord.HTTPException as exc:
        if exc.status != 400:
            raise
        try:
            await bot.http.delete_scheduled_event(guild_id, discord_event_id)
        except discord.NotFound:
            return


async def render_post(bot: discord.Client, action: DiscordAction) -> None:
    """Post the occurrence's RSVP message in the action's channel, or edit the one posted."""
    occurrence = await loaded(int(action.payload["occurrence_id"]))
    if occurrence is None:
        return
    if await post_of(occurrence) is not None:
        await edit_post(bot, occurrence.id)
        return
    if action.channel_id is None:
        return
    await send_post(bot, occurrence, action.channel_id, nonce=f"action-{action.id}")


# Changes made in Discord


def _parse_time(value: Any) -> datetime.datetime | None:
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def discord_changes(occurrence: Any, data: dict[str, Any]) -> dict[str, Any]:
    """What the Scheduled Event in `data` shows differently from the occurrence, in the
    terms of `ops.sync_from_discord` (name, description, start, end, status)."""
    event = occurrence.event
    shown = {
        "name": data.get("name"),
        "description": data.get("description") or "",
        "start": _parse_time(data.get("scheduled_start_time")),
        "end": _parse_time(data.get("scheduled_end_time")),
    }
    stored = {
        "name": cut(event.title, EVENT_NAME),
        "description": cut(event.description or "", EVENT_DESCRIPTION),
        "start": occurrence.meetup_at,
        "end": ends_at(occurrence),
    }
    changes = {k: v for k, v in shown.items() if v is not None and v != stored[k]}
    if data.get("status") == CANCELED and not is_cancelled(occurrence):
        changes["status"] = "cancelled"
    return changes


def is_echo(discord_event_id: int, data: dict[str, Any]) -> bool:
    """Whether `data` is what the bot itself last sent for this event."""
    sent = _sent.get(discord_event_id)
    if sent is None:
        return False
    if sent.get("cancelled"):
        return data.get("status") == CANCELED or "status" not in data
    return (
        sent["name"] == data.get("name")
        and (sent["description"] or "") == (data.get("description") or "")
        and sent["start"] == _parse_time(data.get("scheduled_start_time"))
        and sent["end"] == _parse_time(data.get("scheduled_end_time"))
    )


async def _hub_of_guild(guild_id: Any) -> Hub | None:
    if guild_id is None:
        return None
    return await Hub.get_or_none(guild_id=int(guild_id), active=True)


async def occurrence_of(hub: Hub, discord_event_id: int) -> Any | None:
    return (
        await _tables()
        .Occurrence.filter(hub_id=hub.id, discord_event_id=discord_event_id)
        .select_related("event", "hub")
        .first()
    )


async def scheduled_updated(data: dict[str, Any]) -> None:
    hub = await _hub_of_guild(data.get("guild_id"))
    if hub is None:
        return
    discord_event_id = int(data["id"])
    occurrence = await occurrence_of(hub, discord_event_id)
    if occurrence is None or is_echo(discord_event_id, data):
        return
    changes = discord_changes(occurrence, data)
    if changes:
        await _ops().sync_from_discord(hub, discord_event_id, changes)


async def scheduled_deleted(data: dict[str, Any]) -> None:
    """Deleting the event in Discord (what its client's "Cancel Event" does) cancels it."""
    hub = await _hub_of_guild(data.get("guild_id"))
    if hub is None:
        return
    discord_event_id = int(data["id"])
    occurrence = await occurrence_of(hub, discord_event_id)
    if (
        occurrence is None
        or is_cancelled(occurrence)
        or _sent.get(discord_event_id, {}).get("cancelled")
    ):
        return
    await _ops().sync_from_discord(hub, discord_event_id, {"status": "cancelled"})


async def interest(data: dict[str, Any], interested: bool) -> None:
    hub = await _hub_of_guild(data.get("guild_id"))
    if hub is None:
        return
    await _ops().discord_interest(
        hub, int(data["guild_scheduled_event_id"]), int(data["user_id"]), interested
    )


class RawEvents:
    """Forward raw gateway events to the cog before discord.py reads them.

    discord.py 2.7 dispatches GUILD_SCHEDULED_EVENT_USER_ADD/REMOVE only when the user is in
    its cache (members intent off: rarely) and updates only of events it has cached, and
    offers no raw variant; the cog wraps the connection's parser of each such event, keeping
    discord.py's own handling.
    """

    def __init__(self, bot: discord.Client, handle: Callable[[str, dict[str, Any]], None]):
        self.parsers: dict[str, Any] = bot._connection.parsers  # type: ignore[attr-defined]
        self.handle = handle
        self.originals: dict[str, Any] = {}

    def install(self) -> None:
        for name in RAW_EVENTS:
            original = self.originals[name] = self.parsers[name]
            self.parsers[name] = functools.partial(self._parse, name, original)

    def _parse(self, name: str, original: Callable[[Any], None], data: Any) -> None:
        try:
            self.handle(name, data)
        finally:
            original(data)

    def uninstall(self) -> None:
        self.parsers.update(self.originals)
        self.originals.clear()


# Commands


async def _zone(interaction: discord.Interaction, hub: Hub) -> zoneinfo.ZoneInfo:
    """The user's own time zone, else the hub's."""
    context = await load_context(interaction)
    user = await User.get_or_none(id=context.actor.user_id).only("id", "timezone")
    name = (user.timezone if user else None) or hub.timezone or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


TIME_PATTERN = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2})[:.](\d{2})\s*$")
CLOCK_PATTERN = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*$")


def parse_local(
    text: str, zone: zoneinfo.ZoneInfo, day: datetime.date | None = None
) -> datetime.datetime | None:
    """`2026-05-01 19:30` (or `19:45` on `day`) in `zone`, as UTC; None when unreadable."""
    try:
        if match := TIME_PATTERN.match(text):
            year, month, date, hour, minute = map(int, match.groups())
            local = datetime.datetime(year, month, date, hour, minute, tzinfo=zone)
        elif day is not None and (match := CLOCK_PATTERN.match(text)):
            hour, minute = map(int, match.groups())
            local = datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=zone)
        else:
            return None
    except ValueError:
        return None
    return local.astimezone(datetime.UTC)


ROUTE_SPLIT = re.compile(r"\s*(?:→|->|>| - )\s*")
PLACE = re.compile(r"^(?P<city>[^()]*?)\s*(?:\((?P<company>[^()]*)\))?$")


def parse_route(text: str) -> dict[str, str]:
    """`Berlin (Tesla) → Calais (Tree-Et)` as departure/arrival city and company."""
    if not text.strip():
        return {}
    ends = ROUTE_SPLIT.split(text.strip(), maxsplit=1)
    out: dict[str, str] = {}
    for side, part in zip(("departure", "arrival"), ends, strict=False):
        match = PLACE.match(part.strip())
        city, company = (match["city"], match["company"] or "") if match else (part, "")
        out[f"{side}_city"] = city.strip()
        if company.strip():
            out[f"{side}_company"] = company.strip()
    return out


class CreateForm(BaseModel):
    """The /event-admin create modal's raw answers (the domain's EventInput validates them)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=4000)
    meetup: str = Field(min_length=1, max_length=40)
    departure: str = Field(default="", max_length=40)
    route: str = Field(default="", max_length=200)


def create_fields(interaction: discord.Interaction, zone: zoneinfo.ZoneInfo) -> list[FormField]:
    example = (discord.utils.utcnow().astimezone(zone) + datetime.timedelta(days=7)).replace(
        hour=19, minute=30
    )
    when = t(interaction, TIME_FORMAT, example=example.strftime("%Y-%m-%d %H:%M"), zone=str(zone))
    return [
        FormField("title", N_("Title"), "short", max_length=100),
        FormField("description", N_("Description"), "paragraph", required=False, max_length=4000),
        FormField("meetup", N_("Meetup time"), "short", placeholder=when[:100], max_length=40),
        FormField(
            "departure",
            N_("Departure time"),
            "short",
            required=False,
            placeholder=t(interaction, N_("HH:MM on the meetup day, or a full date and time"))[
                :100
            ],
            max_length=40,
        ),
        FormField(
            "route",
            N_("Route"),
            "short",
            required=False,
            placeholder=t(interaction, N_("Berlin (Tesla) → Calais (Tree-Et)"))[:100],
            max_length=200,
        ),
    ]


# The domain's names of the fields the modal fills, by the modal's keys.
MODAL_KEYS = {
    "meetup_at": "meetup",
    "departure_at": "departure",
    "departure_city": "route",
    "departure_company": "route",
    "arrival_city": "route",
    "arrival_company": "route",
}


def event_input(form: CreateForm, zone: zoneinfo.ZoneInfo) -> Any:
    """The domain's EventInput from the modal; unreadable times name their field."""
    from models.events.schemas import EventInput

    meetup = parse_local(form.meetup, zone)
    if meetup is None:
        raise field_error(("meetup",), N_("Use the format YYYY-MM-DD HH:MM."))
    departure = meetup
    if form.departure.strip():
        departure = parse_local(form.departure, zone, meetup.astimezone(zone).date())
        if departure is None:
            raise field_error(("departure",), N_("Use HH:MM or YYYY-MM-DD HH:MM."))
    data = {
        "title": form.title,
        "description": form.description,
        "meetup_at": meetup,
        "departure_at": departure,
        **parse_route(form.route),
    }
    return validate(EventInput, data)


def in_modal_terms(error: Invalid) -> Invalid:
    """A domain refusal naming the modal's fields (which the modal then labels)."""
    entries = error.params.get("errors") or []
    fields = []
    for entry in entries:
        name = str(entry.get("field") or "").split(".")[0]
        fields.append({**entry, "field": MODAL_KEYS.get(name, name) or None})
    return field_errors(fields)


def _items(page: Any) -> list[Any]:
    return list(getattr(page, "items", page))


def occurrence_id_of(item: Any) -> int:
    """The occurrence id of a list item (an occurrence view, or an event with its next one)."""
    return int(_get(item, "occurrence_id", "id"))


def list_line(item: Any, locale: str | None) -> str:
    when = _get(item, "meetup_at")
    title = _get(item, "title", default="")
    if not title and hasattr(item, "event"):
        title = item.event.title
    parts = [f"`#{occurrence_id_of(item)}`", f"**{cut(str(title), 100)}**"]
    if when is not None:
        parts.append(f"{discord.utils.format_dt(when, 'f')} ({discord.utils.format_dt(when, 'R')})")
    counts = _get(item, "counts")
    if counts is not None:
        going = counts.get("going", 0) if isinstance(counts, dict) else getattr(counts, "going", 0)
        parts.append(f"✅ {going}")
    if _get(item, "cancelled"):
        parts.append(translate(N_("cancelled"), locale))
    return " · ".join(parts)


async def upcoming_page(
    interaction: discord.Interaction, hub: Hub, cursor: str | None
) -> tuple[discord.Embed, str | None]:
    from models.events.schemas import EventQuery

    actor = (await load_context(interaction)).actor
    fields = getattr(EventQuery, "model_fields", {})
    wanted = {"upcoming": True, "when": "upcoming", "limit": PAGE, "cursor": cursor}
    query = EventQuery(**{k: v for k, v in wanted.items() if k in fields and v is not None})
    page = await _ops().list_events(actor, hub, query)
    embed = discord.Embed(title=t(interaction, N_("Upcoming events")), color=0xE67E22)
    lines = [list_line(item, locale_of(interaction)) for item in _items(page)]
    embed.description = (
        cut("\n".join(lines), DESCRIPTION)
        if lines
        else t(interaction, N_("No events are planned."))
    )
    return embed, getattr(page, "next_cursor", None)


class MorePages(discord.ui.View):
    """The Next button of /event list (a private, short-lived message: no persistence)."""

    def __init__(self, interaction: discord.Interaction, hub: Hub, cursor: str) -> None:
        super().__init__(timeout=600)
        self.hub, self.cursor = hub, cursor
        more = discord.ui.Button(
            label=t(interaction, N_("Next page")), custom_id="events:list:next"
        )
        more.callback = self.next_page  # type: ignore[method-assign]
        self.add_item(more)

    async def next_page(self, interaction: discord.Interaction) -> None:
        try:
            embed, cursor = await upcoming_page(interaction, self.hub, self.cursor)
            view = MorePages(interaction, self.hub, cursor) if cursor else None
            await update(interaction, embed=embed, view=view)
        except Exception as exc:
            await handle_error(interaction, exc)


async def occurrence_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    context = await load_context(interaction)
    if context.hub is None:
        return []
    from models.events.schemas import EventQuery

    fields = getattr(EventQuery, "model_fields", {})
    wanted = {"upcoming": True, "when": "upcoming", "limit": CHOICES}
    query = EventQuery(**{k: v for k, v in wanted.items() if k in fields})
    page = await _ops().list_events(context.actor, context.hub, query)
    needle = current.strip().casefold()
    zone = zoneinfo.ZoneInfo(context.hub.timezone or "UTC")
    choices = []
    for item in _items(page):
        title = _get(item, "title", default="") or getattr(
            getattr(item, "event", None), "title", ""
        )
        when = _get(item, "meetup_at")
        shown = f"{when.astimezone(zone):%Y-%m-%d %H:%M} · {title}" if when else str(title)
        if needle in shown.casefold():
            choices.append(
                app_commands.Choice(name=cut(shown, 100), value=str(occurrence_id_of(item)))
            )
    return choices[:CHOICES]


def _occurrence_id(text: str) -> int:
    value = parse_id(text.strip().lstrip("#"))
    if value is None:
        raise NotFound(N_("That event does not exist."), code="event_not_found")
    return value


async def shown_occurrence(interaction: discord.Interaction, hub: Hub, text: str) -> Any:
    """The occurrence the option names, read through the domain (visibility, tenancy)."""
    actor = (await load_context(interaction)).actor
    await _ops().get_occurrence(actor, hub, _occurrence_id(text))
    occurrence = await loaded(_occurrence_id(text))
    if occurrence is None:
        raise NotFound(N_("That event does not exist."), code="event_not_found")
    return occurrence


@app_commands.guild_only()
class EventCog(PluginCog, group_name=_T("event"), group_description=_T("Convoys and events")):
    """/event: what drivers use."""

    plugin = KEY
    dynamic_items = (Rsvp,)

    async def cog_load(self) -> None:
        await super().cog_load()
        discord_actions.register_renderer(SCHEDULED_RENDERER, render_scheduled)
        discord_actions.register_renderer(POST_RENDERER, render_post)
        discord_actions.register_renderer(UNSCHEDULED_RENDERER, render_unscheduled)
        self.raw = RawEvents(self.bot, self._raw)
        self.raw.install()
        self.tasks: set[asyncio.Task[None]] = set()

    async def cog_unload(self) -> None:
        self.raw.uninstall()
        discord_actions.unregister_renderer(SCHEDULED_RENDERER)
        discord_actions.unregister_renderer(POST_RENDERER)
        discord_actions.unregister_renderer(UNSCHEDULED_RENDERER)
        post_edits(self.bot).close()
        await super().cog_unload()

    def _raw(self, name: str, data: dict[str, Any]) -> None:
        handler = {
            "GUILD_SCHEDULED_EVENT_UPDATE": scheduled_updated,
            "GUILD_SCHEDULED_EVENT_DELETE": scheduled_deleted,
            "GUILD_SCHEDULED_EVENT_USER_ADD": functools.partial(interest, interested=True),
            "GUILD_SCHEDULED_EVENT_USER_REMOVE": functools.partial(interest, interested=False),
        }[name]
        task = asyncio.create_task(self._safely(name, handler, dict(data)))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _safely(self, name: str, handler: Any, data: dict[str, Any]) -> None:
        try:
            await handler(data)
        except Exception:  # a gateway event must not take the bot down
            log.exception("could not handle %s for scheduled event %s", name, data.get("id"))

    @app_commands.command(name=_T("list"), description=_T("Show the upcoming events"))
    async def list_(self, interaction: discord.Interaction) -> None:
        hub = await self.hub(interaction)
        embed, cursor = await upcoming_page(interaction, hub, None)
        view = MorePages(interaction, hub, cursor) if cursor else None
        await answer(interaction, embed=embed, view=view)

    @app_commands.command(
        name=_T("info"), description=_T("Show an event and answer whether you come")
    )
    @app_commands.describe(event=_T("The event: pick one from the list"))
    @app_commands.rename(event=_T("event"))
    async def info(self, interaction: discord.Interaction, event: str) -> None:
        hub = await self.hub(interaction)
        occurrence = await shown_occurrence(interaction, hub, event)
        locale = locale_of(interaction)
        embed = event_embed(occurrence, counts_of(occurrence), locale)
        await answer(interaction, embed=embed, view=rsvp_view(occurrence, locale))

    @info.autocomplete("event")
    @safe_autocomplete
    async def info_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await occurrence_choices(interaction, current)


@staff("manage_events")
class EventStaffCog(
    PluginCog, group_name=_T("event-admin"), group_description=_T("Plan and run events")
):
    """Staff only: Discord shows it to members with Manage Events; the hub checks its roles."""

    plugin = KEY

    @app_commands.command(
        name=_T("create"), description=_T("Plan an event"), extras={"permission": MANAGE}
    )
    async def create(self, interaction: discord.Interaction) -> None:
        hub = await self.hub(interaction)
        zone = await _zone(interaction, hub)

        async def submitted(interaction: discord.Interaction, form: CreateForm) -> None:
            actor = (await load_context(interaction)).actor
            try:
                created = await _ops().create_event(actor, hub, event_input(form, zone))
            except Invalid as exc:
                if not exc.params.get("errors"):
                    raise
                raise modal.labelled(interaction, in_modal_terms(exc)) from None
            title = _get(created, "title", default=form.title)
            done = t(interaction, N_("Event planned: {title}."), title=title)
            await answer(interaction, done)

        modal = FormModal(
            interaction,
            title=N_("Plan an event"),
            fields=create_fields(interaction, zone),
            schema=CreateForm,
            on_valid=submitted,
        )
        await open_modal(interaction, modal)

    @app_commands.command(
        name=_T("cancel"), description=_T("Cancel an event"), extras={"permission": MANAGE}
    )
    @app_commands.describe(event=_T("The event: pick one from the list"))
    @app_commands.rename(event=_T("event"))
    async def cancel(self, interaction: discord.Interaction, event: str) -> None:
        hub = await self.hub(interaction)
        occurrence = await shown_occurrence(interaction, hub, event)
        actor = (await load_context(interaction)).actor
        await _cancel(actor, hub, occurrence)
        done = t(interaction, N_("Event cancelled: {title}."), title=occurrence.event.title)
        await answer(interaction, done)
        post_edits(interaction.client).request(occurrence.id)

    @app_commands.command(
        name=_T("post"),
        description=_T("Post an event with its RSVP buttons in a channel"),
        extras={"permission": MANAGE},
    )
    @app_commands.describe(
        event=_T("The event: pick one from the list"), channel=_T("Where to post it")
    )
    @app_commands.rename(event=_T("event"), channel=_T("channel"))
    async def post(
        self, interaction: discord.Interaction, event: str, channel: discord.TextChannel
    ) -> None:
        hub = await self.hub(interaction)
        occurrence = await shown_occurrence(interaction, hub, event)
        actor = (await load_context(interaction)).actor
        poster = getattr(_ops(), "post_occurrence", None)
        if poster is not None:  # queued: the worker posts it (render_post)
            await poster(actor, hub, occurrence.id, channel.id)
        else:
            from models import plugins

            await plugins.enter(actor, hub, KEY, MANAGE, write=True)
            await send_post(interaction.client, occurrence, channel.id)
        done = t(interaction, N_("Posted in {channel}."), channel=channel.mention)
        await answer(interaction, done)

    @app_commands.command(
        name=_T("attendance"),
        description=_T("Confirm who attended: everyone who answered Going, and changes"),
        extras={"permission": MANAGE},
    )
    @app_commands.describe(
        event=_T("The event: pick one from the list"),
        add=_T("Someone who came without answering Going"),
        remove=_T("Someone who answered Going but did not come"),
    )
    @app_commands.rename(event=_T("event"), add=_T("add"), remove=_T("remove"))
    async def attendance(
        self,
        interaction: discord.Interaction,
        event: str,
        add: discord.Member | None = None,
        remove: discord.Member | None = None,
    ) -> None:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        occurrence_id = _occurrence_id(event)
        added = [await _user_id(add)] if add else []
        result = await _ops().confirm_attendance(actor, hub, occurrence_id, added, from_rsvps=True)
        if remove is not None:
            removed = [await _user_id(remove)]
            result = await _ops().set_attendance(actor, hub, occurrence_id, remove=removed)
        count = len(result.attendees)
        done = t(interaction, N_("Attendance confirmed for {count} drivers."), count=count)
        await answer(interaction, done)

    @cancel.autocomplete("event")
    @post.autocomplete("event")
    @safe_autocomplete
    async def event_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await occurrence_choices(interaction, current)

    @attendance.autocomplete("event")
    @safe_autocomplete
    async def past_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await occurrence_choices(interaction, current)


async def _user_id(member: discord.abc.User) -> int:
    from models import users

    return (await users.user_for_discord(member.id, member.name)).id


async def _cancel(actor: Any, hub: Hub, occurrence: Any) -> None:
    """Cancel the date chosen (one of a series), or the whole event when it has one date."""
    from models.events.schemas import CancelInput

    ops = _ops()
    if occurrence.event.recurrence != "none" and hasattr(ops, "cancel_occurrence"):
        await ops.cancel_occurrence(actor, hub, occurrence.id, CancelInput())
    else:
        await ops.cancel_event(actor, hub, occurrence.event_id, CancelInput())


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(EventCog(bot))
    await bot.add_cog(EventStaffCog(bot))
