"""/login through the Discord emulator: an ephemeral button with a one-time website link."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import aiohttp
import time_machine

from models.outbox import OutboxItem
from models.users import User
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from tests.fakediscord import User as DiscordUser
from tests.fakediscord.scenario import Interaction

LINK = re.compile(r"^http://127\.0\.0\.1/login/link\?ticket=([\w-]+)$")
EXPIRY = re.compile(r"<t:(\d+):R>")


def link_button(reply: Interaction) -> dict:
    (row,) = reply.components
    (button,) = row["components"]
    assert button["style"] == 5  # a link button: no interaction, opens the URL
    return button


async def login_link(user: DiscordUser, **where) -> str:
    """Run /login and return the ticket from the link button of its ephemeral answer."""
    reply = await user.run("login", **where)
    assert reply.ephemeral
    match = LINK.match(link_button(reply)["url"])
    assert match is not None, reply.components
    return match.group(1)


async def exchange(web_url: str, ticket: str) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{web_url}/api/v1/auth/login-ticket", json={"ticket": ticket}) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_login_in_a_guild_answers_a_link_that_logs_in_once(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    alice = discord.user("alice")
    guild = discord.guild("Road Kings")
    guild.add_member(alice)
    async with start_app() as rt:
        reply = await alice.run("login", guild=guild)
        assert reply.ephemeral
        assert link_button(reply)["label"] == "Open the website"
        expires = int(EXPIRY.search(reply.content).group(1))  # a Discord timestamp
        assert abs(expires - (datetime.now(UTC) + timedelta(minutes=5)).timestamp()) < 5
        ticket = await login_link(alice, guild=guild)
        status, tokens = await exchange(rt.web_url, ticket)
        assert status == 200, tokens
        assert tokens["access_token"]
        assert tokens["refresh_token"]
        again, problem = await exchange(rt.web_url, ticket)
    assert (again, problem["code"]) == (401, "invalid_ticket")
    assert (await User.get(discord_id=alice.id)).username == "alice"


async def test_login_works_in_dms_and_with_closed_dms_and_queues_nothing(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    bob = discord.user("bob", accepts_dms=False)
    async with start_app() as rt:
        status, _ = await exchange(rt.web_url, await login_link(bob))
    assert status == 200
    assert await OutboxItem.all().count() == 0  # the link is in the answer only
    assert discord.dms(bob) == []


async def test_expired_login_link_is_refused(discord: FakeDiscord, start_app: AppFactory) -> None:
    alice = discord.user("alice")
    async with start_app() as rt:
        ticket = await login_link(alice)
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6)):
            status, problem = await exchange(rt.web_url, ticket)
    assert (status, problem["code"]) == (401, "invalid_ticket")


async def test_login_link_with_mfa_still_needs_a_code(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    alice = discord.user("alice")
    await User.create(username="alice", discord_id=alice.id, mfa_enabled=True, mfa_secret="A" * 32)
    async with start_app() as rt:
        status, body = await exchange(rt.web_url, await login_link(alice))
    assert status == 200
    assert body["mfa_required"] is True
    assert "access_token" not in body


async def test_login_answer_is_in_the_users_language(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    anna = discord.user("anna", locale="de")
    async with start_app():
        reply = await anna.run("login")
    assert link_button(reply)["label"] == "Website öffnen"
    assert "läuft" in reply.content
