"""The emulator fixture fails a test whose bot swallowed an error or left a user hanging."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import pytest
from discord import app_commands, ui
from discord.ext import commands

from . import EmulatorError, FakeDiscord, Guild, User
from .emulator import LogErrorHandler
from .fixtures import fake_discord_session, running_bot

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]

Act = Callable[[FakeDiscord, User, Guild], Awaitable[Any]]


class ExplodingButton(
    ui.DynamicItem[ui.Button[Any]], template=r"explode:(?P<id>[0-9]+)"
):  # fmt: skip
    def __init__(self, record_id: int) -> None:
        super().__init__(ui.Button(label="Explode", custom_id=f"explode:{record_id}"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Button[Any], match: re.Match[str]
    ) -> ExplodingButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("exploding")
        raise ValueError("dynamic item blew up")


@app_commands.command(name="quiet", description="Never answers")
async def quiet(interaction: discord.Interaction) -> None:
    return None


@app_commands.command(name="boom", description="Answers, then fails")
async def boom(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("done")
    raise RuntimeError("failed after answering")


@app_commands.command(name="twice", description="Answers twice")
async def twice(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("one")
    await interaction.response.send_message("two")


@app_commands.command(name="bomb", description="Posts an exploding button")
async def bomb(interaction: discord.Interaction) -> None:
    view = ui.View(timeout=None)
    view.add_item(ExplodingButton(7))
    await interaction.response.send_message("careful", view=view)


@app_commands.command(name="zone", description="Pick a zone")
@app_commands.describe(name="The zone")
async def zone(interaction: discord.Interaction, name: str) -> None:
    await interaction.response.send_message(name)


@zone.autocomplete("name")
async def zone_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    raise LookupError("no zones today")


class StrictBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(
            command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.2
        )

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ExplodingButton)
        for command in (quiet, boom, twice, bomb, zone):
            self.tree.add_command(command)
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No pause between logins in tests."""


async def _session(act: Act) -> None:
    async with fake_discord_session() as emulator:
        alice = emulator.user("alice")
        guild = emulator.guild("Test VTC")
        guild.add_member(alice)
        async with running_bot(StrictBot(), emulator):
            await act(emulator, alice, guild)


async def _session_failure(act: Act) -> str:
    """Run `act` in a fresh emulator session and return how its teardown failed."""
    with pytest.raises(EmulatorError) as caught:
        await _session(act)
    return str(caught.value)


async def _unanswered(emulator: FakeDiscord, alice: User, guild: Guild) -> None:
    with contextlib.suppress(TimeoutError):
        await alice.run("quiet", guild=guild, timeout=0.3)


async def _error_after_answer(emulator: FakeDiscord, alice: User, guild: Guild) -> None:
    reply = await alice.run("boom", guild=guild)
    assert reply.content == "done"  # the user saw nothing wrong


async def _second_answer(emulator: FakeDiscord, alice: User, guild: Guild) -> None:
    reply = await alice.run("twice", guild=guild)
    assert reply.content == "one"


async def _dynamic_item_error(emulator: FakeDiscord, alice: User, guild: Guild) -> None:
    posted = await alice.run("bomb", guild=guild)
    pressed = await alice.click(posted, "Explode")
    assert pressed.content == "exploding"


async def _autocomplete_error(emulator: FakeDiscord, alice: User, guild: Guild) -> None:
    with contextlib.suppress(TimeoutError):
        await alice.autocomplete("zone", "name", "Eu", guild=guild, timeout=0.3)


async def test_an_unanswered_interaction_fails_the_session() -> None:
    failure = await _session_failure(_unanswered)
    assert "command 'quiet' by alice was never answered" in failure


async def test_an_error_after_answering_fails_the_session() -> None:
    failure = await _session_failure(_error_after_answer)
    assert "Ignoring exception in command 'boom'" in failure
    assert "RuntimeError: failed after answering" in failure
    assert "test_strictness.py:" in failure  # where it was raised


async def test_a_second_answer_fails_the_session() -> None:
    failure = await _session_failure(_second_answer)
    assert "InteractionResponded" in failure


async def test_an_error_in_a_dynamic_item_fails_the_session() -> None:
    failure = await _session_failure(_dynamic_item_error)
    assert "Ignoring exception in dynamic item callback" in failure
    assert "ValueError: dynamic item blew up" in failure


async def test_a_failed_autocomplete_fails_the_session() -> None:
    failure = await _session_failure(_autocomplete_error)
    assert "autocomplete 'zone' by alice was never answered" in failure
    assert "LookupError: no zones today" in failure


async def test_take_errors_accepts_errors_provoked_on_purpose() -> None:
    async with fake_discord_session() as emulator:
        alice = emulator.user("alice")
        guild = emulator.guild("Test VTC")
        guild.add_member(alice)
        async with running_bot(StrictBot(), emulator):
            await _unanswered(emulator, alice, guild)
            await _error_after_answer(emulator, alice, guild)
            await emulator.wait_for(lambda: len(emulator.errors) == 1, 2, "the logged error")
        errors = emulator.take_errors()
        assert len(errors) == 2
        assert "RuntimeError: failed after answering" in errors[0]
        assert errors[1] == "command 'quiet' by alice was never answered"
        assert emulator.take_errors() == []


async def test_only_the_bots_loggers_are_captured_and_only_during_the_session() -> None:
    async with fake_discord_session() as emulator:
        logging.getLogger("tests.fakediscord.elsewhere").error("not the bot")
        logging.getLogger("discord.client").error("Attempting a reconnect in 1.00s")
        logging.getLogger("cogs.hub").warning("just a warning")
        logging.getLogger("web.app").error("the web app failed")
        assert emulator.take_errors() == ["web.app logged: the web app failed"]
    for name in ("discord", "bot", "cogs", "web"):
        handlers = logging.getLogger(name).handlers
        assert not [h for h in handlers if isinstance(h, LogErrorHandler)]
