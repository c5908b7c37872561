"""Work the runtime does every ~30 s: reminders that fell due, and occurrences that ended.

A reminder is claimed with a lease (a conditional update: of two workers, one wins), then
marked sent in the same transaction as the notifications it makes, again conditionally. A
crash before the commit leaves it unsent and, once the lease ran out, another run sends it;
a commit means it is never sent again. So each reminder is sent exactly once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import auth, plugins
from models.events.common import KEY, local_time, post_variables, queue_mirror
from models.events.manage import add_occurrence
from models.events.recurrence import expand
from models.events.tables import Answer, Event, Occurrence, Recurrence, Reminder, Rsvp, Visibility
from models.hubs import Hub
from models.notifications.center import notify
from models.posts import ops as posts

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
BATCH = 100


async def send_due_reminders(now: datetime | None = None) -> int:
    """Send the reminders due by `now`; returns how many this run sent."""
    current = now or auth.now()
    due = (
        await Reminder.filter(sent_at__isnull=True, due_at__lte=current)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=current))
        .order_by("due_at", "id")
        .limit(BATCH)
        .values_list("id", flat=True)
    )
    sent = 0
    for reminder_id in due:
        if not await claim(reminder_id, current):
            continue  # another worker has it
        try:
            sent += await _send(reminder_id, current)
        except Exception:  # the lease runs out and a later run tries again
            log.exception("event reminder %s failed", reminder_id)
    return sent


async def claim(reminder_id: int, current: datetime) -> bool:
    taken = await Reminder.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=current),
        id=reminder_id,
        sent_at__isnull=True,
    ).update(claimed_until=current + LEASE)
    return bool(taken)


async def _send(reminder_id: int, current: datetime) -> int:
    async with in_transaction():
        if not await Reminder.filter(id=reminder_id, sent_at__isnull=True).update(sent_at=current):
            return 0  # sent by a worker whose lease this one outlived
        reminder = await Reminder.get(id=reminder_id).select_related("occurrence__event")
        occurrence: Occurrence = reminder.occurrence
        event: Event = occurrence.event
        hub = await Hub.get(id=reminder.hub_id)
        if (
            occurrence.cancelled
            or event.cancelled_at is not None
            or current >= occurrence.meetup_at
            or not plugins.is_enabled(hub, KEY)
        ):
            return 0  # too late, or nothing to remind of: marked sent, nobody told
        users = await Rsvp.filter(occurrence_id=occurrence.id, answer=Answer.GOING).values_list(
            "user_id", flat=True
        )
        data = {
            "hub": hub.name,
            "title": event.title,
            "lead": _lead(reminder.offset_minutes),
            "minutes": reminder.offset_minutes,
            "meetup": local_time(hub, occurrence.meetup_at),
            "event_id": event.id,
            "occurrence_id": occurrence.id,
        }
        if users:
            await notify(users, "event.reminder", data, hub=hub)
        if not await Reminder.filter(
            occurrence_id=occurrence.id, offset_minutes__lt=reminder.offset_minutes
        ).exists():
            # The last reminder of a date: "starting soon" in the hub's channels.
            await posts.emit(
                hub,
                "event.starting",
                {**post_variables(hub, event, occurrence), "lead": data["lead"]},
                source=f"event:{event.id}",
                members_only=event.visibility == Visibility.MEMBERS,
            )
        return 1


def _lead(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


async def occurrence_ended(now: datetime | None = None) -> int:
    """After a date ends, mirror its series' next date and keep open-ended series planned
    ahead; returns how many ended dates were handled."""
    current = now or auth.now()
    rows = (
        await Occurrence.filter(ended_handled=False, ends_at__lte=current)
        .order_by("ends_at", "id")
        .limit(BATCH)
    )
    handled = 0
    for row in rows:
        async with in_transaction():
            if not await Occurrence.filter(id=row.id, ended_handled=False).update(
                ended_handled=True
            ):
                continue
            handled += 1
            event = await Event.get(id=row.event_id)
            hub = await Hub.get(id=row.hub_id)
            if event.cancelled_at is not None or not plugins.is_enabled(hub, KEY):
                continue
            await top_up(hub, event, current)
            await queue_mirror(hub, event, current)
    return handled


async def top_up(hub: Hub, event: Event, current: datetime) -> int:
    """An open-ended series gets its dates up to the horizon from now."""
    if event.recurrence == Recurrence.NONE or event.recurrence_until is not None:
        return 0
    from datetime import date

    slots = expand(
        event.recurrence,
        event.meetup_at,
        event.departure_at,
        timedelta(minutes=event.duration_minutes),
        hub.timezone,
        exceptions=[date.fromisoformat(d) for d in event.exceptions or []],
        horizon_from=current,
    )
    have = set(await Occurrence.filter(event_id=event.id).values_list("index", flat=True))
    added = 0
    for slot in slots:
        if slot.index not in have and slot.ends_at > current:
            await add_occurrence(hub, event, slot, current)
            added += 1
    return added


async def run_due(now: datetime | None = None) -> int:
    """One pass of the worker: reminders, then ended dates."""
    current = now or auth.now()
    sent = await send_due_reminders(current)
    await occurrence_ended(current)
    return sent
