"""The points ledger under pressure: concurrent bookings, ranks and their Discord roles, the
rebuild, negative totals, the daily bonus in the member's own calendar, leaderboards, fresh
starts, tenancy and bookings made once.

On PostgreSQL (DRIVERSHUB_TEST_DATABASE_URL) the concurrent tests run on a pool of 40
connections, so 32+ bookings really wait on each other's row locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pydantic import BaseModel, ValidationError
from tortoise import connections
from tortoise.backends.base.config_generator import expand_db_url

from models import hubs, tortoise_config, users
from models.actor import SYSTEM, Actor
from models.audit import AuditLog
from models.discord_actions import ActionStatus, DiscordAction
from models.errors import Conflict, NotFound
from models.hubs import Hub, HubUpdate
from models.members import Member, ensure_member, lifecycle
from models.points import (
    MAX_AMOUNT,
    BonusClaim,
    PointEntry,
    PointKind,
    PointPeriod,
    PointTotal,
    Rank,
)
from models.points.bonus import claim, history
from models.points.ledger import CorrectionInput, GrantInput, book, correct, grant
from models.points.ranks import RankInput, create_rank
from models.points.reads import BoardQuery, LedgerQuery, leaderboard, ledger, rebuild, totals
from models.users import User

ROOKIE_ROLE, PRO_ROLE, LEGEND_ROLE = 501, 502, 503


# Helpers


async def _hub(guild_id: int, timezone: str = "UTC", **points: object) -> Hub:
    """A hub in `timezone` with these points settings."""
    hub = await hubs.ensure_hub_for_guild(guild_id, f"Hub {guild_id}", 10)
    change = {"timezone": timezone, **({"plugin_settings": {"points": points}} if points else {})}
    return await hubs.update_hub(SYSTEM, hub, HubUpdate(**change))


async def _member(hub: Hub, name: str, discord_id: int, timezone: str | None = None) -> Member:
    """An accepted member (their user is created or found by Discord id)."""
    user = await users.user_for_discord(discord_id, name)
    if timezone is not None:
        await User.filter(id=user.id).update(timezone=timezone)
    member = await ensure_member(hub.id, user)
    await lifecycle.accept(SYSTEM, hub, member.id)
    return await Member.get(id=member.id).select_related("user")


async def _ladder(hub: Hub, *steps: tuple[str, int, int | None]) -> dict[str, Rank]:
    ranks = {}
    for name, threshold, role in steps:
        data = RankInput(name=name, threshold=threshold, discord_role_id=role)
        ranks[name] = await create_rank(SYSTEM, hub, data)
    return ranks


async def _rank_name(member: Member) -> str | None:
    rank_id = (await Member.get(id=member.id)).rank_id
    return (await Rank.get(id=rank_id)).name if rank_id else None


def _grant(amount: int, kind: PointKind = PointKind.MANUAL, **more: object) -> GrantInput:
    return GrantInput(amount=amount, kind=kind, reason="test", **more)


def _fix(amount: int) -> CorrectionInput:
    return CorrectionInput(amount=amount, reason="fix")


async def _roles(member: Member) -> list[tuple[str, int, str]]:
    """The role actions queued for a member: (kind, role, status), oldest first."""
    rows = await DiscordAction.filter(discord_user_id=member.user.discord_id).order_by("id")
    return [(str(r.kind), r.role_id, str(r.status)) for r in rows]


async def _snapshot(hub: Hub) -> tuple:
    """Everything kept from the ledger for one hub: points and ranks, per-kind totals, periods."""
    points = sorted(await Member.filter(hub_id=hub.id).values_list("id", "points", "rank_id"))
    kinds = sorted(
        await PointTotal.filter(member__hub_id=hub.id).values_list("member_id", "kind", "total")
    )
    periods = sorted(
        (m, str(p), str(s), k, a)
        for m, p, s, k, a in await PointPeriod.filter(hub_id=hub.id).values_list(
            "member_id", "period", "start", "kind", "amount"
        )
        if a != 0
    )
    return points, kinds, periods


async def _expected_from_ledger(hub: Hub) -> tuple:
    """The same figures worked out here from the ledger rows alone, in the hub's calendar."""
    zone = ZoneInfo(hub.timezone)
    points: dict[int, int] = defaultdict(int)
    kinds: dict[tuple[int, str], int] = defaultdict(int)
    periods: dict[tuple, int] = defaultdict(int)
    rows = await PointEntry.filter(hub_id=hub.id).values_list(
        "member_id", "kind", "amount", "counts_at"
    )
    for member_id, kind, amount, counts_at in rows:
        points[member_id] += amount
        kinds[(member_id, str(kind))] += amount
        day = counts_at.astimezone(zone).date()
        starts = {
            "day": day,
            "week": day - timedelta(days=day.weekday()),
            "month": date(day.year, day.month, 1),
            "year": date(day.year, 1, 1),
        }
        for period, start in starts.items():
            for name in (str(kind), "all"):
                periods[(member_id, period, str(start), name)] += amount
    return (
        dict(points),
        sorted((m, k, t) for (m, k), t in kinds.items()),
        sorted((*key, a) for key, a in periods.items() if a != 0),
    )


