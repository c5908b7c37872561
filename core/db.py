"""The database: Tortoise initialised once per process, and its built-in migrations."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.exceptions import DBConnectionError
from tortoise.migrations.api import migrate
from tortoise.migrations.autodetector import MigrationAutodetector

from core.migration_freeze import freeze_migration
from models import tortoise_config

# What a request meets while the database is away (restarting, failing over, unreachable):
# a 503 to retry, not a 500 with a traceback. asyncpg's own errors for a dropped or refused
# connection, and the socket errors under them.
DATABASE_AWAY: tuple[type[BaseException], ...] = (
    DBConnectionError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    ConnectionRefusedError,
)

log = logging.getLogger(__name__)


class _PooledConnection(asyncpg.connection.Connection):
    """A PostgreSQL connection that skips asyncpg's reset statement on its way back to the pool.

    The default runs `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` after every
    statement outside a transaction (Tortoise takes a pooled connection per statement): one
    more round trip each time, about a third of what a short query costs here. The project
    keeps no session state on a connection (no advisory locks, cursors, LISTEN or SET), and
    asyncpg still rolls back a transaction left open before the connection is reused.
    """

    def get_reset_query(self) -> str:
        return ""


# Tortoise builds its asyncpg pool with this class attribute as the pool's connection class.
AsyncpgDBClient.connection_class = _PooledConnection


def _ensure_sqlite_dir(url: str) -> None:
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


async def open_database(url: str, *, apply_migrations: bool = False) -> None:
    """Initialise Tortoise for the whole process, migrating first if asked."""
    if url.startswith("sqlite://"):
        _ensure_sqlite_dir(url)
    config = tortoise_config(url)
    # The global fallback lets every task (bot, web handlers, workers) see the same ORM state.
    await Tortoise.init(config=config, _enable_global_fallback=True)
    if apply_migrations:
        await migrate(config=config)
        log.info("database migrated")


async def close_database() -> None:
    await connections.close_all()


async def ping_database() -> None:
    """Raise if the database cannot answer (for readiness checks)."""
    await connections.get("default").execute_query("SELECT 1")


async def pending_model_changes() -> list[str]:
    """Describe model changes that have no migration yet (empty when in step)."""
    config = tortoise_config("sqlite://:memory:")
    apps = config["apps"]
    detector = MigrationAutodetector(Tortoise.apps, apps)
    writers = await detector.changes()
    return [f"{w.app_label}: {op.describe()}" for w in writers for op in w.operations]


async def make_migrations(name: str | None = None) -> list[Path]:
    """Write frozen migration files for model changes (developers; `drivershub makemigrations`).

    Raises core.migration_freeze.FreezeError, writing nothing, if a migration would import
    project code that cannot be frozen.
    """
    config = tortoise_config("sqlite://:memory:")
    await Tortoise.init(config=config, _enable_global_fallback=True)
    try:
        detector = MigrationAutodetector(Tortoise.apps, config["apps"])
        writers = await detector.changes()
        for writer in writers:
            if name:
                writer.name = f"{writer.name.split('_', 1)[0]}_{name}"
        # Freeze every file before writing any, so a FreezeError leaves no file behind that
        # imports live model code (see core.migration_freeze for why).
        frozen = [(Path(writer.path()), freeze_migration(writer.as_string())) for writer in writers]
        for path, source in frozen:
            path.write_text(source, encoding="utf-8")
        return [path for path, _ in frozen]
    finally:
        await close_database()
