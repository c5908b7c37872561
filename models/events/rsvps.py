"""Answering a date: going / maybe / not going. Counts are kept on the occurrence in the
same transaction as the answers (models.events.burst writes a burst of clicks together),
and a "going" takes a slot only while one is free, so 50 clicks at once never overfill an
event."""

from __future__ import annotations

from tortoise.expressions import F

from models import plugins
from models.actor import Actor
from models.auth import now
from models.errors import Conflict, Forbidden, Unauthorized
from models.events import burst
from models.events.common import (
    KEY,
    answer_target,
    local_time,
    queue_post,
    rsvp_closes_at,
    sees_members_only,
)
from models.events.schemas import RsvpResult
from models.events.tables import Answer, Occurrence, Rsvp, RsvpSource
from models.hubs import Hub
from models.i18n import N_
from models.members.tables import Member
from models.text import fold
from models.users import User


async def rsvp(
    actor: Actor,
    hub: Hub,
    occurrence_id: int,
    answer: Answer,
    *,
    source: RsvpSource = RsvpSource.API,
    edit_post: bool = True,
) -> RsvpResult:
    """Answer a date (anyone the hub lets in; members-only dates: members). Refused when
    cancelled, after the RSVP deadline, or "going" when every slot is taken.

    `edit_post=False`: the caller edits the date's post itself (the bot, which coalesces a
    burst of clicks into one edit), so no Discord action is queued for it here."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    if actor.user_id is None:
        raise Unauthorized()
    row = await answer_target(hub, occurrence_id)
    event = row.event
    if row.members_only and not await sees_members_only(actor, hub):
        raise Forbidden(N_("This event is for members only."), code="members_only")
    if row.cancelled or event.cancelled_at is not None:
        raise Conflict(N_("This event was cancelled."), code="event_cancelled")
    closes = rsvp_closes_at(row, event)
    if now() >= closes:
        raise Conflict(
            N_("Answers to this event closed at {closed}."),
            code="rsvp_closed",
            closed=local_time(hub, closes),
        )
    answered = await burst.answer(row.id, event.slots, actor.user_id, answer, source)
    if answered.change == burst.Change.NEW:
        await _visitor_row(hub, actor.user_id)
    counts = answered.counts or await burst.counts_now(row.id)
    if edit_post and row.post_message_id is not None:
        await queue_post(hub, row)
    return RsvpResult(occurrence_id=row.id, answer=answer, counts=counts, title=event.title)


async def withdraw_as(row: Occurrence, user_id: int, *, only: RsvpSource | None = None) -> bool:
    """Remove an answer (in the caller's transaction); `only`: if it came from there."""
    existing = await Rsvp.get_or_none(occurrence_id=row.id, user_id=user_id)
    if existing is None or (only is not None and existing.source != only):
        return False
    before = str(existing.answer)
    await Occurrence.filter(id=row.id).update(**{before: F(before) - 1})
    await existing.delete()
    return True


async def _visitor_row(hub: Hub, user_id: int) -> None:
    """Someone known only from the website gets a visitor row (reminders reach hub people)."""
    if not await Member.filter(hub_id=hub.id, user_id=user_id).exists():
        user = await User.get(id=user_id)
        await Member.get_or_create(
            hub_id=hub.id,
            user_id=user_id,
            defaults={"search_name": fold(user.username)[:64], "in_guild": False},
        )
