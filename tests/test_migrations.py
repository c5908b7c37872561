"""Migrations: the committed chain builds exactly the schema the models describe.

The session fixture applies the whole chain from scratch (SQLite, or PostgreSQL in CI), so
these tests see the database a new installation gets.
"""

from __future__ import annotations

from tortoise import Tortoise, connections
from tortoise.models import Model

from core.db import pending_model_changes


def _models() -> list[type[Model]]:
    return [model for app in (Tortoise.apps or {}).values() for model in app.values()]


async def _tables() -> set[str]:
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    _, rows = await connection.execute_query(sql)
    return {row["name"] for row in rows}


async def test_every_model_change_has_a_migration() -> None:
    # A field added to a model without `drivershub makemigrations` shows up here.
    assert await pending_model_changes() == []


async def test_the_migrated_database_has_every_models_table() -> None:
    models = _models()
    assert any(model._meta.db_table == "hubs" for model in models)
    missing = {model._meta.db_table for model in models} - await _tables()
    assert not missing


async def test_every_models_columns_exist() -> None:
    # Selecting every field fails if the migrations left a column out.
    for model in _models():
        assert await model.all().limit(1) == [], model.__name__
