"""Turning a test's `run("hub settings", timezone="UTC")` into Discord's interaction data."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .state import Channel, Guild, Member, Role, User, with_component_ids

log = logging.getLogger(__name__)

SUBCOMMAND, GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10
# Component types (discord.py's ComponentType; Discord's "Component Types" table).
ACTION_ROW, STRING_SELECT, TEXT_INPUT, USER_SELECT, ROLE_SELECT = 1, 3, 4, 5, 6
MENTIONABLE_SELECT, CHANNEL_SELECT, TEXT_DISPLAY, LABEL, FILE_UPLOAD = 7, 8, 10, 18, 19
RADIO_GROUP, CHECKBOX_GROUP, CHECKBOX = 21, 22, 23
SELECTS = frozenset({STRING_SELECT, USER_SELECT, ROLE_SELECT, MENTIONABLE_SELECT, CHANNEL_SELECT})
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class ScenarioError(AssertionError):
    """The test asked for something a Discord user could not do."""


class UnsetType:
    """A modal field the test left alone: the Discord client submits its default."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = UnsetType()
Upload = Callable[[str, bytes], dict[str, Any]]


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


def select_values(
    item: dict[str, Any],
    given: Any,
    guild: Guild | None,
    resolved: dict[str, Any],
    *,
    in_modal: bool,
    name: str | None = None,
) -> list[str]:
    """Encode what a user picks in a select; user/role/channel picks also fill `resolved`."""
    name = name or _name(item)
    kind = item["type"]
    if given is UNSET:
        chosen = _default_picks(item, guild)
    else:
        chosen = list(given) if isinstance(given, list | tuple) else [given]
    if kind == STRING_SELECT:
        encoded = [_option_value(item, pick, name) for pick in chosen]
    else:
        encoded = [_entity_value(item, pick, guild, resolved, name) for pick in chosen]
    # In a modal an optional select may stay empty whatever its min_values.
    if not (in_modal and not encoded and item.get("required") is False):
        _check_count(item, encoded, name, default_high=1)
    return encoded


def _default_picks(item: dict[str, Any], guild: Guild | None) -> list[Any]:
    """What the Discord client pre-selects: default options, or default_values (user/role/...)."""
    if item["type"] == STRING_SELECT:
        return [o["value"] for o in item.get("options") or [] if o.get("default")]
    picks = []
    for default in item.get("default_values") or []:
        found = _lookup(guild, default["type"], int(default["id"]))
        if found is None:
            raise ScenarioError(f"default value {default} of {_name(item)!r} does not exist")
        picks.append(found)
    return picks


def _lookup(guild: Guild | None, kind: str, snowflake: int) -> User | Role | Channel | None:
    if guild is None:
        return None
    if kind == "user":
        member = guild.member(snowflake)
        return member.user if member else None
    if kind == "role":
        return guild.roles.get(snowflake)
    return guild.channels.get(snowflake)


def _option_value(item: dict[str, Any], pick: Any, name: str) -> str:
    """A string select, radio group or checkbox group option, picked by value or label."""
    for option in item.get("options") or []:
        if pick in (option["value"], option["label"]):
            return str(option["value"])
    choices = [option["value"] for option in item.get("options") or []]
    raise ScenarioError(f"{pick!r} is not an option of {name!r}: {choices}")


def _entity_value(
    item: dict[str, Any], pick: Any, guild: Guild | None, resolved: dict[str, Any], name: str
) -> str:
    kind = item["type"]
    if kind in (USER_SELECT, MENTIONABLE_SELECT) and isinstance(pick, User | Member):
        return _resolve_user(pick, resolved, guild)
    if kind in (ROLE_SELECT, MENTIONABLE_SELECT) and isinstance(pick, Role):
        resolved.setdefault("roles", {})[str(pick.id)] = pick.payload()
        return str(pick.id)
    if kind == CHANNEL_SELECT and isinstance(pick, Channel):
        allowed = item.get("channel_types")
        if allowed and pick.type not in allowed:
            raise ScenarioError(f"{name!r} offers channel types {allowed}, not #{pick.name}")
        return _resolve_channel(pick, resolved)
    raise ScenarioError(f"cannot pick {pick!r} in {name!r} (component type {kind})")


def _check_count(item: dict[str, Any], picked: list[Any], name: str, *, default_high: int) -> None:
    low = item.get("min_values")
    high = item.get("max_values")
    low = 1 if low is None else low
    high = default_high if high is None else high
    if not low <= len(picked) <= high:
        raise ScenarioError(f"{name!r} takes {low}-{high} values, got {picked}")
    if len(set(map(str, picked))) != len(picked):
        raise ScenarioError(f"{name!r} got the same value twice: {picked}")


def _name(item: dict[str, Any]) -> str:
    return str(item.get("label") or item.get("custom_id"))


