"""iCalendar feeds (RFC 5545), written here: a hub's public events, and one person's dates
they are going to behind a secret URL. Times are UTC; lines are folded at 75 octets."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from models import hubs, plugins
from models.actor import Actor
from models.auth import now
from models.errors import NotFound, Unauthorized
from models.events.common import KEY, local_time
from models.events.schemas import IcalLink
from models.events.tables import Answer, Event, IcalToken, Occurrence, Visibility
from models.hubs import Hub
from models.i18n import N_
from models.members.tables import Member, MemberState

FEED_LIMIT = 500
PAST = timedelta(days=30)  # a feed keeps the last month's dates

# What token_urlsafe(32) makes (43 characters); the column holds 64.
SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,64}")


def escape(text: str) -> str:
    """TEXT value escaping: backslash, semicolon, comma and line breaks."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """A content line folded at 75 octets (continuations start with a space), never
    splitting a UTF-8 character."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _vevent(hub: Hub, row: Occurrence, stamp: str) -> list[str]:
    event: Event = row.event
    route = " → ".join(p for p in (event.departure_city, event.arrival_city) if p)
    details = [event.description]
    if route:
        details.append(route)
    details.append(f"Departure: {local_time(hub, row.departure_at)}")
    lines = [
        "BEGIN:VEVENT",
        f"UID:occurrence-{row.id}@{hub.slug}.drivershub",
        f"DTSTAMP:{stamp}",
        f"DTSTART:{_utc(row.meetup_at)}",
        f"DTEND:{_utc(row.ends_at)}",
        f"SUMMARY:{escape(event.title)}",
        f"DESCRIPTION:{escape(chr(10).join(d for d in details if d))}",
        f"LAST-MODIFIED:{_utc(event.updated_at)}",
        "STATUS:" + ("CANCELLED" if row.cancelled or event.cancelled_at else "CONFIRMED"),
    ]
    if event.server or route:
        lines.append(f"LOCATION:{escape(', '.join(p for p in (event.server, route) if p))}")
    if event.link:
        lines.append(f"URL:{event.link}")
    lines.append("END:VEVENT")
    return lines


def calendar(hub: Hub, name: str, rows: Iterable[Occurrence]) -> str:
    stamp = _utc(now())
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Drivers Hub//Events//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(name)}",
    ]
    for row in rows:
        lines += _vevent(hub, row, stamp)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


async def ical_feed(hub_slug: str) -> str:
    """The hub's public events (no login: calendar apps fetch it)."""
    hub = await hubs.get_hub(hub_slug)
    plugins.require_enabled(hub, KEY)
    rows = (
        await Occurrence.filter(hub_id=hub.id, members_only=False, ends_at__gt=now() - PAST)
        .select_related("event")
        .order_by("meetup_at", "id")
        .limit(FEED_LIMIT)
    )
    return calendar(hub, hub.name, rows)


def _feed_not_found() -> NotFound:
    return NotFound(N_("That calendar link is not valid (any more)."), code="feed_not_found")


async def user_ical_feed(secret: str, *, hub: str | None = None) -> str:
    """The dates one person is going to in one hub, by the secret of their feed (and the
    hub's slug in its URL: another hub's slug finds no feed)."""
    if not SECRET_SHAPE.fullmatch(secret):  # not one we made: no lookup (and no 500)
        raise _feed_not_found()
    token = await IcalToken.get_or_none(secret=secret).select_related("hub")
    if token is None or not token.hub.active or hub not in (None, token.hub.slug):
        raise _feed_not_found()
    hub: Hub = token.hub
    if not plugins.is_enabled(hub, KEY):
        raise _feed_not_found()
    rows = Occurrence.filter(
        hub_id=hub.id,
        ends_at__gt=now() - PAST,
        rsvps__user_id=token.user_id,
        rsvps__answer=Answer.GOING,
    )
    state = await Member.filter(hub_id=hub.id, user_id=token.user_id).values_list(
        "state", flat=True
    )
    if not state or state[0] == MemberState.BANNED:
        raise _feed_not_found()
    if state[0] != MemberState.MEMBER:
        rows = rows.filter(event__visibility=Visibility.PUBLIC)
    found = await rows.select_related("event").order_by("meetup_at", "id").limit(FEED_LIMIT)
    return calendar(hub, hub.name, found)


def _link(token: IcalToken, hub: Hub) -> IcalLink:
    return IcalLink(
        secret=token.secret, path=f"/api/v1/hubs/{hub.slug}/events/ical/{token.secret}.ics"
    )


async def ical_secret(actor: Actor, hub: Hub) -> IcalLink:
    """My feed's secret URL (made on first ask)."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    if actor.user_id is None:
        raise Unauthorized()
    token, _ = await IcalToken.get_or_create(
        hub_id=hub.id, user_id=actor.user_id, defaults={"secret": secrets.token_urlsafe(32)}
    )
    return _link(token, hub)


async def rotate_ical_secret(actor: Actor, hub: Hub) -> IcalLink:
    """A new secret URL; the old one stops working."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    if actor.user_id is None:
        raise Unauthorized()
    secret = secrets.token_urlsafe(32)
    updated = await IcalToken.filter(hub_id=hub.id, user_id=actor.user_id).update(secret=secret)
    if not updated:
        await IcalToken.create(hub_id=hub.id, user_id=actor.user_id, secret=secret)
    return _link(await IcalToken.get(hub_id=hub.id, user_id=actor.user_id), hub)
