"""/hub through the Discord emulator: the real bot, over real sockets."""

from __future__ import annotations

import pytest

from models import hubs
from models.hubs import Hub
from models.members import Member
from models.plugins import default_plugins
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from tests.fakediscord.options import ScenarioError


def _world(discord: FakeDiscord):
    owner = discord.user("olga")
    alice = discord.user("alice", locale="de")
    guild = discord.guild("Road Kings", owner=owner)
    guild.add_member(alice)
    return guild, owner, alice


async def test_hub_info_shows_the_guilds_hub(discord: FakeDiscord, start_app: AppFactory) -> None:
    guild, owner, _ = _world(discord)
    hub = await hubs.ensure_hub_for_guild(guild.id, "Road Kings", owner.id)
    await Hub.filter(id=hub.id).update(plugins=["shoutbox"])
    async with start_app():
        reply = await owner.run("hub info", guild=guild)
    embed = reply.embeds[0]
    assert embed["title"] == "Road Kings"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Language"] == "English"
    assert fields["Plugins"] == "Shoutbox"
    assert not reply.ephemeral


async def test_german_locale_gets_german_text(discord: FakeDiscord, start_app: AppFactory) -> None:
    guild, _, alice = _world(discord)
    async with start_app():
        reply = await alice.run("hub info", guild=guild)
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert fields["Mitglieder"] == "0"  # alice is a visitor: staff have not accepted her
    assert fields["Entfernungseinheit"] == "Kilometer"


async def test_settings_refused_without_permission_in_users_language(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, _, alice = _world(discord)
    async with start_app():
        # Discord hides the staff group from drivers...
        with pytest.raises(ScenarioError, match="lacks the permissions to see /hub-admin"):
            await alice.run("hub-admin settings", guild=guild, language="de")
        # ...and the hub refuses a client that shows it anyway, naming the permission.
        reply = await alice.run("hub-admin settings", guild=guild, language="de", stale_client=True)
    assert reply.ephemeral
    assert (
        reply.content == "Du brauchst in diesem Hub die Berechtigung „Hub-Einstellungen verwalten“."
    )
    assert "manage_hub" not in reply.content
    assert (await Hub.get(guild_id=guild.id)).language == "en"


async def test_owner_changes_settings_and_plugins(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, owner, _ = _world(discord)
    async with start_app():
        reply = await owner.run(
            "hub-admin settings",
            guild=guild,
            distance_unit="mi",
            timezone="Europe/Berlin",
            enable="shoutbox",
        )
        choices = await owner.autocomplete("hub-admin settings", "timezone", "berl", guild=guild)
        plugins = await owner.autocomplete("hub-admin settings", "enable", "shout", guild=guild)
    assert reply.ephemeral
    assert reply.content == "Settings saved."
    hub = await Hub.get(guild_id=guild.id)
    assert (hub.distance_unit, hub.timezone) == ("mi", "Europe/Berlin")
    # Turned on, beside the plugins a new hub starts with.
    assert sorted(hub.plugins) == sorted({*default_plugins(), "shoutbox"})
    assert "Europe/Berlin" in [c["value"] for c in choices]
    assert [(c["name"], c["value"]) for c in plugins] == [("Shoutbox", "shoutbox")]


async def test_bad_timezone_gets_a_clear_error(discord: FakeDiscord, start_app: AppFactory) -> None:
    guild, owner, _ = _world(discord)
    async with start_app():
        reply = await owner.run("hub-admin settings", guild=guild, timezone="Mars/Olympus")
    assert reply.ephemeral
    assert "unknown time zone 'Mars/Olympus'" in reply.content


async def test_discord_administrators_are_hub_administrators(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, _, alice = _world(discord)
    admins = guild.create_role("Admins", permissions=8)
    discord.member(guild, alice).set_roles([admins])
    async with start_app():
        reply = await alice.run("hub-admin settings", guild=guild, language="de")
    assert reply.content == "Einstellungen gespeichert."
    member = await Member.get(user__discord_id=alice.id)
    assert member.discord_admin
    assert admins.id in member.discord_role_ids
