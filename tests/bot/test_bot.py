"""The bot's policies: one broken cog never stops the others; bugs get a reference, not a trace."""

from __future__ import annotations

import logging

import pytest

from bot import bot as bot_module
from models import hubs, members, users
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord


async def test_a_cog_that_fails_to_load_is_skipped(
    discord: FakeDiscord, start_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        bot_module, "cog_modules", lambda: ["tests.bot.broken_cog", "cogs.hub", "cogs.account"]
    )
    olga = discord.user("olga")
    guild = discord.guild("Road Kings", owner=olga)
    async with start_app() as rt:
        reply = await olga.run("hub info", guild=guild)
        failed = dict(rt.bot.failed_cogs)
    assert reply.embeds[0]["title"] == "Road Kings"
    (logged,) = discord.take_errors()  # the one logged failure is the point of this test
    assert "tests.bot.broken_cog failed to load" in logged
    assert list(failed) == ["tests.bot.broken_cog"]
    assert "broken on purpose" in failed["tests.bot.broken_cog"]


@pytest.mark.parametrize(
    ("locale", "text"),
    [("en-US", "Something went wrong on our side. Reference: "), ("de", "Referenz: ")],
)
async def test_an_unexpected_error_gets_a_localized_reply_with_a_reference(
    discord: FakeDiscord,
    start_app: AppFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    locale: str,
    text: str,
) -> None:
    async def broken(hub: hubs.Hub) -> hubs.HubView:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(hubs, "cached_hub_info", broken)
    olga = discord.user("olga", locale=locale)
    guild = discord.guild("Road Kings", owner=olga)
    with caplog.at_level(logging.ERROR, logger="bot.errors"):
        async with start_app():
            reply = await olga.run("hub info", guild=guild)
    assert reply.ephemeral
    assert text in reply.content
    assert "database on fire" not in reply.content  # no internals shown to the user
    reference = reply.content.rsplit(" ", 1)[-1]
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)
    (logged,) = discord.take_errors()  # logged with its reference, as it must be
    assert reference in logged
    assert "database on fire" in logged


async def test_a_failing_context_load_still_answers_commands_and_autocompletes(
    discord: FakeDiscord, start_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    olga = discord.user("olga")
    guild = discord.guild("Road Kings", owner=olga)
    async with start_app():
        await olga.run("hub info", guild=guild)  # recorded while the database works

        async def down(*args: object, **kwargs: object) -> None:
            raise ConnectionError("database unreachable")

        monkeypatch.setattr(members, "unchanged_presence", down)
        monkeypatch.setattr(users, "user_for_discord", down)
        monkeypatch.setattr(users.User, "get_or_none", down)
        reply = await olga.run("hub info", guild=guild)
        choices = await olga.autocomplete("hub-admin settings", "timezone", "Eur", guild=guild)
    assert reply.ephemeral
    assert reply.content.startswith("Something went wrong on our side. Reference: ")
    assert choices == []  # answered with no choices, not left to time out
    logged = discord.take_errors()
    assert len(logged) == 2
    assert all("database unreachable" in entry for entry in logged)
