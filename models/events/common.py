"""What the events operations share: lookups within a hub, who sees members-only events,
views, and the side effects (the Discord mirror, hub posts)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from models import discord_actions, permissions, plugins, sql
from models.actor import Actor
from models.discord_actions import ActionKind
from models.errors import NotFound
from models.events.schemas import (
    Counts,
    EventView,
    OccurrenceBrief,
    OccurrenceView,
    PlaceView,
)
from models.events.settings import EventsSettings
from models.events.tables import Answer, Event, Game, Occurrence, Recurrence, Visibility
from models.hubs import Hub
from models.i18n import N_
from models.members.tables import Member
from models.permissions import grant_of

KEY = "events"
MANAGE = "manage_events"
SCHEDULED = "events.scheduled"  # the render the cog registers: create or edit the mirror
UNSCHEDULED = "events.unscheduled"  # delete the mirror (payload: discord_event_id)
POST = "events.post"  # the RSVP message with buttons and live counts


def settings(hub: Hub) -> EventsSettings:
    return plugins.settings_of(hub, KEY)  # type: ignore[return-value]


def event_not_found() -> NotFound:
    return NotFound(N_("That event does not exist."), code="event_not_found")


async def event_in(hub: Hub, event_id: int) -> Event:
    found = await Event.get_or_none(id=event_id, hub_id=hub.id)
    if found is None:
        raise event_not_found()
    return found


async def occurrence_in(hub: Hub, occurrence_id: int) -> Occurrence:
    """An occurrence of this hub with its series (404 for another hub's)."""
    return await _occurrence_in(hub, occurrence_id, (), ())


# What an answer reads of a date and its series (rsvps.rsvp, rsvp_closes_at, queue_post).
ANSWER_COLUMNS = (
    (
        *("id", "hub_id", "event_id", "members_only", "cancelled", "meetup_at", "departure_at"),
        *("post_channel_id", "post_message_id"),
    ),
    ("id", "title", "slots", "cancelled_at", "rsvp_deadline_minutes"),
)


async def answer_target(hub: Hub, occurrence_id: int) -> Occurrence:
    """`occurrence_in` reading only ANSWER_COLUMNS (partial instances): every RSVP click runs
    it, 50 at once under a fresh post, and the other columns cost their conversion."""
    return await _occurrence_in(hub, occurrence_id, *ANSWER_COLUMNS)


async def _occurrence_in(
    hub: Hub, occurrence_id: int, of_date: tuple[str, ...], of_series: tuple[str, ...]
) -> Occurrence:
    # Hand-written: the ORM's join costs three times the statement.
    rows = await sql.fetch(_occurrence_sql(of_date, of_series), [occurrence_id, hub.id])
    if not rows:
        raise event_not_found()
    found = sql.part(Occurrence, "o", rows[0])
    found.event = sql.part(Event, "e", rows[0])
    return found


@cache
def _occurrence_sql(of_date: tuple[str, ...], of_series: tuple[str, ...]) -> str:
    return (
        f"SELECT {sql.columns(Occurrence, 'o', of_date)}, {sql.columns(Event, 'e', of_series)}"  # noqa: S608 - names from the models
        f" FROM {Occurrence._meta.db_table} o JOIN {Event._meta.db_table} e ON e.id = o.event_id"
        " WHERE o.id = ? AND o.hub_id = ?"
    )


async def is_staff(actor: Actor, hub: Hub) -> bool:
    return actor.is_superuser or (await grant_of(actor, hub)).has(MANAGE)


async def sees_members_only(actor: Actor, hub: Hub) -> bool:
    """Members (and staff) see members-only events; visitors and strangers do not."""
    return await permissions.sees_members_only(actor, hub, MANAGE)


def local_time(hub: Hub, when: datetime) -> str:
    """A time as texts show it (notices, refusals, calendars): on the hub's clock, with its
    zone, e.g. `2026-05-01 19:30 CEST`."""
    from models.events.recurrence import zone_of

    return when.astimezone(zone_of(hub.timezone)).strftime("%Y-%m-%d %H:%M %Z")


class DateFields(Protocol):
    """What a date's view reads of the date: an `Occurrence`, or a row of the list."""

    id: int
    event_id: int
    index: int
    meetup_at: datetime
    departure_at: datetime
    ends_at: datetime
    cancelled: bool
    going: int
    maybe: int
    not_going: int
    discord_event_id: int | None
    discord_sync_error: str
    attendance_confirmed_at: datetime | None


class SeriesFields(Protocol):
    """What a date's view reads of its series: an `Event`, or a row of the list."""

    title: str
    description: str
    game: Game
    server: str
    departure_city: str
    departure_company: str
    arrival_city: str
    arrival_company: str
    link: str
    points: int
    visibility: Visibility
    slots: int | None
    rsvp_deadline_minutes: int | None
    recurrence: Recurrence
    pinned: bool
    cancelled_at: datetime | None


def rsvp_closes_at(occurrence: DateFields, event: SeriesFields) -> datetime:
    if event.rsvp_deadline_minutes is None:
        return occurrence.departure_at
    return occurrence.meetup_at - timedelta(minutes=event.rsvp_deadline_minutes)


def counts_of(occurrence: DateFields) -> Counts:
    return Counts(going=occurrence.going, maybe=occurrence.maybe, not_going=occurrence.not_going)


def occurrence_view(row: Occurrence, my_answer: Answer | None = None) -> OccurrenceView:
    """A row loaded with its event."""
    return date_view(row, row.event, my_answer)


def date_view(row: DateFields, event: SeriesFields, my_answer: Answer | None) -> OccurrenceView:
    """A date with its series as the API shows it."""
    return OccurrenceView(
        id=row.id,
        event_id=row.event_id,
        index=row.index,
        title=event.title,
        description=event.description,
        game=event.game,
        server=event.server,
        departure=PlaceView(city=event.departure_city, company=event.departure_company),
        arrival=PlaceView(city=event.arrival_city, company=event.arrival_company),
        meetup_at=row.meetup_at,
        departure_at=row.departure_at,
        ends_at=row.ends_at,
        link=event.link,
        points=event.points,
        visibility=event.visibility,
        slots=event.slots,
        rsvp_closes_at=rsvp_closes_at(row, event),
        recurrence=event.recurrence,
        pinned=event.pinned,
        cancelled=row.cancelled or event.cancelled_at is not None,
        counts=counts_of(row),
        my_answer=my_answer,
        discord_event_id=str(row.discord_event_id) if row.discord_event_id else None,
        discord_sync_error=row.discord_sync_error,
        attendance_confirmed_at=row.attendance_confirmed_at,
    )


async def event_view(event: Event) -> EventView:
    rows = await Occurrence.filter(event_id=event.id).order_by("index")
    return EventView(
        id=event.id,
        title=event.title,
        description=event.description,
        game=event.game,
        server=event.server,
        departure=PlaceView(city=event.departure_city, company=event.departure_company),
        arrival=PlaceView(city=event.arrival_city, company=event.arrival_company),
        meetup_at=event.meetup_at,
        departure_at=event.departure_at,
        duration_minutes=event.duration_minutes,
        link=event.link,
        points=event.points,
        visibility=event.visibility,
        slots=event.slots,
        rsvp_deadline_minutes=event.rsvp_deadline_minutes,
        recurrence=event.recurrence,
        recurrence_until=event.recurrence_until,
        exceptions=list(event.exceptions or []),
        pinned=event.pinned,
        created_by=event.created_by_id,
        created_at=event.created_at,
        cancelled_at=event.cancelled_at,
        occurrences=[
            OccurrenceBrief(id=r.id, index=r.index, meetup_at=r.meetup_at, cancelled=r.cancelled)
            for r in rows
        ],
    )


# Side effects


def mirrored(hub: Hub, event: Event) -> bool:
    """Discord's scheduled events are seen by the whole server."""
    if hub.guild_id is None:
        return False
    return event.visibility == Visibility.PUBLIC or settings(hub).mirror_members_only


async def queue_mirror(hub: Hub, event: Event, now: datetime) -> Occurrence | None:
    """Mirror the series' next occurrence (Discord allows 100 scheduled events per guild,
    so one per series); the bot renders it as it is when it sends."""
    if not mirrored(hub, event):
        return None
    upcoming = (
        await Occurrence.filter(event_id=event.id, ends_at__gt=now, cancelled=False)
        .order_by("meetup_at")
        .first()
    )
    if upcoming is None or event.cancelled_at is not None:
        return None
    await mirror_action(hub, upcoming)
    return upcoming


async def mirror_action(hub: Hub, occurrence: Occurrence) -> None:
    assert hub.guild_id is not None
    await discord_actions.enqueue(
        hub.id,
        hub.guild_id,
        ActionKind.POST,
        target_key=f"event:{occurrence.id}",
        payload={"render": SCHEDULED, "occurrence_id": occurrence.id},
    )


async def queue_unmirror(hub: Hub, occurrence: Occurrence) -> None:
    """Delete an occurrence's scheduled event (it is gone from the hub)."""
    if hub.guild_id is None or occurrence.discord_event_id is None:
        return
    await discord_actions.enqueue(
        hub.id,
        hub.guild_id,
        ActionKind.POST,
        target_key=f"event:{occurrence.id}",
        payload={"render": UNSCHEDULED, "discord_event_id": occurrence.discord_event_id},
    )


def post_variables(hub: Hub, event: Event, occurrence: Occurrence | None) -> dict[str, Any]:
    when = occurrence.meetup_at if occurrence is not None else event.meetup_at
    return {
        "hub": hub.name,
        "title": event.title,
        "when": f"<t:{int(when.timestamp())}:F>",
        "route": " → ".join(p for p in (event.departure_city, event.arrival_city) if p),
        "link": event.link,
        "points": str(event.points),
    }


async def member_of(hub: Hub, user_id: int) -> Member | None:
    return await Member.get_or_none(hub_id=hub.id, user_id=user_id)


async def queue_post(hub: Hub, occurrence: Occurrence, channel_id: int | None = None) -> None:
    """Ask the bot to post (or edit, with the counts as they are then) an occurrence's RSVP
    message. Waiting edits of one message replace each other, so a burst of clicks makes
    one edit."""
    channel = channel_id or occurrence.post_channel_id
    if hub.guild_id is None or channel is None:
        return
    await discord_actions.enqueue(
        hub.id,
        hub.guild_id,
        ActionKind.POST,
        target_key=f"event-post:{occurrence.id}",
        channel_id=channel,
        payload={"render": POST, "occurrence_id": occurrence.id},
    )
