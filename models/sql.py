"""Hand-written statements for the hottest paths: every request's credential and permission
check, and the points ledger.

Building a query through the ORM costs about twice what running it costs here (pypika
renders the SQL anew every time), and a join through `select_related` more. The few
statements every request runs are written out instead; everything else uses the ORM.
Statements use `?` placeholders, turned into `$1, $2...` for PostgreSQL; values always travel
as parameters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

M = TypeVar("M", bound=Model)


def connection() -> BaseDBAsyncClient:
    """The default connection (the current transaction's, inside one)."""
    return connections.get("default")


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def _dialect(conn: BaseDBAsyncClient, sql: str) -> str:
    if not is_postgres(conn):
        return sql
    parts = sql.split("?")
    out = [parts[0]]
    for number, part in enumerate(parts[1:], start=1):
        out.append(f"${number}{part}")
    return "".join(out)


async def fetch(
    sql: str, params: Sequence[Any] = (), conn: BaseDBAsyncClient | None = None
) -> list[dict[str, Any]]:
    """The rows of one statement (also of an UPDATE/INSERT ... RETURNING) as dicts."""
    conn = conn or connection()
    return await conn.execute_query_dict(_dialect(conn, sql), list(params))


async def run(sql: str, params: Sequence[Any] = (), conn: BaseDBAsyncClient | None = None) -> int:
    """Run one statement; the number of rows it changed."""
    conn = conn or connection()
    changed, _ = await conn.execute_query(_dialect(conn, sql), list(params))
    return changed


def as_datetime(value: Any) -> datetime | None:
    """A timestamp column as the ORM gives it (SQLite stores ISO text; aware, in UTC)."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_json(value: Any) -> Any:
    """A JSON column as the ORM gives it (both backends hand raw statements its text)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def instance(model: type[M], row: dict[str, Any]) -> M:
    """A whole row of the model's table (every column) as a model instance, converted as the
    ORM converts the rows of its own queries: Tortoise's row constructor, the one private
    name of Tortoise this project uses, kept in this one place."""
    return model._init_from_db(**row)


def columns(model: type[Model], alias: str, only: Sequence[str] = ()) -> str:
    """The model's columns (all, or `only` these) as `alias."column" AS "alias.column"`, so
    the tables of a join stay apart in one row (`part` takes one back out)."""
    names = only or sorted(model._meta.db_fields)
    return ", ".join(f'{alias}."{c}" AS "{alias}.{c}"' for c in names)


def plain_columns(alias: str, names: Sequence[str]) -> str:
    """`alias."column"` for each name: the columns of a join whose names do not clash, read
    back under their own names."""
    return ", ".join(f'{alias}."{c}"' for c in names)


def part(model: type[M], alias: str, row: dict[str, Any]) -> M:
    """The instance of `model` in a joined row selected with `columns(model, alias)`; with
    `only` some columns it is partial, as after the ORM's `.only()` (saved field by field)."""
    prefix = f"{alias}."
    return instance(model, {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)})


async def instances(
    model: type[M], sql_text: str, params: Sequence[Any] = (), conn: BaseDBAsyncClient | None = None
) -> list[M]:
    """The rows of `SELECT * FROM <the model's table> ...` as model instances."""
    return [instance(model, row) for row in await fetch(sql_text, params, conn)]