async def _rank_from_totals(hub: Hub, member_id: int) -> int | None:
    """The highest rank whose threshold the member's points (of its kinds) meet."""
    member = await Member.get(id=member_id)
    by_kind = dict(await PointTotal.filter(member_id=member_id).values_list("kind", "total"))
    best = None
    for rank in await Rank.filter(hub_id=hub.id).order_by("threshold"):
        counted = sum(by_kind.get(k, 0) for k in rank.kinds) if rank.kinds else member.points
        if counted >= rank.threshold:
            best = rank.id
    return best


@contextlib.asynccontextmanager
async def _wide_pool(database_url: str) -> AsyncIterator[object | None]:
    """On PostgreSQL: the models on a pool of 40 connections meanwhile (the application's
    pool keeps Tortoise's default of 5), yielding the asyncpg pool. SQLite has one writer."""
    if not database_url.startswith("postgres"):
        yield None
        return
    url = f"{database_url}{'&' if '?' in database_url else '?'}maxsize=40"
    info = expand_db_url(tortoise_config(url)["connections"]["default"])
    client_class = connections._discover_client_class(info)
    # Named "default": transactions register under their client's name.
    client = client_class(**info["credentials"], connection_name="default")
    await client.create_connection(with_db=True)
    token = connections.set("default", client)
    try:
        yield client._pool
    finally:
        connections.reset(token)
        await client.close()


async def _settle(tasks: Iterable) -> list:
    """Run the bookings at once; refusals are returned, anything else unexpected raises."""
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Conflict):
            raise result
    return results


# Concurrency: one rank change, one role change


async def test_concurrent_grants_crossing_a_threshold_change_the_rank_once(
    database_url: str,
) -> None:
    hub = await _hub(77)
    ranks = await _ladder(
        hub, ("Rookie", 0, ROOKIE_ROLE), ("Pro", 100, PRO_ROLE), ("Legend", 10_000, LEGEND_ROLE)
    )
    alice = await _member(hub, "alice", 1001)
    others = [await _member(hub, f"d{i}", 1100 + i) for i in range(2)]
    for member in (alice, *others):
        await grant(SYSTEM, hub, member.id, _grant(1))  # each is a Rookie, role given
    await DiscordAction.all().update(status=ActionStatus.DONE)
    # 32 grants of 5 for Alice (1 -> 161) and 8 of 15 for each other driver (1 -> 121).
    jobs = [(alice, 5)] * 32 + [(m, 15) for m in others for _ in range(8)]
    random.Random(3).shuffle(jobs)

    async with _wide_pool(database_url) as pool:
        bookings = await _settle(grant(SYSTEM, hub, m.id, _grant(amount)) for m, amount in jobs)
        if pool is not None:
            assert pool.get_size() >= 16  # the bookings really ran side by side

    for member, points in ((alice, 161), *((m, 121) for m in others)):
        stored = await Member.get(id=member.id)
        assert (stored.points, stored.rank_id) == (points, ranks["Pro"].id)
        assert await _roles(member) == [
            ("add_role", ROOKIE_ROLE, "done"),
            ("remove_role", ROOKIE_ROLE, "pending"),
            ("add_role", PRO_ROLE, "pending"),
        ]
        assert (await PointTotal.get(member_id=member.id, kind="manual")).total == points
    signals = [s for b in bookings for s in b.signals]
    assert sorted(s.member_id for s in signals) == sorted(m.id for m in (alice, *others))
    assert {(s.kind, s.data["from"], s.data["to"], s.data["up"]) for s in signals} == {
        ("member.rank_changed", "Rookie", "Pro", True)
    }
    # Every booking saw the total it made: no two saw the same one.
    alice_totals = sorted(b.total for b in bookings if b.entry.member_id == alice.id)
    assert alice_totals == list(range(6, 162, 5))


