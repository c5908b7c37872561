"""Notifications over HTTP (rules in `models.notifications`): the caller's own notification
center and preferences. Every notification is its reader's: another user's id is a 404."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from core.logs import request_id
from models.errors import NotFound
from models.i18n import N_
from models.notifications import broadcast, center, live
from models.notifications.broadcast import NoticeInput, NoticeView
from models.notifications.center import (
    NotificationQuery,
    NotificationView,
    Preferences,
    PreferencesInput,
)
from models.pagination import Page
from models.validation import validate
from web.api import Router, json_response, parse_query, path_id, read_json
from web.auth import actor_of
from web.gates import hub_of
from web.middlewares import REQUEST_ID_HEADER
from web.problems import language

log = logging.getLogger(__name__)
router = Router("notifications")

MISSING = NotFound(N_("That notification does not exist."), code="notification_not_found")


class UnreadCount(BaseModel):
    unread: int = Field(description="In-app notifications not read yet.")


class ReadInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    read: StrictBool = Field(description="true: read; false: unread again.")


class ReadAll(BaseModel):
    marked: int = Field(description="How many were unread.")


async def _locale(request: web.Request) -> str | None:
    return await center.reader_locale(await actor_of(request), language(request))


@router.get(
    "/notifications",
    query=NotificationQuery,
    response=Page[NotificationView],
    errors=(401, 403, 422),
    auth=True,
    description="Newest first, in your language. `unread=true` leaves read ones out.",
)
async def list_notifications(request: web.Request) -> web.Response:
    """Your notifications."""
    query = parse_query(request, NotificationQuery)
    actor = await actor_of(request)
    page = await center.list_notifications(actor, query, await _locale(request))
    return json_response(page)


@router.get(
    "/notifications/unread-count",
    response=UnreadCount,
    errors=(401, 403),
    auth=True,
)
async def unread_count(request: web.Request) -> web.Response:
    """How many of your notifications are unread."""
    return json_response(UnreadCount(unread=await center.unread_count(await actor_of(request))))


@router.post("/notifications/read-all", response=ReadAll, errors=(401, 403), auth=True)
async def read_all(request: web.Request) -> web.Response:
    """Mark all your notifications read."""
    return json_response(ReadAll(marked=await center.mark_all_read(await actor_of(request))))


@router.get(
    "/notifications/preferences",
    response=Preferences,
    errors=(401, 403),
    auth=True,
    description="Every kind of notification and where it reaches you (in-app, Discord DM, e-mail).",
)
async def get_preferences(request: web.Request) -> web.Response:
    """Your notification preferences."""
    actor = await actor_of(request)
    return json_response(await center.preferences(actor, await _locale(request)))


@router.patch(
    "/notifications/preferences",
    body=PreferencesInput,
    response=Preferences,
    errors=(401, 403, 409, 422),
    auth=True,
    description='Each change sets one kind (or "*": every kind) on one channel. Security'
    " notices cannot be turned off (409). `*` on `discord` switches DMs as a whole.",
)
async def set_preferences(request: web.Request) -> web.Response:
    """Change your notification preferences."""
    actor = await actor_of(request)
    body = await read_json(request, PreferencesInput)
    return json_response(await center.set_preferences(actor, body, await _locale(request)))


# After the fixed paths above: aiohttp matches routes in the order they were added.


@router.patch(
    "/notifications/{notification}",
    body=ReadInput,
    status=204,
    errors=(401, 403, 404, 422),
    auth=True,
)
async def mark(request: web.Request) -> web.Response:
    """Mark one of your notifications read or unread."""
    notification_id = path_id(request, "notification", MISSING)
    actor = await actor_of(request)
    body = await read_json(request, ReadInput)
    await center.mark_read(actor, notification_id, read=body.read)
    return web.Response(status=204)


@router.delete("/notifications/{notification}", status=204, errors=(401, 403, 404), auth=True)
async def delete(request: web.Request) -> web.Response:
    """Delete one of your notifications."""
    notification_id = path_id(request, "notification", MISSING)
    await center.delete(await actor_of(request), notification_id)
    return web.Response(status=204)


# Staff notices to every member of a hub (or of a role), fanned out in the background.


@router.post(
    "/hubs/{hub}/notices",
    body=NoticeInput,
    response=NoticeView,
    status=202,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=broadcast.SEND_NOTICES,
    description="Needs send_notices. Every member (or every holder of `role_id`) gets it as a"
    " notification, by their preferences; delivery runs in the background: read its progress"
    " with GET .../notices/{notice}.",
)
async def send_notice(request: web.Request) -> web.Response:
    """Send a notice to the hub's members."""
    actor, hub = await actor_of(request), await hub_of(request)
    row = await broadcast.send_notice(actor, hub, await read_json(request, NoticeInput))
    return json_response(broadcast.notice_view(row), status=202)


