"""The emulator drives a real discord.py bot: commands, components, modals, DMs."""

from __future__ import annotations

import pytest

from . import FakeDiscord, ScenarioError
from ._testbot import HubBot
from .fixtures import running_bot

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]


async def test_bot_connects_and_receives_its_guilds(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    async with running_bot(HubBot(), fake_discord) as bot:
        cached = bot.get_guild(guild.id)
        assert cached is not None
        assert cached.name == "Test VTC"
        assert bot.user is not None
        assert bot.user.id == fake_discord.bot_user.id
        assert cached.get_member(alice.id) is not None  # chunked through op 8
        assert fake_discord.gateway.identifies == [(0, 1)]


async def test_command_sync_registers_commands(fake_discord: FakeDiscord) -> None:
    fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord):
        assert sorted(fake_discord.commands.names()) == ["hub", "ping", "promote"]
        assert fake_discord.commands.overwrite_calls == 1
        hub = fake_discord.commands.find("hub", None)
        assert hub is not None
        assert {option["name"] for option in hub["options"]} >= {"info", "offer", "settings"}


async def test_command_reply_and_ephemeral_flag(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice", locale="de")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    async with running_bot(HubBot(), fake_discord):
        reply = await alice.run("hub info", guild=guild)
        assert reply.embeds[0]["title"] == "Hub of Test VTC"
        assert "locale de" in reply.text
        assert not reply.ephemeral
        assert guild.default_channel.last_message is reply.original

        secret = await alice.run("hub secret", guild=guild)
        assert secret.ephemeral
        assert secret.content == "for your eyes only"
        assert secret.original not in guild.default_channel.visible_messages


async def test_options_are_encoded_like_discord(fake_discord: FakeDiscord) -> None:
    staff, bob = fake_discord.user("staff"), fake_discord.user("bob")
    guild = fake_discord.guild("Test VTC", owner=staff)
    driver = guild.create_role("Driver")
    guild.add_member(bob)
    async with running_bot(HubBot(), fake_discord) as bot:
        pong = await bob.run("ping", guild=guild, count=3)
        assert pong.content.split() == ["pong"] * 3

        reply = await staff.run("promote", guild=guild, member=bob, role=driver)
        assert reply.content == "bob is now Driver"
        assert fake_discord.member(guild, bob).roles == [driver]
        cached = bot.get_guild(guild.id)
        await fake_discord.wait_for(
            lambda: driver.id in [r.id for r in cached.get_member(bob.id).roles]
        )

        with pytest.raises(ScenarioError, match="lacks the permissions"):
            await bob.run("promote", guild=guild, member=bob, role=driver)
        with pytest.raises(ScenarioError, match="outside"):
            await bob.run("ping", guild=guild, count=9)


async def test_autocomplete_returns_choices(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    async with running_bot(HubBot(), fake_discord):
        choices = await alice.autocomplete("hub settings", "timezone", "Eur", guild=guild)
        assert [choice["value"] for choice in choices] == ["Europe/Berlin", "Europe/London"]


async def test_deferred_reply_and_dm(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice")
    closed = fake_discord.user("closed", accepts_dms=False)
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    guild.add_member(closed)
    async with running_bot(HubBot(), fake_discord):
        reply = await alice.run("hub welcome", guild=guild)
        assert reply.ephemeral
        assert reply.content == "sent you a DM"
        dm = await fake_discord.expect_dm(alice, contains="Welcome")
        assert dm.channel.recipient is alice

        refused = await closed.run("hub welcome", guild=guild)
        assert refused.content == "cannot DM you (50007)"
        assert fake_discord.dms(closed) == []


async def test_dynamic_button_works_after_restart(fake_discord: FakeDiscord) -> None:
    alice, staff = fake_discord.user("alice"), fake_discord.user("staff")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    guild.add_member(staff)
    async with running_bot(HubBot(), fake_discord):
        offer = await alice.run("hub offer", guild=guild, record=42)
    message = offer.original
    assert message is not None
    assert message.component("Accept") is not None

    async with running_bot(HubBot(sync=False), fake_discord):
        accepted = await staff.click(message, "Accept")
        assert accepted.content == "offer 42 accepted by staff"
        with pytest.raises(ScenarioError, match="no component"):
            await staff.click(message, "Decline")


async def test_modal_submit(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    async with running_bot(HubBot(), fake_discord):
        form = await alice.run("hub apply", guild=guild)
        assert form.modal is not None
        assert form.modal["title"] == "Apply to the VTC"
        with pytest.raises(ScenarioError, match="required"):
            await alice.submit_modal(form, about="hi")
        done = await alice.submit_modal(form, favourite_truck="Scania")
        assert done.ephemeral
        assert done.content == "thanks, Scania fan"


async def test_dm_command_without_guild(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice")
    fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord):
        reply = await alice.run("hub info")
        assert reply.embeds[0]["title"] == "Hub of DM"
        assert reply.original is not None
        assert reply.original.channel.recipient is alice
