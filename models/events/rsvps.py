"""Answering a date: going / maybe / not going. Counts are kept on the occurrence in the
same transaction, and a "going" takes a slot with one conditional update, so 50 clicks at
once never overfill an event."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models import plugins, sql
from models.actor import Actor
from models.auth import now
from models.errors import Conflict, Forbidden, Unauthorized
from models.events.common import (
    KEY,
    answer_target,
    queue_post,
    rsvp_closes_at,
    sees_members_only,
)
from models.events.schemas import Counts, RsvpResult
from models.events.tables import Answer, Occurrence, Rsvp, RsvpSource
from models.hubs import Hub
from models.i18n import N_
from models.members.tables import Member
from models.text import fold
from models.users import User


def _full() -> Conflict:
    return Conflict(N_("This event is full."), code="event_full")


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
            closed=closes.strftime("%Y-%m-%d %H:%M UTC"),
        )
    for attempt in range(2):  # a double click racing itself: the second sees the first
        try:
            async with in_transaction():
                answered = await answer_as(row, event.slots, actor.user_id, answer, source)
            break
        except IntegrityError:
            if attempt:
                raise
    if answered.change is Change.NEW:
        await _visitor_row(hub, actor.user_id)
    counts = answered.counts or await _counts(row.id)
    if edit_post and row.post_message_id is not None:
        await queue_post(hub, row)
    return RsvpResult(occurrence_id=row.id, answer=answer, counts=counts, title=event.title)


class Change(Enum):
    NONE = "none"
    NEW = "new"
    CHANGED = "changed"


@dataclass(frozen=True)
class Answered:
    """What an answer did, and the counts its update left (None when nothing changed)."""

    change: Change
    counts: Counts | None = None

    def __bool__(self) -> bool:
        return self.change is not Change.NONE


async def answer_as(
    row: Occurrence,
    slots: int | None,
    user_id: int,
    answer: Answer,
    source: RsvpSource,
    *,
    keep_explicit: bool = False,
) -> Answered:
    """Record an answer in the caller's transaction. Hand-written statements: a click runs
    these, 50 at once when an event is posted, and the ORM builds each anew."""
    found = await sql.instances(Rsvp, _RSVP_OF, [row.id, user_id])
    existing = found[0] if found else None
    if existing is not None and keep_explicit and existing.source != RsvpSource.DISCORD_INTEREST:
        return Answered(Change.NONE)
    if existing is not None and existing.answer == answer:
        return Answered(Change.NONE)
    # One conditional update moves the count from the old answer to the new one; "going"
    # takes a slot only while one is free. Column names come from the Answer enum.
    column = str(answer)
    moves = [f"{column} = {column} + 1"]
    if existing is not None:
        moves.append(f"{existing.answer} = {existing.answer} - 1")
    statement = f"UPDATE event_occurrences SET {', '.join(moves)} WHERE id = ?"  # noqa: S608 - enum names
    params: list[int] = [row.id]
    if answer == Answer.GOING and slots is not None:
        statement += " AND going < ?"
        params.append(slots)
    moved = await sql.fetch(statement + " RETURNING going, maybe, not_going", params)
    if not moved:
        raise _full()
    counts = Counts(**moved[0])
    if existing is None:
        await Rsvp.create(occurrence_id=row.id, user_id=user_id, answer=answer, source=source)
        return Answered(Change.NEW, counts)
    existing.answer, existing.source = answer, source
    await existing.save(update_fields=["answer", "source", "updated_at"])
    return Answered(Change.CHANGED, counts)


_RSVP_OF = "SELECT * FROM event_rsvps WHERE occurrence_id = ? AND user_id = ?"


async def _counts(occurrence_id: int) -> Counts:
    """The counts now (the answer changed nothing)."""
    rows = await sql.fetch(
        "SELECT going, maybe, not_going FROM event_occurrences WHERE id = ?", [occurrence_id]
    )
    return Counts(**rows[0])


async def withdraw_as(row: Occurrence, user_id: int, *, only: RsvpSource | None = None) -> bool:
    """Remove an answer (in the caller's transaction); `only`: if it came from there."""
    found = await sql.instances(Rsvp, _RSVP_OF, [row.id, user_id])
    existing = found[0] if found else None
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