@router.get(
    "/hubs/{hub}/notices/{notice}",
    response=NoticeView,
    errors=(401, 403, 404),
    auth=True,
    permission=broadcast.SEND_NOTICES,
)
async def get_notice(request: web.Request) -> web.Response:
    """How far a notice's delivery got."""
    actor, hub = await actor_of(request), await hub_of(request)
    missing = NotFound(N_("That notice does not exist."), code="notice_not_found")
    row = await broadcast.notice(actor, hub, path_id(request, "notice", missing))
    return json_response(broadcast.notice_view(row))


# The live stream (server-sent events). Its paths are fixed too; they differ in method from
# the {notification} routes above, so aiohttp still finds them.

KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing the stream
RECHECK_SECONDS = 60.0  # and the database is read this often without a wake-up (a lost one)
STREAM_DOC = """Server-sent events: each new in-app notification as

    id: <notification id>
    event: notification
    data: <the notification as JSON, in your language>

with `: keep-alive` comment lines every 15 seconds. Authenticate with `Authorization: Bearer
<access token>`, or (browsers: EventSource cannot send headers) with `?ticket=` from POST
/notifications/stream-ticket. Without `Last-Event-ID` (header, or `?last_event_id=` when
reconnecting with a new ticket) the stream starts with what comes next; with it, the
notifications after that id come first, in id order. A notification committed late can
arrive after one with a larger id: key them by id. The credential is checked when the stream
opens (a session revoked later ends at the next reconnection), and the server ends every
stream when it shuts down: reconnect with the last id."""


class StreamQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: str | None = Field(
        default=None, max_length=200, description="A stream ticket, instead of a bearer token."
    )
    last_event_id: int | None = Field(
        default=None,
        ge=0,
        lt=2**63,
        description="As the Last-Event-ID header (which wins when both are sent).",
    )


class LastEventId(BaseModel):
    last_event_id: int = Field(ge=0, lt=2**63)


class StreamTicket(BaseModel):
    ticket: str = Field(description="Single use; send it as ?ticket= to the stream.")
    expires_in: int = Field(description="Seconds it stays valid.")


@router.post(
    "/notifications/stream-ticket",
    response=StreamTicket,
    errors=(401, 403),
    auth=True,
    app_tokens=False,
    description="For browsers, whose EventSource cannot send an Authorization header: a"
    " single-use ticket for GET /notifications/stream, valid for 60 seconds and bound to"
    " your session. Get a new one for each (re)connection.",
)
async def stream_ticket(request: web.Request) -> web.Response:
    """A ticket to open your notification stream."""
    secret = await live.issue_stream_ticket(await actor_of(request))
    return json_response(StreamTicket(ticket=secret, expires_in=live.STREAM_TICKET_TTL))


@router.get(
    "/notifications/stream",
    query=StreamQuery,
    response=NotificationView,
    content_type="text/event-stream",
    errors=(401, 403, 422),
    description=STREAM_DOC,
)
async def stream(request: web.Request) -> web.StreamResponse:
    """Your notifications as they come (server-sent events)."""
    query = parse_query(request, StreamQuery)
    if query.ticket:
        actor = await live.redeem_stream_ticket(query.ticket)
    else:
        actor = await actor_of(request)
    user_id = live.reader(actor)
    follower = live.Follower(user_id, await center.reader_locale(actor, language(request)))
    # Listening before the first read: a notification committed in between wakes us.
    with live.listening(user_id) as woken:
        await follower.start(_last_event_id(request, query))
        response = await _open(request)
        try:
            await _pump(response, follower, woken)
        except ConnectionResetError:
            pass  # the client went away
        except Exception:  # the response has started: no problem document can follow
            log.exception("notification stream of user %s failed; closing it", user_id)
    return response


def _last_event_id(request: web.Request, query: StreamQuery) -> int | None:
    header = request.headers.get("Last-Event-ID")
    if header is None:
        return query.last_event_id
    return validate(LastEventId, {"last_event_id": header.strip()}).last_event_id


async def _open(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: pass events on at once
            REQUEST_ID_HEADER: request_id.get(),  # the middleware's comes too late
        }
    )
    response.content_type = "text/event-stream"
    await response.prepare(request)
    await response.write(b": connected\n\n")  # the headers go out with it
    return response


async def _pump(
    response: web.StreamResponse, follower: live.Follower, woken: asyncio.Event
) -> None:
    """Send what is new, then wait for a wake-up, until the server hangs up."""
    started = live.generation()
    while not live.hung_up(started):
        woken.clear()  # before reading: a wake-up during the read means read again
        async for note in follower.new():
            await response.write(_event(note))
        await _idle(response, woken)


async def _idle(response: web.StreamResponse, woken: asyncio.Event) -> None:
    """Wait for a wake-up (or for a re-check to be due), with keep-alive lines meanwhile."""
    since = time.monotonic()
    while not woken.is_set():
        try:
            async with asyncio.timeout(KEEPALIVE_SECONDS):
                await woken.wait()
        except TimeoutError:
            await response.write(b": keep-alive\n\n")  # also finds a client that is gone
            if time.monotonic() - since >= RECHECK_SECONDS:
                return


def _event(note: NotificationView) -> bytes:
    return f"id: {note.id}\nevent: notification\ndata: {note.model_dump_json()}\n\n".encode()