async def test_concurrent_random_bookings_in_several_hubs_equal_a_rebuild(
    database_url: str,
) -> None:
    zones = ("UTC", "Pacific/Auckland", "America/Los_Angeles")
    hubs_ = [
        await _hub(200 + i, zone, negative_totals=i == 1, daily_bonus=True)
        for i, zone in enumerate(zones)
    ]
    for hub in hubs_:
        await _ladder(hub, ("Rookie", 0, ROOKIE_ROLE), ("Pro", 400, PRO_ROLE))
        await create_rank(
            SYSTEM, hub, RankInput(name="Eventer", threshold=250, kinds=["event", "challenge"])
        )
    # The same three drivers in every hub: one user, a member row per hub.
    drivers = {hub.id: [await _member(hub, f"d{i}", 2000 + i) for i in range(3)] for hub in hubs_}
    # Instants around midnights and year ends of the three time zones, in several years.
    instants = [
        datetime(2023, 12, 31, 23, 30, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 30, tzinfo=UTC),
        datetime(2024, 2, 29, 12, 0, tzinfo=UTC),
        datetime(2024, 12, 31, 11, 30, tzinfo=UTC),  # Auckland: already 2025
        datetime(2025, 4, 1, 6, 30, tzinfo=UTC),  # Los Angeles: still March
        datetime(2025, 6, 16, 6, 59, tzinfo=UTC),  # a Monday; Los Angeles: Sunday's week
        None,  # now
    ]
    rng = random.Random(12)
    dedupe = [f"delivery:{n}" for n in range(8)]

    def one(hub: Hub) -> tuple[Hub, Member, str, object]:
        member = rng.choice(drivers[hub.id])
        roll = rng.random()
        if roll < 0.55:
            kind = rng.choice([PointKind.DISTANCE, PointKind.EVENT, PointKind.CHALLENGE])
            data = _grant(rng.randint(1, 150), kind, counts_at=rng.choice(instants))
            return hub, member, "grant", grant(SYSTEM, hub, member.id, data)
        if roll < 0.75:
            data = _fix(rng.choice([-1, 1]) * rng.randint(1, 90))
            return hub, member, "correct", correct(SYSTEM, hub, member.id, data)
        if roll < 0.9:  # a delivery booked by its package, some twice
            key, when = rng.choice(dedupe), rng.choice(instants[:-1])
            booking = book(hub, member, PointKind.DISTANCE, 40, dedupe_key=key, counts_at=when)
            return hub, member, "book", booking
        return hub, member, "claim", claim(Actor(member.user_id, member.user.discord_id), hub)

    jobs = [one(rng.choice(hubs_)) for _ in range(150)]
    # "Now" is the last second of September in UTC and Los Angeles, October in Auckland.
    with time_machine.travel(datetime(2025, 9, 30, 23, 59, 59, tzinfo=UTC), tick=False):
        async with _wide_pool(database_url):
            results = await _settle(job[3] for job in jobs)
    refused = {
        (hub.id, op, r.code)
        for (hub, _, op, _), r in zip(jobs, results, strict=True)
        if isinstance(r, Conflict)
    }
    allowed = {(h.id, "correct", "negative_total") for h in (hubs_[0], hubs_[2])}
    allowed |= {(h.id, "book", "already_booked") for h in hubs_}
    allowed |= {(h.id, "claim", "bonus_claimed") for h in hubs_}
    assert refused <= allowed
    # Which corrections go below zero depends on the order they ran in; these do not.
    assert {"already_booked", "bonus_claimed"} <= {code for *_, code in refused}
    # One bonus per member row that claimed (all claims fell on one day of each calendar).
    claimants = {member.id for _, member, op, _ in jobs if op == "claim"}
    assert sorted(await BonusClaim.all().values_list("member_id", flat=True)) == sorted(claimants)

    live = {hub.id: await _snapshot(hub) for hub in hubs_}
    for hub in hubs_:
        points, kinds, periods = await _expected_from_ledger(hub)
        expected = [
            (m.id, points.get(m.id, 0), await _rank_from_totals(hub, m.id)) for m in drivers[hub.id]
        ]
        assert live[hub.id][0] == sorted(expected)
        assert live[hub.id][1] == kinds
        assert live[hub.id][2] == periods
    assert all(p >= 0 for h in (hubs_[0], hubs_[2]) for _, p, _ in live[h.id][0])

    # The third hub's kept figures are lost: rebuilding the first leaves them so, its own
    # rebuild brings them back.
    await Member.filter(hub_id=hubs_[2].id).update(points=0, rank_id=None)
    await PointPeriod.filter(hub_id=hubs_[2].id).delete()
    rows = {hub.id: await PointEntry.filter(hub_id=hub.id).count() for hub in hubs_}
    assert await rebuild(hubs_[0], batch=7) == rows[hubs_[0].id]
    assert await _snapshot(hubs_[2]) != live[hubs_[2].id]
    for hub in hubs_:
        assert await rebuild(hub, batch=7) == rows[hub.id]
        assert await _snapshot(hub) == live[hub.id]


