"""Planning (manage_events): create a series with its occurrences and reminders, change it
(future occurrences follow), cancel a series or one date, delete with point corrections."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from models import audit, plugins
from models.actor import Actor
from models.auth import now
from models.errors import Conflict
from models.events.common import (
    KEY,
    MANAGE,
    event_in,
    local_time,
    occurrence_in,
    post_variables,
    queue_mirror,
    queue_post,
    queue_unmirror,
    settings,
)
from models.events.recurrence import MAX_OCCURRENCES, Slot, TooMany, expand, zone_of
from models.events.schemas import CancelInput, EventInput, EventUpdate
from models.events.tables import (
    Attendance,
    Event,
    Occurrence,
    Recurrence,
    Reminder,
    Rsvp,
    Visibility,
)
from models.hubs import Hub
from models.i18n import N_, Lazy
from models.notifications.broadcast import broadcast
from models.notifications.center import notify
from models.posts import ops as posts
from models.validation import field_error, validate

TIMING = frozenset(
    {
        "meetup_at",
        "departure_at",
        "duration_minutes",
        "recurrence",
        "recurrence_until",
        "exceptions",
    }
)


PLAN_YEARS = 3
PLAN_AHEAD = timedelta(days=365 * PLAN_YEARS)


def _error(field: str, message: str, **params: Any) -> Exception:
    return field_error((field,), Lazy(message, **params))  # type: ignore[arg-type]


def plan(hub: Hub, data: EventInput, current: datetime, *, new: bool) -> list[Slot]:
    """The occurrence times `data` makes, or a 422 naming the field at fault."""
    if data.departure_at < data.meetup_at:
        raise _error("departure_at", N_("must not be before the meetup time"))
    if new and data.meetup_at <= current:
        raise _error("meetup_at", N_("must be in the future"))
    # Nothing is planned years ahead, and dates near the calendar's end cannot be expanded.
    latest = current + PLAN_AHEAD
    for name in ("meetup_at", "departure_at"):
        if getattr(data, name) > latest:
            raise _error(name, N_("must be within {years} years from now"), years=PLAN_YEARS)
    if data.recurrence_until is not None and data.recurrence_until > latest.date():
        raise _error(
            "recurrence_until", N_("must be within {years} years from now"), years=PLAN_YEARS
        )
    if data.recurrence == Recurrence.NONE and data.recurrence_until is not None:
        raise _error("recurrence_until", N_("only a repeating event has a last date"))
    if data.recurrence == Recurrence.NONE and data.exceptions:
        raise _error("exceptions", N_("only a repeating event skips dates"))
    first_day = data.meetup_at.astimezone(zone_of(hub.timezone)).date()
    if data.recurrence_until is not None and data.recurrence_until < first_day:
        raise _error("recurrence_until", N_("must not be before the first date"))
    try:
        slots = expand(
            data.recurrence,
            data.meetup_at,
            data.departure_at,
            timedelta(minutes=data.duration_minutes),
            hub.timezone,
            until=data.recurrence_until if data.recurrence != Recurrence.NONE else None,
            exceptions=data.exceptions,
            horizon_from=max(current, data.meetup_at),
        )
    except TooMany:
        raise _error(
            "recurrence_until",
            N_("the series would have more than {count} dates: end it sooner"),
            count=MAX_OCCURRENCES,
        ) from None
    if not slots:
        raise _error("exceptions", N_("the series skips every date"))
    return slots


def _columns(data: EventInput) -> dict[str, Any]:
    values = data.model_dump()
    values["exceptions"] = [day.isoformat() for day in data.exceptions]
    return values


async def add_occurrence(hub: Hub, event: Event, slot: Slot, current: datetime) -> Occurrence:
    row = await Occurrence.create(
        event_id=event.id,
        hub_id=hub.id,
        index=slot.index,
        meetup_at=slot.meetup_at,
        departure_at=slot.departure_at,
        ends_at=slot.ends_at,
        pin_order=0 if event.pinned else 1,
        pin_rank=1 if event.pinned else 0,
        members_only=event.visibility == Visibility.MEMBERS,
    )
    await plan_reminders(hub, row, current)
    return row


async def plan_reminders(hub: Hub, occurrence: Occurrence, current: datetime) -> None:
    """The occurrence's reminders, at the hub's offsets still ahead (unsent ones replaced)."""
    await Reminder.filter(occurrence_id=occurrence.id, sent_at__isnull=True).delete()
    sent = set(
        await Reminder.filter(occurrence_id=occurrence.id).values_list("offset_minutes", flat=True)
    )
    for offset in settings(hub).offsets():
        due = occurrence.meetup_at - timedelta(minutes=offset)
        if due > current and offset not in sent:
            await Reminder.create(
                occurrence_id=occurrence.id, hub_id=hub.id, offset_minutes=offset, due_at=due
            )


async def create_event(actor: Actor, hub: Hub, data: EventInput) -> Event:
    """Plan a convoy (or a series): occurrences, reminders, the Discord mirror of the next
    date, hub posts and, if the hub says so, a notification to every member."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    current = now()
    slots = plan(hub, data, current, new=True)
    async with in_transaction():
        event = await Event.create(hub_id=hub.id, created_by_id=actor.user_id, **_columns(data))
        first = None
        for slot in slots:
            row = await add_occurrence(hub, event, slot, current)
            first = first or row
        await audit.record(
            actor,
            "events.created",
            hub=hub,
            target=str(event.id),
            details={"title": event.title, "occurrences": len(slots)},
        )
        await queue_mirror(hub, event, current)
        members_only = event.visibility == Visibility.MEMBERS
        variables = post_variables(hub, event, first)
        await posts.emit(
            hub, "event.created", variables, source=f"event:{event.id}", members_only=members_only
        )
        if settings(hub).notify_all_on_new:
            await broadcast(hub, "event.created", _note(hub, event, first))
    return event


