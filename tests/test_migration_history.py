"""Migrations are history: they never import live project code, and makemigrations freezes it.

An old migration that imports an enum or a default from the models changes meaning (or stops
importing) when the models change; see core.migration_freeze. Their data steps are tested on
a database migrated up to the step before, holding rows written as that schema had them.
"""

from __future__ import annotations

import ast
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from core.migration_freeze import FreezeError, freeze_migration
from models import tortoise_config

# The freezer's tests run no database at all: the PostgreSQL pass of .ci/run leaves them out.
# The data-step tests at the end run on the test database's backend, so they stay in it.
backend_independent = pytest.mark.backend_independent

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Spelled out here rather than imported from the freezer, so this test checks it independently.
PROJECT_PACKAGES = {"core", "models", "bot", "web", "cogs", "tests"}


# Live "model code" for the freezer to copy, here rather than in models/ so that refactoring
# the models does not break this test.
class Status(StrEnum):
    ACTIVE = "active"
    LEFT = "left"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


class NotAnEnum:
    pass


def default_tags() -> list[str]:
    return ["a", "b"]


# What Tortoise's writer produces for a model with enum fields and a callable default.
GENERATED = """\
from tortoise import migrations
from tortoise.migrations import operations as ops
from tests.test_migration_history import Level, Status, default_tags
from tortoise import fields

class Migration(migrations.Migration):
    operations = [
        ops.CreateModel(
            name='Thing',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True)),
                ('tags', fields.JSONField(default=default_tags)),
                ('status', fields.CharEnumField(default=Status.ACTIVE, enum_type=Status, max_length=16)),
                ('level', fields.IntEnumField(default=Level.LOW, enum_type=Level)),
            ],
            options={'table': 'things', 'app': 'drivershub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
"""  # noqa: E501


def _imported_modules(tree: ast.AST) -> list[str]:
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
    return modules


def _project_imports(source: str) -> list[str]:
    modules = _imported_modules(ast.parse(source))
    return [module for module in modules if module.split(".")[0] in PROJECT_PACKAGES]


def _run(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<frozen migration>", "exec"), namespace)  # noqa: S102
    return namespace


@backend_independent
@pytest.mark.parametrize("path", sorted(MIGRATIONS.glob("*.py")), ids=lambda p: p.name)
def test_migrations_import_no_project_code(path: Path) -> None:
    assert _project_imports(path.read_text(encoding="utf-8")) == []


@backend_independent
def test_the_freezer_copies_enums_and_callable_defaults_into_the_file() -> None:
    frozen = freeze_migration(GENERATED)
    assert _project_imports(frozen) == []
    namespace = _run(frozen)
    for live, base in ((Status, StrEnum), (Level, IntEnum)):
        copy = namespace[live.__name__]
        assert copy is not live
        assert issubclass(copy, base)
        assert {m.name: m.value for m in copy} == {m.name: m.value for m in live}
    assert namespace["default_tags"]() == default_tags()
    # Each call still gives a new list, as the live default did.
    assert namespace["default_tags"]() is not namespace["default_tags"]()
    assert "Migration" in namespace


@backend_independent
def test_a_migration_without_project_imports_is_left_alone() -> None:
    frozen = freeze_migration(GENERATED)
    assert freeze_migration(frozen) == frozen


@backend_independent
@pytest.mark.parametrize(
    ("source", "named"),
    [
        # A class that is not an enum: nothing literal to copy.
        (f"from {__name__} import NotAnEnum\nx = NotAnEnum\n", "import NotAnEnum"),
        # A callable used other than as default=: calling it once would change its meaning.
        (f"from {__name__} import default_tags\nx = default_tags\n", "import default_tags"),
        (f"from {__name__} import Missing\n", "import Missing"),
        ("import models.hubs\nx = models.hubs.Plugin\n", "import models.hubs"),
    ],
)
def test_what_cannot_be_frozen_fails_naming_the_import(source: str, named: str) -> None:
    with pytest.raises(FreezeError, match=named):
        freeze_migration(source)


# Data steps


@contextlib.asynccontextmanager
async def _scratch_database(tmp_path: Path) -> AsyncIterator[BaseDBAsyncClient]:
    """An empty database of the test backend (SQLite, or PostgreSQL in CI), beside the
    session's, registered under its own connection name for the migration executor."""
    from tests.conftest import TEST_DATABASE_URL, _create_pg_database, _drop_pg_database

    admin_url = ""
    if TEST_DATABASE_URL:
        url, admin_url = await _create_pg_database(TEST_DATABASE_URL)
    else:
        url = f"sqlite://{tmp_path / 'history.sqlite3'}"
    alias = f"history_{uuid.uuid4().hex[:8]}"
    db_info = expand_db_url(tortoise_config(url)["connections"]["default"])
    client_class = connections._discover_client_class(db_info)
    client = client_class(**db_info["credentials"], connection_name=alias)
    token = connections.set(alias, client)
    try:
        yield client
    finally:
        await client.close()
        connections.reset(token)
        if admin_url:
            await _drop_pg_database(url, admin_url)


async def _migrate(client: BaseDBAsyncClient, target: str | None = None) -> None:
    """Apply the project's migrations on `client` up to `target` (all without one)."""
    app = {**tortoise_config("sqlite://:memory:")["apps"]["drivershub"]}
    app["default_connection"] = client.connection_name
    executor = MigrationExecutor(client, {"drivershub": app})
    await executor.migrate([MigrationTarget("drivershub", target)] if target else None)


async def _insert(client: BaseDBAsyncClient, table: str, **values: Any) -> None:
    """One row as plain SQL: the models describe today's schema, not the old one."""
    postgres = client.capabilities.dialect == "postgres"
    marks = [f"${i}" if postgres else "?" for i in range(1, len(values) + 1)]
    params = [
        value.isoformat(" ") if isinstance(value, datetime) and not postgres else value
        for value in values.values()
    ]
    columns = ", ".join(f'"{name}"' for name in values)
    await client.execute_query(
        f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join(marks)})', params
    )


