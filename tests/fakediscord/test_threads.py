"""Forum channels, threads and crossposts, driven through the real discord.py client."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import discord
import pytest
from discord.http import Route
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from . import FakeDiscord
from ._testbot import HubBot
from .fixtures import running_bot
from .spec import SPEC_URI, OpenAPISpec
from .state import REQUIRE_TAG, Guild

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]
TAGS = ["Pending", "Accepted", {"name": "Urgent", "emoji_name": "🔥", "moderated": True}]
_registries: dict[int, Registry[Any]] = {}


def assert_matches_spec(
    spec: OpenAPISpec, method: str, template: str, payload: Any, status: int = 200
) -> None:
    """The emulator's answer has the shape Discord's OpenAPI spec documents for the route."""
    document = spec.document
    if id(document) not in _registries:
        _registries[id(document)] = Registry().with_resource(
            SPEC_URI, DRAFT202012.create_resource(document)
        )
    escaped = template.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/{method.lower()}/responses/{status}/content/application~1json"
    schema = {"$ref": f"{SPEC_URI}#{pointer}/schema"}
    validator = Draft202012Validator(schema, registry=_registries[id(document)])
    error = best_match(validator.iter_errors(payload))
    assert error is None, f"{method} {template}: {error.json_path}: {error.message[:300]}"


def forum_guild(fake_discord: FakeDiscord, *, flags: int = 0) -> Guild:
    guild = fake_discord.guild("Test VTC")
    guild.create_channel("reviews", type=15, tags=TAGS, flags=flags)
    return guild


def cached_forum(bot: discord.Client, guild: Guild) -> discord.ForumChannel:
    forum = bot.get_channel(guild.channel("reviews").id)
    assert isinstance(forum, discord.ForumChannel)
    return forum


async def test_forum_post_with_tags_is_created_and_cached(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice")
    guild = forum_guild(fake_discord)
    guild.add_member(alice)
    reviews = guild.channel("reviews")
    async with running_bot(HubBot(), fake_discord) as bot:
        forum = cached_forum(bot, guild)
        assert [tag.name for tag in forum.available_tags] == ["Pending", "Accepted", "Urgent"]
        pending = forum.get_tag(int(reviews.tag("Pending")["id"]))
        assert pending is not None
        thread, message = await forum.create_thread(
            name="Application: alice",
            content="New application",
            applied_tags=[pending],
            file=discord.File(io.BytesIO(b"my CV"), "cv.txt"),  # multipart, payload_json
        )
        assert thread.id == message.id  # a post's first message has the post's id
        post = reviews.thread("Application: alice")
        assert post.tag_names == ["Pending"]
        assert post.starter_message is not None
        assert post.starter_message.content == "New application"
        assert post.starter_message.attachments[0]["filename"] == "cv.txt"
        cached = bot.get_guild(guild.id)
        assert cached is not None
        await fake_discord.wait_for(lambda: cached.get_thread(thread.id), message="THREAD_CREATE")
        assert [tag.name for tag in cached.get_thread(thread.id).applied_tags] == ["Pending"]  # type: ignore[union-attr]

        # A user answers in the post: MESSAGE_CREATE names the thread as its channel.
        said = asyncio.create_task(bot.wait_for("message", check=lambda m: m.content == "hi"))
        await alice.say(post, "hi")
        seen = await asyncio.wait_for(said, 5)
        assert isinstance(seen.channel, discord.Thread)
        assert seen.channel.id == post.id

        await thread.send("reviewed")
        assert [m.content for m in post.visible_messages] == ["New application", "hi", "reviewed"]

        accepted = forum.get_tag(int(reviews.tag("Accepted")["id"]))
        await thread.edit(applied_tags=[accepted], archived=True, locked=True)  # type: ignore[list-item]
        assert (post.tag_names, post.archived, post.locked) == (["Accepted"], True, True)
        await fake_discord.wait_for(
            lambda: cached.get_thread(thread.id) is None, message="archived thread uncached"
        )
        assert guild.gateway_payload(include_members=False)["threads"] == []


async def test_forum_settings_and_tags_are_edited(fake_discord: FakeDiscord) -> None:
    guild = forum_guild(fake_discord)
    reviews = guild.channel("reviews")
    pending_id = reviews.tag("Pending")["id"]
    async with running_bot(HubBot(), fake_discord) as bot:
        forum = cached_forum(bot, guild)
        await forum.edit(require_tag=True)
        assert reviews.flags & REQUIRE_TAG
        rejected = await forum.create_tag(name="Rejected", emoji="❌")
        assert reviews.tag("Rejected")["emoji_name"] == "❌"
        assert rejected.id == int(reviews.tag("Rejected")["id"])
        assert reviews.tag("Pending")["id"] == pending_id  # existing tags keep their ids
        await fake_discord.wait_for(
            lambda: cached_forum(bot, guild).flags.require_tag, message="CHANNEL_UPDATE"
        )


async def test_posts_and_threads_are_synced_in_guild_create(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice")
    guild = forum_guild(fake_discord)
    guild.add_member(alice)
    reviews = guild.channel("reviews")
    open_post = await alice.create_post(reviews, "Open", "please review", tags=["Pending"])
    closed_post = await alice.create_post(reviews, "Closed", "old one")
    closed_post.update(archived=True)
    async with running_bot(HubBot(), fake_discord) as bot:
        cached = bot.get_guild(guild.id)
        assert cached is not None
        thread = cached.get_thread(open_post.id)
        assert thread is not None
        assert thread.owner_id == alice.id
        assert [tag.name for tag in thread.applied_tags] == ["Pending"]
        assert cached.get_thread(closed_post.id) is None  # archived threads are not synced
        archived = [t.id async for t in cached_forum(bot, guild).archived_threads()]
        assert archived == [closed_post.id]


async def test_user_post_reaches_the_bot(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice")
    guild = forum_guild(fake_discord)
    guild.add_member(alice)
    async with running_bot(HubBot(), fake_discord) as bot:
        created = asyncio.create_task(bot.wait_for("thread_create"))
        post = await alice.create_post(guild.channel("reviews"), "Hello", "first!", tags=["Urgent"])
        thread = await asyncio.wait_for(created, 5)
        assert thread.id == post.id
        assert isinstance(thread.parent, discord.ForumChannel)
        starter = await thread.fetch_message(thread.id)
        assert starter.content == "first!"


async def test_require_tag_refuses_untagged_posts(fake_discord: FakeDiscord) -> None:
    guild = forum_guild(fake_discord, flags=REQUIRE_TAG)
    async with running_bot(HubBot(), fake_discord) as bot:
        forum = cached_forum(bot, guild)
        assert forum.flags.require_tag
        with pytest.raises(discord.HTTPException) as caught:
            await forum.create_thread(name="no tags", content="please")
        assert (caught.value.status, caught.value.code) == (400, 40067)
        with pytest.raises(discord.HTTPException) as unknown:
            await forum.create_thread(
                name="bad tag",
                content="please",
                applied_tags=[discord.Object(1)],  # type: ignore[list-item]
            )
        assert unknown.value.code == 50035
    required, not_a_tag = fake_discord.take_errors()
    assert "A tag is required" in required
    assert "$.applied_tags" in not_a_tag
    assert guild.channel("reviews").threads == []


async def test_forum_takes_no_plain_messages(fake_discord: FakeDiscord) -> None:
    guild = forum_guild(fake_discord)
    async with running_bot(HubBot(), fake_discord) as bot:
        route = Route(
            "POST", "/channels/{channel_id}/messages", channel_id=guild.channel("reviews").id
        )
        with pytest.raises(discord.HTTPException) as caught:
            await bot.http.request(route, json={"content": "hi"})
        assert caught.value.code == 40058
    (error,) = fake_discord.take_errors()
    assert "forum" in error


async def test_threads_in_text_channels(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    general = guild.default_channel
    async with running_bot(HubBot(), fake_discord) as bot:
        channel = bot.get_channel(general.id)
        assert isinstance(channel, discord.TextChannel)
        chat = await channel.create_thread(
            name="convoy chat", type=discord.ChannelType.public_thread
        )
        assert guild.thread("convoy chat").type == 11
        await chat.send("in the thread")
        assert guild.thread("convoy chat").last_message is not None

        message = await channel.send("Convoy tonight")
        thread = await message.create_thread(name="Convoy")
        assert thread.id == message.id  # a thread started from a message shares its id
        stored = general.message(message.id)
        assert stored is not None
        assert stored.payload()["thread"]["id"] == str(thread.id)
        assert guild.thread("Convoy").starter_message is stored
        with pytest.raises(discord.HTTPException) as again:
            await message.create_thread(name="Convoy again")
        assert again.value.code == 160004

        cached = bot.get_guild(guild.id)
        assert cached is not None
        await fake_discord.wait_for(lambda: cached.get_thread(thread.id), message="THREAD_CREATE")
        await thread.delete()
        assert thread.id not in guild.threads
        await fake_discord.wait_for(
            lambda: cached.get_thread(thread.id) is None, message="THREAD_DELETE"
        )
    (error,) = fake_discord.take_errors()
    assert "already been created" in error


async def test_archived_threads_reopen_on_send_unless_locked(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        thread = await channel.create_thread(name="t", type=discord.ChannelType.public_thread)
        await thread.edit(archived=True)
        await thread.send("wake up")  # sending unarchives
        assert guild.thread("t").archived is False
        await thread.edit(archived=True, locked=True)
        with pytest.raises(discord.HTTPException) as caught:
            await thread.send("still there?")
        assert caught.value.code == 50083
    (error,) = fake_discord.take_errors()
    assert "archived" in error


async def test_crosspost_only_in_announcement_channels(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    news = guild.create_channel("announcements", type=5)
    async with running_bot(HubBot(), fake_discord) as bot:
        channel = bot.get_channel(news.id)
        assert isinstance(channel, discord.TextChannel)
        assert channel.is_news()
        message = await channel.send("Convoy on Saturday!")
        await message.publish()
        stored = news.message(message.id)
        assert stored is not None
        assert stored.crossposted
        with pytest.raises(discord.HTTPException) as twice:
            await message.publish()
        assert twice.value.code == 40033

        general = bot.get_channel(guild.default_channel.id)
        assert isinstance(general, discord.TextChannel)
        plain = await general.send("not news")
        with pytest.raises(discord.HTTPException) as elsewhere:
            await plain.publish()
        assert (elsewhere.value.status, elsewhere.value.code) == (400, 50024)
    already, wrong_channel = fake_discord.take_errors()
    assert "already been crossposted" in already
    assert "announcement" in wrong_channel


async def test_thread_responses_match_the_spec(fake_discord: FakeDiscord) -> None:
    guild = forum_guild(fake_discord)
    reviews, general = guild.channel("reviews"), guild.default_channel
    spec = fake_discord.spec
    async with running_bot(HubBot(), fake_discord) as bot:
        request = bot.http.request
        threads = "/channels/{channel_id}/threads"
        body = {"name": "post", "applied_tags": [reviews.tag("Pending")["id"]]}
        post = await request(
            Route("POST", threads, channel_id=reviews.id),
            json={**body, "message": {"content": "x"}},
        )
        assert_matches_spec(spec, "POST", threads, post, 201)
        assert post["message"]["id"] == post["id"]
        assert_matches_spec(
            spec, "GET", "/channels/{channel_id}/messages/{message_id}", post["message"]
        )
        channel = "/channels/{channel_id}"
        forum = await request(Route("GET", channel, channel_id=reviews.id))
        assert_matches_spec(spec, "GET", channel, forum)
        edited = await request(
            Route("PATCH", channel, channel_id=post["id"]), json={"name": "renamed"}
        )
        assert_matches_spec(spec, "PATCH", channel, edited)
        plain = await request(
            Route("POST", threads, channel_id=general.id), json={"name": "t", "type": 11}
        )
        assert_matches_spec(spec, "POST", threads, plain, 201)
        sent = await general_message(bot, general.id)
        from_message = "/channels/{channel_id}/messages/{message_id}/threads"
        started = await request(
            Route("POST", from_message, channel_id=general.id, message_id=sent), json={"name": "s"}
        )
        assert_matches_spec(spec, "POST", from_message, started, 201)
        active = await request(Route("GET", "/guilds/{guild_id}/threads/active", guild_id=guild.id))
        assert_matches_spec(spec, "GET", "/guilds/{guild_id}/threads/active", active)
        deleted = await request(Route("DELETE", channel, channel_id=plain["id"]))
        assert_matches_spec(spec, "DELETE", channel, deleted)


async def general_message(bot: discord.Client, channel_id: int) -> int:
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    message = await bot.http.request(route, json={"content": "start here"})
    return int(message["id"])
