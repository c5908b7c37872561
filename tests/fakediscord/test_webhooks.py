"""Channel webhooks through discord.py's Webhook objects: management, execution, threads."""

from __future__ import annotations

import asyncio

import aiohttp
import discord
import pytest
from discord.http import Route

from . import FakeDiscord
from ._testbot import HubBot
from .fixtures import running_bot
from .test_threads import TAGS, assert_matches_spec

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]


def text_channel(bot: discord.Client, channel_id: int) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_create_execute_edit_and_delete(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    general = guild.default_channel
    async with running_bot(HubBot(), fake_discord) as bot:
        updated = asyncio.create_task(bot.wait_for("webhooks_update"))
        hook = await text_channel(bot, general.id).create_webhook(name="Hub Announcer")
        assert (await asyncio.wait_for(updated, 5)).id == general.id
        assert [w.name for w in general.webhooks] == ["Hub Announcer"]
        assert hook.token == general.webhooks[0].token

        seen = asyncio.create_task(bot.wait_for("message", check=lambda m: m.webhook_id))
        sent = await hook.send("Convoy at 8", username="Convoy Bot", wait=True)
        assert sent.webhook_id == hook.id
        assert sent.author.name == "Convoy Bot"
        assert (await asyncio.wait_for(seen, 5)).id == sent.id
        stored = general.message(sent.id)
        assert stored is not None
        assert stored.author.webhook
        assert stored.payload()["webhook_id"] == str(hook.id)

        assert await hook.send("fire and forget") is None  # no ?wait: 204
        assert general.last_message is not None
        assert general.last_message.content == "fire and forget"

        await sent.edit(content="Convoy at 9")
        assert stored.content == "Convoy at 9"
        fetched = await hook.fetch_message(sent.id)
        assert fetched.content == "Convoy at 9"
        await sent.delete()
        assert stored.deleted


async def test_threads_and_forum_posts(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    reviews = guild.create_channel("reviews", type=15, tags=TAGS)
    async with running_bot(HubBot(), fake_discord) as bot:
        forum = bot.get_channel(reviews.id)
        assert isinstance(forum, discord.ForumChannel)
        hook = await forum.create_webhook(name="Applications")
        pending = forum.get_tag(int(reviews.tag("Pending")["id"]))
        assert pending is not None
        first = await hook.send(
            "New application", thread_name="alice", applied_tags=[pending], wait=True
        )
        post = reviews.thread("alice")
        assert first.id == post.id
        assert post.tag_names == ["Pending"]
        assert post.starter_message is not None
        assert post.starter_message.author.id == hook.id

        thread = discord.Object(post.id)
        reply = await hook.send("Reviewed", thread=thread, wait=True)
        assert reply.channel.id == post.id
        assert [m.content for m in post.visible_messages] == ["New application", "Reviewed"]
        await hook.edit_message(reply.id, content="Accepted", thread=thread)
        assert post.visible_messages[-1].content == "Accepted"
        with pytest.raises(discord.NotFound):  # a message in a thread needs ?thread_id
            await hook.fetch_message(reply.id)
        await hook.delete_message(reply.id, thread=thread)
        assert [m.content for m in post.visible_messages] == ["New application"]

        post.update(archived=True)
        await hook.send("Reopened", thread=thread)  # executing into a thread unarchives it
        assert not post.archived

        with pytest.raises(discord.HTTPException) as nowhere:
            await hook.send("Where does this go?")
        assert nowhere.value.code == 220001
        text_hook = await text_channel(bot, guild.default_channel.id).create_webhook(name="Text")
        with pytest.raises(discord.HTTPException) as not_a_forum:
            await text_hook.send("post?", thread_name="nope")
        assert not_a_forum.value.code == 220003
    no_thread, text_thread = fake_discord.take_errors()
    assert "thread_name or thread_id" in no_thread
    assert "only create threads in forum channels" in text_thread


async def test_management_with_bot_auth_and_with_token(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    news = guild.create_channel("news", type=5)
    async with running_bot(HubBot(), fake_discord) as bot:
        channel = text_channel(bot, guild.default_channel.id)
        hook = await channel.create_webhook(name="Hub")
        assert [w.id for w in await channel.webhooks()] == [hook.id]
        cached = bot.get_guild(guild.id)
        assert cached is not None
        assert [w.id for w in await cached.webhooks()] == [hook.id]
        fetched = await bot.fetch_webhook(hook.id)
        assert fetched.user is not None
        assert fetched.user.id == fake_discord.bot_user.id

        moved = await hook.edit(name="Hub News", channel=text_channel(bot, news.id))
        assert (moved.name, moved.channel_id) == ("Hub News", news.id)
        assert [w.name for w in news.webhooks] == ["Hub News"]

        async with aiohttp.ClientSession() as session:
            partial = discord.Webhook.partial(hook.id, hook.token or "", session=session)
            by_token = await partial.fetch(prefer_auth=False)
            assert by_token.user is None  # Discord leaves the creator out without auth
            renamed = await partial.edit(name="By Token")
            assert renamed.name == "By Token"
            wrong = discord.Webhook.partial(hook.id, "wrong-token", session=session)
            with pytest.raises(discord.HTTPException) as caught:
                await wrong.fetch(prefer_auth=False)
            assert caught.value.code == 50027
            await partial.delete()
        assert guild.webhooks == {}


async def test_webhook_name_rules(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        channel = text_channel(bot, guild.default_channel.id)
        for name in ("My Discord Hooks", "clyde", "x" * 81):
            with pytest.raises(discord.HTTPException) as caught:
                await channel.create_webhook(name=name)
            assert caught.value.code == 50035
    errors = fake_discord.take_errors()
    assert len(errors) == 3
    assert "'discord'" in errors[0]
    assert "'clyde'" in errors[1]
    assert "$.name" in errors[2]
    assert guild.webhooks == {}


async def test_interaction_webhooks_still_work(fake_discord: FakeDiscord) -> None:
    """Channel and interaction webhooks share paths; follow-ups still reach interactions."""
    alice = fake_discord.user("alice")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    guild.create_webhook(guild.default_channel, "Made by an admin")
    async with running_bot(HubBot(), fake_discord):
        reply = await alice.run("hub welcome", guild=guild)  # defers, then a follow-up
        assert reply.content == "sent you a DM"
    (followup,) = fake_discord.requests_to("POST /webhooks/{webhook_id}/{webhook_token}")
    assert followup.path.startswith(f"/webhooks/{fake_discord.application_id}/")
    assert followup.status == 200


async def test_webhook_responses_match_the_spec(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    general = guild.default_channel
    spec = fake_discord.spec
    async with running_bot(HubBot(), fake_discord) as bot:
        request = bot.http.request
        hooks = "/channels/{channel_id}/webhooks"
        created = await request(Route("POST", hooks, channel_id=general.id), json={"name": "Hub"})
        assert_matches_spec(spec, "POST", hooks, created)
        listed = await request(Route("GET", hooks, channel_id=general.id))
        assert_matches_spec(spec, "GET", hooks, listed)
        by_guild = "/guilds/{guild_id}/webhooks"
        assert_matches_spec(
            spec, "GET", by_guild, await request(Route("GET", by_guild, guild_id=guild.id))
        )
        one = "/webhooks/{webhook_id}"
        fetched = await request(Route("GET", one, webhook_id=created["id"]))
        assert_matches_spec(spec, "GET", one, fetched)
        with_token = "/webhooks/{webhook_id}/{webhook_token}"
        ids = {"webhook_id": created["id"], "webhook_token": created["token"]}
        assert_matches_spec(spec, "GET", with_token, await request(Route("GET", with_token, **ids)))
        message = await request(
            Route("POST", with_token, **ids), json={"content": "hi"}, params={"wait": "true"}
        )
        assert_matches_spec(spec, "POST", with_token, message)
        one_message = with_token + "/messages/{message_id}"
        edited = await request(
            Route("PATCH", one_message, message_id=message["id"], **ids), json={"content": "edited"}
        )
        assert_matches_spec(spec, "PATCH", one_message, edited)