# Names whose folded form differs from lower(): case, compatibility forms, expansions.
NAMES_0006 = {
    1: ("Ärger", "ärger"),
    2: ("STRASSE", "strasse"),
    3: ("Straße", "strasse"),
    4: ("Ｗｉｄｅ Load", "wide load"),
    5: ("ﬁnn", "finn"),
    6: ("ß" * 40, "ss" * 32),  # folding doubles it; the key keeps 64 characters
}


async def test_0006_fills_every_members_search_key_with_the_folded_name(tmp_path: Path) -> None:
    from models.text import fold

    when = datetime(2024, 1, 1, tzinfo=UTC)
    async with _scratch_database(tmp_path) as client:
        await _migrate(client, "0005_membership")
        for hub_id in (1, 2):
            await _insert(
                client, "hubs", id=hub_id, slug=f"hub-{hub_id}", name=f"Hub {hub_id}",
                active=True, public=True, language="en", distance_unit="km", timezone="UTC",
                plugins="{}", settings="{}", created_at=when, updated_at=when, member_numbers=0,
            )  # fmt: skip
        for user_id, (username, _) in NAMES_0006.items():
            await _insert(
                client, "users", id=user_id, username=username, first_name="", last_name="",
                is_superuser=False, is_active=True, is_verified=False, avatar="",
                created_at=when, updated_at=when, mfa_enabled=False, mfa_last_step=0,
                privacy="{}",
            )  # fmt: skip
        # User 1 belongs to both hubs: each of their rows gets the key.
        rows = [(user_id, 1) for user_id in NAMES_0006] + [(1, 2)]
        for member_id, (user_id, hub_id) in enumerate(rows, start=1):
            await _insert(
                client, "members", id=member_id, hub_id=hub_id, user_id=user_id, points=0,
                discord_role_ids="[]", discord_admin=False, first_seen_at=when, in_guild=True,
                state="visitor",
            )  # fmt: skip
        await _insert(client, "bans", id=1, hub_id=1, discord_id=5, reason="", created_at=when)

        await _migrate(client, "0006_roles_directory")

        _, found = await client.execute_query(
            "SELECT m.user_id, m.search_name FROM members m ORDER BY m.id"
        )
        _, bans = await client.execute_query("SELECT source FROM bans")
    assert [row["source"] for row in bans] == ["hub"]  # bans made before 0006 were the hub's
    keys = [(row["user_id"], row["search_name"]) for row in found]
    assert keys == [(user_id, NAMES_0006[user_id][1]) for user_id, _ in rows]
    # The migration's own copy of the fold agrees with the project's today.
    assert all(fold(NAMES_0006[user_id][0])[:64] == key for user_id, key in keys)


# Members' points before 0007, by hub: (member id, user id, points). Hub 1 is behind UTC, so
# the ledger's first instant (1970-01-01 00:00 UTC) falls on its 31 December 1969.
POINTS_0007 = {
    1: [(1, 1, 1200), (2, 2, 0), (3, 3, -40)],
    2: [(4, 1, 75)],
}
TIMEZONES_0007 = {1: "America/New_York", 2: "Asia/Tokyo"}


