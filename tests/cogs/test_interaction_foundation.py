"""The interaction foundation through the emulator: persistent buttons, data-built modals,
the answer deadline, staff groups, /help and translated validation errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import tests.cogs
from models import members, plugins
from models.hubs import Hub
from models.members import Member
from models.plugins import Package
from models.users import User
from tests.cogs import demo_cog  # noqa: F401 - makes tests.cogs.demo_submissions
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord, ScenarioError

MANAGE_EVENTS = 1 << 33


@pytest.fixture(autouse=True)
def demo_package() -> Iterator[None]:
    """The demo package (tests/cogs/demo_cog.py) is installed for these tests only."""
    plugins.register(Package(key="demo", label="Demo", cog="tests.cogs.demo_cog"))
    tests.cogs.demo_submissions.clear()
    yield
    plugins.unregister("demo")


def world(discord: FakeDiscord, *, locale: str = "en-US"):
    owner = discord.user("olga")
    driver = discord.user("dave", locale=locale)
    guild = discord.guild("Road Kings", owner=owner)
    guild.add_member(driver)
    return guild, owner, driver


async def test_a_persistent_button_works_after_the_bot_restarts(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, owner, _ = world(discord)
    async with start_app():
        posted = await owner.run("demo board", guild=guild)
        assert not posted.ephemeral
        first = await owner.click(posted, "Bump (0)")
    assert first.original.content == "Bumped to 1"
    async with start_app():  # a new process: nothing of the old view is in memory
        second = await owner.click(first.original, "Bump (1)")
    assert second.original.content == "Bumped to 2"
    assert second.original is posted.original  # the same message, edited in place


async def test_a_persistent_select_hands_over_the_chosen_value(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, owner, driver = world(discord)
    async with start_app():
        posted = await owner.run("demo board", guild=guild)
        picked = await driver.click(posted, "dh:demo:colour", values=["blue"])
    assert picked.ephemeral
    assert picked.content == "Picked blue"


async def test_a_clicker_without_permission_is_refused_in_their_language(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, owner, driver = world(discord, locale="de")
    async with start_app():
        posted = await owner.run("demo board", guild=guild)
        refused = await driver.click(posted, "Bump (0)")
    assert refused.ephemeral
    assert (
        refused.text == "Du brauchst in diesem Hub die Berechtigung „Hub-Einstellungen verwalten“."
    )
    assert posted.original.content == "Count: 0"  # nothing happened


async def test_a_button_of_a_plugin_turned_off_since_is_refused(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, owner, _ = world(discord)
    async with start_app():
        posted = await owner.run("demo board", guild=guild)
        await Hub.filter(guild_id=guild.id).update(plugins=[])
        refused = await owner.click(posted, "Bump (0)")
    assert refused.text == "The Demo plugin is turned off in this hub."


async def test_a_modal_built_from_data_is_validated_by_the_schema(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, _, driver = world(discord)
    async with start_app():
        opened = await driver.run("demo form", guild=guild)
        assert opened.modal is not None
        assert len(opened.modal["components"]) == 5
        assert {c["type"] for c in opened.modal["components"]} == {18}  # all in labels
        saved = await driver.submit_modal(
            opened, name="Dave", distance="1200", game="ets2", cargo=["wood", "food"], safe=True
        )
    assert saved.ephemeral
    assert saved.content == "Saved Dave: 1200 km"
    (form,) = tests.cogs.demo_submissions
    assert (form.game, form.cargo, form.safe) == ("ets2", ["wood", "food"], True)


async def test_a_german_user_gets_german_validation_errors_in_the_modal_reply(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, _, driver = world(discord, locale="de")
    async with start_app():
        opened = await driver.run("demo form", guild=guild)
        refused = await driver.submit_modal(
            opened, name="D", distance="far", game="ats", cargo=["steel"]
        )
    assert refused.ephemeral
    assert refused.content == (
        "Einige Felder sind ungültig: Name: Muss mindestens 2 Zeichen lang sein; "
        "Distance (km): Muss eine ganze Zahl sein."  # the labels the user saw, not the keys
    )
    for english in ("at least", "valid integer", "Some fields", "should"):
        assert english not in refused.content
    assert tests.cogs.demo_submissions == []


async def test_a_german_hub_setting_error_is_german(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    owner = discord.user("olga", locale="de")
    guild = discord.guild("Road Kings", owner=owner)
    async with start_app():
        reply = await owner.run("hub-admin settings", guild=guild, timezone="Mars/Olympus")
    assert reply.content.startswith("Einige Felder sind ungültig: timezone: unbekannte Zeitzone")
    assert "unknown" not in reply.content


async def test_a_slow_command_is_deferred_within_discords_three_seconds(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, _, driver = world(discord)
    async with start_app():
        reply = await driver.run("demo slow", guild=guild)
    assert reply.deferred  # "thinking…" went out before the deadline
    assert reply.ephemeral
    assert reply.content == "Done at last"


async def test_the_deadline_counts_from_discord_not_from_the_context_load(
    discord: FakeDiscord, start_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    guild, _, driver = world(discord)
    original = members.unchanged_presence

    async def slow_database(*args, **kwargs):
        await asyncio.sleep(1.2)
        return await original(*args, **kwargs)

    async with start_app():
        monkeypatch.setattr(members, "unchanged_presence", slow_database)
        reply = await driver.run("demo slow", guild=guild)  # 1.2 s + 2.4 s of work
    assert reply.deferred
    assert reply.content == "Done at last"


async def test_an_error_after_a_public_deferral_is_shown_privately(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, _, driver = world(discord)
    async with start_app():
        reply = await driver.run("demo announce", guild=guild)
        await reply.wait_followups()
    assert reply.original.deleted  # the public "thinking…" is gone
    (error,) = reply.followups
    assert error.ephemeral
    assert error.text == "The request is not valid."
    assert [m for m in guild.default_channel.visible_messages if m.author.bot] == []


async def test_staff_groups_are_hidden_from_drivers_and_still_checked(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, owner, driver = world(discord)
    event_staff = guild.create_role("Event staff", permissions=MANAGE_EVENTS)
    async with start_app():
        with pytest.raises(ScenarioError, match="lacks the permissions"):
            await driver.run("demo-admin reset", guild=guild)
        discord.member(guild, driver).add_roles(event_staff)
        refused = await driver.run("demo-admin reset", guild=guild)  # seen, but no hub role
        allowed = await owner.run("demo-admin reset", guild=guild)
    registered = discord.commands.find("demo-admin", None)
    assert registered["default_member_permissions"] == str(MANAGE_EVENTS)
    assert "“Manage hub settings”" in refused.content
    assert allowed.content == "Settings saved."


def listed(reply) -> set[str]:
    text = reply.original.text
    return {line.strip("*") for line in text.splitlines() if line.startswith("**/")}


async def test_help_lists_only_the_commands_the_caller_can_use(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, owner, driver = world(discord)
    async with start_app():
        for_driver = await driver.run("help", guild=guild)
        for_owner = await owner.run("help", guild=guild)
        in_dms = await driver.run("help")
        await Hub.filter(guild_id=guild.id).update(plugins=[])
        demo_off = await owner.run("help", guild=guild)
    # The core packages' commands (members, points): on in every hub.
    drivers_core = {"/profile", "/points", "/rank", "/bonus", "/notifications"}
    applications = {"/apply"}  # a plugin on in new hubs; switched off below with the demo
    events = {"/event list", "/event info"}  # likewise
    # Publishers are holders of a type's roles: /announce is offered to all, checked on use.
    announcements = {"/announce", "/announcements"}
    downloads = {"/downloads"}  # every member's; what they may download is checked on use
    tracker = {"/tracker use", "/tracker jobs"}  # a driver's own
    assert for_driver.ephemeral
    demo = {"/demo announce", "/demo board", "/demo form", "/demo slow"}
    plugins_on = demo | applications | events | announcements | downloads | tracker
    assert listed(for_driver) == plugins_on | {"/help", "/hub info", "/login"} | drivers_core
    staff_members = {
        "/audit",
        "/member accept",
        "/member ban",
        "/member dismiss",
        "/member note",
        "/member unban",
        "/member role give",
        "/member role take",
        "/member points grant",
        "/member points correct",
    }
    staff_posts = {
        f"/posts {name}" for name in ("list", "set", "test", "disable", "enable", "preview")
    }
    assert listed(for_owner) == listed(for_driver) | staff_members | staff_posts | {
        "/applications pending",
        "/demo-admin reset",
        "/event-admin attendance",
        "/event-admin cancel",
        "/event-admin create",
        "/event-admin post",
        "/hub-admin settings",
    }
    assert listed(in_dms) == {"/help", "/login", "/notifications"}
    # The demo plugin off: its commands go; the core packages' stay.
    assert (
        listed(demo_off)
        == {"/help", "/hub info", "/login", "/hub-admin settings"}
        | drivers_core
        | staff_members
        | staff_posts
    )


async def test_autocomplete_writes_nothing_and_checks_the_permission(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, owner, _ = world(discord)
    newcomer = discord.user("nora")
    guild.add_member(newcomer)
    managers = guild.create_role("Managers", permissions=1 << 5)  # sees /hub-admin
    discord.member(guild, newcomer).add_roles(managers)
    async with start_app():
        await owner.run("hub info", guild=guild)  # the hub and the owner exist
        users_before = await User.all().count()
        members_before = await Member.all().count()
        offered = await owner.autocomplete("hub-admin settings", "timezone", "berl", guild=guild)
        # nora sees the command (Manage Server) but lacks manage_hub: nothing is offered
        refused = await newcomer.autocomplete("hub-admin settings", "timezone", "berl", guild=guild)
        assert await User.all().count() == users_before  # nora is not recorded by typing
        assert await Member.all().count() == members_before
    assert "Europe/Berlin" in [choice["value"] for choice in offered]
    assert refused == []


async def test_a_modal_opened_before_a_restart_is_answered_as_expired(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, _, driver = world(discord, locale="de")
    async with start_app():
        opened = await driver.run("demo form", guild=guild)
    async with start_app():  # the modal's handler lived in the old process
        late = await driver.submit_modal(
            opened, name="Dave", distance="1200", game="ets2", cargo=["wood"]
        )
    assert late.ephemeral
    assert (
        late.content
        == "Dieser Button oder dieses Formular ist abgelaufen. Führe den Befehl erneut aus."
    )
    assert tests.cogs.demo_submissions == []


async def test_help_shows_names_as_the_client_types_them(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    owner = discord.user("olga", locale="de")
    guild = discord.guild("Road Kings", owner=owner)
    async with start_app():
        reply = await owner.run("help", guild=guild)
    text = reply.original.text
    assert "## Befehle, die du nutzen kannst" in text
    assert "**/hub-verwaltung einstellungen**" in text
    assert "**/hilfe**" in text
