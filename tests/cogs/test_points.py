"""/points, /rank, /bonus and /member points through the Discord emulator."""

from __future__ import annotations

from models import hubs
from models.actor import SYSTEM
from models.hubs import Hub, HubUpdate
from models.members import Member
from models.points import BonusClaim, PointEntry, PointKind
from models.points.ledger import GrantInput, grant
from models.points.ranks import RankInput, create_rank
from tests.cogs.test_members import MANAGE_ROLES, World, accepted, world
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord


def fields_of(embed: dict) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed["fields"]}


async def give(w: World, amount: int, reason: str, kind: PointKind = PointKind.MANUAL) -> None:
    data = GrantInput(amount=amount, reason=reason, kind=kind)
    await grant(SYSTEM, w.hub, w.alice_row.id, data)


async def with_bonus(hub: Hub, on: bool = True) -> None:
    change = HubUpdate(plugin_settings={"points": {"daily_bonus": on, "daily_bonus_amount": 25}})
    await hubs.update_hub(SYSTEM, await Hub.get(id=hub.id), change)


async def test_points_shows_totals_per_kind_and_the_last_entries(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    await create_rank(SYSTEM, w.hub, RankInput(name="Rookie", threshold=0))
    await give(w, 1000, "Convoy to Berlin", PointKind.EVENT)
    for day in range(1, 6):
        await give(w, day * 10, f"Help #{day}")
    async with start_app():
        reply = await w.driver.run("points", guild=w.guild, member="alice")
        own = await w.alice.run("points", guild=w.guild)
        choices = await w.driver.autocomplete("points", "member", "ali", guild=w.guild)
    assert not reply.ephemeral  # points are for the hub's members to see
    embed = reply.embeds[0]
    assert embed["title"] == "Points of alice"
    fields = fields_of(embed)
    assert (fields["Total"], fields["Rank"]) == ("1,150", "Rookie")
    assert (fields["Events"], fields["Manual"]) == ("1,000", "150")
    assert "Distance" not in fields  # kinds never earned are left out
    lines = fields["Last entries"].splitlines()
    assert len(lines) == 5  # the newest five; the convoy is the sixth
    assert lines[0].startswith("`+50` Manual · <t:")
    assert lines[0].endswith(" · Help #5")
    assert "Convoy" not in fields["Last entries"]
    assert own.embeds[0]["title"] == "Points of alice"
    assert choices == [{"name": "alice #1", "value": str(w.alice_row.id)}]


async def test_points_of_someone_without_points(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    async with start_app():
        visitor = await w.owner.run("points", guild=w.guild, member=str(w.alice_row.id))
    assert visitor.ephemeral  # not a member: for the staff who asked only
    fields = fields_of(visitor.embeds[0])
    assert (fields["Total"], fields["Rank"]) == ("0", "None")
    assert fields["Last entries"] == "No points yet."


async def test_rank_shows_the_way_to_the_next_rank(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    await create_rank(SYSTEM, w.hub, RankInput(name="Rookie", threshold=0))
    await create_rank(SYSTEM, w.hub, RankInput(name="Pro", threshold=100))
    await give(w, 60, "Convoy")
    async with start_app():
        reply = await w.alice.run("rank", guild=w.guild)
        await give(w, 1000, "Convoy")
        top = await w.driver.run("rank", guild=w.guild, member="alice")
    assert not reply.ephemeral
    embed = reply.embeds[0]
    assert embed["title"] == "Rank of alice"
    assert fields_of(embed) == {
        "Rank": "Rookie",
        "Points": "60",
        "Next rank": "Pro at 100 points",
        "Progress": "▰▰▰▰▰▰▱▱▱▱ 60%\n40 to go",
    }
    assert fields_of(top.embeds[0]) == {
        "Rank": "Pro",
        "Points": "1,060",
        "Next rank": "The highest rank.",
    }


async def test_bonus_is_claimed_once_a_day(discord: FakeDiscord, start_app: AppFactory) -> None:
    w = await world(discord, driver_locale="de")
    await accepted(w.hub, w.alice_row)
    async with start_app():
        off = await w.alice.run("bonus", guild=w.guild)
        await with_bonus(w.hub)
        first = await w.alice.run("bonus", guild=w.guild)
        again = await w.alice.run("bonus", guild=w.guild)
        visitor = await w.driver.run("bonus", guild=w.guild)
    assert off.ephemeral
    assert off.content == "This hub has no daily bonus."
    embed = first.embeds[0]
    assert embed["title"] == "Daily bonus claimed"
    assert fields_of(embed) == {"Bonus": "+25", "Streak": "Day 1", "Total": "25"}
    assert again.ephemeral
    assert again.content == "You already claimed today's bonus. Come back tomorrow."
    assert visitor.ephemeral
    assert visitor.content == "Nur Mitglieder dieses Hubs können einen Bonus abholen."
    claim = await BonusClaim.get(member_id=w.alice_row.id)
    assert (claim.amount, claim.streak) == (25, 1)
    assert (await Member.get(id=w.alice_row.id)).points == 25
    assert await PointEntry.filter(member_id=w.alice_row.id, kind=PointKind.BONUS).count() == 1


async def test_a_grant_across_a_threshold_gives_the_ranks_discord_role(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    pros = w.guild.create_role("Pros")
    await create_rank(SYSTEM, w.hub, RankInput(name="Rookie", threshold=0))
    await create_rank(SYSTEM, w.hub, RankInput(name="Pro", threshold=100, discord_role_id=pros.id))
    async with start_app():
        reply = await w.owner.run(
            "member points grant",
            guild=w.guild,
            member=str(w.alice_row.id),
            amount=150,
            reason="Led the convoy",
            kind="event",
        )

        def has_role() -> bool:
            return pros.id in discord.member(w.guild, w.alice).role_ids

        await discord.wait_for(has_role, 5, "the rank's Discord role to be given")
        profile = await w.driver.run("profile", guild=w.guild, member="alice")
    assert reply.ephemeral
    assert reply.content == "Booked +150 (Events) for alice. Points now: 150. New rank: Pro."
    entry = await PointEntry.get(member_id=w.alice_row.id)
    assert (entry.kind, entry.amount, entry.reason) == (PointKind.EVENT, 150, "Led the convoy")
    assert entry.actor_id is not None
    fields = fields_of(profile.embeds[0])
    assert (fields["Points"], fields["Rank"]) == ("150", "Pro")


async def test_correct_adds_a_correction_row_and_keeps_the_total_above_zero(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    await give(w, 100, "Convoy")
    async with start_app():
        reply = await w.owner.run(
            "member points correct", guild=w.guild, member="alice", amount=-40, reason="Twice"
        )
        below = await w.owner.run(
            "member points correct", guild=w.guild, member="alice", amount=-100, reason="Oops"
        )
        zero = await w.owner.run(
            "member points correct", guild=w.guild, member="alice", amount=0, reason="Nothing"
        )
    assert reply.content == "Booked -40 (Correction) for alice. Points now: 60."
    assert below.ephemeral
    assert below.content == "That would take alice below zero points (-40)."
    assert zero.ephemeral
    assert zero.content == "Some fields are not valid: amount: give an amount other than zero."
    assert (await Member.get(id=w.alice_row.id)).points == 60
    rows = await PointEntry.filter(member_id=w.alice_row.id).order_by("id")
    assert [(r.kind, r.amount) for r in rows] == [
        (PointKind.MANUAL, 100),
        (PointKind.CORRECTION, -40),
    ]


async def test_grant_is_refused_without_manage_points(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    # A Discord moderator without a hub role: Discord shows them /member...
    mods = w.guild.create_role("Mods", permissions=MANAGE_ROLES)
    discord.member(w.guild, w.driver).add_roles(mods)
    async with start_app():
        refused = await w.driver.run(
            "member points grant", guild=w.guild, member="alice", amount=5, reason="Mine"
        )
    # ...and the hub refuses, naming the permission.
    assert refused.ephemeral
    assert refused.content == "You need the “Grant and correct points” permission in this hub."
    assert not await PointEntry.filter(member_id=w.alice_row.id).exists()
    assert (await Member.get(id=w.alice_row.id)).points == 0
