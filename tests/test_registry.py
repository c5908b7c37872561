"""The registry test: every declared package has every piece, and a missing piece is caught.

It walks `models.plugins.packages()` (built-in and installed ones), so a new plugin is held to
it without editing this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from pydantic import BaseModel

from core.config import Settings
from core.db import pending_model_changes
from models import plugins
from models.hubs import HubUpdate
from models.i18n import LANGUAGES, catalog
from models.plugins import Package, PackageError, Template
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from web.api import PREFIX
from web.app import create_app


def _untranslated(package: Package) -> list[str]:
    texts = [package.label, *package.permissions.values()]
    texts += [
        t for template in package.templates.values() for t in (template.body, template.subject)
    ]
    texts += [
        t for kind in package.notifications.values() for t in (kind.title, kind.body, kind.label)
    ]
    for trigger in package.triggers.values():
        texts += [trigger.label, trigger.content, trigger.title, trigger.description]
        texts += list(trigger.variables.values())
    return [
        f"{language}: {text!r}"
        for language in LANGUAGES
        for text in texts
        if text and text not in catalog(language)
    ]


def _unmounted(package: Package, app: web.Application) -> list[str]:
    if package.router is None:
        return ["no router"] if not package.core else []
    mounted = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }
    router = plugins.load_object(package.router)
    missing = [
        f"{e.method} {e.path}"
        for e in router.endpoints
        if (e.method, PREFIX + e.path) not in mounted
    ]
    wrong_plugin = [f"{e.method} {e.path}" for e in router.endpoints if e.plugin != package.key]
    if not package.core and wrong_plugin:
        missing.append(f"not behind the plugin switch: {wrong_plugin}")
    return missing


def _missing_pieces(package: Package, app: web.Application) -> list[str]:
    """What a package lacks; empty when it is whole (its cog is checked with the bot)."""
    problems = _untranslated(package) + _unmounted(package, app)
    if not package.core and package.cog is None:
        problems.append("no cog")
    return problems


def test_the_registry_has_the_core_packages_and_the_installed_plugin() -> None:
    keys = [p.key for p in plugins.packages()]
    assert "members" in keys
    assert "shoutbox" in keys  # tests/external_plugin, installed by `make install`
    assert plugins.plugin_keys() == [p.key for p in plugins.packages() if not p.core]


def test_every_package_is_whole(settings: Settings) -> None:
    app = create_app(settings)
    problems = {p.key: _missing_pieces(p, app) for p in plugins.packages()}
    assert {key: found for key, found in problems.items() if found} == {}


async def test_every_packages_models_are_migrated() -> None:
    # Own Tortoise apps included: their migrations must describe their models too.
    assert await pending_model_changes() == []


def test_a_package_missing_a_piece_is_caught(settings: Settings) -> None:
    app = create_app(settings)
    broken = Package(
        key="convoys",
        label="Convoys nobody translated",
        permissions={"lead_convoys": "Lead convoys, untranslated"},
        router="web.hubs:router",  # mounted, but not behind this plugin's switch
    )
    problems = _missing_pieces(broken, app)
    assert "de: 'Convoys nobody translated'" in problems
    assert "de: 'Lead convoys, untranslated'" in problems
    assert "no cog" in problems
    assert any(p.startswith("not behind the plugin switch") for p in problems)


class NoDefaults(BaseModel):
    channel_id: int


@pytest.mark.parametrize(
    ("package", "complaint"),
    [
        (Package(key="Bad Key", label="x"), "a key is"),
        (Package(key="members", label="x"), "declared twice"),
        (Package(key="clash", label="x", permissions={"manage_hub": "x"}), "is taken"),
        (Package(key="ownapp", label="x", models=("m",), app="ownapp"), "own migrations"),
        (Package(key="mail", label="x", templates={"t": Template("pigeon", "x")}), "kind"),
        (Package(key="strict", label="x", settings=NoDefaults), "needs a default"),
    ],
)
def test_bad_declarations_are_refused_with_a_reason(package: Package, complaint: str) -> None:
    with pytest.raises(PackageError, match=complaint):
        plugins.register(package)
    assert plugins.get(package.key) is None or package.key == "members"


def test_core_packages_cannot_be_switched_off() -> None:
    with pytest.raises(ValueError, match="members is a core package"):
        HubUpdate(plugins={"members": False})


def test_a_packages_settings_have_defaults_and_are_validated() -> None:
    class Board(BaseModel):
        max_length: int = 200

    package = plugins.register(Package(key="board", label="Board", settings=Board))
    try:
        hub = type("HubRow", (), {"settings": {"plugins": {"board": {"max_length": 50}}}})()
        assert plugins.settings_of(hub, "board") == Board(max_length=50)  # type: ignore[arg-type]
        hub.settings = {}
        assert plugins.settings_of(hub, "board") == Board()  # type: ignore[arg-type]
    finally:
        plugins.unregister(package.key)


def test_external_catalogs_never_override_the_projects(tmp_path: Path) -> None:
    # A plugin's catalog may add texts, not change the platform's wording.
    before = catalog("de")["Members"]
    folder = tmp_path / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "drivershub.po").write_text('msgid "Members"\nmsgstr "Leute"\n', encoding="utf-8")
    from models import i18n

    i18n.add_catalog_dir(tmp_path)
    try:
        assert catalog("de")["Members"] == before
    finally:
        i18n._extra_dirs.remove(tmp_path)
        catalog.cache_clear()


async def test_every_packages_cog_is_loaded(discord: FakeDiscord, start_app: AppFactory) -> None:
    discord.guild("Road Kings", owner=discord.user("olga"))
    async with start_app() as rt:
        assert rt.bot is not None
        loaded = set(rt.bot.extensions)
        failed = dict(rt.bot.failed_cogs)
    wanted = {p.cog for p in plugins.packages() if p.cog}
    assert wanted
    assert wanted <= loaded, failed