# Ranks


async def test_ranks_never_down_keeps_the_rank_through_a_correction() -> None:
    hub = await _hub(78, ranks_never_down=True)
    await _ladder(hub, ("Rookie", 0, ROOKIE_ROLE), ("Pro", 100, PRO_ROLE))
    alice = await _member(hub, "alice", 1001)
    await grant(SYSTEM, hub, alice.id, _grant(150))
    await DiscordAction.all().update(status=ActionStatus.DONE)
    booking = await correct(SYSTEM, hub, alice.id, _fix(-120))
    assert booking.signals == []
    assert (booking.total, await _rank_name(alice)) == (30, "Pro")
    assert await DiscordAction.filter(status=ActionStatus.PENDING).count() == 0
    # A rebuild keeps it too, and the rank still goes up.
    await rebuild(hub)
    assert await _rank_name(alice) == "Pro"
    await create_rank(SYSTEM, hub, RankInput(name="Legend", threshold=200))
    await grant(SYSTEM, hub, alice.id, _grant(170))
    assert await _rank_name(alice) == "Legend"


async def test_a_correction_lowers_the_rank_and_swaps_the_role_without_the_setting() -> None:
    hub = await _hub(79)
    await _ladder(hub, ("Rookie", 0, ROOKIE_ROLE), ("Pro", 100, PRO_ROLE))
    alice = await _member(hub, "alice", 1001)
    await grant(SYSTEM, hub, alice.id, _grant(150))
    await DiscordAction.all().update(status=ActionStatus.DONE)
    booking = await correct(SYSTEM, hub, alice.id, _fix(-120))
    assert [(s.data["to"], s.data["up"]) for s in booking.signals] == [("Rookie", False)]
    assert await _rank_name(alice) == "Rookie"
    pending = await DiscordAction.filter(status=ActionStatus.PENDING).order_by("id")
    assert [(str(a.kind), a.role_id) for a in pending] == [
        ("remove_role", PRO_ROLE),
        ("add_role", ROOKIE_ROLE),
    ]


