"""The points ledger: bookings keep totals, period sums and ranks exact."""

from __future__ import annotations

import asyncio
import random

from models import hubs, users
from models.actor import SYSTEM
from models.hubs import Hub
from models.members import Member, ensure_member, lifecycle
from models.points import PointEntry, PointKind, PointPeriod, PointTotal
from models.points.ledger import CorrectionInput, GrantInput, book, correct, grant
from models.points.ranks import RankInput, create_rank
from models.points.reads import BoardQuery, leaderboard, rebuild, totals


async def _member(hub: Hub, name: str, discord_id: int) -> Member:
    user = await users.user_for_discord(discord_id, name)
    member = await ensure_member(hub.id, user)
    await lifecycle.accept(SYSTEM, hub, member.id)
    return await Member.get(id=member.id).select_related("user")


async def _snapshot(hub: Hub) -> tuple:
    points = sorted(await Member.filter(hub_id=hub.id).values_list("id", "points", "rank_id"))
    kinds = sorted(await PointTotal.all().values_list("member_id", "kind", "total"))
    periods = sorted(
        (m, p, str(s), k, a)
        for m, p, s, k, a in await PointPeriod.filter(hub_id=hub.id).values_list(
            "member_id", "period", "start", "kind", "amount"
        )
        if a != 0
    )
    return points, kinds, periods


async def test_concurrent_random_bookings_equal_a_rebuild_from_the_ledger() -> None:
    hub = await hubs.ensure_hub_for_guild(77, "Road Kings", 10)
    await create_rank(SYSTEM, hub, RankInput(name="Rookie", threshold=0))
    await create_rank(SYSTEM, hub, RankInput(name="Pro", threshold=500))
    await create_rank(SYSTEM, hub, RankInput(name="Eventer", threshold=300, kinds=["event"]))
    drivers = [await _member(hub, f"d{i}", 1000 + i) for i in range(4)]
    rng = random.Random(7)

    async def one() -> None:
        member = rng.choice(drivers)
        kind = rng.choice([PointKind.DISTANCE, PointKind.EVENT, PointKind.MANUAL])
        await grant(
            SYSTEM, hub, member.id, GrantInput(amount=rng.randint(1, 120), kind=kind, reason="x")
        )

    await asyncio.gather(*(one() for _ in range(60)))
    live = await _snapshot(hub)
    ledger_sum = sum(await PointEntry.filter(hub_id=hub.id).values_list("amount", flat=True))
    assert ledger_sum == sum(p for _, p, _ in live[0])
    assert await rebuild(hub) == 60
    assert await _snapshot(hub) == live


async def test_a_rank_follows_points_up_and_down() -> None:
    hub = await hubs.ensure_hub_for_guild(77, "Road Kings", 10)
    rookie = await create_rank(SYSTEM, hub, RankInput(name="Rookie", threshold=0))
    pro = await create_rank(SYSTEM, hub, RankInput(name="Pro", threshold=100))
    member = await _member(hub, "alice", 555)
    await grant(SYSTEM, hub, member.id, GrantInput(amount=150, reason="convoy"))
    assert (await Member.get(id=member.id)).rank_id == pro.id
    seen = await totals(SYSTEM, hub, member.id)
    assert (seen.total, seen.rank.rank, seen.rank.next_rank) == (150, "Pro", None)
    await correct(SYSTEM, hub, member.id, CorrectionInput(amount=-100, reason="double count"))
    assert (await Member.get(id=member.id)).rank_id == rookie.id
    board = await leaderboard(SYSTEM, hub, BoardQuery(period="month"))
    assert [(r.name, r.points) for r in board.rows] == [("alice", 50)]
    await book(hub, member, PointKind.EVENT, 5, reason="bonus")
