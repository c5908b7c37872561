"""/notifications through the Discord emulator, and notifications reaching Discord as DMs:
one DM per burst, and a user whose DMs are closed gets an in-app notice instead of retries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from models import hubs, members, users
from models.actor import SYSTEM, Actor
from models.hubs import Hub
from models.members import Member, lifecycle
from models.notifications import center
from models.notifications.tables import Notification, NotificationPreference
from models.outbox import OutboxItem, OutboxStatus
from models.points.ledger import GrantInput, grant
from models.points.ranks import RankInput, create_rank
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import Guild, User

SEND = "POST /channels/{channel_id}/messages"
SELECT = "dh:notifications:dm_kinds"


@dataclass
class World:
    guild: Guild
    hub: Hub
    alice: User  # a visitor of the hub until accepted
    alice_row: Member


async def world(discord: FakeDiscord) -> World:
    owner = discord.user("olga")
    alice = discord.user("alice")
    guild = discord.guild("Road Kings", owner=owner)
    guild.add_member(alice)
    hub = await hubs.ensure_hub_for_guild(guild.id, "Road Kings", owner.id)
    user = await users.user_for_discord(alice.id, "alice")
    row = await members.sync_discord_state(hub.id, user, [], is_admin=False)
    return World(guild, hub, alice, row)


@pytest.fixture
def quick_dms() -> Iterator[None]:
    """A short DM window: set it inside `start_app()` (the runtime applies the config's)."""
    before = center.Limits.dm_window
    yield
    center.Limits.dm_window = before


def _short_window() -> None:
    center.Limits.dm_window = timedelta(seconds=0.2)


async def _prefs(member: Member) -> center.Preferences:
    return await center.preferences(Actor(member.user_id), None)


# The command


async def test_the_command_shows_the_latest_unread_notifications(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await lifecycle.accept(SYSTEM, w.hub, w.alice_row.id)
    async with start_app():
        shown = await w.alice.run("notifications", guild=w.guild)
        private = await w.alice.run("notifications")  # in DMs too: it is one's own
    assert shown.ephemeral
    [embed] = shown.embeds
    assert embed["title"] == "Your notifications"
    assert "**Welcome to Road Kings**" in embed["description"]
    assert "You are now member #1 of Road Kings." in embed["description"]
    assert embed["footer"]["text"] == "Latest 1 of 1 unread"
    assert private.embeds[0]["description"] == embed["description"]
    command = discord.commands.find("notifications", None)
    assert command is not None
    assert command["default_member_permissions"] is None  # everyone sees it


async def test_mark_all_read_empties_the_card(discord: FakeDiscord, start_app: AppFactory) -> None:
    w = await world(discord)
    await lifecycle.accept(SYSTEM, w.hub, w.alice_row.id)
    await lifecycle.dismiss(SYSTEM, w.hub, w.alice_row.id, "inactive")
    async with start_app():
        shown = await w.alice.run("notifications", guild=w.guild)
        read = await w.alice.click(shown, "Mark all read")
    assert read.original is shown.original  # the card itself, updated
    [embed] = read.original.embeds
    assert embed["description"] == "You have no unread notifications."
    button = read.original.component("dh:notifications:read_all")
    assert button is not None
    assert button.get("disabled") is True
    assert not await Notification.filter(user_id=w.alice_row.user_id, read_at=None).exists()


async def test_the_select_chooses_which_kinds_come_as_dms(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    async with start_app():
        shown = await w.alice.run("notifications", guild=w.guild)
        select = shown.original.component(SELECT)
        assert select is not None
        offered = {option["value"]: option.get("default", False) for option in select["options"]}
        assert offered["member.accepted"] is True  # a DM by default
        assert offered["member.roles_changed"] is False  # in-app only by default
        assert "account.new_login" not in offered  # security notices are not the reader's
        chosen = await w.alice.click(
            shown, SELECT, values=["member.accepted", "member.roles_changed"]
        )
    assert chosen.original is shown.original
    dms = {k.kind: k.channels.discord for k in (await _prefs(w.alice_row)).kinds}
    assert dms["member.accepted"] is True
    assert dms["member.roles_changed"] is True
    assert dms["member.dismissed"] is False
    # Only what differs from the defaults was stored.
    stored = await NotificationPreference.filter(
        user_id=w.alice_row.user_id, kind="member.accepted"
    )
    assert stored == []
    select = chosen.original.component(SELECT)
    assert select is not None
    now = {option["value"] for option in select["options"] if option.get("default")}
    assert now == {"member.accepted", "member.roles_changed"}


async def test_the_switch_turns_dms_off_and_on_as_a_whole(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    async with start_app():
        shown = await w.alice.run("notifications", guild=w.guild)
        off = await w.alice.click(shown, "Turn direct messages off")
        assert (await _prefs(w.alice_row)).direct_messages is False
        select = off.original.component(SELECT)
        assert select is not None
        assert select.get("disabled") is True
        assert select["placeholder"] == "Direct messages are off"
        on = await w.alice.click(off.original, "Turn direct messages on")
    prefs = await _prefs(w.alice_row)
    assert prefs.direct_messages is True
    # Turning DMs back on does not make in-app-only kinds DMs.
    assert {k.kind: k.channels.discord for k in prefs.kinds}["member.resigned"] is False
    assert on.original.component("dh:notifications:dms:0") is not None


# Notifications as DMs


async def _sent(item_count: int = 1) -> list[OutboxItem]:
    items = await OutboxItem.filter(template=center.DIGEST, status=OutboxStatus.SENT)
    return items if len(items) >= item_count else []


async def test_an_accepted_member_gets_one_dm_after_the_window(
    discord: FakeDiscord, start_app: AppFactory, quick_dms: None
) -> None:
    w = await world(discord)
    async with start_app():
        _short_window()
        await lifecycle.accept(SYSTEM, w.hub, w.alice_row.id)
        dm = await discord.expect_dm(w.alice, contains="Welcome to Road Kings")
        await discord.wait_for(_sent, 5, "the DM to be recorded as sent")
    assert "You are now member #1 of Road Kings." in dm.text
    assert len(discord.dms(w.alice)) == 1


async def test_a_burst_of_notifications_is_one_dm_with_all_of_them(
    discord: FakeDiscord, start_app: AppFactory, quick_dms: None
) -> None:
    w = await world(discord)
    await create_rank(SYSTEM, w.hub, RankInput(name="Pro", threshold=100))
    async with start_app():
        _short_window()
        await lifecycle.accept(SYSTEM, w.hub, w.alice_row.id)
        await grant(SYSTEM, w.hub, w.alice_row.id, GrantInput(amount=150, reason="convoy"))
        dm = await discord.expect_dm(w.alice, contains="Welcome to Road Kings")
        await discord.wait_for(_sent, 5, "the DM to be recorded as sent")
    assert "Your rank in Road Kings is now Pro" in dm.text
    assert dm.text.index("Welcome") < dm.text.index("now Pro")  # oldest first
    assert len(discord.dms(w.alice)) == 1


async def test_closed_dms_turn_dms_off_with_an_in_app_notice_and_no_retry(
    discord: FakeDiscord, start_app: AppFactory, quick_dms: None
) -> None:
    w = await world(discord)
    w.alice.accepts_dms = False
    user_id = w.alice_row.user_id
    async with start_app():
        _short_window()
        await lifecycle.accept(SYSTEM, w.hub, w.alice_row.id)

        async def notice() -> bool:
            return await Notification.filter(
                user_id=user_id, kind="notifications.dm_blocked"
            ).exists()

        await discord.wait_for(notice, 5, "the in-app notice about closed DMs")
    [item] = await OutboxItem.filter(template=center.DIGEST, user_id=user_id)
    assert (item.status, item.attempts) == (OutboxStatus.FAILED, 1)
    assert len(discord.requests_to(SEND)) == 1  # tried once, never again
    assert discord.dms(w.alice) == []
    assert (await _prefs(w.alice_row)).direct_messages is False
    # What comes next is not queued for Discord at all.
    await lifecycle.dismiss(SYSTEM, w.hub, w.alice_row.id, "inactive")
    assert await OutboxItem.filter(template=center.DIGEST, user_id=user_id).count() == 1
