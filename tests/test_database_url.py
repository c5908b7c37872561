"""The database URL as Tortoise gets it: the defaults the project adds per backend."""

from __future__ import annotations

from tortoise import connections
from tortoise.backends.base.config_generator import expand_db_url

from models import POOL_SIZE, tortoise_config


def _url(url: str) -> str:
    return tortoise_config(url)["connections"]["default"]


def test_sqlite_syncs_at_checkpoints_unless_the_url_says_otherwise() -> None:
    assert _url("sqlite://data/hub.sqlite3") == "sqlite://data/hub.sqlite3?synchronous=NORMAL"
    assert _url("sqlite:///tmp/x.db?synchronous=FULL") == "sqlite:///tmp/x.db?synchronous=FULL"
    # Tortoise hands query parameters of a SQLite URL to the connection as pragmas.
    assert expand_db_url(_url("sqlite:///tmp/x.db"))["credentials"]["synchronous"] == "NORMAL"


def test_postgres_gets_a_pool_size_and_no_sqlite_pragma() -> None:
    url = _url("postgresql://u@127.0.0.1/db")
    assert url == f"postgres://u@127.0.0.1/db?maxsize={POOL_SIZE}"
    assert "synchronous" not in url


async def test_the_running_database_uses_those_settings(database_url: str) -> None:
    conn = connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        _, rows = await conn.execute_query("PRAGMA synchronous")
        assert rows[0][0] == 1  # NORMAL (FULL is 2)
    else:
        assert conn._pool.get_max_size() == POOL_SIZE  # type: ignore[attr-defined]
