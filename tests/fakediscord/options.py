"""Turning a test's `run("hub settings", timezone="UTC")` into Discord's interaction data."""

from __future__ import annotations

import logging
from typing import Any

from .state import Channel, Guild, Member, Role, User

log = logging.getLogger(__name__)

SUBCOMMAND, GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10


class ScenarioError(AssertionError):
    """The test asked for something a Discord user could not do."""


def resolve_command(
    command: dict[str, Any], words: list[str]
) -> tuple[list[tuple[int, str]], list[dict[str, Any]]]:
    """Walk subcommand groups/subcommands; return the path and the leaf's option definitions."""
    path: list[tuple[int, str]] = []
    definitions = command.get("options") or []
    for word in words:
        option = next(
            (o for o in definitions if o["name"] == word and o["type"] in (SUBCOMMAND, GROUP)), None
        )
        if option is None:
            raise ScenarioError(
                f"/{command['name']} has no subcommand {word!r} ({_subcommands(definitions)})"
            )
        path.append((option["type"], word))
        definitions = option.get("options") or []
    if any(o["type"] in (SUBCOMMAND, GROUP) for o in definitions):
        raise ScenarioError(
            f"/{command['name']} {' '.join(words)} needs a subcommand: {_subcommands(definitions)}"
        )
    return path, definitions


def _subcommands(definitions: list[dict[str, Any]]) -> list[str]:
    return [o["name"] for o in definitions if o["type"] in (SUBCOMMAND, GROUP)]


def nest(path: list[tuple[int, str]], options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for kind, name in reversed(path):
        options = [{"type": kind, "name": name, "options": options}]
    return options


def encode_options(
    definitions: list[dict[str, Any]], values: dict[str, Any], guild: Guild | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Encode option values as Discord does; user/role/channel values also fill `resolved`."""
    known = {definition["name"]: definition for definition in definitions}
    unknown = set(values) - set(known)
    if unknown:
        raise ScenarioError(f"unknown options {sorted(unknown)}; the command has {sorted(known)}")
    missing = [name for name, d in known.items() if d.get("required") and name not in values]
    if missing:
        raise ScenarioError(f"missing required options {missing}")
    resolved: dict[str, Any] = {}
    encoded = [
        {
            "type": known[name]["type"],
            "name": name,
            "value": _encode(known[name], value, resolved, guild),
        }
        for name, value in values.items()
    ]
    return encoded, resolved


def _encode(
    definition: dict[str, Any], value: Any, resolved: dict[str, Any], guild: Guild | None
) -> Any:
    kind = definition["type"]
    if kind == STRING:
        return _check_choice(definition, str(value))
    if kind == INTEGER:
        return _check_range(definition, _check_choice(definition, int(value)))
    if kind == NUMBER:
        return _check_range(definition, _check_choice(definition, float(value)))
    if kind == BOOLEAN:
        return bool(value)
    if kind in (USER, MENTIONABLE) and isinstance(value, User | Member):
        return _resolve_user(value, resolved, guild)
    if kind in (ROLE, MENTIONABLE) and isinstance(value, Role):
        resolved.setdefault("roles", {})[str(value.id)] = value.payload()
        return str(value.id)
    if kind == CHANNEL and isinstance(value, Channel):
        return _resolve_channel(value, resolved)
    raise ScenarioError(f"cannot pass {value!r} to option {definition['name']!r} of type {kind}")


def _check_choice(definition: dict[str, Any], value: Any) -> Any:
    choices = [choice["value"] for choice in definition.get("choices") or []]
    if choices and value not in choices:
        raise ScenarioError(f"{value!r} is not a choice of {definition['name']!r}: {choices}")
    return value


def _check_range(definition: dict[str, Any], value: float) -> Any:
    low, high = definition.get("min_value"), definition.get("max_value")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ScenarioError(f"{value} is outside [{low}, {high}] for {definition['name']!r}")
    return value


def _resolve_user(value: User | Member, resolved: dict[str, Any], guild: Guild | None) -> str:
    user = value.user if isinstance(value, Member) else value
    resolved.setdefault("users", {})[str(user.id)] = user.payload()
    member = guild.member(user) if guild else None
    if member is not None:
        data = {**member.payload(with_user=False), "permissions": str(member.permissions)}
        resolved.setdefault("members", {})[str(user.id)] = data
    return str(user.id)


def _resolve_channel(channel: Channel, resolved: dict[str, Any]) -> str:
    data = {**channel.payload(), "permissions": str((1 << 53) - 1)}
    resolved.setdefault("channels", {})[str(channel.id)] = data
    return str(channel.id)


def _normalize(label: str) -> str:
    return "".join(char if char.isalnum() else "_" for char in label.lower()).strip("_")


def fill_modal(
    components: list[dict[str, Any]], values: dict[str, Any]
) -> tuple[list[dict[str, Any]], set[str]]:
    """Answer a modal's components; `values` keys are custom_ids, labels or snake_case labels."""
    used: set[str] = set()
    answered = []
    for component in components:
        if component["type"] == 1:
            row = [
                _fill_input(item, item.get("label"), values, used)
                for item in component["components"]
            ]
            answered.append({"type": 1, "components": row})
        elif component["type"] == 18:
            inner = _fill_input(component["component"], component.get("label"), values, used)
            answered.append({"type": 18, "id": component.get("id"), "component": inner})
        else:
            answered.append({"type": component["type"], "id": component.get("id")})
    return answered, used


def _fill_input(
    item: dict[str, Any], label: str | None, values: dict[str, Any], used: set[str]
) -> dict[str, Any]:
    keys = [item["custom_id"], *([label, _normalize(label)] if label else [])]
    key = next((k for k in keys if k in values), None)
    if key is None and item.get("required", True):
        raise ScenarioError(f"modal field {label or item['custom_id']!r} is required")
    value = values.get(key, "") if key else ""
    used.update(k for k in keys if k in values)
    if item["type"] == 4:
        text = str(value)
        low, high = item.get("min_length") or 0, item.get("max_length") or 4000
        if text and not low <= len(text) <= high:
            raise ScenarioError(f"modal field {label!r} must be {low}-{high} characters")
        return {"type": 4, "custom_id": item["custom_id"], "value": text}
    listed = value if isinstance(value, list | tuple) else [value] if value else []
    return {
        "type": item["type"],
        "custom_id": item["custom_id"],
        "values": [str(v) for v in listed],
    }