async def test_0007_books_each_members_points_as_one_opening_balance(tmp_path: Path) -> None:
    from models.hubs import Hub
    from models.members import Member
    from models.points import PointPeriod, PointTotal
    from models.points.reads import rebuild

    when = datetime(2024, 1, 1, tzinfo=UTC)
    async with _scratch_database(tmp_path) as client:
        await _migrate(client, "0006_roles_directory")
        for hub_id, zone in TIMEZONES_0007.items():
            await _insert(
                client, "hubs", id=hub_id, slug=f"hub-{hub_id}", name=f"Hub {hub_id}",
                active=True, public=True, language="en", distance_unit="km", timezone=zone,
                plugins="{}", settings="{}", created_at=when, updated_at=when, member_numbers=0,
            )  # fmt: skip
        for user_id in (1, 2, 3):
            await _insert(
                client, "users", id=user_id, username=f"driver{user_id}", first_name="",
                last_name="", is_superuser=False, is_active=True, is_verified=False, avatar="",
                created_at=when, updated_at=when, mfa_enabled=False, mfa_last_step=0,
                privacy="{}",
            )  # fmt: skip
        for hub_id, rows in POINTS_0007.items():
            for member_id, user_id, points in rows:
                await _insert(
                    client, "members", id=member_id, hub_id=hub_id, user_id=user_id,
                    points=points, discord_role_ids="[]", discord_admin=False,
                    first_seen_at=when, in_guild=True, state="member",
                    search_name=f"driver{user_id}",
                )  # fmt: skip

        await _migrate(client, "0007_points")

        _, entries = await client.execute_query(
            "SELECT hub_id, member_id, kind, amount, reason FROM point_entries ORDER BY member_id"
        )
        _, totals = await client.execute_query(
            "SELECT member_id, kind, total FROM point_totals ORDER BY member_id"
        )
        _, periods = await client.execute_query(
            "SELECT member_id, period, start, kind, amount FROM point_periods"
            " WHERE member_id = 1 ORDER BY period, kind"
        )
        _, ranks = await client.execute_query("SELECT rank_id FROM members")
        # Then the rest of the chain, and a rebuild from the ledger finds the same figures.
        await _migrate(client)
        with _models_on(client):
            before = await _points_figures()
            for hub_id in TIMEZONES_0007:
                assert await rebuild(await Hub.get(id=hub_id)) == len(
                    [p for *_, p in POINTS_0007[hub_id] if p]
                )
            after = await _points_figures()
            assert await Member.filter(points__not=0).count() == 3
            assert await PointTotal.all().count() == 3
            assert await PointPeriod.filter(start__lt=datetime(1970, 1, 2).date()).count() == 24
    held = [(hub, m, p) for hub, rows in POINTS_0007.items() for m, _, p in rows if p]
    assert [tuple(row) for row in entries] == [
        (hub, member, "correction", points, "opening balance") for hub, member, points in held
    ]
    assert [tuple(row) for row in totals] == [
        (member, "correction", points) for _, member, points in held
    ]
    # Member 2 had none: no row for them at all.
    assert {(row["period"], str(row["start"]), row["kind"], row["amount"]) for row in periods} == {
        (period, start, kind, 1200)
        for period, start in (
            ("day", "1969-12-31"),
            ("week", "1969-12-29"),
            ("month", "1969-12-01"),
            ("year", "1969-01-01"),
        )
        for kind in ("all", "correction")
    }
    assert [row["rank_id"] for row in ranks] == [None] * 4
    assert after == before


@contextlib.contextmanager
def _models_on(client: BaseDBAsyncClient) -> Iterator[None]:
    """Point the models at `client` for a while. Its transactions register under its own
    name, so it is named "default" meanwhile (else a query inside a transaction would wait
    for the lock the transaction holds)."""
    name, client.connection_name = client.connection_name, "default"
    token = connections.set("default", client)
    try:
        yield
    finally:
        connections.reset(token)
        client.connection_name = name


async def _points_figures() -> tuple:
    from models.members import Member
    from models.points import PointPeriod, PointTotal

    return (
        sorted(await Member.all().values_list("id", "points")),
        sorted(await PointTotal.all().values_list("member_id", "kind", "total")),
        sorted(
            (m, p, str(s), k, a)
            for m, p, s, k, a in await PointPeriod.all().values_list(
                "member_id", "period", "start", "kind", "amount"
            )
        ),
    )
