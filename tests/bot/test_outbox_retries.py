"""Retries that survive long outages and crashes: temporary failures are retried until the
item is a day old (not a number of attempts), waits are capped, leases are renewed per item,
and a retried DM digest carries exactly what its first try carried."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from tortoise.transactions import in_transaction

from bot.outbox import MAX_AGE, RetryLater, Worker
from models import hubs, outbox
from models.members import Member, MemberState
from models.notifications import center, digest
from models.notifications.tables import DmState, Notification
from models.outbox import OutboxItem, OutboxKind, OutboxStatus
from models.users import User


async def _item() -> OutboxItem:
    user = await User.create(username="alice", discord_id=42)
    return await outbox.enqueue(
        OutboxKind.DISCORD_DM, "login_link", params={}, user_id=user.id, address="42"
    )


async def _down(item: OutboxItem) -> dict[str, Any]:
    raise RetryLater("Discord is away")


async def test_temporary_failures_are_retried_past_ten_attempts_until_a_day_old() -> None:
    item = await _item()
    worker = Worker(OutboxKind.DISCORD_DM, _down)
    with time_machine.travel(item.created_at, tick=False) as clock:
        for _ in range(15):
            clock.shift(outbox.backoff(15))
            assert await worker.run_once() == 1
        row = await OutboxItem.get(id=item.id)
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 15)
        # Waits stop growing at MAX_BACKOFF: delivery resumes soon after an outage ends.
        assert row.due_at - outbox.now() <= timedelta(seconds=outbox.MAX_BACKOFF)
        clock.move_to(item.created_at + MAX_AGE + timedelta(minutes=10))
        assert await worker.run_once() == 1
    row = await OutboxItem.get(id=item.id)
    assert row.status == OutboxStatus.FAILED
    assert "gave up" in row.last_error


async def test_an_item_another_worker_took_over_is_not_sent_twice() -> None:
    item = await _item()
    (claimed,) = await outbox.claim_due(OutboxKind.DISCORD_DM)
    # Our lease ran out and another worker claimed the row.
    await OutboxItem.filter(id=item.id).update(claimed_until=outbox.now() + timedelta(hours=1))
    assert not await outbox.renew(claimed)


async def test_a_retried_digest_carries_what_its_first_try_carried() -> None:
    hub = await hubs.ensure_hub_for_guild(8801, "Hub", 1)
    user = await User.create(username="alice", discord_id=4242)
    await Member.create(hub_id=hub.id, user_id=user.id, state=MemberState.MEMBER, number=1)
    data = {"hub": hub.name, "rank": "Rookie", "previous": "-"}
    async with in_transaction():
        (first,) = await center.notify([user.id], "member.rank_changed", data, hub=hub)
    (item,) = await OutboxItem.filter(template=center.DIGEST)
    assert [n.id for n in await digest.take(item)] == [first.id]
    # The first try reached Discord, then the bot died before recording it; meanwhile
    # another notification arrived. The retry sends the same DM (same text, same nonce).
    async with in_transaction():
        (later,) = await center.notify([user.id], "member.rank_changed", data, hub=hub)
    assert [n.id for n in await digest.take(item)] == [first.id]
    assert (await Notification.get(id=later.id)).dm_state == DmState.WAITING
    await digest.follow_up(item)  # after the send: the later one gets its own DM
    items = await OutboxItem.filter(template=center.DIGEST).order_by("id")
    assert len(items) == 2
