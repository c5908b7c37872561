"""Events in Discord through the emulator: the event post's RSVP buttons, /event and
/event-admin, and the Discord Scheduled Event kept in sync with the hub's event both ways."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cogs import events as cog
from models.actor import SYSTEM
from models.discord_actions import ActionStatus, DiscordAction
from models.events import Event, Occurrence, Rsvp, ops
from models.events.schemas import EventInput
from models.hubs import Hub
from tests.cogs.test_applications import posted, settled
from tests.cogs.test_members import World, accepted, world
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import Message

MANAGE_EVENTS = 1 << 33


@pytest.fixture(autouse=True)
def quick_edits() -> Iterator[None]:
    """Post edits coalesce over 0.2 s here instead of 2 s (the behaviour is the same)."""
    before = cog.PostEdits.interval
    cog.PostEdits.interval = 0.2
    yield
    cog.PostEdits.interval = before


def soon(hours: float = 24) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


async def planned(hub: Hub, title: str = "Berlin run", hours: float = 24, **extra: Any) -> Any:
    """An event planned by staff (through the domain, as the API would)."""
    meetup = soon(hours)
    data = EventInput(
        title=title,
        description="Bring a Scania.",
        departure_city="Berlin",
        departure_company="Tesla",
        arrival_city="Calais",
        arrival_company="Tree-Et",
        server="Simulation 1",
        meetup_at=meetup,
        departure_at=meetup + timedelta(minutes=15),
        points=250,
        **extra,
    )
    return await ops.create_event(SYSTEM, hub, data)


async def occurrence_of(event: Any) -> Occurrence:
    return await Occurrence.filter(event_id=event.id).order_by("index").first()


async def event_post(discord: FakeDiscord, w: World, occurrence: Occurrence) -> Message:
    """The owner posts the event with its buttons in #general."""
    general = w.guild.default_channel
    done = await w.owner.run(
        "event-admin post",
        guild=w.guild,
        event=str(occurrence.id),
        options={"channel": general},
    )
    assert done.content == f"Posted in <#{general.id}>.", done.content
    (message,) = await discord.wait_for(lambda: posted(general), 10, "the event post")
    return message


def counts_field(message: Message) -> str:
    return message.embeds[0]["fields"][-1]["value"]


# Who sees what


