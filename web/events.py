"""Events over HTTP (rules in `models.events`).

Drivers list dates, read one, answer (RSVP) and fetch calendars; staff (manage_events) plan,
change, cancel and delete series and confirm attendance. `{occurrence}` is one date of a
series, `{event}` the series. An id of another hub is as unknown as a missing one (404).
"""

from __future__ import annotations

from aiohttp import web

from models.errors import NotFound
from models.events import ops
from models.events.schemas import (
    AttendanceInput,
    AttendanceView,
    AttendedView,
    CancelInput,
    EventInput,
    EventQuery,
    EventUpdate,
    EventView,
    IcalLink,
    OccurrenceView,
    RsvpInput,
    RsvpResult,
)
from models.events.tables import RsvpSource
from models.i18n import N_
from models.pagination import Page, PageQuery
from web.api import Router, json_response, parse_query, path_id, read_json, read_optional_json
from web.auth import actor_of
from web.gates import hub_of
from web.members import member_id_of

router = Router("events", plugin="events")

MANAGE = ops.MANAGE
CALENDAR = "text/calendar"
REFUSALS = (
    "403 members_only for a members-only event as a visitor; 409 event_cancelled, rsvp_closed"
    " (after the RSVP deadline, or once the convoy left) or event_full (every slot taken,"
    " for going)."
)


def _missing() -> NotFound:
    return NotFound(N_("That event does not exist."), code="event_not_found")


def _occurrence(request: web.Request) -> int:
    return path_id(request, "occurrence", _missing())


def _event(request: web.Request) -> int:
    return path_id(request, "event", _missing())


def _calendar(text: str) -> web.Response:
    return web.Response(text=text, content_type=CALENDAR, charset="utf-8")


# Calendars (registered before `{occurrence}` routes, which they would otherwise match)


@router.get(
    "/hubs/{hub}/events.ics",
    content_type=CALENDAR,
    response=None,
    errors=(404,),
    description="No login: the hub's public events (iCalendar), for calendar apps.",
)
async def hub_calendar(request: web.Request) -> web.Response:
    """The hub's public calendar."""
    return _calendar(await ops.ical_feed(request.match_info["hub"]))


@router.get(
    "/hubs/{hub}/events/ical/{secret}.ics",
    content_type=CALENDAR,
    response=None,
    errors=(404,),
    description=(
        "No login: the dates the feed's owner is going to, by the secret of their feed."
        " 404 feed_not_found once the secret was rotated."
    ),
)
async def my_calendar(request: web.Request) -> web.Response:
    """A personal calendar."""
    hub = request.match_info["hub"]
    return _calendar(await ops.user_ical_feed(request.match_info["secret"], hub=hub))


@router.get(
    "/hubs/{hub}/events/ical",
    response=IcalLink,
    errors=(401, 403, 404),
    auth=True,
    description="Your calendar's secret URL in this hub (made on first ask).",
)
async def get_ical_link(request: web.Request) -> web.Response:
    """My calendar link."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await ops.ical_secret(actor, hub))


@router.post(
    "/hubs/{hub}/events/ical/rotate",
    response=IcalLink,
    errors=(401, 403, 404),
    auth=True,
    description="A new secret URL; the old one stops working.",
)
async def rotate_ical_link(request: web.Request) -> web.Response:
    """Replace my calendar link."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await ops.rotate_ical_secret(actor, hub))


# Dates


@router.get(
    "/hubs/{hub}/events",
    query=EventQuery,
    response=Page[OccurrenceView],
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        "Dates of the hub's events, pinned series first, then upcoming soonest first (past:"
        " newest first), with counts per answer and your own answer. Members-only events"
        " are listed for members and staff only. 403 for `rsvp_by` someone else without"
        " manage_events."
    ),
)
async def list_events(request: web.Request) -> web.Response:
    """List events."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await ops.list_events(actor, hub, parse_query(request, EventQuery)))


@router.post(
    "/hubs/{hub}/events",
    body=EventInput,
    response=EventView,
    status=201,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_events. Times are UTC (any offset accepted). 422 validation_failed"
        " names the field: departure_at before meetup_at, meetup_at in the past, an empty"
        " title, points outside 0-10000, recurrence_until making more than 100 dates."
        " Recurring dates keep their wall-clock time in the hub's time zone."
    ),
)
async def create_event(request: web.Request) -> web.Response:
    """Plan an event."""
    actor, hub = await actor_of(request), await hub_of(request)
    event = await ops.create_event(actor, hub, await read_json(request, EventInput))
    return json_response(await ops.event_view(event), status=201)


@router.get(
    "/hubs/{hub}/events/members/{member}/attendance",
    query=PageQuery,
    response=Page[AttendedView],
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        "The events a member attended, newest first (their profile's history); `{member}`"
        " also takes `@me`."
    ),
)
async def member_attendance(request: web.Request) -> web.Response:
    """A member's attendance."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id = await member_id_of(request, hub)
    page = await ops.attendance_of(actor, hub, member_id, parse_query(request, PageQuery))
    return json_response(page)


