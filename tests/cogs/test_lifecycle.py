"""The bot's life with Discord: guilds become hubs, commands sync once, faults are survived."""

from __future__ import annotations

import pytest

from models.hubs import Hub
from models.members import Member, Role
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord, ScenarioError


async def test_commands_register_once_and_not_again_on_restart(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    olga = discord.user("olga")
    guild = discord.guild("Road Kings", owner=olga)
    async with start_app():
        pass
    async with start_app():
        reply = await olga.run("hub info", guild=guild)
    assert reply.embeds
    assert discord.commands.overwrite_calls == 1
    hub = discord.commands.find("hub", None)
    assert hub is not None
    assert hub["name_localizations"]["de"] == "hub"
    assert hub["contexts"] == [0]  # Discord hides /hub in DMs
    assert hub["default_member_permissions"] is None  # every driver sees it
    staff = discord.commands.find("hub-admin", None)
    assert staff is not None
    assert staff["name_localizations"]["de"] == "hub-verwaltung"
    assert staff["default_member_permissions"] == str(1 << 5)  # Manage Server
    settings = next(o for o in staff["options"] if o["name"] == "settings")
    assert settings["name_localizations"]["de"] == "einstellungen"


async def test_joining_leaving_and_rejoining_a_guild(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    first = discord.guild("Road Kings", owner=discord.user("olga"))
    async with start_app() as rt:
        await discord.wait_for(lambda: rt.bot.get_guild(first.id) is not None, 5, "guild")
        second = discord.guild("Night Owls", owner=discord.user("nina"))
        discord.add_bot_to(second)

        async def hub_exists() -> bool:
            return await Hub.filter(guild_id=second.id, active=True).exists()

        await discord.wait_for(hub_exists, 5, "the new guild's hub")
        discord.remove_bot_from(second)

        async def hub_inactive() -> bool:
            return await Hub.filter(guild_id=second.id, active=False).exists()

        await discord.wait_for(hub_inactive, 5, "the hub to go inactive")
        discord.add_bot_to(second)
        await discord.wait_for(hub_exists, 5, "the hub to come back")
    assert await Hub.filter(slug="night-owls").count() == 1


async def test_hub_of_a_guild_removed_while_offline_is_deactivated(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild = discord.guild("Road Kings", owner=discord.user("olga"))
    async with start_app():
        pass
    discord.remove_bot_from(guild)
    async with start_app():

        async def deactivated() -> bool:
            return not (await Hub.get(guild_id=guild.id)).active

        # on_ready reconciles in the background once the bot is ready.
        await discord.wait_for(deactivated, 5, "the hub to be deactivated")


async def test_command_from_a_dm_gets_a_localized_error(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    alice = discord.user("alice", locale="de")
    discord.guild("Road Kings", owner=discord.user("olga")).add_member(alice)
    async with start_app():
        with pytest.raises(ScenarioError):
            await alice.run("hub info")  # a current client does not offer it in DMs
        reply = await alice.run("hub info", stale_client=True)
    assert reply.ephemeral
    assert reply.content == "Dieser Befehl funktioniert nur auf einem Server."


async def test_linked_discord_role_grants_hub_permissions(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    alice = discord.user("alice")
    guild = discord.guild("Road Kings", owner=discord.user("olga"))
    guild.add_member(alice)
    staff = guild.create_role("Staff")
    # Discord shows /hub-admin to members with Manage Server; the hub role decides.
    managers = guild.create_role("Managers", permissions=1 << 5)
    discord.member(guild, alice).add_roles(managers)
    async with start_app() as rt:
        await discord.wait_for(lambda: rt.bot.get_guild(guild.id) is not None, 5, "guild")
        hub = await Hub.get(guild_id=guild.id)
        await Role.create(
            hub=hub, name="Staff", position=5, permissions=["manage_hub"], discord_role_id=staff.id
        )
        refused = await alice.run("hub-admin settings", guild=guild, distance_unit="mi")
        discord.member(guild, alice).add_roles(staff)  # GUILD_MEMBER_UPDATE reaches the bot

        async def synced() -> bool:
            member = await Member.get_or_none(hub_id=hub.id, user__discord_id=alice.id)
            return member is not None and staff.id in member.discord_role_ids

        await discord.wait_for(synced, 5, "the role change to reach the database")
        allowed = await alice.run("hub-admin settings", guild=guild, distance_unit="mi")
        guild.remove_member(alice)

        async def left() -> bool:
            member = await Member.get(hub_id=hub.id, user__discord_id=alice.id)
            return not member.in_guild and member.discord_role_ids == []

        await discord.wait_for(left, 5, "the member to be marked as gone from the server")
    assert "“Manage hub settings”" in refused.content
    assert allowed.content == "Settings saved."


async def test_survives_a_dropped_gateway_and_a_429_storm(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    olga = discord.user("olga")
    guild = discord.guild("Road Kings", owner=olga)
    # Start-up (login, gateway, command sync) through a storm of global 429s.
    discord.rate_limit("*", times=4, retry_after=0.1, global_=True)
    async with start_app():
        discord.drop_gateway()
        await discord.wait_for(lambda: discord.gateway.resumes, 10, "the bot to resume")
        # Interaction callbacks have their own per-route limits (not the global one).
        discord.rate_limit(
            "POST /interactions/{interaction_id}/{interaction_token}/callback",
            times=3,
            retry_after=0.1,
        )
        reply = await olga.run("hub info", guild=guild)
    assert reply.embeds[0]["title"] == "Road Kings"
    assert len(discord.requests_to("PUT /applications/*")) >= 1
    assert discord.commands.overwrite_calls == 1


async def test_reidentifies_after_an_invalid_session_and_still_answers(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    olga = discord.user("olga")
    guild = discord.guild("Road Kings", owner=olga)
    async with start_app() as rt:
        await discord.invalidate_session()
        await discord.wait_for(lambda: len(discord.gateway.identifies) >= 2, 10, "re-IDENTIFY")
        await discord.wait_for(rt.bot.is_ready, 10, "the bot to be ready again")
        reply = await olga.run("hub info", guild=guild)
    assert reply.embeds[0]["title"] == "Road Kings"
    assert (await Hub.get(guild_id=guild.id)).active
