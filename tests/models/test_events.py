"""The events plugin's domain: validation naming fields, recurrence across DST, RSVP rules
and counts, attendance points and corrections, reminders sent exactly once, lists, iCal,
the Discord mirror and tenancy."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models import hubs
from models.actor import SYSTEM, Actor
from models.auth import now
from models.discord_actions import DiscordAction
from models.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from models.events import Answer, Attendance, Occurrence, Recurrence, Reminder, Rsvp, burst, ops
from models.events import reminders as reminder_work
from models.events.ical import fold
from models.events.recurrence import expand
from models.events.schemas import CancelInput, EventInput, EventQuery, EventUpdate
from models.hubs import Hub
from models.members import Member, ensure_member, lifecycle
from models.members.roles import RoleInput, create_role, give_role
from models.notifications.tables import Notification
from models.points.tables import PointEntry
from models.users import User
from models.validation import validate

GUILD, OWNER = 42, 10


async def _hub(guild_id: int = GUILD, name: str = "Road Kings", tz: str = "UTC") -> Hub:
    hub = await hubs.ensure_hub_for_guild(guild_id, name, OWNER)
    hub.timezone = tz
    await hub.save(update_fields=["timezone"])
    return hub


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, discord_id=user.discord_id)


async def _person(hub: Hub, name: str, discord_id: int, *, member: bool = True) -> User:
    user = await User.create(username=name, discord_id=discord_id)
    row = await ensure_member(hub.id, user)
    if member:
        await lifecycle.accept(SYSTEM, hub, row.id)
    return user


async def _staff(hub: Hub, name: str = "sam", discord_id: int = 500) -> User:
    user = await _person(hub, name, discord_id)
    role = await create_role(
        SYSTEM, hub, RoleInput(name="Event team", permissions=["manage_events"], position=40)
    )
    member = await Member.get(hub_id=hub.id, user_id=user.id)
    await give_role(SYSTEM, hub, member.id, role.id)
    return user


def _input(**more: Any) -> EventInput:
    start = now() + timedelta(days=2)
    data = {
        "title": "Friday convoy",
        "meetup_at": start,
        "departure_at": start + timedelta(minutes=30),
        "departure_city": "Berlin",
        "arrival_city": "Prague",
        "points": 100,
        **more,
    }
    return EventInput.model_validate(data)


async def _event(hub: Hub, **more: Any) -> Any:
    return await ops.create_event(SYSTEM, hub, _input(**more))


async def _first(event_id: int) -> Occurrence:
    return await Occurrence.filter(event_id=event_id).order_by("index").first()


def _fields(exc: DomainError) -> list[str]:
    return [e["field"] for e in exc.params["errors"]]


# Validation


async def test_bad_input_is_refused_naming_the_field() -> None:
    hub = await _hub()
    start = now() + timedelta(days=1)
    cases = [
        ({"departure_at": start - timedelta(minutes=5), "meetup_at": start}, "departure_at"),
        (
            {"meetup_at": now() - timedelta(hours=1), "departure_at": now() + timedelta(hours=1)},
            "meetup_at",
        ),
        (
            {"recurrence": "weekly", "recurrence_until": (start + timedelta(weeks=150)).date()},
            "recurrence_until",
        ),
    ]
    for more, field in cases:
        with pytest.raises(Invalid) as caught:
            await _event(hub, **more)
        assert _fields(caught.value) == [field]
    for more, field in (
        ({"title": "  "}, "title"),
        ({"points": -1}, "points"),
        ({"points": 1_000_000}, "points"),
        ({"link": "javascript:alert(1)"}, "link"),
    ):
        with pytest.raises(Invalid) as caught:
            validate(EventInput, _input().model_dump() | more)
        assert _fields(caught.value) == [field]
    assert await Occurrence.all().count() == 0


# Recurrence


def test_weekly_series_keeps_wall_clock_time_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2026, 3, 20, 20, 0, tzinfo=berlin).astimezone(UTC)
    slots = expand(
        Recurrence.WEEKLY,
        first,
        first + timedelta(minutes=30),
        timedelta(hours=2),
        "Europe/Berlin",
        until=date(2026, 4, 10),
        exceptions=[date(2026, 4, 3)],
    )
    local = [s.meetup_at.astimezone(berlin) for s in slots]
    assert [d.date().isoformat() for d in local] == ["2026-03-20", "2026-03-27", "2026-04-10"]
    assert {(d.hour, d.minute) for d in local} == {(20, 0)}
    assert [s.meetup_at.hour for s in slots] == [19, 19, 18]  # DST began on 29 March
    assert [s.index for s in slots] == [0, 1, 3]


def test_monthly_series_falls_on_the_last_day_of_short_months() -> None:
    first = datetime(2026, 1, 31, 18, 0, tzinfo=UTC)
    slots = expand(
        Recurrence.MONTHLY, first, first, timedelta(hours=1), "UTC", until=date(2026, 4, 30)
    )
    assert [s.meetup_at.date().isoformat() for s in slots] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]


async def test_series_creates_occurrences_reminders_and_one_mirror() -> None:
    hub = await _hub()
    event = await _event(
        hub, recurrence="weekly", recurrence_until=(now() + timedelta(weeks=3)).date()
    )
    rows = await Occurrence.filter(event_id=event.id).order_by("index")
    assert len(rows) in (3, 4)
    assert await Reminder.filter(occurrence_id=rows[0].id).count() == 2
    mirrors = await DiscordAction.filter(target_key__startswith="event:")
    assert [m.payload for m in mirrors] == [
        {"render": "events.scheduled", "occurrence_id": rows[0].id}
    ]
    members_only = await _event(hub, visibility="members")
    assert not await DiscordAction.filter(target_key=f"event:{(await _first(members_only.id)).id}")


# RSVP


async def test_rsvp_counts_slots_deadline_and_members_only() -> None:
    hub = await _hub()
    alice, bob = await _person(hub, "alice", 1), await _person(hub, "bob", 2)
    visitor = await _person(hub, "vic", 3, member=False)
    event = await _event(hub, slots=1, rsvp_deadline_minutes=60)
    occ = await _first(event.id)
    result = await ops.rsvp(_actor(alice), hub, occ.id, Answer.GOING)
    assert (result.counts.going, result.counts.maybe) == (1, 0)
    with pytest.raises(Conflict) as caught:
        await ops.rsvp(_actor(bob), hub, occ.id, Answer.GOING)
    assert caught.value.code == "event_full"
    result = await ops.rsvp(_actor(alice), hub, occ.id, Answer.MAYBE)
    assert (result.counts.going, result.counts.maybe) == (0, 1)
    assert (await ops.rsvp(_actor(bob), hub, occ.id, Answer.GOING)).counts.going == 1
    view = await ops.get_occurrence(_actor(bob), hub, occ.id)
    assert view.my_answer == Answer.GOING
    with time_machine.travel(occ.meetup_at - timedelta(minutes=59)):
        with pytest.raises(Conflict) as caught:
            await ops.rsvp(_actor(alice), hub, occ.id, Answer.GOING)
        assert caught.value.code == "rsvp_closed"
        assert "closed" in str(caught.value)
    secret = await _first((await _event(hub, visibility="members")).id)
    with pytest.raises(Forbidden) as caught:
        await ops.rsvp(_actor(visitor), hub, secret.id, Answer.GOING)
    assert caught.value.code == "members_only"
    with pytest.raises(NotFound):
        await ops.get_occurrence(_actor(visitor), hub, secret.id)
    assert (await ops.rsvp(_actor(visitor), hub, occ.id, Answer.NOT_GOING)).counts.not_going == 1


async def test_concurrent_going_never_overfills() -> None:
    hub = await _hub()
    people = [await _person(hub, f"d{i}", 100 + i) for i in range(8)]
    occ = await _first((await _event(hub, slots=3)).id)

    async def click(user: User) -> bool:
        try:
            await ops.rsvp(_actor(user), hub, occ.id, Answer.GOING)
        except Conflict:
            return False
        return True

    results = await asyncio.gather(*(click(u) for u in people))
    assert sum(results) == 3
    assert (await Occurrence.get(id=occ.id)).going == 3


async def test_a_burst_of_answers_is_written_together_and_counts_match_the_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = await _hub()
    people = [await _person(hub, f"b{i}", 200 + i) for i in range(12)]
    occ = await _first((await _event(hub, slots=4)).id)
    for early in people[:3]:  # answered before the burst: their answers change in it
        await ops.rsvp(_actor(early), hub, occ.id, Answer.MAYBE)
    writes = 0
    real_write = burst._write

    async def counted(occurrence_id: int, asks: list[Any]) -> None:
        nonlocal writes
        writes += 1
        await real_write(occurrence_id, asks)

    monkeypatch.setattr(burst, "_write", counted)

    async def click(user: User, answer: Answer) -> str:
        try:
            return str((await ops.rsvp(_actor(user), hub, occ.id, answer)).answer)
        except Conflict as exc:
            return exc.code

    clicks = [click(u, Answer.GOING) for u in people[:8]]
    clicks += [click(u, Answer.NOT_GOING) for u in people[8:]]
    clicks.append(click(people[0], Answer.NOT_GOING))  # a second click of the same driver
    outcomes = await asyncio.gather(*clicks)
    assert writes < len(clicks) / 2  # a few transactions, not one per click
    # 8 asked to go for 4 slots; the driver who changed their mind may free one on the way.
    assert outcomes.count("going") + outcomes.count("event_full") == 8
    assert outcomes.count("event_full") >= 3
    rows = {r.user_id: r.answer for r in await Rsvp.filter(occurrence_id=occ.id)}
    assert rows[people[0].id] == Answer.NOT_GOING  # the later click of the two wins
    assert len(rows) == 12 - outcomes[3:8].count("event_full")  # refused newcomers: no row
    stored = await Occurrence.get(id=occ.id)
    for answer in Answer:
        assert getattr(stored, str(answer)) == list(rows.values()).count(answer), answer
    assert stored.going <= 4


async def test_a_failed_burst_write_reaches_every_click_and_the_next_click_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = await _hub()
    people = [await _person(hub, f"f{i}", 300 + i) for i in range(4)]
    occ = await _first((await _event(hub)).id)

    async def broken(occurrence_id: int, asks: list[Any]) -> list[Any]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(burst, "_apply", broken)
    outcomes = await asyncio.gather(
        *(ops.rsvp(_actor(u), hub, occ.id, Answer.GOING) for u in people),
        return_exceptions=True,
    )
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert not burst._lines  # nothing left waiting
    monkeypatch.undo()
    assert (await ops.rsvp(_actor(people[0]), hub, occ.id, Answer.GOING)).counts.going == 1


# Attendance and points


async def test_attendance_books_once_and_corrects() -> None:
    hub = await _hub()
    staff = await _staff(hub)
    alice, bob = await _person(hub, "alice", 1), await _person(hub, "bob", 2)
    event = await _event(hub, points=100)
    occ = await _first(event.id)
    await ops.rsvp(_actor(alice), hub, occ.id, Answer.GOING)
    with pytest.raises(Conflict) as caught:
        await ops.confirm_attendance(_actor(staff), hub, occ.id, from_rsvps=True)
    assert caught.value.code == "not_started"
    with time_machine.travel(occ.ends_at + timedelta(minutes=5)):
        view = await ops.confirm_attendance(_actor(staff), hub, occ.id, from_rsvps=True)
        assert [a.user_id for a in view.attendees] == [alice.id]
        await ops.confirm_attendance(_actor(staff), hub, occ.id, [alice.id, bob.id])
        await ops.update_event(_actor(staff), hub, event.id, EventUpdate(points=150))
        await ops.set_attendance(_actor(staff), hub, occ.id, remove=[bob.id])
    a_member = await Member.get(hub_id=hub.id, user_id=alice.id)
    b_member = await Member.get(hub_id=hub.id, user_id=bob.id)
    rows = (
        await PointEntry.filter(source=f"event:{occ.id}")
        .order_by("id")
        .values_list("member_id", "kind", "amount")
    )
    assert rows == [
        (a_member.id, "event", 100),
        (b_member.id, "event", 100),
        (a_member.id, "event", 50),
        (b_member.id, "event", 50),
        (b_member.id, "event", -150),
    ]
    assert (a_member.points, b_member.points) == (150, 0)
    history = await ops.attendance_of(_actor(alice), hub, a_member.id)
    assert [h.points_booked for h in history.items] == [150]
    await ops.delete_event(_actor(staff), hub, event.id)
    assert (await Member.get(id=a_member.id)).points == 0
    assert await PointEntry.filter(source=f"event:{occ.id}").count() == 6
    assert not await Attendance.all().exists()
    # The corrections are event points too: a rank counting event points follows them.
    from models.points import PointTotal

    kept = await PointTotal.filter(member_id=a_member.id, kind="event").values_list(
        "total", flat=True
    )
    assert kept == [0]
    reasons = await PointEntry.filter(source=f"event:{occ.id}").values_list("reason", flat=True)
    assert reasons[-1].endswith("(event deleted)")


# Reminders


async def test_reminders_are_sent_exactly_once_under_concurrency_and_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = await _hub()
    alice = await _person(hub, "alice", 1)
    occ = await _first((await _event(hub)).id)
    await ops.rsvp(_actor(alice), hub, occ.id, Answer.GOING)
    due = occ.meetup_at - timedelta(minutes=60)
    # A crash while sending: nothing committed, the lease keeps others off for a while.
    real = reminder_work.notify

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("process died")

    monkeypatch.setattr(reminder_work, "notify", broken)
    at_24h = occ.meetup_at - timedelta(hours=24)
    assert await ops.send_due_reminders(at_24h) == 0
    monkeypatch.setattr(reminder_work, "notify", real)
    assert await ops.send_due_reminders(at_24h + timedelta(seconds=30)) == 0  # leased
    assert await ops.send_due_reminders(at_24h + timedelta(minutes=3)) == 1
    assert await ops.send_due_reminders(at_24h + timedelta(minutes=10)) == 0
    sent = await asyncio.gather(*(ops.send_due_reminders(due) for _ in range(4)))
    assert sum(sent) == 1
    notes = await Notification.filter(user_id=alice.id, kind="event.reminder")
    assert sorted(n.data["minutes"] for n in notes) == [60, 1440]


# Lists


async def test_list_orders_pins_filters_and_pages() -> None:
    hub = await _hub()
    alice = await _person(hub, "alice", 1)
    visitor = await _person(hub, "vic", 3, member=False)
    later = await _event(
        hub,
        title="Later",
        meetup_at=now() + timedelta(days=5),
        departure_at=now() + timedelta(days=5),
    )
    soon = await _event(
        hub,
        title="Soon",
        meetup_at=now() + timedelta(days=1),
        departure_at=now() + timedelta(days=1),
    )
    pinned = await _event(
        hub,
        title="Pinned",
        pinned=True,
        meetup_at=now() + timedelta(days=9),
        departure_at=now() + timedelta(days=9),
    )
    hidden = await _event(hub, title="Members", visibility="members")
    listed = await ops.list_events(_actor(alice), hub, EventQuery())
    assert [i.title for i in listed.items] == ["Pinned", "Soon", "Members", "Later"]
    for_visitor = await ops.list_events(_actor(visitor), hub, EventQuery())
    assert "Members" not in [i.title for i in for_visitor.items]
    first = await ops.list_events(_actor(alice), hub, EventQuery(limit=2))
    second = await ops.list_events(
        _actor(alice), hub, EventQuery(limit=2, cursor=first.next_cursor)
    )
    assert [i.title for i in first.items + second.items] == ["Pinned", "Soon", "Members", "Later"]
    assert second.next_cursor is None
    occ = await _first(soon.id)
    await ops.rsvp(_actor(alice), hub, occ.id, Answer.GOING)
    mine = await ops.list_events(_actor(alice), hub, EventQuery(mine=True))
    assert [(i.title, i.my_answer, i.counts.going) for i in mine.items] == [
        ("Soon", Answer.GOING, 1)
    ]
    member = await Member.get(hub_id=hub.id, user_id=alice.id)
    by = await ops.list_events(SYSTEM, hub, EventQuery(rsvp_by=member.id))
    assert [i.title for i in by.items] == ["Soon"]
    with time_machine.travel(now() + timedelta(days=20)):
        past = await ops.list_events(_actor(alice), hub, EventQuery(when="past"))
        assert [i.title for i in past.items] == ["Pinned", "Later", "Members", "Soon"]
        await ops.set_attendance(SYSTEM, hub, occ.id, add=[alice.id])
        attended = await ops.list_events(SYSTEM, hub, EventQuery(when="all", attended_by=member.id))
        assert [i.title for i in attended.items] == ["Soon"]
    assert {later.id, pinned.id, hidden.id} <= set(
        await Occurrence.all().values_list("event_id", flat=True)
    )


# Tenancy


async def test_another_hubs_ids_are_unknown() -> None:
    hub, other = await _hub(), await _hub(43, "Other")
    alice = await _person(other, "alice", 1)
    event = await _event(hub)
    occ = await _first(event.id)
    with pytest.raises(NotFound):
        await ops.get_occurrence(_actor(alice), other, occ.id)
    with pytest.raises(NotFound):
        await ops.rsvp(_actor(alice), other, occ.id, Answer.GOING)
    with pytest.raises(NotFound):
        await ops.update_event(SYSTEM, other, event.id, EventUpdate(title="x"))
    with pytest.raises(NotFound):
        await ops.cancel_occurrence(SYSTEM, other, occ.id, CancelInput())


# Update, cancel


async def test_moving_a_series_keeps_answers_and_tells_them() -> None:
    hub = await _hub("Europe/Berlin" and GUILD, tz="Europe/Berlin")
    alice = await _person(hub, "alice", 1)
    event = await _event(
        hub, recurrence="weekly", recurrence_until=(now() + timedelta(weeks=2)).date()
    )
    occ = await _first(event.id)
    await ops.rsvp(_actor(alice), hub, occ.id, Answer.GOING)
    moved = occ.meetup_at + timedelta(hours=1)
    await ops.update_event(SYSTEM, hub, event.id, EventUpdate(meetup_at=moved, departure_at=moved))
    fresh = await Occurrence.get(id=occ.id)
    assert (fresh.meetup_at, fresh.going) == (moved, 1)
    assert await Notification.filter(user_id=alice.id, kind="event.changed").count() == 1
    await ops.cancel_event(SYSTEM, hub, event.id, CancelInput(reason="rain"))
    assert not await Occurrence.filter(event_id=event.id, cancelled=False).exists()
    assert await Notification.filter(user_id=alice.id, kind="event.cancelled").count() == 1


# iCal


async def test_ical_feeds_escape_fold_and_keep_secrets() -> None:
    hub = await _hub()
    alice = await _person(hub, "alice", 1)
    long = "Über; the, long\nroad " + "ä" * 80
    occ = await _first(
        (await _event(hub, description=long, link="https://truckersmp.com/events/1")).id
    )
    await _event(hub, title="Secret", visibility="members")
    text = await ops.ical_feed(hub.slug)
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    lines = text.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert f"UID:occurrence-{occ.id}@{hub.slug}.drivershub" in unfolded
    assert "DESCRIPTION:Über\\; the\\, long\\nroad " in unfolded
    assert "DTSTART:" + occ.meetup_at.strftime("%Y%m%dT%H%M%SZ") in unfolded
    assert "Secret" not in unfolded
    link = await ops.ical_secret(_actor(alice), hub)
    assert "VEVENT" not in await ops.user_ical_feed(link.secret)
    await ops.rsvp(_actor(alice), hub, occ.id, Answer.GOING)
    assert unfolded.count("BEGIN:VEVENT") == 1
    assert "Friday convoy" in await ops.user_ical_feed(link.secret)
    rotated = await ops.rotate_ical_secret(_actor(alice), hub)
    assert rotated.secret != link.secret
    with pytest.raises(NotFound):
        await ops.user_ical_feed(link.secret)
    assert fold("x" * 200).split("\r\n")[1].startswith(" ")


# Discord


async def test_discord_sync_interest_and_failures() -> None:
    hub = await _hub()
    alice = await _person(hub, "alice", 1)
    visitor = await _person(hub, "vic", 3, member=False)
    event = await _event(
        hub, recurrence="weekly", recurrence_until=(now() + timedelta(weeks=3)).date()
    )
    rows = await Occurrence.filter(event_id=event.id).order_by("index")
    await ops.record_discord_event(rows[0].id, None, error="Missing Permissions")
    view = await ops.get_occurrence(SYSTEM, hub, rows[0].id)
    assert view.discord_sync_error == "Missing Permissions"
    await ops.record_discord_event(rows[0].id, 9001)
    assert (await ops.get_occurrence(SYSTEM, hub, rows[0].id)).discord_event_id == "9001"
    assert await ops.discord_interest(hub, 9001, alice.discord_id, True)
    assert not await ops.discord_interest(hub, 9001, visitor.discord_id, True)
    await ops.rsvp(_actor(alice), hub, rows[0].id, Answer.MAYBE)  # explicit wins
    assert not await ops.discord_interest(hub, 9001, alice.discord_id, False)
    assert (await Occurrence.get(id=rows[0].id)).maybe == 1
    start = rows[0].meetup_at + timedelta(minutes=15)
    await ops.sync_from_discord(hub, 9001, {"name": "Renamed", "start": start})
    view = await ops.get_occurrence(SYSTEM, hub, rows[0].id)
    assert (view.title, view.meetup_at) == ("Renamed", start)
    await ops.sync_from_discord(hub, 9001, {"status": "cancelled"})
    assert (await Occurrence.get(id=rows[0].id)).cancelled
    # The next date is mirrored instead, and again after a date ends.
    pending = await DiscordAction.filter(target_key=f"event:{rows[1].id}").count()
    assert pending == 1
    assert await ops.occurrence_ended(rows[1].ends_at + timedelta(minutes=1)) >= 1
    assert await DiscordAction.filter(target_key=f"event:{rows[2].id}").exists()
