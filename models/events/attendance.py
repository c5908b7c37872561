"""Attendance (manage_events): staff confirm who came; each attendee gets the event's points
as a ledger row. Removing someone, changing the points or deleting the event later adds
correction rows: the ledger's history is never rewritten, and ranks follow the totals."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models import audit, plugins
from models.actor import Actor
from models.auth import now
from models.errors import Conflict, NotFound
from models.events.common import KEY, MANAGE, occurrence_in
from models.events.schemas import AttendanceView, AttendedView, Attendee
from models.events.tables import Answer, Attendance, Event, Occurrence, Rsvp
from models.hubs import Hub
from models.i18n import N_, Lazy
from models.members.tables import Member, MemberState
from models.pagination import Page, PageQuery, paginate
from models.points.ledger import book
from models.points.tables import REASON_LENGTH, PointKind
from models.validation import field_error


def _source(occurrence_id: int) -> str:
    return f"event:{occurrence_id}"


async def confirm_attendance(
    actor: Actor,
    hub: Hub,
    occurrence_id: int,
    user_ids: list[int] | None = None,
    *,
    from_rsvps: bool = False,
) -> AttendanceView:
    """Confirm attendees: the users named, and everyone going when `from_rsvps` (or when
    nobody is named)."""
    from_rsvps = from_rsvps or user_ids is None
    return await set_attendance(
        actor, hub, occurrence_id, add=list(user_ids or []), from_rsvps=from_rsvps
    )


async def set_attendance(
    actor: Actor,
    hub: Hub,
    occurrence_id: int,
    add: list[int] | None = None,
    remove: list[int] | None = None,
    *,
    from_rsvps: bool = False,
) -> AttendanceView:
    """Add and remove attendees (user ids); points are booked once per attendee."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    occurrence = await occurrence_in(hub, occurrence_id)
    if occurrence.cancelled:
        raise Conflict(N_("This event was cancelled."), code="event_cancelled")
    if occurrence.meetup_at > now():
        raise Conflict(
            N_("Attendance can be confirmed once the event has started."), code="not_started"
        )
    wanted = list(dict.fromkeys(add or []))
    both = sorted(set(wanted) & set(remove or []))
    if both:
        raise _ids_error("remove", N_("both added and removed: {ids}"), both)
    members = {
        m.user_id: m
        for m in await Member.filter(hub_id=hub.id, user_id__in=wanted, state=MemberState.MEMBER)
    }
    # Attendance earns points, which only members hold: visitors and former members are
    # refused when named, and left out when they merely answered "going".
    unknown = [u for u in wanted if u not in members]
    if unknown:
        raise _ids_error("add", N_("not members of this hub: {ids}"), unknown)
    if from_rsvps:
        going = await Rsvp.filter(occurrence_id=occurrence.id, answer=Answer.GOING).values_list(
            "user_id", flat=True
        )
        extra = [u for u in going if u not in members]
        found = Member.filter(hub_id=hub.id, user_id__in=extra, state=MemberState.MEMBER)
        members.update({m.user_id: m for m in await found})
        wanted += [u for u in extra if u in members]
    event: Event = occurrence.event
    added, removed = [], []
    async with in_transaction():
        for user_id in wanted:
            if await _add(actor, hub, event, occurrence, members[user_id]):
                added.append(user_id)
        for user_id in remove or []:
            if await _remove(actor, hub, event, occurrence, user_id):
                removed.append(user_id)
        occurrence.attendance_confirmed_at = now()
        await occurrence.save(update_fields=["attendance_confirmed_at"])
        await audit.record(
            actor,
            "events.attendance",
            hub=hub,
            target=str(occurrence.id),
            details={"added": added, "removed": removed},
        )
    return await attendance_view(occurrence)


def _ids_error(field: str, message: str, ids: list[int]) -> Exception:
    return field_error((field,), Lazy(message, ids=", ".join(map(str, ids))))  # type: ignore[arg-type]


