"""Freeze a generated migration: copy the live project code it imports into the file itself.

A migration is history: it has to build the same schema on a new installation years from now
as it did the day it was written. Tortoise's writer refers to live code instead, e.g.
`from models.members import MemberStatus` for an enum field or `from models.hubs import
all_plugins` for a callable default. Renaming, moving or changing those later would then break
old migrations or silently rewrite what they did. `drivershub makemigrations` therefore passes
the writer's output through `freeze_migration`, which replaces each project import with a
frozen definition:

- an enum class becomes an enum class in the file with the same member names and values
  (only the members: the schema needs nothing else from it);
- a callable used as a field's `default=` becomes a function in the file returning the literal
  value it returns today (a function, so every row still gets a fresh list or dict).

Anything else cannot be frozen safely, so it raises `FreezeError` naming the import instead of
letting a migration that imports live code be written.
"""

from __future__ import annotations

import ast
import importlib
import pprint
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, Flag, IntEnum, IntFlag, StrEnum
from typing import Any

# The top-level packages of this project; a migration may import none of them.
PROJECT_PACKAGES = frozenset({"bot", "cogs", "core", "models", "web", "tests"})

# Most specific first: StrEnum and IntEnum are also str / int mixins.
_ENUM_BASES: tuple[type[Enum], ...] = (StrEnum, IntFlag, IntEnum, Flag)

Resolver = Callable[[str, str], Any]


class FreezeError(ValueError):
    """A migration imports project code that cannot be copied into it as a literal."""


@dataclass(frozen=True)
class _Frozen:
    """One frozen definition: its source lines and the `enum` names it needs imported."""

    lines: list[str]
    enum_names: frozenset[str] = frozenset()


def import_object(module: str, name: str) -> Any:
    """The live object that `from module import name` binds."""
    return getattr(importlib.import_module(module), name)


def is_project_module(module: str | None) -> bool:
    return module is not None and module.split(".", 1)[0] in PROJECT_PACKAGES


def freeze_migration(source: str, resolve: Resolver = import_object) -> str:
    """Return `source` with every project import replaced by a frozen definition."""
    tree = ast.parse(source)
    imports = _project_imports(tree)
    if not imports:
        return source
    frozen = [_freeze_alias(tree, node, alias, resolve) for node in imports for alias in node.names]
    result = _rewrite(source, tree, imports, frozen)
    _check_frozen(result)
    return result


def _project_imports(tree: ast.Module) -> list[ast.ImportFrom]:
    """The project imports, all of which must be `from x import y` in the leading import block."""
    header = set(_header(tree))
    found: list[ast.ImportFrom] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if is_project_module(alias.name):
                    # The writer uses this for nested classes, referred to by their dotted path.
                    raise FreezeError(
                        f"cannot freeze `import {alias.name}`: move what it refers to to the "
                        "top level of its module, or freeze the migration by hand"
                    )
        elif isinstance(node, ast.ImportFrom) and is_project_module(node.module):
            if node not in header:
                raise FreezeError(f"cannot freeze `{_describe(node)}`: not in the import block")
            found.append(node)
    return found


def _header(tree: ast.Module) -> list[ast.stmt]:
    """The leading docstring and imports, where frozen definitions go after."""
    header: list[ast.stmt] = []
    for index, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (index == 0 and _is_docstring(node)):
            header.append(node)
        else:
            break
    return header


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _describe(node: ast.ImportFrom, alias: ast.alias | None = None) -> str:
    names = [alias] if alias else node.names
    return f"from {node.module} import {', '.join(a.name for a in names)}"


