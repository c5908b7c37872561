"""Shared fixtures: one migrated database per session, emptied between tests.

SQLite (a temporary file) by default; PostgreSQL and Redis when DRIVERSHUB_TEST_DATABASE_URL
and DRIVERSHUB_TEST_CACHE_URL are set (each session creates and drops its own database).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import pytest_asyncio
from tortoise import Tortoise, connections

from bot.bot import DriversHubBot
from bot.runtime import Runtime, running, setup_encryption, setup_tokens
from core.config import DiscordSettings, Settings
from core.db import close_database, open_database
from models.cache import clear_cache, close_cache, configure_cache
from tests.fakediscord import FakeDiscord
from tests.fakediscord.fixtures import fake_discord_session, patch_discord_py

TEST_DATABASE_URL = os.environ.get("DRIVERSHUB_TEST_DATABASE_URL", "")
TEST_CACHE_URL = os.environ.get("DRIVERSHUB_TEST_CACHE_URL", "memory://")
# The second pass of .ci/run: only tests whose outcome can depend on the database backend.
BACKEND_ONLY = os.environ.get("DRIVERSHUB_TEST_BACKEND_ONLY") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not BACKEND_ONLY:
        return
    independent = [item for item in items if item.get_closest_marker("backend_independent")]
    if independent:
        config.hook.pytest_deselected(items=independent)
        items[:] = [item for item in items if item not in independent]


async def _create_pg_database(url: str) -> tuple[str, str]:
    """Create a uniquely named database next to the one in `url`; return (its url, admin url)."""
    import asyncpg

    parts = urlsplit(url)
    name = f"{(parts.path.strip('/') or 'drivershub_test')}_{uuid.uuid4().hex[:8]}"
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(parts._replace(scheme="postgres", path=f"/{name}")), admin_url


async def _drop_pg_database(url: str, admin_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(
            f'DROP DATABASE IF EXISTS "{urlsplit(url).path.strip("/")}" WITH (FORCE)'
        )
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A database with the whole migration chain applied from scratch, for the session."""
    if TEST_DATABASE_URL:
        url, admin_url = await _create_pg_database(TEST_DATABASE_URL)
    else:
        url, admin_url = f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}", ""
    await open_database(url, apply_migrations=True)
    configure_cache(TEST_CACHE_URL, namespace=f"test-{uuid.uuid4().hex[:8]}")
    # Signing keys for access tokens and the key sealing secrets, generated once.
    keys = Settings(data_dir=tmp_path_factory.mktemp("data"))
    setup_tokens(keys)
    setup_encryption(keys)
    yield url
    await close_cache()
    await close_database()
    if admin_url:
        await _drop_pg_database(url, admin_url)


async def _empty_tables() -> None:
    connection = connections.get("default")
    tables = [
        model._meta.db_table for app in (Tortoise.apps or {}).values() for model in app.values()
    ]
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        )
    else:
        statements = "".join(f'DELETE FROM "{t}";' for t in tables)
        await connection.execute_script(
            f"PRAGMA foreign_keys=OFF;{statements}PRAGMA foreign_keys=ON;"
        )


@pytest_asyncio.fixture(autouse=True)
async def db(database_url: str) -> AsyncIterator[str]:
    """Every test starts with empty tables and an empty cache."""
    await _empty_tables()
    await clear_cache()
    yield database_url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for an in-process app: the test database, a free port, no metrics listener."""
    return Settings(
        data_dir=tmp_path,
        database={"url": database_url, "auto_migrate": False},
        cache={"url": TEST_CACHE_URL},
        web={"port": 0, "public_url": "http://127.0.0.1"},
        metrics={"listen": None},
    )


# The full application (bot + API + workers) against the Discord emulator.


class EmulatedBot(DriversHubBot):
    """The real bot with the test-only waits removed (identify spacing, guild chunk wait)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, guild_ready_timeout=0.2)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@pytest_asyncio.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    """A local Discord; the test fails if the bot sent anything Discord would reject."""
    async with fake_discord_session() as emulator:
        yield emulator


AppFactory = Callable[..., contextlib.AbstractAsyncContextManager[Runtime]]


@pytest.fixture
def start_app(settings: Settings, discord: FakeDiscord) -> AppFactory:
    """Start `drivershub run` in-process against the emulator: `async with start_app() as rt`.

    Build the Discord world (guilds, members) first; the bot sees it when it connects.
    """

    @contextlib.asynccontextmanager
    async def start(**discord_options: object) -> AsyncIterator[Runtime]:
        options = {"token": discord.token, "api_base": discord.api_base, **discord_options}
        app_settings = settings.model_copy(update={"discord": DiscordSettings(**options)})
        with patch_discord_py(discord):
            async with running(app_settings, own_resources=False, bot_class=EmulatedBot) as rt:
                assert rt.bot is not None
                bot = rt.bot
                await discord.wait_for(bot.is_ready, 10, "the bot to become ready")
                yield rt

    return start
