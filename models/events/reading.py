"""Reading events: the list (pinned first, then by time; filtered; paged) and one date.
Members-only events are hidden from everyone but members and staff (404 for one date)."""

from __future__ import annotations

from models import plugins
from models.actor import Actor
from models.auth import now
from models.errors import Forbidden, NotFound
from models.events.common import (
    KEY,
    MANAGE,
    event_not_found,
    is_staff,
    occurrence_in,
    occurrence_view,
    sees_members_only,
)
from models.events.schemas import EventQuery, OccurrenceView
from models.events.tables import Answer, Event, Occurrence, Rsvp
from models.hubs import Hub
from models.i18n import N_
from models.members.tables import Member
from models.pagination import Page, paginate
from models.permissions import permission_label


async def _user_of_member(hub: Hub, member_id: int) -> int:
    found = await Member.filter(id=member_id, hub_id=hub.id).values_list("user_id", flat=True)
    if not found:
        raise NotFound(N_("That member does not exist."), code="member_not_found")
    return int(found[0])


async def answers_of(user_id: int | None, occurrence_ids: list[int]) -> dict[int, Answer]:
    if user_id is None or not occurrence_ids:
        return {}
    rows = await Rsvp.filter(user_id=user_id, occurrence_id__in=occurrence_ids).values_list(
        "occurrence_id", "answer"
    )
    return {int(o): Answer(a) for o, a in rows}


async def list_events(actor: Actor, hub: Hub, query: EventQuery) -> Page[OccurrenceView]:
    """The hub's dates: upcoming soonest first (past: newest first), pinned series first."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    current = now()
    rows = Occurrence.filter(hub_id=hub.id)
    if not await sees_members_only(actor, hub):
        rows = rows.filter(members_only=False)
    order: tuple[str, ...] = ("pin_order", "meetup_at", "id")
    if query.when == "upcoming":
        rows = rows.filter(ends_at__gt=current)
    elif query.when == "past":
        rows = rows.filter(ends_at__lte=current)
        order = ("-pin_rank", "-meetup_at", "-id")
    if query.event is not None:
        rows = rows.filter(event_id=query.event)
    answered = actor.user_id if query.mine else None
    if query.rsvp_by is not None:
        answered = await _user_of_member(hub, query.rsvp_by)
        if answered != actor.user_id and not await is_staff(actor, hub):
            raise Forbidden(  # who answers what is theirs and the planners' to see
                N_("You need the “{permission_label}” permission in this hub."),
                code="missing_permission",
                permission=MANAGE,
                permission_label=permission_label(MANAGE),
            )
    if query.mine or query.rsvp_by is not None:
        rows = rows.filter(rsvps__user_id=answered or 0, rsvps__answer=query.answer)
    if query.attended_by is not None:
        rows = rows.filter(attendance__user_id=await _user_of_member(hub, query.attended_by))
    page = await paginate(rows, query, order, lambda row: row)
    # The page's series in one query (joined to every row, each was built again per date).
    series = {e.id: e for e in await Event.filter(id__in={r.event_id for r in page.items})}
    for row in page.items:
        row.event = series[row.event_id]
    mine = await answers_of(actor.user_id, [row.id for row in page.items])
    return Page[OccurrenceView](
        items=[occurrence_view(row, mine.get(row.id)) for row in page.items],
        next_cursor=page.next_cursor,
    )


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