async def test_drivers_see_event_and_staff_see_event_admin(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    await world(discord)
    async with start_app():
        pass
    drivers, staff = (
        discord.commands.find("event", None),
        discord.commands.find("event-admin", None),
    )
    assert drivers is not None
    assert staff is not None
    assert drivers["default_member_permissions"] is None
    assert drivers["contexts"] == staff["contexts"] == [0]  # servers only
    assert staff["default_member_permissions"] == str(MANAGE_EVENTS)
    assert {o["name"] for o in drivers["options"]} == {"list", "info"}
    assert {o["name"] for o in staff["options"]} == {"create", "cancel", "post", "attendance"}


# RSVP buttons


async def test_rsvp_buttons_answer_privately_and_update_the_posts_counts(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    event = await planned(w.hub)
    occurrence = await occurrence_of(event)
    async with start_app():
        post = await event_post(discord, w, occurrence)
        going = await w.alice.click(post, "Going")
        maybe = await w.driver.click(post, "Maybe")
        await discord.wait_for(
            lambda: "Going: 1 · Maybe: 1" in counts_field(post), 10, "the counts on the post"
        )
        changed = await w.alice.click(post, "Not going")
        await discord.wait_for(
            lambda: "Going: 0 · Maybe: 1 · Not going: 1" in counts_field(post), 10, "the edit"
        )
    assert [b["label"] for b in post.buttons] == ["Going", "Maybe", "Not going"]
    assert post.buttons[0]["custom_id"] == f"dh:events:rsvp:{occurrence.id}:going"
    assert post.embeds[0]["title"] == "Berlin run"
    assert (going.ephemeral, going.content) == (True, "You are going to Berlin run.")
    assert maybe.content == "You might come to Berlin run."
    assert changed.content == "You are not going to Berlin run."
    answers = {r.user_id: r.answer for r in await Rsvp.filter(occurrence_id=occurrence.id)}
    assert sorted(a.value for a in answers.values()) == ["maybe", "not_going"]
    assert len(posted(w.guild.default_channel)) == 1  # edited, never posted again


async def test_many_clicks_make_few_edits_showing_the_latest_counts(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    event = await planned(w.hub)
    occurrence = await occurrence_of(event)
    people = [discord.user(f"driver{n}") for n in range(6)]
    for person in people:
        w.guild.add_member(person)
    async with start_app():
        post = await event_post(discord, w, occurrence)
        edits_before = len(discord.requests_to("PATCH /channels/{channel_id}/messages/*"))
        for person in people:
            await person.click(post, "Going")
        await discord.wait_for(lambda: "Going: 6 ·" in counts_field(post), 10, "the last count")
    edits = len(discord.requests_to("PATCH /channels/{channel_id}/messages/*")) - edits_before
    assert 1 <= edits < len(people)


async def test_rsvp_after_the_deadline_is_refused_with_the_reason(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    event = await planned(w.hub, hours=0.5, rsvp_deadline_minutes=60)
    occurrence = await occurrence_of(event)
    async with start_app():
        post = await event_post(discord, w, occurrence)
        late = await w.alice.click(post, "Going")
    assert late.ephemeral
    assert "closed" in late.content.lower() or "deadline" in late.content.lower(), late.content
    assert not await Rsvp.exists()


async def test_a_visitor_cannot_answer_a_members_only_event(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    event = await planned(w.hub, visibility="members")
    occurrence = await occurrence_of(event)
    async with start_app():
        post = await event_post(discord, w, occurrence)
        refused = await w.alice.click(post, "Going")  # alice is a visitor
    assert refused.ephemeral
    assert "member" in refused.content.lower(), refused.content
    assert not await Rsvp.exists()


# Commands


async def test_event_list_and_info_show_upcoming_events(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    first = await planned(w.hub, "Berlin run", hours=24)
    await planned(w.hub, "Lyon night", hours=48)
    occurrence = await occurrence_of(first)
    async with start_app():
        listed = await w.driver.run("event list", guild=w.guild)
        choices = await w.driver.autocomplete("event info", "event", "berlin", guild=w.guild)
        info = await w.driver.run("event info", guild=w.guild, event=str(occurrence.id))
        going = await w.driver.click(info, "Going")
    assert listed.ephemeral
    text = listed.embeds[0]["description"]
    assert text.index("Berlin run") < text.index("Lyon night")
    assert [c["value"] for c in choices] == [str(occurrence.id)]
    assert "Berlin run" in choices[0]["name"]
    assert info.ephemeral
    fields = {f["name"]: f["value"] for f in info.embeds[0]["fields"]}
    assert fields["Route"] == "Berlin (Tesla) → Calais (Tree-Et)"
    assert fields["Points"] == "250"
    assert f"<t:{int(occurrence.meetup_at.timestamp())}:F>" in fields["Meetup"]
    assert going.content == "You are going to Berlin run."


async def test_event_list_pages(discord: FakeDiscord, start_app: AppFactory) -> None:
    w = await world(discord)
    for n in range(cog.PAGE + 2):
        await planned(w.hub, f"Run {n:02}", hours=24 + n)
    async with start_app():
        first = await w.driver.run("event list", guild=w.guild)
        shown_first = first.embeds[0]["description"]
        second = await w.driver.click(first, "Next page")
    assert shown_first.count("\n") == cog.PAGE - 1
    assert "Run 00" in shown_first
    assert "Run 11" in second.original.embeds[0]["description"]
    assert "Run 00" not in second.original.embeds[0]["description"]


async def test_staff_plan_an_event_in_a_modal_in_their_time_zone(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await Hub.filter(id=w.hub.id).update(timezone="Europe/Berlin")
    day = (datetime.now(UTC) + timedelta(days=10)).date()
    async with start_app():
        form = await w.owner.run("event-admin create", guild=w.guild)
        done = await w.owner.submit_modal(
            form,
            title="Night convoy",
            description="Slow and steady.",
            meetup_time=f"{day:%Y-%m-%d} 19:30",
            departure_time="19:45",
            route="Berlin (Tesla) → Calais",
        )
        bad = await w.owner.run("event-admin create", guild=w.guild)
        refused = await w.owner.submit_modal(bad, title="Oops", meetup_time="tomorrow evening")
        await settled(discord)
    assert form.modal is not None
    placeholders = [c["component"].get("placeholder") for c in form.modal["components"]]
    assert "YYYY-MM-DD HH:MM" in placeholders[2]
    assert "Europe/Berlin" in placeholders[2]
    assert done.content == "Event planned: Night convoy."
    event = await Event.get(title="Night convoy")
    local = datetime(day.year, day.month, day.day, 19, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert event.meetup_at == local.astimezone(UTC)  # the hub's zone, not the machine's
    assert event.departure_at == event.meetup_at + timedelta(minutes=15)
    assert (event.departure_city, event.departure_company, event.arrival_city) == (
        "Berlin",
        "Tesla",
        "Calais",
    )
    assert refused.ephemeral
    assert "Meetup time" in refused.content, refused.content
    assert await Event.filter(title="Oops").count() == 0


async def test_staff_cancel_and_the_post_and_scheduled_event_follow(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    event = await planned(w.hub)
    occurrence = await occurrence_of(event)
    async with start_app():
        await settled(discord)
        post = await event_post(discord, w, occurrence)
        cancelled = await w.owner.run("event-admin cancel", guild=w.guild, event=str(occurrence.id))
        await discord.wait_for(lambda: post.embeds[0]["title"].startswith("Cancelled"), 10, "edit")
        await settled(discord)
        refused = await w.driver.run(
            "event-admin cancel", guild=w.guild, event=str(occurrence.id), stale_client=True
        )
    assert cancelled.content == "Event cancelled: Berlin run."
    assert all(b.get("disabled") for b in post.buttons)
    statuses = [e["status"] for e in w.guild.scheduled_events.values()]
    assert statuses in ([], [cog.CANCELED])
    assert "permission" in refused.content


async def test_staff_confirm_attendance_from_rsvps(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    event = await planned(w.hub)
    occurrence = await occurrence_of(event)
    async with start_app():
        post = await event_post(discord, w, occurrence)
        await w.alice.click(post, "Going")
        await Occurrence.filter(id=occurrence.id).update(
            meetup_at=soon(-5), departure_at=soon(-5), ends_at=soon(-3)
        )
        done = await w.owner.run("event-admin attendance", guild=w.guild, event=str(occurrence.id))
    assert done.ephemeral
    assert done.content == "Attendance confirmed for 1 drivers.", done.content


# The Discord Scheduled Event


def only_event(w: World) -> dict[str, Any]:
    (stored,) = w.guild.scheduled_events.values()
    return stored


async def test_a_new_event_gets_a_scheduled_event(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    async with start_app():
        event = await planned(w.hub)
        await settled(discord)
    stored = only_event(w)
    occurrence = await occurrence_of(event)
    assert occurrence.discord_event_id == int(stored["id"])
    assert occurrence.discord_sync_error == ""
    assert stored["name"] == "Berlin run"
    assert stored["entity_type"] == cog.EXTERNAL
    location = stored["entity_metadata"]["location"]
    assert location == "Berlin (Tesla) → Calais (Tree-Et) · Simulation 1"
    assert cog._parse_time(stored["scheduled_start_time"]) == occurrence.meetup_at
    assert cog._parse_time(stored["scheduled_end_time"]) == occurrence.ends_at


async def test_a_members_only_event_is_not_mirrored(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    async with start_app():
        await planned(w.hub, visibility="members")
        await settled(discord)
    assert w.guild.scheduled_events == {}


async def test_a_refused_scheduled_event_is_recorded_and_the_event_kept(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    bot_role = next(role for role in w.guild.roles.values() if role.managed)
    bot_role.permissions = (1 << 10) | (1 << 11)  # view channels, send messages
    async with start_app():
        event = await planned(w.hub)
        await settled(discord)
    discord.take_errors()
    occurrence = await occurrence_of(event)
    assert occurrence.discord_event_id is None
    assert occurrence.discord_sync_error.startswith("403 50013")
    (action,) = [
        a for a in await DiscordAction.all() if a.payload.get("render") == "events.scheduled"
    ]
    assert (action.status, action.attempts) == (ActionStatus.FAILED, 1)  # not retried
    assert await Event.exists(id=event.id)
    assert w.guild.scheduled_events == {}


async def test_an_edit_in_discord_updates_the_hub_event_and_the_echo_is_ignored(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    async with start_app():
        event = await planned(w.hub)
        await settled(discord)
        stored = only_event(w)
        later = soon(26)
        stored.update(
            name="Berlin run (moved)",
            scheduled_start_time=later.isoformat(),
            scheduled_end_time=(later + timedelta(hours=3)).isoformat(),
        )
        w.guild.emit("GUILD_SCHEDULED_EVENT_UPDATE", w.guild.event_payload(stored))

        async def moved() -> bool:
            return (await Event.get(id=event.id)).title == "Berlin run (moved)"

        await discord.wait_for(moved, 10, "the hub event to follow Discord")
        await settled(discord)
    occurrence = await occurrence_of(event)
    assert occurrence.meetup_at == later
    assert len(w.guild.scheduled_events) == 1  # the same event, not a copy


async def test_the_bots_own_edit_is_not_synced_back(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    async with start_app():
        event = await planned(w.hub)
        await settled(discord)
        calls: list[Any] = []
        original = ops.sync_from_discord

        async def spy(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return await original(*args, **kwargs)

        ops.sync_from_discord = spy
        try:
            # The bot edits the event (as the renderer does); its echo comes back.
            occurrence = await occurrence_of(event)
            from models.events import common

            await common.mirror_action(w.hub, occurrence)
            await settled(discord)
            await discord.gateway.flush()
        finally:
            ops.sync_from_discord = original
    assert calls == []


async def test_interest_in_discord_counts_as_going_for_a_member(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    async with start_app():
        event = await planned(w.hub)
        await settled(discord)
        stored = only_event(w)
        w.alice.mark_interested(stored)

        async def going() -> bool:
            return await Rsvp.filter(answer="going").exists()

        await discord.wait_for(going, 10, "alice's interest to count")
        w.alice.unmark_interested(stored)

        async def gone() -> bool:
            return not await Rsvp.filter(answer="going").exists()

        await discord.wait_for(gone, 10, "alice's interest taken back")
    occurrence = await occurrence_of(event)
    assert occurrence.going == 0