async def test_ranks_by_kinds_count_only_those_kinds() -> None:
    hub = await _hub(80)
    await _ladder(hub, ("Rookie", 0, None), ("Pro", 100, None))
    await create_rank(
        SYSTEM, hub, RankInput(name="Eventer", threshold=50, kinds=["event", "challenge"])
    )
    await create_rank(SYSTEM, hub, RankInput(name="Convoy Lead", threshold=150, kinds=["event"]))
    trucker, mixed, convoy = [await _member(hub, n, 1001 + i) for i, n in enumerate("abc")]
    await grant(SYSTEM, hub, trucker.id, _grant(200, PointKind.DISTANCE))
    await grant(SYSTEM, hub, mixed.id, _grant(30, PointKind.EVENT))
    await grant(SYSTEM, hub, mixed.id, _grant(30, PointKind.CHALLENGE))
    await grant(SYSTEM, hub, convoy.id, _grant(160, PointKind.EVENT))
    # 200 distance: Pro (no event points for the others); 30 + 30: Eventer; 160 event: the top.
    assert [await _rank_name(m) for m in (trucker, mixed, convoy)] == [
        "Pro",
        "Eventer",
        "Convoy Lead",
    ]
    seen = await totals(SYSTEM, hub, mixed.id)
    assert (seen.total, seen.by_kind) == (60, {"event": 30, "challenge": 30})
    assert (seen.rank.rank, seen.rank.next_rank, seen.rank.points) == ("Eventer", "Pro", 60)
    # Distance does not count toward Eventer's kinds; falling below 100 overall leaves Pro.
    await correct(SYSTEM, hub, trucker.id, _fix(-150))
    assert await _rank_name(trucker) == "Rookie"


# Bad input and negative totals


