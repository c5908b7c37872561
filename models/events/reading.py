"""Reading events: the list (pinned first, then by time; filtered; paged) and one date.
Members-only events are hidden from everyone but members and staff (404 for one date)."""

from __future__ import annotations

from dataclasses import replace

from models import plugins, sql
from models.actor import Actor
from models.auth import now
from models.errors import NotFound
from models.events import listing
from models.events.common import (
    KEY,
    MANAGE,
    date_view,
    event_not_found,
    is_staff,
    occurrence_in,
    occurrence_view,
    sees_members_only,
)
from models.events.schemas import EventQuery, OccurrenceView
from models.events.tables import Answer, Event, Rsvp
from models.hubs import Hub
from models.i18n import N_
from models.members.tables import Member
from models.pagination import Page
from models.permissions import missing_permission

_MEMBER_USER = f"SELECT user_id FROM {Member._meta.db_table} WHERE id = ? AND hub_id = ?"  # noqa: S608


async def _user_of_member(hub: Hub, member_id: int) -> int:
    found = await sql.fetch(_MEMBER_USER, [member_id, hub.id])  # every filtered list asks
    if not found:
        raise NotFound(N_("That member does not exist."), code="member_not_found")
    return int(found[0]["user_id"])


async def answers_of(user_id: int | None, occurrence_ids: list[int]) -> dict[int, Answer]:
    if user_id is None or not occurrence_ids:
        return {}
    rows = await Rsvp.filter(user_id=user_id, occurrence_id__in=occurrence_ids).values_list(
        "occurrence_id", "answer"
    )
    return {int(o): Answer(a) for o, a in rows}


async def list_events(actor: Actor, hub: Hub, query: EventQuery) -> Page[OccurrenceView]:
    """The hub's dates: upcoming soonest first (past: newest first), pinned series first;
    `mine`/`rsvp_by` only those answered `answer`, `attended_by` only those attended."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    filters = listing.Filters(
        hub_id=hub.id,
        with_members_only=await sees_members_only(actor, hub),
        when=query.when,
        current=now(),
        event_id=query.event,
        answer=query.answer,
    )
    if query.mine:
        filters = replace(filters, answered_by=actor.user_id or 0)
    if query.rsvp_by is not None:
        filters = replace(filters, answered_by=await _answerer(actor, hub, query.rsvp_by))
    if query.attended_by is not None:
        attendee = await _user_of_member(hub, query.attended_by)
        filters = replace(filters, attended_by=attendee)
    rows, next_cursor = await listing.page(filters, actor.user_id, query.limit, query.cursor)
    return Page[OccurrenceView](
        items=[date_view(row, row, row.my_answer) for row in rows], next_cursor=next_cursor
    )


async def _answerer(actor: Actor, hub: Hub, member_id: int) -> int:
    """The user whose answers `rsvp_by` lists: the reader's own, or anyone's for staff."""
    answered = await _user_of_member(hub, member_id)
    if answered != actor.user_id and not await is_staff(actor, hub):
        # Who answers what is theirs and the planners' to see.
        raise missing_permission(MANAGE)
    return answered


async def get_occurrence(actor: Actor, hub: Hub, occurrence_id: int) -> OccurrenceView:
    """One date with its counts and the reader's answer."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    row = await occurrence_in(hub, occurrence_id)
    if row.members_only and not await sees_members_only(actor, hub):
        raise event_not_found()
    mine = await answers_of(actor.user_id, [row.id])
    return occurrence_view(row, mine.get(row.id))


async def get_event(actor: Actor, hub: Hub, event_id: int) -> Event:
    """A series, for staff (manage_events)."""
    from models.events.common import MANAGE, event_in

    await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    return await event_in(hub, event_id)
