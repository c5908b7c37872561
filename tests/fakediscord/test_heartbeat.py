"""Gateway heartbeats: a silent connection is closed, its session stays resumable."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from . import FakeDiscord
from ._testbot import HubBot
from .fixtures import fake_discord_session, running_bot
from .gateway import HEARTBEAT_GRACE, HEARTBEAT_TIMEOUT_CLOSE

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]
INTERVAL = 0.2  # seconds


@pytest_asyncio.fixture(loop_scope="session")
async def quick() -> AsyncIterator[FakeDiscord]:
    """An emulator whose HELLO asks for a heartbeat every 0.2 s."""
    async with fake_discord_session(heartbeat_interval=INTERVAL) as emulator:
        yield emulator


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await ws.receive(timeout=2)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def identify(ws: aiohttp.ClientWebSocketResponse, token: str) -> dict[str, Any]:
    """IDENTIFY and return READY's data."""
    properties = {"os": "linux", "browser": "test", "device": "test"}
    await ws.send_json({"op": 2, "d": {"token": token, "intents": 1, "properties": properties}})
    while (payload := await receive(ws))["t"] != "READY":
        pass
    return payload["d"]


async def test_hello_keeps_discords_interval_by_default(fake_discord: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(fake_discord.gateway_url) as ws:
        hello = await receive(ws)
    assert hello == {"op": 10, "d": {"heartbeat_interval": 41250}}


async def test_a_client_that_stops_heartbeating_is_closed_and_can_resume(
    quick: FakeDiscord,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(quick.gateway_url) as ws:
            assert (await receive(ws))["d"] == {"heartbeat_interval": 200}
            ready = await identify(ws, quick.token)
            started = time.monotonic()
            closed = await ws.receive(timeout=2)  # no op 1 from us
            silent_for = time.monotonic() - started
        assert closed.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == HEARTBEAT_TIMEOUT_CLOSE
        assert INTERVAL <= silent_for <= INTERVAL * HEARTBEAT_GRACE + 0.2
        assert quick.gateway.heartbeat_timeouts == [ready["session_id"]]
        async with http.ws_connect(quick.gateway_url) as ws:
            await receive(ws)  # HELLO
            resume = {"token": quick.token, "session_id": ready["session_id"], "seq": 1}
            await ws.send_json({"op": 6, "d": resume})
            resumed = await receive(ws)
            await ws.send_json({"op": 1, "d": resumed["s"]})
            ack = await receive(ws)
    assert resumed["t"] == "RESUMED"
    assert ack["op"] == 11
    assert quick.gateway.resumes == [ready["session_id"]]


async def test_heartbeats_keep_the_connection_open(quick: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(quick.gateway_url) as ws:
        await receive(ws)
        await identify(ws, quick.token)
        for _ in range(4):  # 0.1 s apart, well inside the interval
            await ws.send_json({"op": 1, "d": None})
            assert (await receive(ws))["op"] == 11
            await asyncio.sleep(INTERVAL / 2)
        assert not ws.closed
    assert quick.gateway.heartbeat_timeouts == []


async def test_discord_py_heartbeats_and_stays_connected(quick: FakeDiscord) -> None:
    async with running_bot(HubBot(), quick) as bot:
        await asyncio.sleep(INTERVAL * 4)
        assert quick.gateway.connected_shards == {0}
        assert bot.is_ready()
    assert quick.gateway.heartbeat_timeouts == []
    assert quick.gateway.resumes == []
    assert quick.gateway.identifies == [(0, 1)]


async def test_discord_py_resumes_after_missing_heartbeats(quick: FakeDiscord) -> None:
    alice = quick.user("alice")
    guild = quick.guild("Test VTC")
    guild.add_member(alice)
    async with running_bot(HubBot(), quick) as bot:
        # discord.py heartbeats from a thread; stopping it is what a wedged client looks like.
        keep_alive = bot.ws._keep_alive
        assert keep_alive is not None
        keep_alive.stop()
        await quick.wait_for(lambda: quick.gateway.resumes, 3, "discord.py to RESUME")
        reply = await alice.run("hub secret", guild=guild)
    assert len(quick.gateway.heartbeat_timeouts) == 1
    assert quick.gateway.identifies == [(0, 1)]  # resumed, not identified again
    assert reply.content == "for your eyes only"
