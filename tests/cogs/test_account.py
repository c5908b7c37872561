"""/login through the Discord emulator: a DM with a one-time link that logs into the website."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import aiohttp
import time_machine

from models.outbox import OutboxItem, OutboxStatus
from models.users import User
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from tests.fakediscord import User as DiscordUser

LINK = re.compile(r"http://127\.0\.0\.1/login/link\?ticket=([\w-]+)")


async def login_link(discord: FakeDiscord, user: DiscordUser, **where) -> str:
    """Run /login and return the ticket from the DM it causes."""
    reply = await user.run("login", **where)
    assert reply.ephemeral
    dm = await discord.expect_dm(user, contains="/login/link?ticket=")
    match = LINK.search(dm.text)
    assert match is not None, dm.text
    return match.group(1)


async def exchange(web_url: str, ticket: str) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{web_url}/api/v1/auth/login-ticket", json={"ticket": ticket}) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_login_in_a_guild_dms_a_link_that_logs_in_once(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    alice = discord.user("alice")
    guild = discord.guild("Road Kings")
    guild.add_member(alice)
    async with start_app() as rt:
        reply = await alice.run("login", guild=guild)
        assert reply.content == "Check your DMs: I sent you a login link."
        ticket = await login_link(discord, alice, guild=guild)
        status, tokens = await exchange(rt.web_url, ticket)
        assert status == 200, tokens
        assert tokens["access_token"]
        assert tokens["refresh_token"]
        again, problem = await exchange(rt.web_url, ticket)
    assert (again, problem["code"]) == (401, "invalid_ticket")
    assert (await User.get(discord_id=alice.id)).username == "alice"
    assert "expires in 5 minutes" in discord.dms(alice)[-1].text


async def test_login_works_in_dms(discord: FakeDiscord, start_app: AppFactory) -> None:
    alice = discord.user("alice")
    async with start_app() as rt:
        ticket = await login_link(discord, alice)
        status, _ = await exchange(rt.web_url, ticket)
    assert status == 200
    (item,) = await OutboxItem.all()
    assert "ticket=" not in json.dumps(item.params)  # minted as the DM was sent, never stored


async def test_expired_login_link_is_refused(discord: FakeDiscord, start_app: AppFactory) -> None:
    alice = discord.user("alice")
    async with start_app() as rt:
        ticket = await login_link(discord, alice)
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6)):
            status, problem = await exchange(rt.web_url, ticket)
    assert (status, problem["code"]) == (401, "invalid_ticket")


async def test_login_link_with_mfa_still_needs_a_code(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    alice = discord.user("alice")
    await User.create(username="alice", discord_id=alice.id, mfa_enabled=True, mfa_secret="A" * 32)
    async with start_app() as rt:
        status, body = await exchange(rt.web_url, await login_link(discord, alice))
    assert status == 200
    assert body["mfa_required"] is True
    assert "access_token" not in body


async def test_login_dm_is_in_the_users_language(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    anna = discord.user("anna", locale="de")
    async with start_app():
        reply = await anna.run("login")
        dm = await discord.expect_dm(anna, contains="/login/link?ticket=")
    assert "DMs" in reply.content
    assert reply.content != "Check your DMs: I sent you a login link."
    assert "Minuten" in dm.text


async def test_closed_dms_mark_the_link_failed(discord: FakeDiscord, start_app: AppFactory) -> None:
    bob = discord.user("bob", accepts_dms=False)
    async with start_app():
        reply = await bob.run("login")
        assert reply.ephemeral

        async def failed() -> OutboxItem | None:
            return await OutboxItem.get_or_none(status=OutboxStatus.FAILED)

        item = await discord.wait_for(failed, 5, "the DM to be marked failed")
    assert "50007" in item.last_error
    assert discord.dms(bob) == []