@router.get(
    "/hubs/{hub}/events/{occurrence}",
    response=OccurrenceView,
    errors=(401, 403, 404),
    auth=True,
    description="404 event_not_found also for a members-only event read by a non-member.",
)
async def get_occurrence(request: web.Request) -> web.Response:
    """One date."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await ops.get_occurrence(actor, hub, _occurrence(request)))


@router.put(
    "/hubs/{hub}/events/{occurrence}/rsvp",
    body=RsvpInput,
    response=RsvpResult,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    description=f"Answer going, maybe or not_going; returns the counts. {REFUSALS}",
)
async def rsvp(request: web.Request) -> web.Response:
    """Answer an event."""
    actor, hub = await actor_of(request), await hub_of(request)
    occurrence_id = _occurrence(request)
    body = await read_json(request, RsvpInput)
    return json_response(
        await ops.rsvp(actor, hub, occurrence_id, body.answer, source=RsvpSource.API)
    )


@router.post(
    "/hubs/{hub}/events/{occurrence}/cancel",
    body=CancelInput,
    response=OccurrenceView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_events. Cancels one date; those going or maybe are told. The body"
        " (an optional reason) may be left out. 409 attendance_confirmed once attendees"
        " were confirmed (take them off first)."
    ),
)
async def cancel_occurrence(request: web.Request) -> web.Response:
    """Cancel one date."""
    actor, hub = await actor_of(request), await hub_of(request)
    occurrence_id = _occurrence(request)
    body = await read_optional_json(request, CancelInput)
    await ops.cancel_occurrence(actor, hub, occurrence_id, body)
    return json_response(await ops.get_occurrence(actor, hub, occurrence_id))


@router.get(
    "/hubs/{hub}/events/{occurrence}/attendance",
    response=AttendanceView,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_events.",
)
async def get_attendance(request: web.Request) -> web.Response:
    """Who attended."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await ops.attendance(actor, hub, _occurrence(request)))


@router.post(
    "/hubs/{hub}/events/{occurrence}/attendance",
    body=AttendanceInput,
    response=AttendanceView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_events, once the date started. `from_rsvps` adds everyone going;"
        " `add`/`remove` are user ids. Each attendee gets the event's points once; removing"
        " one books a correction. 409 not_started, event_cancelled; 422 names unknown users."
    ),
)
async def set_attendance(request: web.Request) -> web.Response:
    """Confirm attendance."""
    actor, hub = await actor_of(request), await hub_of(request)
    occurrence_id = _occurrence(request)
    body = await read_json(request, AttendanceInput)
    view = await ops.set_attendance(
        actor, hub, occurrence_id, add=body.add, remove=body.remove, from_rsvps=body.from_rsvps
    )
    return json_response(view)


# Series (staff)


@router.get(
    "/hubs/{hub}/events/series/{event}",
    response=EventView,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_events. The series with its dates.",
)
async def get_event(request: web.Request) -> web.Response:
    """One series."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await ops.event_view(await ops.get_event(actor, hub, _event(request))))


@router.patch(
    "/hubs/{hub}/events/series/{event}",
    body=EventUpdate,
    response=EventView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_events. Fields left out stay. New times apply to the dates ahead:"
        " those who answered keep their answer and are told; a date that goes away is"
        " deleted, or cancelled if people answered. Changed points correct every"
        " attendee's booking. 409 event_cancelled."
    ),
)
async def update_event(request: web.Request) -> web.Response:
    """Change a series."""
    actor, hub = await actor_of(request), await hub_of(request)
    event_id = _event(request)
    body = await read_json(request, EventUpdate)
    return json_response(await ops.event_view(await ops.update_event(actor, hub, event_id, body)))


@router.post(
    "/hubs/{hub}/events/series/{event}/cancel",
    body=CancelInput,
    response=EventView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_events. Cancels every date ahead; the body (an optional reason) may be"
        " left out. 409 event_cancelled."
    ),
)
async def cancel_event(request: web.Request) -> web.Response:
    """Cancel a series."""
    actor, hub = await actor_of(request), await hub_of(request)
    event_id = _event(request)
    body = await read_optional_json(request, CancelInput)
    return json_response(await ops.event_view(await ops.cancel_event(actor, hub, event_id, body)))


@router.delete(
    "/hubs/{hub}/events/series/{event}",
    status=204,
    errors=(401, 403, 404, 409),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_events. Deletes the series and its dates; points booked for"
        " attendance are taken back by correction rows."
    ),
)
async def delete_event(request: web.Request) -> web.Response:
    """Delete a series."""
    actor, hub = await actor_of(request), await hub_of(request)
    await ops.delete_event(actor, hub, _event(request))
    return web.Response(status=204)