def _note(hub: Hub, event: Event, occurrence: Occurrence | None, **more: Any) -> dict[str, Any]:
    when = occurrence.meetup_at if occurrence is not None else event.meetup_at
    return {
        "hub": hub.name,
        "title": event.title,
        "meetup": local_time(hub, when),
        "event_id": event.id,
        "occurrence_id": occurrence.id if occurrence is not None else None,
        **more,
    }


def _as_input(event: Event) -> dict[str, Any]:
    fields = EventInput.model_fields
    return {name: getattr(event, name) for name in fields}


async def update_event(actor: Actor, hub: Hub, event_id: int, data: EventUpdate) -> Event:
    """Change a series; when its times change, its future dates follow (RSVPs kept on dates
    that stay; a date that goes away is deleted, or cancelled if people answered)."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    event = await event_in(hub, event_id)
    if event.cancelled_at is not None:
        raise Conflict(N_("This event was cancelled."), code="event_cancelled")
    patch = data.model_dump(exclude_unset=True)
    if patch.get("recurrence") == Recurrence.NONE:  # a one-off keeps no series' end or skips
        patch = {"recurrence_until": None, "exceptions": [], **patch}
    merged = validate(EventInput, {**_as_input(event), **patch})
    current = now()
    for name in ("meetup_at", "departure_at"):
        if name in patch and getattr(merged, name) <= current:
            raise _error(name, N_("must be in the future"))
    slots = plan(hub, merged, current, new=False)
    old_points = event.points
    async with in_transaction():
        for name, value in _columns(merged).items():
            setattr(event, name, value)
        await event.save()
        await Occurrence.filter(event_id=event.id).update(
            pin_order=0 if event.pinned else 1,
            pin_rank=1 if event.pinned else 0,
            members_only=event.visibility == Visibility.MEMBERS,
        )
        if TIMING & set(patch):
            await _follow_times(actor, hub, event, slots, current)
        if event.points != old_points:
            from models.events.attendance import repoint

            await repoint(actor, hub, event)
        await audit.record(
            actor,
            "events.updated",
            hub=hub,
            target=str(event.id),
            details={"fields": sorted(patch)},
        )
        await queue_mirror(hub, event, current)
        await posts.update_source(
            hub,
            f"event:{event.id}",
            post_variables(hub, event, None),
            members_only=event.visibility == Visibility.MEMBERS,
        )
    return event


async def _follow_times(
    actor: Actor, hub: Hub, event: Event, slots: list[Slot], current: datetime
) -> None:
    rows = await Occurrence.filter(event_id=event.id)
    by_index = {row.index: row for row in rows}
    wanted = {slot.index for slot in slots}
    for slot in slots:
        row = by_index.get(slot.index)
        if row is None:
            if slot.ends_at > current:
                await add_occurrence(hub, event, slot, current)
            continue
        moved = row.meetup_at != slot.meetup_at
        same = (row.departure_at, row.ends_at) == (slot.departure_at, slot.ends_at)
        if row.ends_at <= current or (not moved and same):
            continue
        row.meetup_at, row.departure_at, row.ends_at = (
            slot.meetup_at,
            slot.departure_at,
            slot.ends_at,
        )
        await row.save(update_fields=["meetup_at", "departure_at", "ends_at"])
        if moved:  # reminders and the "moved" notice are about the meetup
            await plan_reminders(hub, row, current)
            await _tell_going(hub, event, row, "event.changed")
    for row in rows:
        if row.index in wanted or row.ends_at <= current:
            continue
        if await Rsvp.filter(occurrence_id=row.id).exists():
            await _cancel(hub, event, row)
        else:
            await queue_unmirror(hub, row)
            await row.delete()


async def _tell_going(hub: Hub, event: Event, row: Occurrence, kind: str, **more: Any) -> None:
    users = await Rsvp.filter(occurrence_id=row.id, answer__in=["going", "maybe"]).values_list(
        "user_id", flat=True
    )
    if users:
        await notify(users, kind, _note(hub, event, row, **more), hub=hub)


async def _cancel(hub: Hub, event: Event, row: Occurrence, reason: str = "") -> None:
    row.cancelled = True
    await row.save(update_fields=["cancelled"])
    await Reminder.filter(occurrence_id=row.id, sent_at__isnull=True).delete()
    await _tell_going(hub, event, row, "event.cancelled", reason=reason or "-")
    if row.discord_event_id is not None and hub.guild_id is not None:
        from models.events.common import mirror_action

        await mirror_action(hub, row)  # the bot marks the scheduled event cancelled
    await queue_post(hub, row)


async def _no_attendance(occurrence_ids: list[int]) -> None:
    """A date whose attendance was confirmed took place: its points stand until staff take
    the attendees off again (a cancelled date takes no more attendance changes)."""
    if await Attendance.filter(occurrence_id__in=occurrence_ids).exists():
        raise Conflict(
            N_("Attendance was confirmed for this date: remove the attendees first."),
            code="attendance_confirmed",
        )


async def cancel_event(
    actor: Actor, hub: Hub, event_id: int, data: CancelInput | None = None
) -> Event:
    """Cancel every date still ahead; those who answered are told."""
    data = data or CancelInput()
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    event = await event_in(hub, event_id)
    if event.cancelled_at is not None:
        raise Conflict(N_("This event was cancelled."), code="event_cancelled")
    current = now()
    ahead = await Occurrence.filter(event_id=event.id, ends_at__gt=current, cancelled=False)
    await _no_attendance([row.id for row in ahead])
    async with in_transaction():
        event.cancelled_at = current
        await event.save(update_fields=["cancelled_at", "updated_at"])
        for row in ahead:
            await _cancel(hub, event, row, data.reason)
        await audit.record(
            actor,
            "events.cancelled",
            hub=hub,
            target=str(event.id),
            details={"reason": data.reason},
        )
        variables = {**post_variables(hub, event, None), "reason": data.reason}
        await posts.emit(
            hub,
            "event.cancelled",
            variables,
            source=f"event:{event.id}",
            members_only=event.visibility == Visibility.MEMBERS,
        )
    return event


async def cancel_occurrence(
    actor: Actor, hub: Hub, occurrence_id: int, data: CancelInput | None = None
) -> Occurrence:
    """Cancel one date of a series; the series' next date is mirrored instead."""
    data = data or CancelInput()
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    row = await occurrence_in(hub, occurrence_id)
    if row.cancelled:
        raise Conflict(N_("This event was cancelled."), code="event_cancelled")
    await _no_attendance([row.id])
    current = now()
    async with in_transaction():
        await _cancel(hub, row.event, row, data.reason)
        await audit.record(
            actor,
            "events.occurrence_cancelled",
            hub=hub,
            target=str(row.id),
            details={"event": row.event_id, "reason": data.reason},
        )
        await queue_mirror(hub, row.event, current)
    return row


async def delete_event(actor: Actor, hub: Hub, event_id: int) -> None:
    """Delete a series with its dates; points booked for attendance are taken back by
    correction rows (the ledger keeps its history), and those going to a date still ahead
    are told it is cancelled."""
    from models.events.attendance import take_back

    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    event = await event_in(hub, event_id)
    current = now()
    async with in_transaction():
        corrected = await take_back(actor, hub, event)
        ahead = Occurrence.filter(event_id=event.id, ends_at__gt=current, cancelled=False)
        if event.cancelled_at is None:  # those still planning to come hear it is off
            for row in await ahead:
                await _tell_going(hub, event, row, "event.cancelled", reason="-")
        for row in await Occurrence.filter(event_id=event.id, discord_event_id__isnull=False):
            await queue_unmirror(hub, row)
        await posts.delete_source(hub, f"event:{event.id}")
        await audit.record(
            actor,
            "events.deleted",
            hub=hub,
            target=str(event.id),
            details={"title": event.title, "corrections": corrected},
        )
        await event.delete()
