"""An external plugin (tests/external_plugin, installed by `make install`) through every layer.

The shoutbox is a separate distribution: the registry finds it through the
`drivershub.plugins` entry point, the session database has its own Tortoise app migrated,
its routes sit behind the plugin gate and its cog answers in Discord, in the user's language.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import AsyncIterator
from importlib import import_module
from importlib.metadata import EntryPoint, EntryPoints
from pathlib import Path

import drivershub_shoutbox
import pytest
from aiohttp.test_utils import TestClient, TestServer
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from drivershub_shoutbox import PACKAGE, ops
from drivershub_shoutbox.tables import Shout
from openapi_spec_validator import validate

import models.plugins
from bot.messages import KEYWORDS
from core.config import Settings
from models import audit, auth, hubs, tortoise_config
from models.actor import SYSTEM, Actor
from models.errors import Forbidden, Invalid, PluginDisabled
from models.hubs import Hub, HubUpdate
from models.i18n import translate
from models.members import MemberRole, Role, sync_discord_state
from models.users import User
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from tests.web.conftest import problem_of
from web.app import create_app

PACKAGE_DIR = Path(drivershub_shoutbox.__file__).parent
COMMAND_NAMES = ("shout", "post", "text")


# Discovery


async def test_the_installed_entry_point_is_discovered_with_its_own_app() -> None:
    assert models.plugins.get("shoutbox") is PACKAGE
    assert "shoutbox" in models.plugins.plugin_keys()
    apps = tortoise_config("sqlite://:memory:")["apps"]
    assert apps["shoutbox"]["models"] == ["drivershub_shoutbox.tables"]
    assert apps["shoutbox"]["migrations"] == "drivershub_shoutbox.migrations"
    assert "post_shouts" in models.plugins.package_permissions()
    # The session database was migrated with every app: the plugin's table is there.
    assert await Shout.all() == []


async def test_external_plugins_start_off_in_new_hubs() -> None:
    hub = await hubs.ensure_hub_for_guild(1, "Road Kings", None)
    assert "shoutbox" not in hub.plugins
    assert "shoutbox" not in models.plugins.default_plugins()


def test_the_plugins_migration_builds_on_the_projects_and_imports_only_tortoise() -> None:
    path = PACKAGE_DIR / "migrations" / "0001_initial.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {name.split(".", 1)[0] for name in imported} == {"tortoise"}
    migration = import_module("drivershub_shoutbox.migrations.0001_initial").Migration
    assert ("drivershub", "0002_accounts") in migration.dependencies


# A package whose model module is missing: Tortoise would refuse to start with it.
BROKEN_MODELS = models.plugins.Package(
    key="broken_plugin", label="Broken", models=("drivershub_no_such_plugin.tables",)
)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("drivershub_no_such_plugin:PACKAGE", "ModuleNotFoundError"),
        ("tests.test_external_plugin:BROKEN_MODELS", "ModuleNotFoundError"),
        ("tests.test_external_plugin:URL", "PackageError"),
    ],
)
def test_a_broken_entry_point_is_skipped_with_one_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str, error: str
) -> None:
    real = models.plugins.entry_points

    def with_a_broken_one(**selection: str) -> EntryPoints:
        broken = EntryPoint(
            name="broken_plugin", value=value, group=models.plugins.ENTRY_POINT_GROUP
        )
        return EntryPoints([*real(**selection), broken])

    monkeypatch.setattr(models.plugins, "entry_points", with_a_broken_one)
    with caplog.at_level(logging.INFO, logger="models.plugins"):
        registry = models.plugins._load()
    assert registry["shoutbox"] == PACKAGE
    assert "broken_plugin" not in registry
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert "broken_plugin" in message
    assert error in message


def test_the_package_ships_a_complete_catalog_for_every_language() -> None:
    marked = {
        str(message)
        for _, _, message, _, _ in extract_from_dir(
            PACKAGE_DIR, method_map=[("**.py", "python")], keywords=KEYWORDS
        )
    }
    assert {"Shoutbox", "Post to the shoutbox", *COMMAND_NAMES} <= marked
    for language in ("en", "de"):
        with (PACKAGE_DIR / "locales" / language / "LC_MESSAGES" / "drivershub.po").open(
            "rb"
        ) as fh:
            translated = {str(m.id): str(m.string) for m in read_po(fh) if m.id and m.string}
        assert not marked - set(translated), language
        # Command and option names stay valid Discord names in every language.
        assert all(translated[n].islower() and " " not in translated[n] for n in COMMAND_NAMES)
    assert translate("Shoutbox", "de") == "Pinnwand"


# The domain


async def _hub(*, shoutbox: bool) -> Hub:
    hub = await hubs.ensure_hub_for_guild(1, "Road Kings", owner_discord_id=7)
    if shoutbox:
        hub = await hubs.update_hub(SYSTEM, hub, HubUpdate(plugins={"shoutbox": True}))
    return hub


async def _grant(hub: Hub, user: User, permissions: list[str]) -> None:
    member = await sync_discord_state(hub.id, user, [], is_admin=False)
    role = await Role.create(hub=hub, name=f"{user.username} role", permissions=permissions)
    await MemberRole.create(member=member, role=role)


async def _member(hub: Hub, name: str, permissions: list[str]) -> User:
    user = await User.create(username=name)
    await _grant(hub, user, permissions)
    return user


async def test_posting_writes_the_shout_and_an_audit_entry() -> None:
    hub = await _hub(shoutbox=True)
    user = await _member(hub, "alice", ["post_shouts"])
    actor = Actor(user.id)
    shout = await ops.post_shout(actor, hub, "  Convoy at 8!  ")
    assert (shout.text, shout.author_id, shout.hub_id) == ("Convoy at 8!", user.id, hub.id)
    entry = await audit.AuditLog.get(action="shoutbox.post")
    assert (entry.hub_id, entry.actor_id, entry.target) == (hub.id, user.id, str(shout.id))
    assert [s.id for s in (await ops.recent_shouts(actor, hub)).items] == [shout.id]


@pytest.mark.parametrize("text", ["", "   ", "x" * 201])
async def test_a_shout_is_1_to_200_characters(text: str) -> None:
    hub = await _hub(shoutbox=True)
    with pytest.raises(Invalid) as raised:
        await ops.post_shout(SYSTEM, hub, text)
    assert raised.value.code == "invalid_shout"
    assert await Shout.all().count() == 0
    assert not await audit.AuditLog.filter(action="shoutbox.post").exists()


async def test_the_domain_gates_every_operation() -> None:
    hub = await _hub(shoutbox=False)
    with pytest.raises(PluginDisabled):
        await ops.recent_shouts(SYSTEM, hub)
    hub = await _hub(shoutbox=True)
    reader = await _member(hub, "bob", [])
    with pytest.raises(Forbidden):
        await ops.post_shout(Actor(reader.id), hub, "Hello")


# The API


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(settings))) as started:
        yield started


async def _caller(hub: Hub, name: str, permissions: list[str]) -> tuple[User, dict[str, str]]:
    """A member holding `permissions` through a role, and their bearer header.

    They log in before the role is granted: the API decides permissions live, from the
    database, so the token's own copy of them does not matter here.
    """
    user = await User.create(username=name)
    pair = await auth.start_session(user, "password")
    await _grant(hub, user, permissions)
    return user, {"Authorization": f"Bearer {pair.access_token}"}


URL = "/api/v1/hubs/road-kings/shouts"


async def test_a_member_with_post_shouts_posts_and_lists(client: TestClient) -> None:
    hub = await _hub(shoutbox=True)
    alice, headers = await _caller(hub, "alice", ["post_shouts"])
    first = await client.post(URL, json={"text": "Convoy at 8"}, headers=headers)
    assert first.status == 201, await first.text()
    body = await first.json()
    assert (body["text"], body["author_id"]) == ("Convoy at 8", alice.id)
    await client.post(URL, json={"text": "Bring coffee"}, headers=headers)
    listed = await client.get(URL, headers=headers)
    assert listed.status == 200
    page = await listed.json()
    assert [s["text"] for s in page["items"]] == ["Bring coffee", "Convoy at 8"]
    assert page["next_cursor"] is None
    too_long = await client.post(URL, json={"text": "x" * 201}, headers=headers)
    await problem_of(too_long, 422, "invalid_shout")


async def test_without_post_shouts_reading_works_and_posting_is_403(client: TestClient) -> None:
    hub = await _hub(shoutbox=True)
    _, headers = await _caller(hub, "bob", [])
    assert (await client.get(URL, headers=headers)).status == 200
    refused = await client.post(URL, json={"text": "Hi"}, headers=headers)
    body = await problem_of(refused, 403, "missing_permission")
    assert body["permission"] == "post_shouts"
    assert "“Post to the shoutbox”" in body["detail"]  # the label, never the raw key
    # The permission is checked before the body is read: no 422 for a bad one.
    await problem_of(await client.post(URL, data=b"{", headers=headers), 403, None)
    assert await Shout.all().count() == 0


async def test_anonymous_callers_must_log_in(client: TestClient) -> None:
    await _hub(shoutbox=True)
    await problem_of(await client.get(URL), 401, "unauthorized")
    await problem_of(await client.post(URL, json={"text": "Hi"}), 401, "unauthorized")


async def test_with_the_plugin_off_every_route_is_404_for_everyone(client: TestClient) -> None:
    hub = await _hub(shoutbox=False)
    _, headers = await _caller(hub, "alice", ["post_shouts"])
    for response in (
        await client.get(URL, headers=headers),
        await client.post(URL, json={"text": "Hi"}, headers=headers),
        await client.get(URL),  # anonymous
        await client.post(URL, json={"text": "Hi"}),
        # Before the body is parsed: a malformed one still gets the 404.
        await client.post(URL, data=b"{not json", headers=headers),
        await client.post(URL, json={"wrong": 1}, headers=headers),
    ):
        await problem_of(response, 404, "plugin_disabled")
    assert await Shout.all().count() == 0


async def test_the_plugins_routes_are_in_a_valid_openapi_document(client: TestClient) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    validate(document)
    operations = document["paths"]["/api/v1/hubs/{hub}/shouts"]
    assert set(operations) == {"get", "post"}
    assert operations["post"]["tags"] == ["shoutbox"]
    assert "201" in operations["post"]["responses"]


# Discord


def _world(discord: FakeDiscord):
    owner = discord.user("olga")
    alice = discord.user("alice", locale="de")
    guild = discord.guild("Road Kings", owner=owner)
    guild.add_member(alice)
    return guild, owner, alice


async def _guild_hub(guild, owner, *, shoutbox: bool) -> Hub:
    hub = await hubs.ensure_hub_for_guild(guild.id, guild.name, owner.id)
    if shoutbox:
        hub = await hubs.update_hub(SYSTEM, hub, HubUpdate(plugins={"shoutbox": True}))
    return hub


async def test_shout_post_answers_a_confirmation_when_the_plugin_is_on(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, owner, alice = _world(discord)
    discord.member(guild, alice).set_roles([guild.create_role("Admins", permissions=8)])
    await _guild_hub(guild, owner, shoutbox=True)
    async with start_app():
        reply = await owner.run("shout post", guild=guild, text="Convoy at 8")
        german = await alice.run("shout post", guild=guild, text="Kaffee mitbringen")
    assert reply.ephemeral
    assert reply.content == "Your shout is posted."
    assert german.ephemeral
    assert german.content == "Dein Beitrag steht auf der Pinnwand."
    shouts = await Shout.all().order_by("id").prefetch_related("author")
    assert [(s.text, s.author.discord_id) for s in shouts] == [
        ("Convoy at 8", owner.id),
        ("Kaffee mitbringen", alice.id),
    ]
    command = discord.commands.find("shout", guild_id=None)
    assert command is not None
    assert command["name_localizations"]["de"] == "pinnwand"


async def test_shout_post_is_refused_in_the_users_language_when_the_plugin_is_off(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    guild, owner, alice = _world(discord)
    await _guild_hub(guild, owner, shoutbox=False)
    async with start_app():
        german = await alice.run("shout post", guild=guild, text="Hallo")
        english = await owner.run("shout post", guild=guild, text="Hello")
    assert german.ephemeral
    assert german.content == "Das Plugin Pinnwand ist in diesem Hub ausgeschaltet."
    assert english.ephemeral
    assert english.content == "The Shoutbox plugin is turned off in this hub."
    assert await Shout.all().count() == 0


async def test_only_members_read_a_hubs_shouts(client: TestClient) -> None:
    hub = await _hub(shoutbox=True)
    await ops.post_shout(SYSTEM, hub, "Members only")
    stranger = await User.create(username="eve")
    pair = await auth.start_session(stranger, "password")
    refused = await client.get(URL, headers={"Authorization": f"Bearer {pair.access_token}"})
    await problem_of(refused, 403, "not_a_member")