@pytest.mark.parametrize(
    ("model", "values", "field"),
    [
        (GrantInput, {"amount": 0}, "amount"),
        (GrantInput, {"amount": -5}, "amount"),
        (GrantInput, {"amount": MAX_AMOUNT + 1}, "amount"),
        (GrantInput, {"amount": 5, "kind": "correction"}, "kind"),
        (GrantInput, {"amount": 5, "reason": "x" * 501}, "reason"),
        (GrantInput, {"amount": 5, "reason": ""}, "reason"),
        (GrantInput, {"amount": 5, "counts_at": "2025-01-01T00:00:00"}, "counts_at"),  # naive
        (CorrectionInput, {"amount": 0}, "amount"),
        (CorrectionInput, {"amount": -MAX_AMOUNT - 1}, "amount"),
    ],
)
def test_bad_amounts_and_reasons_are_refused_per_field(
    model: type[BaseModel], values: dict, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate({"reason": "ok", **values})
    assert [error["loc"][0] for error in refused.value.errors()] == [field]


async def test_a_correction_below_zero_is_refused_and_writes_nothing() -> None:
    hub = await _hub(81)
    await _ladder(hub, ("Rookie", 0, ROOKIE_ROLE))
    alice = await _member(hub, "alice", 1001)
    await grant(SYSTEM, hub, alice.id, _grant(40, counts_at=datetime(2025, 5, 1, tzinfo=UTC)))
    before = await _snapshot(hub), await _roles(alice), await AuditLog.all().count()
    with pytest.raises(Conflict) as refused:
        await correct(SYSTEM, hub, alice.id, _fix(-41))
    assert refused.value.code == "negative_total"
    assert refused.value.params["total"] == -1
    after = await _snapshot(hub), await _roles(alice), await AuditLog.all().count()
    assert after == before
    assert await PointEntry.filter(member_id=alice.id).count() == 1
    # Down to exactly zero is allowed.
    assert (await correct(SYSTEM, hub, alice.id, _fix(-40))).total == 0


async def test_a_hub_allowing_negative_totals_books_them() -> None:
    hub = await _hub(82, negative_totals=True)
    await _ladder(hub, ("Rookie", 0, ROOKIE_ROLE))
    alice = await _member(hub, "alice", 1001)
    await grant(SYSTEM, hub, alice.id, _grant(10))
    await DiscordAction.all().update(status=ActionStatus.DONE)
    booking = await correct(SYSTEM, hub, alice.id, _fix(-40))
    assert booking.total == -30
    assert await _rank_name(alice) is None  # below the lowest threshold: no rank
    assert (await _roles(alice))[-1] == ("remove_role", ROOKIE_ROLE, "pending")
    board = await leaderboard(SYSTEM, hub, BoardQuery(period="all"))
    assert [r.points for r in board.rows] == [-30]


# The daily bonus


async def _bonus_hub(guild_id: int = 90, timezone: str = "UTC", **settings: object) -> Hub:
    return await _hub(guild_id, timezone, daily_bonus=True, daily_bonus_amount=10, **settings)


def _actor(member: Member) -> Actor:
    return Actor(member.user_id, member.user.discord_id)


async def test_the_bonus_is_claimed_once_a_day() -> None:
    hub = await _bonus_hub()
    alice = await _member(hub, "alice", 1001)
    with time_machine.travel(datetime(2025, 4, 2, 9, 0, tzinfo=UTC), tick=False):
        first = await claim(_actor(alice), hub)
        with pytest.raises(Conflict) as again:
            await claim(_actor(alice), hub)
    assert again.value.code == "bonus_claimed"
    assert (first.day, first.amount, first.streak, first.total) == (date(2025, 4, 2), 10, 1, 10)
    assert await BonusClaim.filter(member_id=alice.id).count() == 1
    assert await PointEntry.filter(member_id=alice.id, kind="bonus").count() == 1
    assert (await Member.get(id=alice.id)).points == 10


async def test_concurrent_bonus_claims_give_one_claim_and_one_ledger_row(
    database_url: str,
) -> None:
    hub = await _bonus_hub()
    alice = await _member(hub, "alice", 1001)
    with time_machine.travel(datetime(2025, 4, 2, 9, 0, tzinfo=UTC), tick=False):
        async with _wide_pool(database_url):
            results = await _settle(claim(_actor(alice), hub) for _ in range(24))
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(refused) == 23
    assert {r.code for r in refused} == {"bonus_claimed"}
    assert await BonusClaim.filter(member_id=alice.id).count() == 1
    assert await PointEntry.filter(member_id=alice.id).count() == 1
    assert (await Member.get(id=alice.id)).points == 10
    assert await PointTotal.filter(member_id=alice.id).values_list("kind", "total") == [
        ("bonus", 10)
    ]


async def test_a_streak_grows_on_consecutive_days_and_starts_over_after_a_gap() -> None:
    hub = await _bonus_hub(streak_bonus=5, max_streak_bonus=8)
    alice = await _member(hub, "alice", 1001)
    seen = []
    for day in (1, 2, 3, 5, 6):
        with time_machine.travel(datetime(2025, 4, day, 20, 0, tzinfo=UTC), tick=False):
            result = await claim(_actor(alice), hub)
        seen.append((result.day.day, result.streak, result.amount))
    # Day 2: +5, day 3: +10 capped at 8; the 4th missed: day 5 starts again.
    assert seen == [(1, 1, 10), (2, 2, 15), (3, 3, 18), (5, 1, 10), (6, 2, 15)]
    with time_machine.travel(datetime(2025, 4, 7, 8, 0, tzinfo=UTC), tick=False):
        month = await history(_actor(alice), hub)
    assert (month.month, month.claimed_today, month.streak) == ("2025-04", False, 2)
    assert [d.day.day for d in month.days] == [1, 2, 3, 5, 6]
    with time_machine.travel(datetime(2025, 4, 9, 8, 0, tzinfo=UTC), tick=False):
        assert (await history(_actor(alice), hub)).streak == 0  # broken
    assert (await Member.get(id=alice.id)).points == 10 + 15 + 18 + 10 + 15


async def test_the_members_own_time_zone_decides_the_bonus_day() -> None:
    hub = await _bonus_hub(timezone="America/Los_Angeles")
    kiwi = await _member(hub, "kiwi", 1001, timezone="Pacific/Auckland")
    local = await _member(hub, "local", 1002)
    odd = await _member(hub, "odd", 1003, timezone="Not/AZone")  # unknown: the hub's
    # 11 March 2025, 11:30 UTC: 00:30 on the 12th in Auckland, 04:30 on the 11th in LA.
    with time_machine.travel(datetime(2025, 3, 11, 11, 30, tzinfo=UTC), tick=False):
        days = [(await claim(_actor(m), hub)).day for m in (kiwi, local, odd)]
    assert days == [date(2025, 3, 12), date(2025, 3, 11), date(2025, 3, 11)]
    # 23:59 in Auckland on the 12th is still the same day; a minute later it is the next.
    with time_machine.travel(datetime(2025, 3, 12, 10, 59, tzinfo=UTC), tick=False):
        with pytest.raises(Conflict):
            await claim(_actor(kiwi), hub)
        # ... while in Los Angeles it is 03:59 on the 12th: a new day there.
        assert (await claim(_actor(local), hub)).streak == 2
    with time_machine.travel(datetime(2025, 3, 12, 11, 0, tzinfo=UTC), tick=False):
        result = await claim(_actor(kiwi), hub)
    assert (result.day, result.streak) == (date(2025, 3, 13), 2)


async def test_only_members_of_a_hub_with_a_bonus_claim_it() -> None:
    off = await _hub(91)
    alice = await _member(off, "alice", 1001)
    with pytest.raises(Conflict) as refused:
        await claim(_actor(alice), off)
    assert refused.value.code == "bonus_off"
    hub = await _bonus_hub()
    visitor = await ensure_member(hub.id, await User.get(id=alice.user_id))
    with pytest.raises(Conflict) as refused:
        await claim(Actor(visitor.user_id, 1001), hub)
    assert refused.value.code == "not_a_member"
    assert await PointEntry.all().count() == 0


# Leaderboards


async def test_leaderboards_by_period_and_kinds_rank_members_only() -> None:
    hub = await _hub(95)
    a, b, c = [await _member(hub, n, 1001 + i) for i, n in enumerate(("ann", "bea", "cy"))]
    former = await _member(hub, "former", 1010)
    visitor = await ensure_member(hub.id, await users.user_for_discord(1011, "visitor"))
    tuesday = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)  # week from Monday 9 June
    entries = [
        (a, PointKind.DISTANCE, 50, tuesday),
        (a, PointKind.EVENT, 30, tuesday - timedelta(days=1)),
        (a, PointKind.MANUAL, 100, datetime(2025, 5, 20, tzinfo=UTC)),
        (b, PointKind.DISTANCE, 80, tuesday),
        (c, PointKind.DISTANCE, 50, tuesday),
        (c, PointKind.EVENT, 7, datetime(2024, 6, 10, tzinfo=UTC)),  # last year
        (former, PointKind.DISTANCE, 400, tuesday),
        (visitor, PointKind.DISTANCE, 500, tuesday),
    ]
    for member, kind, amount, when in entries:
        await book(hub, member, kind, amount, counts_at=when)
    await lifecycle.dismiss(SYSTEM, hub, former.id, "gone")

    async def board(period: str, *kinds: str, **more: object) -> list[tuple[str, int]]:
        at = more.pop("at", tuesday.date())
        query = BoardQuery(period=period, at=at, kinds=list(kinds), **more)
        rows = (await leaderboard(SYSTEM, hub, query)).rows
        assert [r.place for r in rows] == list(range(1, len(rows) + 1))
        return [(r.name, r.points) for r in rows]

    # Ties are ordered by who joined first (member id).
    assert await board("day") == [("bea", 80), ("ann", 50), ("cy", 50)]
    assert await board("day", "distance") == [("bea", 80), ("ann", 50), ("cy", 50)]
    assert await board("week") == [("ann", 80), ("bea", 80), ("cy", 50)]
    assert await board("month", "event") == [("ann", 30)]
    assert await board("month", "distance", "event") == [("ann", 80), ("bea", 80), ("cy", 50)]
    assert await board("year") == [("ann", 180), ("bea", 80), ("cy", 50)]
    assert await board("year", at=date(2024, 12, 31)) == [("cy", 7)]
    assert await board("all") == [("ann", 180), ("bea", 80), ("cy", 57)]
    assert await board("all", "manual") == [("ann", 100)]
    assert await board("all", "distance", "event") == [("ann", 80), ("bea", 80), ("cy", 57)]
    assert await board("week", limit=2) == [("ann", 80), ("bea", 80)]
    assert await board("day", at=date(2025, 6, 11)) == []
    with time_machine.travel(tuesday, tick=False):
        today = await leaderboard(SYSTEM, hub, BoardQuery(period="day"))
    assert (today.start, [r.name for r in today.rows]) == (tuesday.date(), ["bea", "ann", "cy"])


