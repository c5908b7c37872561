"""Discord's scheduled events, the other way round: what the bot reports back.

The mirror's start is the occurrence's meetup time and its end the occurrence's end. Edits
made in Discord (name, description, start/end, cancel) update the hub; echoes of our own
edits change nothing. Interest shown there counts as "going" for members, but never
replaces an answer given in the hub (by button or the API): an explicit answer wins, and
withdrawing interest only removes an answer that came from interest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from models import audit, plugins
from models.actor import SYSTEM, Actor
from models.auth import now
from models.errors import Conflict
from models.events import burst
from models.events.common import KEY, MANAGE, occurrence_in, queue_mirror, queue_post
from models.events.manage import _cancel, plan_reminders
from models.events.rsvps import withdraw_as
from models.events.tables import (
    DESCRIPTION_LENGTH,
    ERROR_LENGTH,
    TITLE_LENGTH,
    Answer,
    Occurrence,
    RsvpSource,
)
from models.hubs import Hub
from models.members.tables import Member, MemberState
from models.users import User


async def record_discord_event(
    occurrence_id: int, discord_event_id: int | None, error: str = ""
) -> None:
    """The bot created (or failed to create) an occurrence's scheduled event. A failure is
    kept on the occurrence (shown in the API) and audited, so staff see it."""
    row = await Occurrence.get_or_none(id=occurrence_id)
    if row is None:
        return
    async with in_transaction():
        changes: dict[str, Any] = {"discord_sync_error": error[:ERROR_LENGTH]}
        if discord_event_id is not None or not error:
            changes["discord_event_id"] = discord_event_id
        await Occurrence.filter(id=row.id).update(**changes)
        if error:
            await audit.record(
                SYSTEM,
                "events.discord_failed",
                hub_id=row.hub_id,
                target=str(row.id),
                details={"event": row.event_id, "error": error[:ERROR_LENGTH]},
            )


async def _by_discord_id(hub: Hub, discord_event_id: int) -> Occurrence | None:
    return await Occurrence.get_or_none(
        hub_id=hub.id, discord_event_id=discord_event_id
    ).select_related("event")


async def sync_from_discord(
    hub: Hub, discord_event_id: int, changes: dict[str, Any]
) -> Occurrence | None:
    """Apply an edit made in Discord: `name`, `description`, `start`, `end` (aware
    datetimes), `status` ("cancelled"). Unknown scheduled events are ignored (None)."""
    row = await _by_discord_id(hub, discord_event_id)
    if row is None:
        return None
    changes = _normalised(changes)
    event = row.event
    current = now()
    done: dict[str, Any] = {}
    async with in_transaction():
        name = (changes.get("name") or "").strip()[:TITLE_LENGTH]
        if name and name != event.title:
            event.title = done["title"] = name
        description = changes.get("description")
        if description is not None and description[:DESCRIPTION_LENGTH] != event.description:
            event.description = done["description"] = description[:DESCRIPTION_LENGTH]
        if done:
            await event.save(update_fields=[*done, "updated_at"])
        start: datetime | None = changes.get("start")
        end: datetime | None = changes.get("end")
        if start is not None and start != row.meetup_at:
            shift = start - row.meetup_at
            row.meetup_at, row.departure_at = start, row.departure_at + shift
            row.ends_at = row.ends_at + shift
            done["start"] = start.isoformat()
        if end is not None and end != row.ends_at and end > row.departure_at:
            row.ends_at = end
            done["end"] = end.isoformat()
        if "start" in done or "end" in done:
            await row.save(update_fields=["meetup_at", "departure_at", "ends_at"])
            await plan_reminders(hub, row, current)
        if changes.get("status") == "cancelled" and not row.cancelled:
            await _cancel(hub, event, row)
            done["cancelled"] = True
            await queue_mirror(hub, event, current)
        if done:
            await audit.record(
                SYSTEM,
                "events.synced_from_discord",
                hub=hub,
                target=str(row.id),
                details={k: v for k, v in done.items() if k != "description"},
            )
    return row


ALIASES = {
    "title": "name",
    "meetup_at": "start",
    "scheduled_start_time": "start",
    "ends_at": "end",
    "scheduled_end_time": "end",
}


def _normalised(changes: dict[str, Any]) -> dict[str, Any]:
    """The bot's names for the fields (Discord's, or ours) as this module reads them."""
    out = {ALIASES.get(key, key): value for key, value in changes.items()}
    if out.pop("cancelled", False):
        out["status"] = "cancelled"
    return out


async def record_event_post(occurrence_id: int, channel_id: int, message_id: int) -> None:
    """The bot posted an occurrence's RSVP message: later edits go to it."""
    await Occurrence.filter(id=occurrence_id).update(
        post_channel_id=channel_id, post_message_id=message_id
    )


async def post_occurrence(
    actor: Actor, hub: Hub, occurrence_id: int, channel_id: int
) -> Occurrence:
    """Post a date's RSVP message (buttons, live counts) in a channel (manage_events)."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    row = await occurrence_in(hub, occurrence_id)
    async with in_transaction():
        if row.post_channel_id != channel_id:
            row.post_channel_id, row.post_message_id = channel_id, None
            await row.save(update_fields=["post_channel_id", "post_message_id"])
        await queue_post(hub, row, channel_id)
        await audit.record(
            actor,
            "events.posted",
            hub=hub,
            target=str(row.id),
            details={"channel": str(channel_id)},
        )
    return row


async def discord_interest(
    hub: Hub, discord_event_id: int, discord_user_id: int, interested: bool
) -> bool:
    """Interest shown (or withdrawn) on the scheduled event; True if an answer changed."""
    row = await _by_discord_id(hub, discord_event_id)
    user = await User.get_or_none(discord_id=discord_user_id).only("id")
    if row is None or user is None or row.cancelled:
        return False
    if not interested:
        async with in_transaction():
            return await withdraw_as(row, user.id, only=RsvpSource.DISCORD_INTEREST)
    state = await Member.filter(hub_id=hub.id, user_id=user.id).values_list("state", flat=True)
    if not state or state[0] != MemberState.MEMBER:
        return False
    try:
        changed = await burst.answer(
            row.id,
            row.event.slots,
            user.id,
            Answer.GOING,
            RsvpSource.DISCORD_INTEREST,
            keep_explicit=True,
        )
        return bool(changed)
    except Conflict:  # full: interest stays interest
        return False