@dataclass
class ModalFiller:
    """Answers a modal the way the Discord client submits it.

    `values` keys are custom_ids, labels or snake_case labels. Components without an `id` get
    Discord's numbering; user/role/channel selects and file uploads fill `resolved`.
    """

    values: dict[str, Any]
    guild: Guild | None
    upload: Upload
    used: set[str] = field(default_factory=set)
    resolved: dict[str, Any] = field(default_factory=dict)

    def fill(self, components: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self._component(component) for component in with_component_ids(components)]

    def _component(self, component: dict[str, Any]) -> dict[str, Any]:
        kind, component_id = component["type"], component["id"]
        if kind == ACTION_ROW:
            row = [self._field(item, item.get("label")) for item in component["components"]]
            return {"type": kind, "id": component_id, "components": row}
        if kind == LABEL:
            inner = self._field(component["component"], component.get("label"))
            return {"type": kind, "id": component_id, "component": inner}
        return {"type": kind, "id": component_id}  # text displays carry nothing back

    def _given(self, item: dict[str, Any], label: str | None) -> Any:
        keys = [item["custom_id"], *([label, _normalize(label)] if label else [])]
        found = [key for key in keys if key in self.values]
        self.used.update(found)
        return self.values[found[0]] if found else UNSET

    def _field(self, item: dict[str, Any], label: str | None) -> dict[str, Any]:
        given = self._given(item, label)
        name = label or item["custom_id"]
        answer: dict[str, Any] = {
            "type": item["type"],
            "id": item["id"],
            "custom_id": item["custom_id"],
        }
        kind = item["type"]
        if kind == TEXT_INPUT:
            answer["value"] = _text_value(item, given, name)
        elif kind in SELECTS:
            answer["values"] = select_values(
                item, given, self.guild, self.resolved, in_modal=True, name=name
            )
        elif kind == RADIO_GROUP:
            answer["value"] = _radio_value(item, given, name)
        elif kind == CHECKBOX_GROUP:
            answer["values"] = _checkbox_values(item, given, name)
        elif kind == CHECKBOX:
            answer["value"] = _checkbox_value(item, given, name)
        elif kind == FILE_UPLOAD:
            answer["values"] = self._files(item, given, name)
        else:
            raise ScenarioError(f"the emulator cannot fill component type {kind} ({name!r})")
        return answer

    def _files(self, item: dict[str, Any], given: Any, name: str) -> list[str]:
        if given is UNSET:
            files = []
        elif isinstance(given, list):
            files = given
        else:
            files = [given]  # one (filename, bytes) tuple
        if not files and item.get("required") is False:
            return []
        _check_count(item, files, name, default_high=1)
        ids = []
        for upload in files:
            filename, data = _file(upload, name)
            attachment = self.upload(filename, data)
            self.resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            ids.append(attachment["id"])
        return ids


def _text_value(item: dict[str, Any], given: Any, name: str) -> str:
    # A pre-filled value is submitted unless the user changes it.
    text = str(item.get("value") or "") if given is UNSET else str(given)
    if not text:
        if item.get("required") is not False:
            raise ScenarioError(f"modal field {name!r} is required")
        return ""
    low, high = item.get("min_length") or 0, item.get("max_length") or 4000
    if not low <= len(text) <= high:
        raise ScenarioError(f"modal field {name!r} must be {low}-{high} characters")
    return text


def _radio_value(item: dict[str, Any], given: Any, name: str) -> str | None:
    if given is UNSET or given is None:
        defaults = [o["value"] for o in item.get("options") or [] if o.get("default")]
        value = defaults[0] if defaults and given is UNSET else None
    else:
        value = _option_value(item, given, name)
    if value is None and item.get("required") is not False:
        raise ScenarioError(f"modal field {name!r} is required: pick one of its options")
    return value


def _checkbox_values(item: dict[str, Any], given: Any, name: str) -> list[str]:
    options = item.get("options") or []
    if given is UNSET:
        picked = [o["value"] for o in options if o.get("default")]
    else:
        listed = list(given) if isinstance(given, list | tuple | set) else [given]
        picked = [_option_value(item, pick, name) for pick in listed]
    if not picked and item.get("required") is False:
        return []
    _check_count(item, picked, name, default_high=len(options))
    return picked


def _checkbox_value(item: dict[str, Any], given: Any, name: str) -> bool:
    if given is UNSET:
        return bool(item.get("default"))
    if not isinstance(given, bool):
        raise ScenarioError(f"checkbox {name!r} takes True or False, not {given!r}")
    return given


def _file(upload: Any, name: str) -> tuple[str, bytes]:
    if (
        not isinstance(upload, tuple)
        or len(upload) != 2
        or not isinstance(upload[0], str)
        or not isinstance(upload[1], bytes)
    ):
        raise ScenarioError(f"{name!r} takes (filename, bytes) tuples, not {upload!r}")
    if len(upload[1]) > ATTACHMENT_SIZE_LIMIT:
        raise ScenarioError(f"{upload[0]!r} is larger than Discord's upload limit")
    return upload
