"""The Discord-actions outbox in the database: coalescing, claims with a lease, retries, failures
and the audit log forwarded to staff channels."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from models import audit, discord_actions
from models.actor import SYSTEM
from models.audit import AuditLog
from models.discord_actions import ActionKind, ActionStatus, DiscordAction
from models.hubs import Hub, ensure_hub_for_guild

GUILD, OTHER_GUILD = 4_000_000_001, 4_000_000_002
ALICE, BOB = 7001, 7002
DRIVER, STAFF = 9001, 9002


async def road_kings(guild_id: int = GUILD) -> Hub:
    return await ensure_hub_for_guild(guild_id, f"Road Kings {guild_id}", 10)


async def give(hub: Hub, user: int = ALICE, role: int = DRIVER, *, add: bool = True):
    return await discord_actions.enqueue_role(hub.id, hub.guild_id, user, role, add=add)


async def pending() -> list[DiscordAction]:
    return await DiscordAction.filter(status=ActionStatus.PENDING).order_by("id")


async def test_give_then_take_before_delivery_cancels_out() -> None:
    hub = await road_kings()
    assert await give(hub) is not None
    assert await give(hub, add=False) is None
    assert await pending() == []
    assert await discord_actions.claim_due([GUILD]) == []  # nothing for the bot to call
    # Take, give, take: still the one that counts is the last, and it is waiting alone.
    await give(hub, add=False)
    await give(hub)
    await give(hub, add=False)
    (waiting,) = await pending()
    assert waiting.kind == ActionKind.REMOVE_ROLE


async def test_the_same_action_twice_is_queued_once() -> None:
    hub = await road_kings()
    first = await give(hub)
    assert await give(hub) is None
    assert [a.id for a in await pending()] == [first.id]
    # Another member or another role is another target.
    await give(hub, user=BOB)
    await give(hub, role=STAFF)
    assert len(await pending()) == 3


async def test_a_newer_nickname_supersedes_a_waiting_one() -> None:
    hub = await road_kings()
    key = f"nick:{ALICE}"
    old = await discord_actions.enqueue(
        hub.id,
        GUILD,
        ActionKind.NICKNAME,
        target_key=key,
        discord_user_id=ALICE,
        payload={"nick": "Al"},
    )
    new = await discord_actions.enqueue(
        hub.id,
        GUILD,
        ActionKind.NICKNAME,
        target_key=key,
        discord_user_id=ALICE,
        payload={"nick": "Alice the Trucker"},
    )
    assert (await DiscordAction.get(id=old.id)).status == ActionStatus.CANCELLED
    (claimed,) = await discord_actions.claim_due([GUILD])
    assert (claimed.id, claimed.payload) == (new.id, {"nick": "Alice the Trucker"})


async def test_an_action_claimed_while_a_take_is_queued_is_not_cancelled_under_the_bot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = await road_kings()
    given = await give(hub)
    claimed: list[DiscordAction] = []
    real_filter = DiscordAction.filter

    class BotClaimsMeanwhile:
        """The queue's read of waiting actions, with a bot's claim landing right after it."""

        def __init__(self, query: Any) -> None:
            self.query = query

        async def _rows(self, *order: str) -> list[DiscordAction]:
            rows = await self.query.order_by(*order)
            monkeypatch.setattr(DiscordAction, "filter", real_filter)
            claimed.extend(await discord_actions.claim_due([GUILD]))
            return rows

        def order_by(self, *order: str) -> Any:
            return self._rows(*order)

    monkeypatch.setattr(
        DiscordAction, "filter", lambda *a, **kw: BotClaimsMeanwhile(real_filter(*a, **kw))
    )
    take = await give(hub, add=False)
    assert [a.id for a in claimed] == [given.id]  # the give is in flight...
    assert take is not None  # ...so the take cannot cancel it out: it is queued after it
    assert (await DiscordAction.get(id=given.id)).status == ActionStatus.PENDING
    await discord_actions.mark_done(claimed[0])
    (then,) = await discord_actions.claim_due([GUILD])
    assert (then.id, then.kind) == (take.id, ActionKind.REMOVE_ROLE)


async def test_a_bot_process_claims_only_its_own_guilds() -> None:
    mine, theirs = await road_kings(GUILD), await road_kings(OTHER_GUILD)
    own = await give(mine)
    await give(theirs)
    claimed = await discord_actions.claim_due([GUILD])
    assert [a.id for a in claimed] == [own.id]
    assert await discord_actions.claim_due([]) == []
    assert (await discord_actions.claim_due([OTHER_GUILD]))[0].guild_id == OTHER_GUILD


async def test_concurrent_claimers_never_get_the_same_action() -> None:
    hub = await road_kings()
    queued = {(await give(hub, user=ALICE + n)).id for n in range(12)}
    batches = await asyncio.gather(
        *(discord_actions.claim_due([GUILD], limit=12) for _ in range(3))
    )
    ids = [action.id for batch in batches for action in batch]
    assert len(ids) == len(set(ids))  # nobody got an action twice
    assert set(ids) == queued  # and nothing was left behind
    stored = await DiscordAction.filter(id__in=list(queued))
    assert all(a.attempts == 1 and a.claimed_until is not None for a in stored)


async def test_a_crashed_claim_is_claimed_again_when_its_lease_expires() -> None:
    hub = await road_kings()
    action = await give(hub)
    (claimed,) = await discord_actions.claim_due([GUILD], lease=60)
    # The process died before recording anything: the action is not lost, nor sent twice now.
    assert await discord_actions.claim_due([GUILD]) == []
    with time_machine.travel(discord_actions.now() + timedelta(seconds=61)):
        (again,) = await discord_actions.claim_due([GUILD])
        assert again.id == action.id == claimed.id
        assert again.attempts == 2
        # A give then take while it is in flight does not touch the in-flight one.
        assert await give(hub, add=False) is not None
        assert await discord_actions.claim_due([GUILD]) == []  # oldest of the target first
        await discord_actions.mark_done(again)
        (take,) = await discord_actions.claim_due([GUILD])
        assert take.kind == ActionKind.REMOVE_ROLE


async def test_a_retry_waits_for_its_backoff_or_discords_retry_after() -> None:
    hub = await road_kings()
    action = await give(hub)
    (claimed,) = await discord_actions.claim_due([GUILD])
    await discord_actions.mark_retry(claimed, "503 Service Unavailable")
    stored = await DiscordAction.get(id=action.id)
    assert stored.status == ActionStatus.PENDING
    assert stored.last_error == "503 Service Unavailable"
    assert stored.claimed_until is None
    waited = stored.due_at - discord_actions.now()
    assert timedelta(seconds=1) < waited <= timedelta(seconds=2)  # 2 ** attempts
    assert await discord_actions.claim_due([GUILD]) == []
    with time_machine.travel(discord_actions.now() + timedelta(seconds=3)):
        (second,) = await discord_actions.claim_due([GUILD])
        assert second.attempts == 2
        await discord_actions.mark_retry(second, "429", retry_after=30)
        stored = await DiscordAction.get(id=action.id)
        waited = stored.due_at - discord_actions.now()
        assert timedelta(seconds=29) < waited <= timedelta(seconds=30)
    with time_machine.travel(discord_actions.now() + timedelta(seconds=40)):
        (third,) = await discord_actions.claim_due([GUILD])
        await discord_actions.mark_done(third)
    done = await DiscordAction.get(id=action.id)
    assert (done.status, done.attempts, done.last_error) == (ActionStatus.DONE, 3, "")
    assert done.done_at is not None


async def test_a_newer_action_on_the_target_cancels_the_retried_one() -> None:
    hub = await road_kings()
    give_ = await give(hub)
    (in_flight,) = await discord_actions.claim_due([GUILD])
    take = await give(hub, add=False)  # queued: the give is in flight, it cannot cancel out
    assert take is not None
    await discord_actions.mark_retry(in_flight, "503 Service Unavailable")
    assert (await DiscordAction.get(id=give_.id)).status == ActionStatus.CANCELLED
    (claimed,) = await discord_actions.claim_due([GUILD])
    assert claimed.id == take.id


async def test_a_permanent_failure_is_written_to_the_audit_log() -> None:
    hub = await road_kings()
    action = await give(hub)
    (claimed,) = await discord_actions.claim_due([GUILD])
    await discord_actions.mark_failed(claimed, "403 50013 Missing Permissions")
    stored = await DiscordAction.get(id=action.id)
    assert stored.status == ActionStatus.FAILED
    assert stored.claimed_until is None
    assert await discord_actions.claim_due([GUILD]) == []  # never tried again
    entry = await AuditLog.get(action="discord.action_failed")
    assert entry.hub_id == hub.id
    assert entry.target == str(action.id)
    assert entry.details == {
        "kind": "add_role",
        "error": "403 50013 Missing Permissions",
        "discord_user_id": str(ALICE),
        "role_id": str(DRIVER),
    }


async def _set_audit_channels(hub: Hub, channels: dict[str, int], default: int | None) -> None:
    settings = {"plugins": {"members": {"audit_channels": channels}}}
    if default is not None:
        settings["audit_channel_id"] = default
    hub.settings = settings
    await hub.save(update_fields=["settings"])


async def posts() -> list[DiscordAction]:
    return await DiscordAction.filter(kind=ActionKind.POST).order_by("id")


async def test_audit_entries_are_posted_to_their_categorys_channel() -> None:
    hub = await road_kings()
    await _set_audit_channels(hub, {"members": 111}, default=None)
    accepted = await audit.record(SYSTEM, "members.accepted", hub_id=hub.id, target="5")
    await audit.record(SYSTEM, "roles.created", hub_id=hub.id)  # no channel for roles
    await audit.record(SYSTEM, "members.accepted")  # not a hub's entry
    (post,) = await posts()
    assert (post.guild_id, post.channel_id) == (GUILD, 111)
    assert post.payload == {"audit_id": accepted.id}
    # The hub's audit channel takes the categories without one of their own.
    await _set_audit_channels(hub, {"members": 111}, default=222)
    await audit.record(SYSTEM, "roles.created", hub_id=hub.id)
    await audit.record(SYSTEM, "members.dismissed", hub_id=hub.id)
    assert [p.channel_id for p in await posts()] == [111, 222, 111]
    # Another hub's settings are its own.
    other = await road_kings(OTHER_GUILD)
    await audit.record(SYSTEM, "members.accepted", hub_id=other.id)
    assert len(await posts()) == 3


async def test_a_failed_post_is_not_forwarded_again() -> None:
    hub = await road_kings()
    await _set_audit_channels(hub, {"discord": 333}, default=222)
    await audit.record(SYSTEM, "members.accepted", hub_id=hub.id)
    (post,) = await discord_actions.claim_due([GUILD])
    await discord_actions.mark_failed(post, "404 10003 Unknown Channel")
    assert await AuditLog.filter(action="discord.action_failed").count() == 1
    assert [p.id for p in await posts()] == [post.id]  # no post about the failed post
    # A failed role change is forwarded, to the channel of the "discord" category.
    await give(hub)
    role_action = next(a for a in await discord_actions.claim_due([GUILD]) if a.role_id)
    await discord_actions.mark_failed(role_action, "403 50013 Missing Permissions")
    assert [p.channel_id for p in await posts()] == [222, 333]


async def test_recently_sent_tells_the_bots_own_changes_from_hand_made_ones() -> None:
    hub = await road_kings()
    key = discord_actions.role_key(ALICE, DRIVER)
    assert not await discord_actions.recently_sent(GUILD, key, ActionKind.ADD_ROLE, 120)
    await give(hub)
    assert await discord_actions.recently_sent(GUILD, key, ActionKind.ADD_ROLE, 120)  # waiting
    (action,) = await discord_actions.claim_due([GUILD])
    await discord_actions.mark_done(action)
    assert await discord_actions.recently_sent(GUILD, key, ActionKind.ADD_ROLE, 120)
    assert not await discord_actions.recently_sent(GUILD, key, ActionKind.REMOVE_ROLE, 120)
    with time_machine.travel(discord_actions.now() + timedelta(seconds=121)):
        assert not await discord_actions.recently_sent(GUILD, key, ActionKind.ADD_ROLE, 120)
