"""Discord's rate limits: buckets per route and major parameter, the global limit, discord.py."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio

from . import FakeDiscord
from ._testbot import HubBot
from .fixtures import fake_discord_session, running_bot
from .ratelimits import Bucket, RateLimits, bucket_hash

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]
SEND = "POST /channels/{channel_id}/messages"
WINDOW = 5.0 * RateLimits().scale  # message create: 5 per 5 s, scaled


class Clock:
    """The limiter's clock, moved by hand so windows reset exactly when a test says."""

    def __init__(self) -> None:
        self.now = time.monotonic() + 3600  # after every window opened on the real clock

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture(loop_scope="session")
async def http(fake_discord: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    """A second client with the bot's token (another process of the same bot, say)."""
    headers = {"Authorization": f"Bot {fake_discord.token}"}
    async with aiohttp.ClientSession(f"{fake_discord.base_url}/", headers=headers) as session:
        yield session


@pytest.fixture
def clock(fake_discord: FakeDiscord) -> Clock:
    clock = Clock()
    fake_discord.rate_limiter.clock = clock
    return clock


async def post(http: aiohttp.ClientSession, channel_id: int, text: str) -> aiohttp.ClientResponse:
    async with http.post(f"api/v10/channels/{channel_id}/messages", json={"content": text}) as resp:
        await resp.read()
        return resp


async def body_of(response: aiohttp.ClientResponse) -> Any:
    return json.loads(await response.text())


async def test_remaining_counts_down_and_resets_after_the_window(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession, clock: Clock
) -> None:
    channel = fake_discord.guild("Test VTC").default_channel
    first = await post(http, channel.id, "1")
    assert first.headers["X-RateLimit-Limit"] == "5"
    assert float(first.headers["X-RateLimit-Reset-After"]) == pytest.approx(WINDOW, abs=0.001)
    assert float(first.headers["X-RateLimit-Reset"]) > 1e9  # epoch seconds
    remaining = [first.headers["X-RateLimit-Remaining"]]
    for text in "2345":
        clock.now += 0.01
        remaining.append((await post(http, channel.id, text)).headers["X-RateLimit-Remaining"])
    assert remaining == ["4", "3", "2", "1", "0"]
    clock.now += WINDOW  # the window started with the first request
    again = await post(http, channel.id, "6")
    assert again.headers["X-RateLimit-Remaining"] == "4"
    assert float(again.headers["X-RateLimit-Reset-After"]) == pytest.approx(WINDOW, abs=0.001)


async def test_buckets_are_per_major_parameter(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession, clock: Clock
) -> None:
    guild = fake_discord.guild("Test VTC", channels=("general", "trucks"))
    general, trucks = guild.channel("general"), guild.channel("trucks")
    for text in "12345":
        await post(http, general.id, text)
    assert (await post(http, general.id, "6")).status == 429
    other = await post(http, trucks.id, "1")
    assert other.status == 200
    assert other.headers["X-RateLimit-Remaining"] == "4"
    # Same route, same bucket hash: the major parameter splits the count, not the hash.
    assert other.headers["X-RateLimit-Bucket"] == bucket_hash("message-create")
    async with http.get(f"api/v10/channels/{general.id}") as read:
        assert read.status == 200  # another route: another bucket
        assert read.headers["X-RateLimit-Bucket"] != other.headers["X-RateLimit-Bucket"]


async def test_a_request_beyond_the_limit_gets_a_user_429(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession, clock: Clock
) -> None:
    channel = fake_discord.guild("Test VTC").default_channel
    for text in "12345":
        await post(http, channel.id, text)
    clock.now += 0.05
    limited = await post(http, channel.id, "too many")
    assert limited.status == 429
    body = await body_of(limited)
    assert body["global"] is False
    assert body["code"] == 0
    assert body["retry_after"] == pytest.approx(WINDOW - 0.05, abs=0.002)
    assert limited.headers["X-RateLimit-Scope"] == "user"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Bucket"] == bucket_hash("message-create")
    assert limited.headers["Retry-After"] == "1"  # whole seconds, rounded up
    assert "Via" in limited.headers  # without it discord.py assumes a Cloudflare ban
    assert "X-RateLimit-Global" not in limited.headers
    assert [m.content for m in channel.visible_messages] == list("12345")
    assert fake_discord.errors == []  # the pace of the bot is not a bot error
    clock.now += WINDOW
    # The 429 used no slot.
    assert (await post(http, channel.id, "later")).headers["X-RateLimit-Remaining"] == "4"


async def test_discord_py_waits_and_delivers_every_message_in_order(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        for text in "abcde":  # another client used up the bucket discord.py knows nothing of
            await post(http, channel.id, text)
        for number in range(8):
            await channel.send(f"message {number}")
    texts = [m.content for m in guild.default_channel.visible_messages]
    assert texts == [*"abcde", *(f"message {number}" for number in range(8))]
    statuses = [r.status for r in fake_discord.requests_to(SEND)]
    # discord.py's first send met the full bucket, waited retry_after and sent again; then it
    # honoured Remaining=0 itself and waited for Reset-After instead of drawing another 429.
    assert statuses.count(429) == 1
    assert statuses.count(200) == 13
    assert {r.scope for r in fake_discord.rate_limiter.rejections} == {"user"}


async def test_the_global_limit_answers_a_global_429(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession, clock: Clock
) -> None:
    fake_discord.rate_limiter.limits.global_limit = 3
    for _ in range(3):
        async with http.get("api/v10/users/@me") as ok:
            assert ok.status == 200
    async with http.get("api/v10/gateway/bot") as limited:  # any route: the limit is per token
        body = await body_of(limited)
        assert limited.status == 429
        assert limited.headers["X-RateLimit-Global"] == "true"
        assert limited.headers["X-RateLimit-Scope"] == "global"
        assert "Via" in limited.headers
        assert "Retry-After" in limited.headers
    assert body["global"] is True
    assert body["retry_after"] == pytest.approx(RateLimits().scale, abs=0.002)
    clock.now += RateLimits().scale  # one (scaled) second later
    async with http.get("api/v10/users/@me") as ok:
        assert ok.status == 200
    assert [r.scope for r in fake_discord.rate_limiter.rejections] == ["global"]


async def test_interaction_callbacks_ignore_the_global_limit(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    alice = fake_discord.user("alice")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    async with running_bot(HubBot(), fake_discord):
        limiter = fake_discord.rate_limiter
        clock = Clock()
        limiter.clock, limiter.limits.global_limit = clock, 2  # time stands still
        for expected in (200, 200, 429):
            async with http.get("api/v10/users/@me") as response:
                assert response.status == expected
        reply = await alice.run("hub info", guild=guild)  # answered with a callback
        async with http.get("api/v10/users/@me") as still_limited:
            assert still_limited.status == 429
        limiter.limits.global_limit = RateLimits().global_limit
    assert reply.embeds[0]["title"] == "Hub of Test VTC"
    callbacks = fake_discord.requests_to("POST /interactions/*")
    assert [r.status for r in callbacks] == [200]
    assert {(r.scope, r.template) for r in limiter.rejections} == {("global", "/users/@me")}


async def test_limits_are_configurable_per_bucket() -> None:
    limits = RateLimits(buckets={"message-create": Bucket(2, 40.0)})  # 2 per second, scaled
    async with fake_discord_session(rate_limits=limits) as emulator:
        channel = emulator.guild("Test VTC").default_channel
        headers = {"Authorization": f"Bot {emulator.token}"}
        async with aiohttp.ClientSession(f"{emulator.base_url}/", headers=headers) as http:
            statuses = [(await post(http, channel.id, text)).status for text in "123"]
            emulator.rate_limiter.limits.enabled = False  # or switch them off
            unlimited = await post(http, channel.id, "4")
    assert statuses == [200, 200, 429]
    assert unlimited.status == 200
    assert unlimited.headers["X-RateLimit-Limit"] == "2"
