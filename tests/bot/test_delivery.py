"""Discord DMs from the outbox, through the emulator: sent once, retried or given up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.delivery import DiscordDMSender, discord_dm_worker
from bot.outbox import PermanentFailure, RetryLater
from models import outbox
from models.identities import LOGIN_LINK_DM
from models.outbox import OutboxItem, OutboxKind, OutboxStatus
from models.users import User
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord

SEND = "POST /channels/{channel_id}/messages"


async def queued(address: int, *, locale: str | None = None) -> OutboxItem:
    """A DM due in an hour, so the running worker leaves it to the test."""
    user = await User.create(username="alice", discord_id=address, locale=locale)
    return await outbox.enqueue(
        OutboxKind.DISCORD_DM,
        LOGIN_LINK_DM,
        params={"url": "https://hub.example.com/login/link?ticket=t", "minutes": 5},
        user_id=user.id,
        address=str(address),
        delay=timedelta(hours=1),
    )


async def test_a_dm_is_sent_once_and_its_message_id_recorded(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    alice = discord.user("alice")
    item = await queued(alice.id)
    async with start_app() as rt:
        send = DiscordDMSender(rt.bot)
        result = await send(item)
        item.result = result  # what mark_sent stores
        assert await send(item) == result
    (dm,) = discord.dms(alice)
    assert result["message_id"] == str(dm.id)
    assert "https://hub.example.com/login/link?ticket=t" in dm.text


async def test_the_users_language_is_chosen_at_send_time(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    alice = discord.user("alice")
    item = await queued(alice.id, locale="de")
    async with start_app() as rt:
        await DiscordDMSender(rt.bot)(item)
    assert "Anmeldelink" in discord.dms(alice)[0].text


async def test_server_errors_are_retried_later(discord: FakeDiscord, start_app: AppFactory) -> None:
    alice = discord.user("alice")
    item = await queued(alice.id)
    async with start_app() as rt:
        discord.fail(SEND, status=503)
        with pytest.raises(RetryLater):
            await DiscordDMSender(rt.bot)(item)
    assert discord.dms(alice) == []


async def test_rate_limits_beyond_discord_py_retries_are_retried_later(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    alice = discord.user("alice")
    item = await queued(alice.id)
    async with start_app() as rt:
        discord.rate_limit(SEND, times=10, retry_after=0.01)
        with pytest.raises(RetryLater):
            await DiscordDMSender(rt.bot)(item)


async def test_closed_dms_are_a_permanent_failure(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    bob = discord.user("bob", accepts_dms=False)
    item = await queued(bob.id)
    async with start_app() as rt:
        with pytest.raises(PermanentFailure, match="50007"):
            await DiscordDMSender(rt.bot)(item)


async def test_unknown_user_is_a_permanent_failure(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    item = await queued(123456789)
    async with start_app() as rt:
        with pytest.raises(PermanentFailure, match="10013"):
            await DiscordDMSender(rt.bot)(item)


async def test_the_worker_records_a_retry_with_backoff(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    alice = discord.user("alice")
    item = await queued(alice.id)
    async with start_app() as rt:
        await OutboxItem.filter(id=item.id).update(due_at=outbox.now())
        discord.fail(SEND, status=503)
        worker = discord_dm_worker(rt.bot)
        await worker.run_once()
    stored = await OutboxItem.get(id=item.id)
    assert (stored.status, stored.attempts) == (OutboxStatus.PENDING, 1)
    assert stored.due_at > outbox.now()
    assert "503" in stored.last_error