# Members' lifecycle and tenancy


async def test_a_fresh_start_books_a_correction_to_zero_and_keeps_the_history() -> None:
    hub = await _hub(96)
    ranks = await _ladder(hub, ("Rookie", 0, ROOKIE_ROLE), ("Pro", 100, PRO_ROLE))
    alice = await _member(hub, "alice", 1001)
    await grant(SYSTEM, hub, alice.id, _grant(150, PointKind.EVENT))
    await lifecycle.dismiss(SYSTEM, hub, alice.id, "inactive")
    await lifecycle.accept(SYSTEM, hub, alice.id, mode="fresh")
    stored = await Member.get(id=alice.id)
    assert (stored.points, stored.rank_id) == (0, ranks["Rookie"].id)
    rows = await PointEntry.filter(member_id=alice.id).order_by("id")
    assert [(str(r.kind), r.amount, r.reason) for r in rows] == [
        ("event", 150, "test"),
        ("correction", -150, "fresh start"),
    ]
    assert dict(await PointTotal.filter(member_id=alice.id).values_list("kind", "total")) == {
        "event": 150,
        "correction": -150,
    }
    page = await ledger(SYSTEM, hub, LedgerQuery(member=alice.id))
    assert [e.amount for e in page.items] == [-150, 150]
    # Restoring keeps what a member had.
    await grant(SYSTEM, hub, alice.id, _grant(20))
    await lifecycle.dismiss(SYSTEM, hub, alice.id, "again")
    await lifecycle.accept(SYSTEM, hub, alice.id, mode="restore")
    assert (await Member.get(id=alice.id)).points == 20
    assert await PointEntry.filter(member_id=alice.id).count() == 3


