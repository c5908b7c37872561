"""The emulator answers with what Discord documents: REST bodies and gateway objects."""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import pytest
import pytest_asyncio
from aiohttp import web

from . import FakeDiscord
from . import emulator as emulator_module
from ._testbot import HubBot
from .fixtures import fake_discord_session, running_bot
from .responses import ResponseChecker
from .server import API_PREFIX, Handler, create_app
from .spec import OpenAPISpec, Violation

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]


@dataclass
class Answer:
    method: str
    path: str
    status: int
    body: Any

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


@dataclass
class Recording:
    emulator: FakeDiscord
    answers: list[Answer]


def _recorder(answers: list[Answer]) -> Any:
    """The outermost middleware: it sees every final answer, errors and 429s included."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.path.startswith(API_PREFIX) and isinstance(response, web.Response):
            raw = response.body if isinstance(response.body, bytes) else b""
            body = json.loads(raw) if raw and response.content_type == "application/json" else None
            path = request.path[len(API_PREFIX) :]
            answers.append(Answer(request.method, path, response.status, body))
        return response

    return record


@pytest_asyncio.fixture(loop_scope="session")
async def recording(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Recording]:
    answers: list[Answer] = []

    def recording_app(emulator: FakeDiscord) -> web.Application:
        app = create_app(emulator)
        app.middlewares.insert(0, _recorder(answers))
        return app

    monkeypatch.setattr(emulator_module, "create_app", recording_app)
    async with fake_discord_session() as emulator:
        yield Recording(emulator, answers)


def _violations(emulator: FakeDiscord, answers: list[Answer]) -> list[str]:
    checker = ResponseChecker(emulator.spec)
    found = []
    for answer in answers:
        template = emulator.spec.template_for(answer.method, answer.path) or answer.path
        violation = checker.check_response(answer.method, template, answer.status, answer.body)
        if violation is not None:
            found.append(f"{answer}: {violation}")
    return found


def _templates(emulator: FakeDiscord, answers: list[Answer]) -> set[str]:
    return {f"{a.method} {emulator.spec.template_for(a.method, a.path) or a.path}" for a in answers}


async def _drive_interactions(emulator: FakeDiscord, bot: discord.Client) -> None:
    """Interaction callbacks (with_response), follow-ups, DMs, modals, autocomplete."""
    guild = next(iter(emulator.guilds.values()))
    alice = next(u for u in emulator.users.values() if u.name == "alice")
    owner = emulator.users[guild.owner_id]
    await alice.run("hub info", guild=guild)
    await alice.run("hub welcome", guild=guild)  # defer, DM channel, DM, follow-up
    await alice.autocomplete("hub settings", "timezone", "Eur", guild=guild)
    form = await alice.run("hub apply", guild=guild)
    await alice.submit_modal(form, favourite_truck="Scania")
    offer = await alice.run("hub offer", guild=guild, record=7)
    await owner.click(offer, "Accept")
    await owner.run("promote", guild=guild, member=alice, role=guild.role("Driver"))
    # The interaction webhook: fetch, edit and delete the original, a waited follow-up.
    webhook = discord.Webhook.partial(emulator.application_id, offer.token, client=bot)
    assert offer.original is not None
    await webhook.fetch_message(offer.original.id)
    await webhook.edit_message(offer.original.id, content="offer 7 (closed)")
    followup = await webhook.send("more", wait=True)
    await webhook.edit_message(followup.id, content="more, edited")
    await webhook.delete_message(followup.id)


async def _drive_guild(emulator: FakeDiscord, bot: discord.Client) -> None:
    """Guild, channels, roles, members and scheduled events through discord.py."""
    guild = next(iter(emulator.guilds.values()))
    alice = next(u for u in emulator.users.values() if u.name == "alice")
    await bot.fetch_user(alice.id)
    fetched = await bot.fetch_guild(guild.id)
    await fetched.fetch_channels()
    await fetched.fetch_roles()
    role = await fetched.create_role(name="Convoy")
    await role.edit(name="Convoy lead")
    member = await fetched.fetch_member(alice.id)
    await member.edit(nick="Al")
    await member.add_roles(role)
    await member.remove_roles(role)
    _ = [m async for m in fetched.fetch_members(limit=10)]
    await role.delete()
    carol = emulator.user("carol")
    guild.ban(carol, reason="spam")
    await fetched.fetch_ban(discord.Object(carol.id))
    with pytest.raises(discord.NotFound):
        await fetched.fetch_ban(discord.Object(alice.id))  # not banned
    start = discord.utils.utcnow() + datetime.timedelta(days=1)
    event = await fetched.create_scheduled_event(
        name="Convoy to Berlin",
        start_time=start,
        end_time=start + datetime.timedelta(hours=2),
        entity_type=discord.EntityType.external,
        location="Berlin",
        privacy_level=discord.PrivacyLevel.guild_only,
    )
    await fetched.fetch_scheduled_events()
    await fetched.fetch_scheduled_event(event.id)
    await event.edit(name="Convoy to Hamburg")
    await event.delete()


async def _drive_messages(emulator: FakeDiscord, bot: discord.Client) -> None:
    guild = next(iter(emulator.guilds.values()))
    alice = next(u for u in emulator.users.values() if u.name == "alice")
    channel = await bot.fetch_channel(guild.default_channel.id)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send("hello", embed=discord.Embed(title="Convoy"))
    await message.edit(content="hello again")
    await channel.fetch_message(message.id)
    _ = [m async for m in channel.history(limit=5)]
    await message.add_reaction("🚚")
    await message.pin()
    _ = [pinned async for pinned in channel.pins()]
    async with channel.typing():
        pass
    await message.delete()
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(message.id)  # an error body, too
    user = await bot.fetch_user(alice.id)
    dm = await user.create_dm()
    await dm.send("a DM")


async def test_rest_answers_match_discords_response_schemas(recording: Recording) -> None:
    emulator = recording.emulator
    alice = emulator.user("alice")
    guild = emulator.guild("Test VTC")
    guild.add_member(alice)
    guild.create_role("Driver")
    async with running_bot(HubBot(), emulator) as bot:
        await _drive_interactions(emulator, bot)
        await _drive_guild(emulator, bot)
        await _drive_messages(emulator, bot)
    violations = _violations(emulator, recording.answers)
    assert not violations, "\n".join(violations)
    driven = _templates(emulator, recording.answers)
    assert {
        "GET /users/@me",
        "GET /users/{user_id}",
        "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        "DELETE /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        "GET /guilds/{guild_id}/scheduled-events",
        "DELETE /channels/{channel_id}/messages/{message_id}",
        "PUT /applications/{application_id}/commands",
        "POST /interactions/{interaction_id}/{interaction_token}/callback",
        "POST /webhooks/{webhook_id}/{webhook_token}",
        "GET /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        "POST /users/@me/channels",
        "GET /guilds/{guild_id}",
        "GET /guilds/{guild_id}/channels",
        "POST /guilds/{guild_id}/roles",
        "PATCH /guilds/{guild_id}/members/{user_id}",
        "GET /guilds/{guild_id}/members",
        "GET /guilds/{guild_id}/bans/{user_id}",
        "POST /guilds/{guild_id}/scheduled-events",
        "PATCH /guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}",
        "POST /channels/{channel_id}/messages",
        "PATCH /channels/{channel_id}/messages/{message_id}",
        "GET /channels/{channel_id}/messages/{message_id}",
    } <= driven


async def test_gateway_objects_match_discords_schemas(recording: Recording) -> None:
    emulator = recording.emulator
    alice, bob = emulator.user("alice"), emulator.user("bob")
    guild = emulator.guild("Test VTC")
    guild.add_member(alice)
    guild.create_role("Driver")
    async with running_bot(HubBot(), emulator):
        guild.add_member(bob, nick="Bobby")
        guild.create_channel("convoys")
        guild.update(name="Test VTC 2")
        await alice.run("hub info", guild=guild)
        offer = await alice.run("hub offer", guild=guild, record=3)
        await bob.click(offer, "Accept")
        owner = emulator.users[guild.owner_id]
        await owner.run("promote", guild=guild, member=bob, role=guild.role("Driver"))
        await alice.say(guild.default_channel, "hi")
        guild.ban(bob, reason="spam")
        guild.unban(bob)
        await emulator.gateway.flush()
    checker = ResponseChecker(emulator.spec)
    frames = [frame for s in emulator.gateway.sessions.values() for frame in s.sent]
    events = {frame["t"] for frame in frames}
    assert {"GUILD_CREATE", "MESSAGE_CREATE", "INTERACTION_CREATE", "GUILD_MEMBER_ADD"} <= events
    assert {"GUILD_BAN_ADD", "GUILD_BAN_REMOVE"} <= events
    problems = [
        str(violation)
        for frame in frames
        for violation in checker.check_dispatch(frame["t"], frame["d"])
    ]
    assert not problems, "\n".join(problems)


async def test_the_checker_reports_what_is_missing() -> None:
    checker = ResponseChecker(OpenAPISpec.load())
    user = {"id": "1", "username": "a", "discriminator": "0", "avatar": None}
    violation = checker.check_response("GET", "/users/{user_id}", 200, user)
    assert isinstance(violation, Violation)
    assert "required" in violation.message
    error = {"code": 10013, "message": "Unknown User"}
    assert checker.check_response("GET", "/users/{user_id}", 404, error) is None
    deleted = ("DELETE", "/channels/{channel_id}/messages/{message_id}", 204)
    assert checker.check_response(*deleted, None) is None
    missing = checker.check_response("GET", "/nowhere", 200, {})
    assert missing is not None
    assert "not in the spec" in missing.message
    dispatch = checker.check_dispatch("GUILD_ROLE_CREATE", {"guild_id": "1", "role": {"id": "2"}})
    assert [v.path for v in dispatch] == ["GUILD_ROLE_CREATE.d.role"]
