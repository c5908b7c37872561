"""The emulator catches what Discord would reject, and injects Discord's faults on demand."""

from __future__ import annotations

import discord
import pytest
from discord.http import Route

from . import FakeDiscord
from ._testbot import HubBot, ShardedHubBot
from .fixtures import running_bot

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]
SEND = "POST /channels/{channel_id}/messages"


async def test_body_violating_the_openapi_spec_is_caught(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        route = Route(
            "POST", "/channels/{channel_id}/messages", channel_id=guild.default_channel.id
        )
        with pytest.raises(discord.HTTPException) as caught:
            await bot.http.request(route, json={"content": "hi", "embeds": [{"title": 5}]})
        assert caught.value.status == 400
        assert caught.value.code == 50035
    errors = fake_discord.take_errors()
    assert len(errors) == 1
    assert "$.embeds[0].title" in errors[0]
    assert "OpenAPI" in errors[0]


async def test_discord_limits_are_enforced(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException, match="Invalid Form Body"):
            await channel.send(embed=discord.Embed(title="t" * 257))
        with pytest.raises(discord.HTTPException, match="Invalid Form Body"):
            await channel.send("x" * 2001)
    errors = fake_discord.take_errors()
    assert "$.embeds[0].title" in errors[0]
    assert "$.content" in errors[1]
    assert guild.default_channel.visible_messages == []


async def test_bad_command_payload_is_rejected(fake_discord: FakeDiscord) -> None:
    fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        app_id = fake_discord.application_id
        bad = [{"name": "Hub Info", "description": "", "type": 1}]
        with pytest.raises(discord.HTTPException, match="Invalid Form Body"):
            await bot.http.bulk_upsert_global_commands(app_id, bad)
        too_long = [{"name": "hub", "description": "d" * 101, "type": 1}]
        with pytest.raises(discord.HTTPException, match="Invalid Form Body"):
            await bot.http.bulk_upsert_global_commands(app_id, too_long)
    name_error, description_error = fake_discord.take_errors()
    assert "'Hub Info'" in name_error
    assert "description" in name_error
    assert "$[0].description" in description_error
    assert sorted(fake_discord.commands.names()) == ["hub", "ping", "promote"]  # unchanged


async def test_unknown_route_is_caught(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        with pytest.raises(discord.NotFound):
            await bot.http.request(Route("GET", "/guilds/{guild_id}/audit-logs", guild_id=guild.id))
    (error,) = fake_discord.take_errors()
    assert f"GET /guilds/{guild.id}/audit-logs" in error
    assert "not emulated" in error


async def test_per_route_and_global_rate_limits_are_retried(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        fake_discord.rate_limit(SEND, times=2, retry_after=0.05)
        await channel.send("after a bucket limit")
        fake_discord.rate_limit("*", times=1, retry_after=0.05, global_=True)
        await channel.send("after a global limit")
    assert [m.content for m in guild.default_channel.visible_messages] == [
        "after a bucket limit",
        "after a global limit",
    ]
    assert [r.status for r in fake_discord.requests_to(SEND)] == [429, 429, 200, 429, 200]


async def test_server_errors_are_retried(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        fake_discord.fail(SEND, status=502, times=1)
        await channel.send("despite a 502")
    assert [r.status for r in fake_discord.requests_to(SEND)] == [502, 200]
    assert guild.default_channel.last_message is not None
    assert guild.default_channel.last_message.content == "despite a 502"


async def test_dropped_gateway_resumes_and_replays_missed_events(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    carol = fake_discord.user("carol")
    async with running_bot(HubBot(), fake_discord) as bot:
        assert isinstance(bot, HubBot)
        fake_discord.drop_gateway()
        guild.add_member(carol)  # happens while the bot is disconnected
        await fake_discord.gateway.flush()
        await fake_discord.wait_for(
            lambda: carol.id in bot.joined, message="carol's join after RESUME"
        )
        assert len(fake_discord.gateway.resumes) == 1
        assert fake_discord.gateway.replayed == ["GUILD_MEMBER_ADD"]
        assert fake_discord.gateway.identifies == [(0, 1)]
        cached = bot.get_guild(guild.id)
        assert cached is not None
        assert cached.get_member(carol.id) is not None


async def test_invalid_session_makes_the_client_identify_again(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    async with running_bot(HubBot(), fake_discord):
        old_sessions = set(fake_discord.gateway.sessions)
        await fake_discord.invalidate_session()
        await fake_discord.wait_for(
            lambda: len(fake_discord.gateway.identifies) == 2, message="a new IDENTIFY"
        )
        assert not old_sessions & set(fake_discord.gateway.sessions)
        await fake_discord.wait_for(lambda: fake_discord.gateway.connected_shards == {0})
        reply = await alice.run("hub secret", guild=guild)
        assert reply.content == "for your eyes only"


async def test_each_shard_gets_its_own_guilds(fake_discord: FakeDiscord) -> None:
    fake_discord.recommended_shards = 2  # the bot learns the shard count from /gateway/bot
    alice = fake_discord.user("alice")
    first = fake_discord.guild("Shard Zero VTC", shard=(0, 2))
    second = fake_discord.guild("Shard One VTC", shard=(1, 2))
    second.add_member(alice)
    bot = ShardedHubBot(
        command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.2
    )
    async with running_bot(bot, fake_discord):
        assert sorted(fake_discord.gateway.identifies) == [(0, 2), (1, 2)]
        assert bot.get_guild(first.id).shard_id == 0  # type: ignore[union-attr]
        assert bot.get_guild(second.id).shard_id == 1  # type: ignore[union-attr]
        for session in fake_discord.gateway.sessions.values():
            guild_creates = [f["d"]["id"] for f in session.sent if f["t"] == "GUILD_CREATE"]
            assert guild_creates == [str((first, second)[session.shard_id].id)]
        reply = await alice.run("hub info", guild=second)  # routed to shard 1
        assert reply.embeds[0]["title"] == "Hub of Shard One VTC"