async def test_another_hubs_member_is_not_found_and_nothing_is_written() -> None:
    home, other = await _hub(97), await _hub(98)
    alice = await _member(home, "alice", 1001)
    stranger = await _member(other, "stranger", 1002)
    await grant(SYSTEM, other, stranger.id, _grant(5))
    before = await _snapshot(home), await _snapshot(other)
    attempts = [
        grant(SYSTEM, home, stranger.id, _grant(10)),
        correct(SYSTEM, home, stranger.id, _fix(-1)),
        totals(SYSTEM, home, stranger.id),
        ledger(SYSTEM, home, LedgerQuery(member=stranger.id)),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound) as missing:
            await attempt
        assert missing.value.code == "member_not_found"
    assert (await _snapshot(home), await _snapshot(other)) == before
    assert await PointEntry.filter(hub_id=home.id).count() == 0
    # Nor does a hub's ledger list another hub's rows.
    assert (await ledger(SYSTEM, home, LedgerQuery())).items == []
    assert alice.hub_id == home.id


async def test_a_booking_with_a_dedupe_key_is_made_once_per_hub() -> None:
    hub, other = await _hub(99), await _hub(100)
    alice = await _member(hub, "alice", 1001)
    elsewhere = await _member(other, "alice", 1001)
    first = await book(hub, alice, PointKind.DISTANCE, 25, dedupe_key="delivery:1")
    assert first.total == 25
    with pytest.raises(Conflict) as again:
        await book(hub, alice, PointKind.DISTANCE, 25, dedupe_key="delivery:1")
    assert again.value.code == "already_booked"
    stored = await Member.get(id=alice.id)
    assert stored.points == 25
    assert await PointEntry.filter(hub_id=hub.id).count() == 1
    assert (await PointTotal.get(member_id=alice.id, kind="distance")).total == 25
    # The refused booking rolled back inside an outer transaction too, which goes on.
    from tortoise.transactions import in_transaction

    async with in_transaction():
        with pytest.raises(Conflict):
            await book(hub, alice, PointKind.DISTANCE, 25, dedupe_key="delivery:1")
        await book(hub, alice, PointKind.EVENT, 5, dedupe_key="event:1")
    assert (await Member.get(id=alice.id)).points == 30
    # The same key in another hub is that hub's own booking.
    there = await book(other, elsewhere, PointKind.DISTANCE, 25, dedupe_key="delivery:1")
    assert there.total == 25
