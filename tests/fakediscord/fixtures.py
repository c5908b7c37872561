"""Pytest fixtures and helpers to run a discord.py bot against the emulator.

Import them in a conftest.py:  `from tests.fakediscord.fixtures import fake_discord  # noqa: F401`
"""

# The scenario API takes `timeout=` on purpose: it is the deadline of the assertion.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import discord
import pytest_asyncio
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from .emulator import FakeDiscord

log = logging.getLogger(__name__)


@contextlib.contextmanager
def patch_discord_py(emulator: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at the emulator, then restore them.

    Both are needed: discord.py connects a plain Client to DEFAULT_GATEWAY without asking
    /gateway/bot, and falls back to it after INVALID_SESSION.
    """
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = emulator.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emulator.gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway


@contextlib.asynccontextmanager
async def running_bot(
    bot: discord.Client, emulator: FakeDiscord, *, timeout: float = 10.0
) -> AsyncIterator[discord.Client]:
    """Start `bot` against the emulator, wait until it is ready, and close it afterwards."""
    with patch_discord_py(emulator):
        task = asyncio.create_task(bot.start(emulator.token), name="fakediscord-bot")
        try:
            await emulator.wait_for(
                lambda: bot.is_ready() or task.done(), timeout, "the bot to become ready"
            )
            if task.done():
                task.result()  # surface the start-up error
                raise RuntimeError("the bot stopped during start-up")
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(task, 5)


@contextlib.asynccontextmanager
async def fake_discord_session(**options: object) -> AsyncIterator[FakeDiscord]:
    """An emulator that fails the caller if the bot did anything Discord would reject, left an
    interaction unanswered, or logged an error (a handler that swallowed an exception)."""
    async with FakeDiscord(**options) as emulator:  # type: ignore[arg-type]
        with emulator.capturing_log_errors():
            yield emulator
            await emulator.settle()
        emulator.assert_no_errors()


@pytest_asyncio.fixture(loop_scope="session")
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A running emulator; teardown fails the test if any request broke Discord's rules."""
    async with fake_discord_session() as emulator:
        yield emulator
