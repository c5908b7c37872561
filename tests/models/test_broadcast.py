"""Broadcasts: a notification for every member of a hub or role, fanned out in batches,
exactly one per recipient even when a batch fails half way."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from models import hubs
from models.hubs import Hub
from models.members import Member, MemberRole, MemberState, Role
from models.notifications import broadcast as fan
from models.notifications import center
from models.notifications.tables import (
    Broadcast,
    BroadcastStatus,
    DmState,
    Notification,
    NotificationPreference,
)
from models.outbox import OutboxItem
from models.users import User

KIND = "member.rank_changed"  # any hub kind declared in the registry will do


async def _crowd(hub: Hub, count: int, *, first_id: int = 1_000_000, state=MemberState.MEMBER):
    """`count` users with member rows in `hub` (bulk-made: thousands in a test)."""
    await User.bulk_create(
        [
            User(id=first_id + i, username=f"driver{i}", discord_id=first_id + i)
            for i in range(count)
        ]
    )
    await Member.bulk_create(
        [
            Member(
                id=first_id + i,
                hub_id=hub.id,
                user_id=first_id + i,
                state=state,
                number=first_id + i,
            )
            for i in range(count)
        ]
    )
    return list(range(first_id, first_id + count))


async def _broadcast(hub: Hub, **options: object) -> Broadcast:
    async with in_transaction():
        row = await fan.broadcast(hub, KIND, {"hub": hub.name, "rank": "All"}, **options)
    return row


async def test_every_member_gets_exactly_one_notification_in_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fan, "BATCH", 400)
    hub = await hubs.ensure_hub_for_guild(7001, "Hub", 1)
    users = await _crowd(hub, 1000)
    await _crowd(hub, 5, first_id=2_000_000, state=MemberState.DISMISSED)  # not members now
    row = await _broadcast(hub)
    assert await fan.fan_out() == 1000
    assert (
        sorted(await Notification.filter(broadcast_id=row.id).values_list("user_id", flat=True))
        == users
    )
    done = await Broadcast.get(id=row.id)
    assert (done.status, done.delivered, done.cursor) == (BroadcastStatus.DONE, 1000, users[-1])
    # Everyone has Discord: one DM item each, due after the DM window.
    assert await OutboxItem.filter(template=center.DIGEST).count() == 1000
    assert await fan.fan_out() == 0  # nothing pending any more


async def test_a_failed_batch_is_rolled_back_and_the_rerun_gives_nobody_a_second_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fan, "BATCH", 300)
    hub = await hubs.ensure_hub_for_guild(7002, "Hub", 1)
    users = await _crowd(hub, 700)
    row = await _broadcast(hub)
    real = fan._digests
    calls = {"n": 0}

    async def crash_on_second_batch(dm_users):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the process died here")
        await real(dm_users)

    monkeypatch.setattr(fan, "_digests", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        await fan.fan_out()
    half = await Broadcast.get(id=row.id)
    assert (half.status, half.delivered) == (BroadcastStatus.PENDING, 300)
    assert await Notification.filter(broadcast_id=row.id).count() == 300  # batch 2 rolled back
    # The lease of the dead worker runs out; another claim goes on from the cursor.
    await Broadcast.filter(id=row.id).update(claimed_until=None)
    assert await fan.fan_out() == 400
    got = await Notification.filter(broadcast_id=row.id).values_list("user_id", flat=True)
    assert sorted(got) == users  # each exactly once
    assert await OutboxItem.filter(template=center.DIGEST).count() == 700


async def test_a_role_broadcast_reaches_holders_given_or_through_discord() -> None:
    hub = await hubs.ensure_hub_for_guild(7003, "Hub", 1)
    users = await _crowd(hub, 6)
    role = await Role.create(hub_id=hub.id, name="Convoy team", discord_role_id=555)
    await MemberRole.create(member_id=users[0], role_id=role.id)
    await Member.filter(id=users[1]).update(discord_role_ids=[555])
    row = await _broadcast(hub, role_id=role.id)
    assert await fan.fan_out() == 2
    got = await Notification.filter(broadcast_id=row.id).values_list("user_id", flat=True)
    assert sorted(got) == users[:2]


async def test_preferences_apply_to_broadcasts() -> None:
    hub = await hubs.ensure_hub_for_guild(7004, "Hub", 1)
    muted, dm_off, plain = await _crowd(hub, 3)
    for user_id, channel in ((muted, "in_app"), (muted, "discord"), (dm_off, "discord")):
        await NotificationPreference.create(
            user_id=user_id, kind=KIND, channel=channel, enabled=False
        )
    row = await _broadcast(hub)
    assert await fan.fan_out() == 2  # shown in-app to two people
    notes = {n.user_id: n for n in await Notification.filter(broadcast_id=row.id)}
    assert set(notes) == {dm_off, plain}
    assert notes[dm_off].dm_state == DmState.NONE
    assert notes[plain].dm_state == DmState.WAITING
    assert await OutboxItem.filter(template=center.DIGEST).values_list("user_id", flat=True) == [
        plain
    ]


async def test_a_broadcast_rolled_back_with_its_change_sends_nothing() -> None:
    hub = await hubs.ensure_hub_for_guild(7005, "Hub", 1)
    await _crowd(hub, 3)

    async def failing_change() -> None:
        async with in_transaction():
            await fan.broadcast(hub, KIND, {"hub": hub.name})
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert await fan.fan_out() == 0
    assert await Broadcast.all().count() == 0


async def test_an_undeclared_kind_or_another_hubs_role_is_a_programming_error() -> None:
    hub = await hubs.ensure_hub_for_guild(7006, "Hub", 1)
    other = await hubs.ensure_hub_for_guild(7007, "Other", 1)
    role = await Role.create(hub_id=other.id, name="Theirs")
    with pytest.raises(ValueError, match="no package declares"):
        await fan.broadcast(hub, "nobody.declared")
    with pytest.raises(ValueError, match="not a role of hub"):
        await fan.broadcast(hub, KIND, role_id=role.id)
