"""Migrations are history: they never import live project code, and makemigrations freezes it.

An old migration that imports an enum or a default from the models changes meaning (or stops
importing) when the models change; see core.migration_freeze.
"""

from __future__ import annotations

import ast
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import pytest

from core.migration_freeze import FreezeError, freeze_migration

# Runs no database at all: the PostgreSQL pass of .ci/run leaves it out.
pytestmark = pytest.mark.backend_independent

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


@pytest.mark.parametrize("path", sorted(MIGRATIONS.glob("*.py")), ids=lambda p: p.name)
def test_migrations_import_no_project_code(path: Path) -> None:
    assert _project_imports(path.read_text(encoding="utf-8")) == []


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


def test_a_migration_without_project_imports_is_left_alone() -> None:
    frozen = freeze_migration(GENERATED)
    assert freeze_migration(frozen) == frozen


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