async def _add(
    actor: Actor, hub: Hub, event: Event, occurrence: Occurrence, member: Member
) -> bool:
    row, created = await Attendance.get_or_create(
        occurrence_id=occurrence.id,
        user_id=member.user_id,
        defaults={"member_id": member.id, "points_booked": 0},
    )
    if not created:
        return False
    if event.points:
        await book(
            hub,
            member,
            PointKind.EVENT,
            event.points,
            reason=event.title,
            source=_source(occurrence.id),
            actor_id=actor.user_id,
            counts_at=occurrence.departure_at,
        )
        row.points_booked = event.points
        await row.save(update_fields=["points_booked"])
    return True


async def _correct(
    actor: Actor, hub: Hub, event: Event, row: Attendance, amount: int, why: str
) -> None:
    """A row of the event kind that moves the booking by `amount`: totals by kind (and ranks
    counting event points) follow, and the history keeps the first booking."""
    member = await Member.get(id=row.member_id)
    await book(
        hub,
        member,
        PointKind.EVENT,
        amount,
        reason=f"{event.title} ({why})"[:REASON_LENGTH],
        source=_source(row.occurrence_id),
        actor_id=actor.user_id,
    )


async def _remove(
    actor: Actor, hub: Hub, event: Event, occurrence: Occurrence, user_id: int
) -> bool:
    row = await Attendance.get_or_none(occurrence_id=occurrence.id, user_id=user_id)
    if row is None:
        return False
    if row.points_booked:
        await _correct(actor, hub, event, row, -row.points_booked, "removed from attendance")
    await row.delete()
    return True


async def repoint(actor: Actor, hub: Hub, event: Event) -> int:
    """The event's points changed: each attendee's booking is corrected by the difference."""
    changed = 0
    rows = await Attendance.filter(occurrence__event_id=event.id).exclude(
        points_booked=event.points
    )
    for row in rows:
        await _correct(actor, hub, event, row, event.points - row.points_booked, "points changed")
        row.points_booked = event.points
        await row.save(update_fields=["points_booked"])
        changed += 1
    return changed


async def take_back(actor: Actor, hub: Hub, event: Event) -> int:
    """The event goes away: every booked point is taken back by a correction row."""
    rows = await Attendance.filter(occurrence__event_id=event.id, points_booked__gt=0)
    for row in rows:
        await _correct(actor, hub, event, row, -row.points_booked, "event deleted")
    return len(rows)


async def attendance_view(occurrence: Occurrence) -> AttendanceView:
    rows = (
        await Attendance.filter(occurrence_id=occurrence.id).select_related("user").order_by("id")
    )
    return AttendanceView(
        occurrence_id=occurrence.id,
        confirmed_at=occurrence.attendance_confirmed_at,
        attendees=[
            Attendee(
                user_id=r.user_id,
                member_id=r.member_id,
                name=r.user.username,
                points_booked=r.points_booked,
            )
            for r in rows
        ],
    )


async def attendance(actor: Actor, hub: Hub, occurrence_id: int) -> AttendanceView:
    """Who attended an occurrence (manage_events)."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    return await attendance_view(await occurrence_in(hub, occurrence_id))


def _attended(row: Attendance) -> AttendedView:
    occurrence = row.occurrence
    return AttendedView(
        occurrence_id=occurrence.id,
        event_id=occurrence.event_id,
        title=occurrence.event.title,
        meetup_at=occurrence.meetup_at,
        points_booked=row.points_booked,
    )


async def attendance_of(
    actor: Actor, hub: Hub, member_id: int, query: PageQuery | None = None
) -> Page[AttendedView]:
    """The events a member attended, newest first (their profile's history)."""
    from models.events.common import sees_members_only

    await plugins.enter(actor, hub, KEY, None, write=False)
    if not await Member.filter(id=member_id, hub_id=hub.id).exists():
        raise NotFound(N_("That member does not exist."), code="member_not_found")
    rows = Attendance.filter(member_id=member_id).select_related("occurrence__event")
    if not await sees_members_only(actor, hub):
        rows = rows.filter(occurrence__members_only=False)
    return await paginate(rows, query or PageQuery(), ("-id",), _attended)
