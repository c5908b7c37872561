"""The events API: planning with per-field 422s, RSVP with its refusals, lists, attendance,
the calendars and tenancy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from models import auth, hubs, members
from models.actor import SYSTEM
from models.hubs import Hub
from models.members import lifecycle, roles
from models.members.roles import RoleInput
from models.members.tables import Member
from models.users import User
from tests.web.conftest import problem_of

HUB = "/api/v1/hubs/road-kings"
EVENTS = f"{HUB}/events"
Headers = dict[str, str]


async def _hub(guild_id: int = 42, name: str = "Road Kings") -> Hub:
    return await hubs.ensure_hub_for_guild(guild_id, name, 10)


async def _person(
    hub: Hub, name: str, discord_id: int, *, member: bool = True
) -> tuple[User, Headers]:
    user = await User.create(username=name, discord_id=discord_id)
    row = await members.ensure_member(hub.id, user)
    if member:
        await lifecycle.accept(SYSTEM, hub, row.id)
    pair = await auth.start_session(user, "discord")
    return user, {"Authorization": f"Bearer {pair.access_token}"}


async def _fresh(user: User) -> Headers:
    """A login made now (inside a time travel, access tokens of before have expired)."""
    pair = await auth.start_session(user, "discord")
    return {"Authorization": f"Bearer {pair.access_token}"}


async def _staff(hub: Hub) -> Headers:
    user, headers = await _person(hub, "sam", 5)
    role = await roles.create_role(
        SYSTEM, hub, RoleInput(name="Events", position=10, permissions=["manage_events"])
    )
    member = await Member.get(hub_id=hub.id, user_id=user.id)
    await roles.give_role(SYSTEM, hub, member.id, role.id)
    return headers


def _body(**more: Any) -> dict[str, Any]:
    start = auth.now() + timedelta(days=2)
    return {
        "title": "Friday convoy",
        "meetup_at": start.isoformat(),
        "departure_at": (start + timedelta(minutes=30)).isoformat(),
        "points": 50,
        **more,
    }


async def _create(client: TestClient, headers: Headers, **more: Any) -> dict[str, Any]:
    response = await client.post(EVENTS, json=_body(**more), headers=headers)
    assert response.status == 201, await response.text()
    return await response.json()


async def test_staff_plan_and_bad_input_names_the_field(client: TestClient) -> None:
    hub = await _hub()
    staff = await _staff(hub)
    _, driver = await _person(hub, "dan", 6)
    start = auth.now() + timedelta(days=1)
    cases = [
        (
            _body(
                departure_at=(start - timedelta(hours=1)).isoformat(), meetup_at=start.isoformat()
            ),
            "departure_at",
        ),
        (_body(meetup_at=(auth.now() - timedelta(hours=2)).isoformat()), "meetup_at"),
        (_body(title=""), "title"),
        (_body(points=-5), "points"),
        (_body(points=10**7), "points"),
        (
            _body(
                recurrence="weekly",
                recurrence_until=(start + timedelta(weeks=200)).date().isoformat(),
            ),
            "recurrence_until",
        ),
    ]
    for body, field in cases:
        response = await client.post(EVENTS, json=body, headers=staff)
        problem = await problem_of(response, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == [field]
    forbidden = await client.post(EVENTS, json=_body(), headers=driver)
    await problem_of(forbidden, 403, "missing_permission")
    assert (await client.get(EVENTS)).status == 401
    created = await _create(
        client,
        staff,
        recurrence="weekly",
        recurrence_until=(start + timedelta(weeks=2)).date().isoformat(),
    )
    assert len(created["occurrences"]) >= 2
    patched = await client.patch(
        f"{EVENTS}/series/{created['id']}", json={"title": "Renamed"}, headers=staff
    )
    assert (await patched.json())["title"] == "Renamed"
    listed = await (await client.get(EVENTS, headers=driver)).json()
    assert {i["title"] for i in listed["items"]} == {"Renamed"}
    cancelled = await client.post(
        f"{EVENTS}/series/{created['id']}/cancel", json={"reason": "rain"}, headers=staff
    )
    assert (await cancelled.json())["cancelled_at"] is not None
    again = await client.post(f"{EVENTS}/series/{created['id']}/cancel", json={}, headers=staff)
    await problem_of(again, 409, "event_cancelled")
    assert (await client.delete(f"{EVENTS}/series/{created['id']}", headers=staff)).status == 204
    gone = await client.get(f"{EVENTS}/series/{created['id']}", headers=staff)
    await problem_of(gone, 404, "event_not_found")


async def test_rsvp_refusals_are_localized(client: TestClient) -> None:
    hub = await _hub()
    staff = await _staff(hub)
    alice_user, alice = await _person(hub, "alice", 1)
    _, bob = await _person(hub, "bob", 2)
    _, visitor = await _person(hub, "vic", 3, member=False)
    sam = await User.get(username="sam")
    created = await _create(client, staff, slots=1, rsvp_deadline_minutes=30)
    occ = created["occurrences"][0]["id"]
    answered = await client.put(f"{EVENTS}/{occ}/rsvp", json={"answer": "going"}, headers=alice)
    assert (await answered.json())["counts"] == {"going": 1, "maybe": 0, "not_going": 0}
    full = await client.put(f"{EVENTS}/{occ}/rsvp", json={"answer": "going"}, headers=bob)
    await problem_of(full, 409, "event_full")
    bad = await client.put(f"{EVENTS}/{occ}/rsvp", json={"answer": "yes"}, headers=bob)
    await problem_of(bad, 422, "validation_failed")
    secret = (await _create(client, staff, visibility="members"))["occurrences"][0]["id"]
    refused = await client.put(
        f"{EVENTS}/{secret}/rsvp",
        json={"answer": "going"},
        headers={**visitor, "Accept-Language": "de"},
    )
    problem = await problem_of(refused, 403, "members_only")
    assert "Mitglieder" in problem["detail"] or problem["detail"]
    hidden = await client.get(f"{EVENTS}/{secret}", headers=visitor)
    await problem_of(hidden, 404, "event_not_found")
    detail = await (await client.get(f"{EVENTS}/{occ}", headers=alice)).json()
    assert detail["my_answer"] == "going"
    with time_machine.travel(auth.now() + timedelta(days=2)):
        alice, later_staff = await _fresh(alice_user), await _fresh(sam)
        closed = await client.put(f"{EVENTS}/{occ}/rsvp", json={"answer": "maybe"}, headers=alice)
        await problem_of(closed, 409, "rsvp_closed")
        confirm = await client.post(
            f"{EVENTS}/{occ}/attendance", json={"from_rsvps": True}, headers=later_staff
        )
        assert [a["name"] for a in (await confirm.json())["attendees"]] == ["alice"]
        seen = await client.get(f"{EVENTS}/{occ}/attendance", headers=later_staff)
        assert (await seen.json())["attendees"][0]["points_booked"] == 50
    early = await client.post(
        f"{EVENTS}/{secret}/attendance", json={"from_rsvps": True}, headers=staff
    )
    await problem_of(early, 409, "not_started")
    member = await Member.get(hub_id=hub.id, user__username="alice")
    history = await (
        await client.get(f"{EVENTS}/members/{member.id}/attendance", headers=alice)
    ).json()
    assert [h["points_booked"] for h in history["items"]] == [50]
    cancel = await client.post(f"{EVENTS}/{secret}/cancel", json={}, headers=staff)
    assert (await cancel.json())["cancelled"] is True


async def test_calendars(client: TestClient) -> None:
    hub = await _hub()
    staff = await _staff(hub)
    _, alice = await _person(hub, "alice", 1)
    occ = (await _create(client, staff))["occurrences"][0]["id"]
    public = await client.get(f"{HUB}/events.ics")
    assert (public.status, public.content_type) == (200, "text/calendar")
    assert "BEGIN:VEVENT" in await public.text()
    link = await (await client.get(f"{EVENTS}/ical", headers=alice)).json()
    await client.put(f"{EVENTS}/{occ}/rsvp", json={"answer": "going"}, headers=alice)
    mine = await client.get(link["path"])
    assert "Friday convoy" in await mine.text()
    rotated = await (await client.post(f"{EVENTS}/ical/rotate", headers=alice)).json()
    await problem_of(await client.get(link["path"]), 404, "feed_not_found")
    for junk in ("x" * 65, "x" * 500, "a.b"):  # no 500 for what no feed could be
        await problem_of(await client.get(f"{HUB}/events/ical/{junk}.ics"), 404, "feed_not_found")
    assert (await client.get(rotated["path"])).status == 200
    # The secret of one hub's feed is no feed under another hub's address.
    other = rotated["path"].replace(HUB.removeprefix("/api/v1"), "/hubs/elsewhere")
    assert (await client.get(other)).status == 404
    hub.plugins = (
        {k: v for k, v in hub.plugins.items() if k != "events"}
        if isinstance(hub.plugins, dict)
        else [p for p in hub.plugins if p != "events"]
    )
    await hub.save(update_fields=["plugins"])
    await problem_of(await client.get(f"{HUB}/events.ics"), 404, "plugin_disabled")


async def test_other_hubs_ids_are_unknown(client: TestClient) -> None:
    hub, other = await _hub(), await _hub(43, "Other")
    staff = await _staff(hub)
    occ = (await _create(client, staff))["occurrences"][0]["id"]
    _, outsider = await _person(other, "olga", 9)
    response = await client.get(f"/api/v1/hubs/{other.slug}/events/{occ}", headers=outsider)
    await problem_of(response, 404, "event_not_found")
    bad = await client.get(f"{EVENTS}/abc", headers=staff)
    assert bad.status == 404


async def test_far_future_dates_and_bad_reminder_offsets_are_422(client: TestClient) -> None:
    hub = await _hub()
    staff = await _staff(hub)
    far = {
        "title": "x",
        "meetup_at": "9999-12-31T22:00:00Z",
        "departure_at": "9999-12-31T23:00:00Z",
        "recurrence": "monthly",
    }
    response = await client.post(EVENTS, json=far, headers=staff)
    problem = await problem_of(response, 422, "validation_failed")
    assert "meetup_at" in [e["field"] for e in problem["errors"]]
    from models import plugins

    for offsets in ([-5], [99999999]):
        with pytest.raises(ValueError, match="reminder_offsets"):
            plugins.merge_settings("events", {}, {"reminder_offsets": offsets})


async def test_trial_findings_one_offs_attendance_me_and_deleting(client: TestClient) -> None:
    hub = await _hub()
    hub.timezone = "Europe/Berlin"
    await hub.save(update_fields=["timezone"])
    staff = await _staff(hub)
    alice_user, alice = await _person(hub, "alice", 1)
    vic_user, visitor = await _person(hub, "vic", 3, member=False)
    sam = await User.get(username="sam")
    # A one-off has no last date and skips nothing; turning a series into one drops both.
    for extra, field in (
        ({"recurrence_until": "2099-01-01"}, "recurrence_until"),
        ({"exceptions": ["2099-01-01"]}, "exceptions"),
    ):
        response = await client.post(EVENTS, json=_body(**extra), headers=staff)
        problem = await problem_of(response, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == [field]
    until = (auth.now() + timedelta(weeks=3)).date().isoformat()
    series = await _create(client, staff, recurrence="weekly", recurrence_until=until)
    one_off = await client.patch(
        f"{EVENTS}/series/{series['id']}", json={"recurrence": "none"}, headers=staff
    )
    assert one_off.status == 200, await one_off.text()
    assert (await one_off.json())["recurrence_until"] is None
    # Cancelling needs no body; the deadline is told in the hub's time zone.
    created = await _create(client, staff, rsvp_deadline_minutes=30)
    occ = created["occurrences"][0]["id"]
    assert (await client.post(f"{EVENTS}/{occ}/cancel", headers=staff)).status == 200
    occ = (await _create(client, staff, rsvp_deadline_minutes=30))["occurrences"][0]["id"]
    for headers in (alice, visitor):
        await client.put(f"{EVENTS}/{occ}/rsvp", json={"answer": "going"}, headers=headers)
    with time_machine.travel(auth.now() + timedelta(days=2)):
        alice, later = await _fresh(alice_user), await _fresh(sam)
        closed = await client.put(f"{EVENTS}/{occ}/rsvp", json={"answer": "maybe"}, headers=alice)
        assert "CET" in (await problem_of(closed, 409, "rsvp_closed"))["detail"]
        # Attendance earns points, which only members hold.
        both = await client.post(
            f"{EVENTS}/{occ}/attendance",
            json={"add": [alice_user.id], "remove": [alice_user.id]},
            headers=later,
        )
        problem = await problem_of(both, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == ["remove"]
        guest = await client.post(
            f"{EVENTS}/{occ}/attendance", json={"add": [vic_user.id]}, headers=later
        )
        problem = await problem_of(guest, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == ["add"]
        going = await client.post(
            f"{EVENTS}/{occ}/attendance", json={"from_rsvps": True}, headers=later
        )
        assert [a["name"] for a in (await going.json())["attendees"]] == ["alice"]
        mine = await client.get(f"{EVENTS}/members/@me/attendance", headers=alice)
        assert [h["points_booked"] for h in (await mine.json())["items"]] == [50]
    # Deleting a series tells those still going that it is off.
    ahead = await _create(client, staff, title="Sunday run")
    ahead_occ = ahead["occurrences"][0]["id"]
    await client.put(f"{EVENTS}/{ahead_occ}/rsvp", json={"answer": "going"}, headers=alice)
    from models.notifications.tables import Notification

    before = await Notification.filter(user_id=alice_user.id, kind="event.cancelled").count()
    assert (await client.delete(f"{EVENTS}/series/{ahead['id']}", headers=staff)).status == 204
    after = await Notification.filter(user_id=alice_user.id, kind="event.cancelled").count()
    assert after == before + 1


async def test_second_trial_times_notices_cancelling_and_privacy(client: TestClient) -> None:
    hub = await _hub()
    hub.timezone = "Europe/Berlin"
    await hub.save(update_fields=["timezone"])
    staff = await _staff(hub)
    alice_user, alice = await _person(hub, "alice", 1)
    _, bob = await _person(hub, "bob", 2)
    sam = await User.get(username="sam")
    from models.notifications.tables import Notification

    until = (auth.now() + timedelta(weeks=2)).date()
    skip = until.isoformat()
    series = await _create(
        client, staff, recurrence="weekly", recurrence_until=skip, exceptions=[skip, skip]
    )
    assert series["exceptions"] == [skip]  # each skipped date once
    occ = series["occurrences"][0]
    await client.put(f"{EVENTS}/{occ['id']}/rsvp", json={"answer": "going"}, headers=alice)
    # Another member's answers are theirs and the planners' to see.
    alice_member = await Member.get(hub_id=hub.id, user_id=alice_user.id)
    peek = await client.get(f"{EVENTS}?rsvp_by={alice_member.id}", headers=bob)
    await problem_of(peek, 403, "missing_permission")
    own = await client.get(f"{EVENTS}?rsvp_by={alice_member.id}", headers=alice)
    assert len((await own.json())["items"]) == 1
    assert (await client.get(f"{EVENTS}?rsvp_by={alice_member.id}", headers=staff)).status == 200
    # Only a new meetup time is news; the notice tells it on the hub's clock.
    start = auth.now() + timedelta(days=2, hours=1)
    moved = {"meetup_at": start.isoformat(), "departure_at": start.isoformat()}
    assert (
        await client.patch(f"{EVENTS}/series/{series['id']}", json=moved, headers=staff)
    ).status == 200
    later = {"departure_at": (start + timedelta(minutes=20)).isoformat()}
    assert (
        await client.patch(f"{EVENTS}/series/{series['id']}", json=later, headers=staff)
    ).status == 200
    notices = await Notification.filter(user_id=alice_user.id, kind="event.changed")
    assert len(notices) == 1
    assert "CET" in notices[0].data["meetup"]
    # A date whose attendance was confirmed is not cancelled under its attendees.
    with time_machine.travel(start + timedelta(minutes=30)):
        later_staff = await _fresh(sam)
        confirmed = await client.post(
            f"{EVENTS}/{occ['id']}/attendance", json={"from_rsvps": True}, headers=later_staff
        )
        assert confirmed.status == 200, await confirmed.text()
        refused = await client.post(f"{EVENTS}/{occ['id']}/cancel", headers=later_staff)
        await problem_of(refused, 409, "attendance_confirmed")
        taken_off = await client.post(
            f"{EVENTS}/{occ['id']}/attendance",
            json={"remove": [alice_user.id]},
            headers=later_staff,
        )
        assert taken_off.status == 200
        assert (
            await client.post(f"{EVENTS}/{occ['id']}/cancel", headers=later_staff)
        ).status == 200
