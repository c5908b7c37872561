"""Scheduled events: interest (RSVP) events and users, status automation, recurrence rules."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import discord
import pytest
from discord.http import Route

from . import FakeDiscord
from ._testbot import HubBot
from .fixtures import running_bot
from .gateway import GUILD_SCHEDULED_EVENTS, GUILDS, Session
from .state import Guild
from .test_threads import assert_matches_spec

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]
EVENTS = "/guilds/{guild_id}/scheduled-events"
EVENT = EVENTS + "/{guild_scheduled_event_id}"
USERS = EVENT + "/users"


def in_hours(hours: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=hours)


def external(name: str, start: datetime.datetime, end: datetime.datetime) -> dict[str, Any]:
    """A raw create body, for what discord.py 2.7 cannot send (recurrence rules)."""
    return {
        "name": name,
        "privacy_level": 2,
        "entity_type": 3,
        "entity_metadata": {"location": "Berlin"},
        "scheduled_start_time": start.isoformat(),
        "scheduled_end_time": end.isoformat(),
    }


async def create_convoy(bot: discord.Client, guild: Guild) -> discord.ScheduledEvent:
    cached = bot.get_guild(guild.id)
    assert cached is not None
    return await cached.create_scheduled_event(
        name="Convoy",
        start_time=in_hours(1),
        end_time=in_hours(3),
        entity_type=discord.EntityType.external,
        location="Berlin",
        privacy_level=discord.PrivacyLevel.guild_only,
    )


async def test_interest_reaches_the_bot_and_counts(fake_discord: FakeDiscord) -> None:
    alice, bob = fake_discord.user("alice"), fake_discord.user("bob")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    guild.add_member(bob)
    async with running_bot(HubBot(), fake_discord) as bot:
        event = await create_convoy(bot, guild)
        stored = guild.scheduled_event("Convoy")
        added = asyncio.create_task(
            bot.wait_for("scheduled_event_user_add", check=lambda e, u: u.id == bob.id)
        )
        alice.mark_interested(stored)
        bob.mark_interested(stored)
        alice.mark_interested(stored)  # twice is once
        seen_event, seen_user = await asyncio.wait_for(added, 5)
        assert (seen_event.id, seen_user.id) == (event.id, bob.id)
        assert guild.interested_users(stored) == sorted([alice, bob], key=lambda u: u.id)

        fetched = await event.guild.fetch_scheduled_event(event.id)  # with_user_count
        assert fetched.user_count == 2
        assert sorted([user.id async for user in fetched.users()]) == sorted([alice.id, bob.id])

        removed = asyncio.create_task(bot.wait_for("scheduled_event_user_remove"))
        alice.unmark_interested(stored)
        _, gone = await asyncio.wait_for(removed, 5)
        assert gone.id == alice.id
        assert (await event.guild.fetch_scheduled_event(event.id)).user_count == 1
        without = await bot.http.request(Route("GET", EVENT, guild_id=guild.id, **ids(event)))
        assert "user_count" not in without  # only with ?with_user_count=true, as on Discord


def ids(event: discord.ScheduledEvent) -> dict[str, int]:
    return {"guild_scheduled_event_id": event.id}


async def test_users_are_paged_by_id(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    users = [fake_discord.user(name) for name in ("a", "b", "c")]
    for user in users:
        guild.add_member(user, nick=f"{user.name}!")
    async with running_bot(HubBot(), fake_discord) as bot:
        event = await create_convoy(bot, guild)
        for user in users:
            user.mark_interested(guild.scheduled_event("Convoy"))
        route = Route("GET", USERS, guild_id=guild.id, **ids(event))

        async def page(**params: Any) -> list[int]:
            items = await bot.http.request(route, params=params)
            assert_matches_spec(fake_discord.spec, "GET", USERS, items)
            return [int(item["user"]["id"]) for item in items]

        first, second, third = (user.id for user in users)
        assert await page(limit=2) == [first, second]
        assert await page(after=first) == [second, third]
        assert await page(before=third, limit=1) == [second]
        assert await page(before=third, after=third) == [first, second]  # before wins
        members = await bot.http.request(route, params={"with_member": "true", "limit": 1})
        assert members[0]["member"]["nick"] == "a!"
        with pytest.raises(discord.HTTPException):
            await page(limit=101)
    (error,) = fake_discord.take_errors()
    assert "$.limit" in error


async def test_events_start_and_complete_on_time(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        event = await create_convoy(bot, guild)
        stored = guild.scheduled_event("Convoy")
        assert guild.advance_events(in_hours(0.5)) == []
        assert guild.advance_events(in_hours(1.5)) == [stored]
        assert stored["status"] == 2  # external events start by themselves
        assert guild.advance_events(in_hours(4)) == [stored]
        assert stored["status"] == 3
        cached = bot.get_guild(guild.id)
        assert cached is not None

        def completed() -> bool:
            seen = cached.get_scheduled_event(event.id)
            return seen is not None and seen.status is discord.EventStatus.completed

        await fake_discord.wait_for(completed, message="GUILD_SCHEDULED_EVENT_UPDATE")
        late = fake_discord.user("late")
        guild.add_member(late)
        with pytest.raises(ValueError, match="over"):
            late.mark_interested(stored)


async def test_reads_complete_events_whose_end_passed(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=0.3)
        body = external("Sprint", soon, soon + datetime.timedelta(seconds=0.2))
        created = await bot.http.request(Route("POST", EVENTS, guild_id=guild.id), json=body)
        await asyncio.sleep(0.6)
        route = Route("GET", EVENT, guild_id=guild.id, guild_scheduled_event_id=created["id"])
        assert (await bot.http.request(route))["status"] == 3
        await fake_discord.gateway.flush()
        session = next(iter(fake_discord.gateway.sessions.values()))
        updates = [f["d"]["status"] for f in session.sent if f["t"].endswith("EVENT_UPDATE")]
        assert updates == [2, 3]


async def test_status_transitions_follow_discord(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        event = await create_convoy(bot, guild)
        with pytest.raises(discord.HTTPException) as skipped:
            await event.edit(status=discord.EventStatus.completed)
        assert skipped.value.code == 50035
        started = await event.start()
        ended = await started.end()
        assert ended.status is discord.EventStatus.completed
        with pytest.raises(discord.HTTPException):
            await ended.edit(status=discord.EventStatus.cancelled)
        with pytest.raises(discord.HTTPException) as past:
            await ended.guild.create_scheduled_event(
                name="Yesterday",
                start_time=in_hours(-24),
                end_time=in_hours(-23),
                entity_type=discord.EntityType.external,
                location="Berlin",
                privacy_level=discord.PrivacyLevel.guild_only,
            )
        assert past.value.code == 50035
    scheduled_to_completed, completed_to_cancelled, in_the_past = fake_discord.take_errors()
    assert "from status 1 to 3" in scheduled_to_completed
    assert "from status 3 to 4" in completed_to_cancelled
    assert "$.scheduled_start_time" in in_the_past


async def test_recurrence_rule_is_stored_and_checked(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        start = in_hours(2)
        every_other_wednesday = {
            "start": start.isoformat(),
            "frequency": 2,
            "interval": 2,
            "by_weekday": [2],
        }
        body = {**external("Weekly", start, in_hours(3)), "recurrence_rule": every_other_wednesday}
        created = await bot.http.request(Route("POST", EVENTS, guild_id=guild.id), json=body)
        assert_matches_spec(fake_discord.spec, "POST", EVENTS, created)
        rule = created["recurrence_rule"]
        assert {key: rule[key] for key in every_other_wednesday} == every_other_wednesday
        assert (rule["by_month"], rule["count"], rule["end"]) == (None, None, None)
        listed = await bot.http.request(
            Route("GET", EVENTS, guild_id=guild.id), params={"with_user_count": "true"}
        )
        assert_matches_spec(fake_discord.spec, "GET", EVENTS, listed)
        assert listed[0]["recurrence_rule"] == rule
        assert listed[0]["user_count"] == 0

        bad_rules = [
            {"frequency": 3, "by_weekday": [0, 2]},  # not one of the allowed day sets
            {"frequency": 1, "interval": 2, "by_n_weekday": [{"n": 1, "day": 0}]},
            {"frequency": 0, "by_month": [7]},  # yearly needs by_month_day too
            {"frequency": 2, "by_weekday": [1], "count": 5},  # count is Discord's to set
        ]
        for bad in bad_rules:
            rule_body = {**body, "recurrence_rule": {"start": start.isoformat(), **bad}}
            with pytest.raises(discord.HTTPException) as caught:
                await bot.http.request(Route("POST", EVENTS, guild_id=guild.id), json=rule_body)
            assert caught.value.code == 50035
    errors = fake_discord.take_errors()
    assert len(errors) == 4
    assert "$.recurrence_rule.by_weekday" in errors[0]
    assert "$.recurrence_rule.interval" in errors[1]
    assert "$.recurrence_rule.by_month" in errors[2]
    assert "$.recurrence_rule.count" in errors[3]
    assert len(guild.scheduled_events) == 1


async def test_interest_events_need_their_intent(fake_discord: FakeDiscord) -> None:
    """Like the other scheduled event events, the RSVP ones need GUILD_SCHEDULED_EVENTS."""
    without = Session("s1", 0, 1, intents=GUILDS)
    with_intent = Session("s2", 0, 1, intents=GUILDS | GUILD_SCHEDULED_EVENTS)
    for event in ("GUILD_SCHEDULED_EVENT_USER_ADD", "GUILD_SCHEDULED_EVENT_USER_REMOVE"):
        assert not without.wants(event, {})
        assert with_intent.wants(event, {})