def _freeze_alias(
    tree: ast.Module, node: ast.ImportFrom, alias: ast.alias, resolve: Resolver
) -> _Frozen:
    statement = _describe(node, alias)
    bound = alias.asname or alias.name
    try:
        value = resolve(node.module or "", alias.name)
    except (ImportError, AttributeError) as error:
        raise FreezeError(f"cannot freeze `{statement}`: {error}") from error
    if isinstance(value, type) and issubclass(value, Enum):
        return _freeze_enum(bound, value, statement)
    if callable(value) and _used_only_as_default(tree, bound):
        return _freeze_default(bound, value, statement)
    raise FreezeError(
        f"cannot freeze `{statement}`: only enum classes and callables used as a field's "
        "default= can be copied into a migration; write a literal instead"
    )


def _used_only_as_default(tree: ast.Module, name: str) -> bool:
    """Whether every use of `name` is a `default=name` keyword (so calling it once is enough)."""
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name]
    defaults = [
        k
        for k in ast.walk(tree)
        if isinstance(k, ast.keyword)
        and k.arg == "default"
        and isinstance(k.value, ast.Name)
        and k.value.id == name
    ]
    return bool(uses) and len(uses) == len(defaults)


def _freeze_enum(name: str, enum_type: type[Enum], statement: str) -> _Frozen:
    bases, enum_names = _enum_bases(enum_type)
    lines = [f"class {name}({bases}):", f"    # Frozen by makemigrations from `{statement}`."]
    # __members__ keeps aliases too, so every name the old code used still resolves.
    for member_name, member in enum_type.__members__.items():
        lines.append(f"    {member_name} = {_literal(member.value, statement)}")
    return _Frozen(lines, enum_names)


def _enum_bases(enum_type: type[Enum]) -> tuple[str, frozenset[str]]:
    """The base classes to write, keeping the enum's str/int behaviour (how values compare)."""
    for base in _ENUM_BASES:
        if issubclass(enum_type, base):
            return base.__name__, frozenset({base.__name__})
    for mixin in (str, int):
        if issubclass(enum_type, mixin):
            return f"{mixin.__name__}, Enum", frozenset({"Enum"})
    return "Enum", frozenset({"Enum"})


def _freeze_default(name: str, default: Callable[[], Any], statement: str) -> _Frozen:
    try:
        value = default()
    except Exception as error:
        raise FreezeError(f"cannot freeze `{statement}`: calling it failed: {error!r}") from error
    indent = " " * len("    return ")
    text = _literal(value, statement, width=100 - len(indent))
    body = text.replace("\n", "\n" + indent)
    return _Frozen(
        [
            f"def {name}():",
            f"    # Frozen by makemigrations from `{statement}`: its value at the time.",
            f"    return {body}",
        ]
    )


def _literal(value: Any, statement: str, width: int = 100) -> str:
    """Python source for `value`, refused unless it evaluates back to an equal plain literal."""
    text = pprint.pformat(value, width=width, sort_dicts=False)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, TypeError, SyntaxError, RecursionError):
        same = False
    if not same:
        raise FreezeError(f"cannot freeze `{statement}`: {text} is not a plain literal value")
    return text


def _rewrite(
    source: str, tree: ast.Module, imports: list[ast.ImportFrom], frozen: list[_Frozen]
) -> str:
    """Drop the project imports and put the frozen definitions right after the import block."""
    lines = source.splitlines()
    dropped = {i for node in imports for i in range(node.lineno - 1, node.end_lineno or 0)}
    header_end = max(node.end_lineno or 0 for node in _header(tree))
    head = [line for i, line in enumerate(lines[:header_end]) if i not in dropped]
    enum_names = sorted(set().union(*(f.enum_names for f in frozen)))
    if enum_names:
        head.append(f"from enum import {', '.join(enum_names)}")
    blocks = ["\n".join(f.lines) for f in frozen]
    rest = "\n".join(lines[header_end:]).lstrip("\n")
    return "\n\n\n".join(["\n".join(head), *blocks, rest]) + ("\n" if source.endswith("\n") else "")


def _check_frozen(source: str) -> None:
    """Refuse to hand back source that still imports the project (parsing it checks the syntax)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and is_project_module(node.module):
            raise FreezeError(f"`{_describe(node)}` is still imported after freezing")
