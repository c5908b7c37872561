"""Discord's documented limits that the OpenAPI spec does not express.

They run before the schema check (server._validate), so every violation names its field:
commands, message content and embeds, components (legacy and IS_COMPONENTS_V2) and modals.
The functions skip values of the wrong type; those are the schema check's to report.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from .spec import Violation
from .state import LOCALES

CONTENT_LIMIT = 2000
EMBED_LIMITS = {"title": 256, "description": 4096}
EMBED_TOTAL = 6000
MAX_EMBEDS = 10
MAX_FIELDS = 25
MAX_OPTIONS = 25
MAX_CHOICES = 25
COMMAND_LIMITS = {1: 100, 2: 15, 3: 15}  # per scope and type: chat input, user, message
CHAT_INPUT = 1
NAME_PATTERN = r"^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$"
SUBCOMMAND_TYPES = (1, 2)
COMMAND_TOTAL = 4000  # name, description, options and choices of one command, per locale
LOCALIZED = ("name", "description")

IS_COMPONENTS_V2 = 1 << 15
ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT, TEXT_DISPLAY, LABEL = 1, 2, 3, 4, 10, 18
SELECT_TYPES = (3, 5, 6, 7, 8)  # string, user, role, mentionable, channel
LINK_STYLE, PREMIUM_STYLE = 5, 6
MAX_ACTION_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_V2_COMPONENTS = 40
V2_TEXT_LIMIT = 4000
V2_FORBIDDEN = ("content", "embeds", "sticker_ids", "poll")
CUSTOM_ID_LIMIT = 100
MODAL_COMPONENTS = (1, 5)
TEXT_INPUT_LIMIT = 4000


def _text(value: Any) -> str:
    """The value if it is a string, else "": wrong types are the schema check's to report."""
    return value if isinstance(value, str) else ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int) -> int:
    # Discord takes integers as numeric strings too (see spec._relax).
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    return default


def _bad_length(value: Any, where: str, limit: int, minimum: int = 0) -> Iterator[Violation]:
    """A string outside minimum..limit characters (absent values and non-strings pass)."""
    if isinstance(value, str) and not minimum <= len(value) <= limit:
        yield Violation(where, f"{len(value)} characters, must be {minimum}-{limit}")


def _is_name_char(char: str) -> bool:
    # Discord's regex: ^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$
    if char in "-_'":
        return True
    if unicodedata.category(char)[0] in "LN":
        return True
    code = ord(char)
    return 0x0900 <= code <= 0x097F or 0xA8E0 <= code <= 0xA8FF or 0x0E00 <= code <= 0x0E7F


def _name_problem(name: Any, *, chat_input: bool) -> str | None:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return f"name {name!r} must be 1-32 characters"
    if chat_input and not all(_is_name_char(char) for char in name):
        return f"name {name!r} does not match {NAME_PATTERN}"
    if chat_input and name != name.lower():
        return f"name {name!r} must be lowercase"
    return None


def _description_problem(description: Any, *, chat_input: bool) -> str | None:
    if not chat_input:
        return None if description in (None, "") else "context menu description must be empty"
    if not isinstance(description, str) or not 1 <= len(description) <= 100:
        return f"description {description!r} must be 1-100 characters"
    return None


def _check_locales(item: dict[str, Any], path: str) -> list[Violation]:
    """Localization dicts may only be keyed by Discord's locales (e.g. "de", not "de-DE")."""
    violations = []
    for key in ("name_localizations", "description_localizations"):
        for locale in _mapping(item.get(key)):
            if locale not in LOCALES:
                violations.append(
                    Violation(f"{path}.{key}.{locale}", f"{locale!r} is not a Discord locale")
                )
    return violations


def _check_named(item: dict[str, Any], path: str, *, chat_input: bool) -> list[Violation]:
    problems = [
        (f"{path}.name", _name_problem(item.get("name"), chat_input=chat_input)),
        (
            f"{path}.description",
            _description_problem(item.get("description"), chat_input=chat_input),
        ),
    ]
    for locale, name in _mapping(item.get("name_localizations")).items():
        problems.append(
            (f"{path}.name_localizations.{locale}", _name_problem(name, chat_input=chat_input))
        )
    for locale, text in _mapping(item.get("description_localizations")).items():
        problem = _description_problem(text, chat_input=chat_input)
        problems.append((f"{path}.description_localizations.{locale}", problem))
    violations = [Violation(where, problem) for where, problem in problems if problem]
    return violations + _check_locales(item, path)


def _check_options(options: list[dict[str, Any]], path: str) -> list[Violation]:
    violations = []
    if len(options) > MAX_OPTIONS:
        violations.append(Violation(path, f"{len(options)} options, at most {MAX_OPTIONS} allowed"))
    names = [option.get("name") for option in options]
    if len(set(map(repr, names))) != len(names):
        violations.append(Violation(path, f"duplicate option names in {names}"))
    seen_optional = False
    for index, option in enumerate(options):
        where = f"{path}[{index}]"
        violations += _check_named(option, where, chat_input=True)
        if option.get("type") in SUBCOMMAND_TYPES:
            violations += _check_options(_dicts(option.get("options")), f"{where}.options")
            continue
        if option.get("required") and seen_optional:
            violations.append(Violation(where, "required options must come before optional ones"))
        seen_optional = seen_optional or not option.get("required")
        violations += _check_choices(option, where)
    return violations


def _check_choices(option: dict[str, Any], path: str) -> list[Violation]:
    choices = _dicts(option.get("choices"))
    violations = []
    if len(choices) > MAX_CHOICES:
        violations.append(Violation(f"{path}.choices", f"{len(choices)} choices, at most 25"))
    if choices and option.get("autocomplete"):
        violations.append(Violation(path, "an option cannot have both choices and autocomplete"))
    for index, choice in enumerate(choices):
        where = f"{path}.choices[{index}]"
        if not 1 <= len(str(choice.get("name", ""))) <= 100:
            violations.append(Violation(f"{where}.name", "must be 1-100 characters"))
        for locale, name in _mapping(choice.get("name_localizations")).items():
            violations += _bad_length(name, f"{where}.name_localizations.{locale}", 100, 1)
        violations += _check_locales(choice, where)
    return violations


def _longest(item: dict[str, Any], key: str) -> int:
    """Length of a text in its longest locale: Discord counts the limit per locale."""
    texts = [_text(item.get(key))]
    texts += [_text(text) for text in _mapping(item.get(f"{key}_localizations")).values()]
    return max(len(text) for text in texts)


def command_length(item: dict[str, Any]) -> int:
    """Characters of a command (or option) with its options and choices, recursively."""
    total = sum(_longest(item, key) for key in LOCALIZED)
    for choice in _dicts(item.get("choices")):
        total += _longest(choice, "name") + len(str(choice.get("value", "")))
    return total + sum(command_length(option) for option in _dicts(item.get("options")))


def check_commands(commands: list[dict[str, Any]]) -> list[Violation]:
    """Check a bulk-overwrite payload (one scope: global or one guild)."""
    violations: list[Violation] = []
    counts: dict[int, int] = {}
    keys = set()
    for index, command in enumerate(commands):
        if not isinstance(command, dict):
            continue
        kind = command.get("type") or CHAT_INPUT
        counts[kind] = counts.get(kind, 0) + 1
        key = (kind, repr(command.get("name")))
        if key in keys:
            violations.append(
                Violation(f"$[{index}].name", f"duplicate command {command.get('name')!r}")
            )
        keys.add(key)
        chat_input = kind == CHAT_INPUT
        violations += _check_named(command, f"$[{index}]", chat_input=chat_input)
        if chat_input:
            violations += _check_options(_dicts(command.get("options")), f"$[{index}].options")
            violations += _check_command_length(command, f"$[{index}]")
    for kind, count in counts.items():
        if count > COMMAND_LIMITS.get(kind, 100):
            violations.append(
                Violation("$", f"{count} commands of type {kind}, limit {COMMAND_LIMITS[kind]}")
            )
    return violations


def _check_command_length(command: dict[str, Any], path: str) -> list[Violation]:
    total = command_length(command)
    if total <= COMMAND_TOTAL:
        return []
    message = (
        f"/{command.get('name')} totals {total} characters (name, description, options and"
        f" choices, each in its longest locale), at most {COMMAND_TOTAL}"
    )
    return [Violation(path, message)]


def _embed_length(embed: dict[str, Any]) -> int:
    texts = [embed.get("title"), embed.get("description")]
    texts.append(_mapping(embed.get("footer")).get("text"))
    texts.append(_mapping(embed.get("author")).get("name"))
    for field in _dicts(embed.get("fields")):
        texts += [field.get("name"), field.get("value")]
    return sum(len(text) for text in texts if isinstance(text, str))


def _check_embed(embed: dict[str, Any], path: str) -> Iterable[Violation]:
    for key, limit in EMBED_LIMITS.items():
        if len(_text(embed.get(key))) > limit:
            yield Violation(f"{path}.{key}", f"longer than {limit}")
    if len(_text(_mapping(embed.get("footer")).get("text"))) > 2048:
        yield Violation(f"{path}.footer.text", "longer than 2048")
    if len(_text(_mapping(embed.get("author")).get("name"))) > 256:
        yield Violation(f"{path}.author.name", "longer than 256")
    fields = _dicts(embed.get("fields"))
    if len(fields) > MAX_FIELDS:
        yield Violation(f"{path}.fields", f"{len(fields)} fields, at most {MAX_FIELDS}")
    for index, field in enumerate(fields):
        for key, limit in (("name", 256), ("value", 1024)):
            if not 1 <= len(str(field.get(key) or "")) <= limit:
                yield Violation(f"{path}.fields[{index}].{key}", f"must be 1-{limit} characters")


def _check_content(body: dict[str, Any], path: str) -> list[Violation]:
    violations = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_LIMIT:
        violations.append(
            Violation(f"{path}.content", f"{len(content)} characters, at most {CONTENT_LIMIT}")
        )
    embeds = _dicts(body.get("embeds"))
    if len(embeds) > MAX_EMBEDS:
        violations.append(
            Violation(f"{path}.embeds", f"{len(embeds)} embeds, at most {MAX_EMBEDS}")
        )
    for index, embed in enumerate(embeds):
        violations += _check_embed(embed, f"{path}.embeds[{index}]")
    total = sum(_embed_length(embed) for embed in embeds)
    if total > EMBED_TOTAL:
        violations.append(
            Violation(f"{path}.embeds", f"embeds total {total} characters, at most {EMBED_TOTAL}")
        )
    return violations


# -- components ---------------------------------------------------------------------------------

Located = tuple[str, dict[str, Any]]  # (JSON path, component)


def _located(items: Any, path: str) -> list[Located]:
    if not isinstance(items, list):
        return []
    return [
        (f"{path}[{index}]", item) for index, item in enumerate(items) if isinstance(item, dict)
    ]


def _children(where: str, item: dict[str, Any]) -> list[Located]:
    """Nested components: rows, containers and sections list them; labels and sections'
    accessories hold one."""
    children = _located(item.get("components"), f"{where}.components")
    for key in ("component", "accessory"):
        if isinstance(item.get(key), dict):
            children.append((f"{where}.{key}", item[key]))
    return children


def walk(components: list[Located]) -> Iterator[Located]:
    """Every component with its path, depth first."""
    for where, item in components:
        yield where, item
        yield from walk(_children(where, item))


def _check_row(where: str, row: dict[str, Any]) -> Iterator[Violation]:
    """A message action row: 1-5 buttons, or exactly one select menu."""
    children = _located(row.get("components"), f"{where}.components")
    if not children:
        yield Violation(f"{where}.components", "an action row needs 1-5 components")
    buttons = [path for path, child in children if child.get("type") == BUTTON]
    for path in buttons[MAX_ROW_BUTTONS:]:
        yield Violation(path, f"{len(buttons)} buttons in a row, at most {MAX_ROW_BUTTONS}")
    if len(children) > 1:
        for path, child in children:
            if child.get("type") in SELECT_TYPES:
                yield Violation(path, "a select menu takes a whole action row")


def _check_button(where: str, button: dict[str, Any]) -> Iterator[Violation]:
    yield from _bad_length(button.get("label"), f"{where}.label", 80)
    style = button.get("style")
    has_id, has_url = button.get("custom_id") is not None, button.get("url") is not None
    if style == LINK_STYLE:
        if not has_url:
            yield Violation(f"{where}.url", "a link button (style 5) needs a url")
        if has_id:
            yield Violation(f"{where}.custom_id", "a link button (style 5) has no custom_id")
    elif style == PREMIUM_STYLE:
        if button.get("sku_id") is None:
            yield Violation(f"{where}.sku_id", "a premium button (style 6) needs a sku_id")
        for key in ("custom_id", "url", "label", "emoji"):
            if button.get(key) is not None:
                yield Violation(f"{where}.{key}", f"a premium button (style 6) has no {key}")
    else:
        if not has_id:
            yield Violation(f"{where}.custom_id", f"a button of style {style} needs a custom_id")
        if has_url:
            yield Violation(f"{where}.url", "only link buttons (style 5) have a url")


def _check_select(where: str, select: dict[str, Any]) -> Iterator[Violation]:
    yield from _bad_length(select.get("placeholder"), f"{where}.placeholder", 150)
    low, high = _int(select.get("min_values"), 1), _int(select.get("max_values"), 1)
    if not 0 <= low <= 25:
        yield Violation(f"{where}.min_values", f"{low}, must be 0-25")
    if not 1 <= high <= 25:
        yield Violation(f"{where}.max_values", f"{high}, must be 1-25")
    if low > high:
        yield Violation(f"{where}.min_values", f"min_values {low} exceeds max_values {high}")
    if select.get("type") == STRING_SELECT:
        yield from _check_select_options(where, select, high)


def _check_select_options(where: str, select: dict[str, Any], high: int) -> Iterator[Violation]:
    options = _located(select.get("options"), f"{where}.options")
    if not 1 <= len(options) <= 25:
        yield Violation(f"{where}.options", f"{len(options)} options, must be 1-25")
    elif high > len(options):
        yield Violation(f"{where}.max_values", f"{high} exceeds the {len(options)} options")
    seen: set[str] = set()
    for path, option in options:
        yield from _bad_length(option.get("label"), f"{path}.label", 100, 1)
        yield from _bad_length(option.get("value"), f"{path}.value", 100, 1)
        yield from _bad_length(option.get("description"), f"{path}.description", 100)
        value = repr(option.get("value"))
        if value in seen:
            yield Violation(f"{path}.value", f"duplicate option value {option.get('value')!r}")
        seen.add(value)


def _check_custom_ids(components: list[Located]) -> Iterator[Violation]:
    """custom_id: at most 100 characters, and unique within the message or modal."""
    first: dict[str, str] = {}
    for where, item in walk(components):
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str):
            continue
        yield from _bad_length(custom_id, f"{where}.custom_id", CUSTOM_ID_LIMIT, 1)
        if custom_id in first:
            yield Violation(
                f"{where}.custom_id", f"{custom_id!r} is already used at {first[custom_id]}"
            )
        first.setdefault(custom_id, where)


def _check_interactive(components: list[Located]) -> Iterator[Violation]:
    """Rules of rows, buttons and selects wherever they are nested."""
    for where, item in walk(components):
        kind = item.get("type")
        if kind == ACTION_ROW:
            yield from _check_row(where, item)
        elif kind == BUTTON:
            yield from _check_button(where, item)
        elif kind in SELECT_TYPES:
            yield from _check_select(where, item)
    yield from _check_custom_ids(components)


def _check_legacy(components: list[Located]) -> Iterator[Violation]:
    """Without IS_COMPONENTS_V2 a message holds only action rows, at most 5."""
    for where, _ in components[MAX_ACTION_ROWS:]:
        yield Violation(where, f"{len(components)} action rows, at most {MAX_ACTION_ROWS}")
    for where, item in components:
        if item.get("type") != ACTION_ROW:
            yield Violation(
                f"{where}.type",
                f"component type {item.get('type')} at the top level needs the"
                " IS_COMPONENTS_V2 flag (1 << 15); without it only action rows (1) are allowed",
            )


def _check_v2(body: dict[str, Any], components: list[Located], path: str) -> Iterator[Violation]:
    """IS_COMPONENTS_V2: components replace content, embeds, stickers and polls."""
    for key in V2_FORBIDDEN:
        if body.get(key):
            yield Violation(f"{path}.{key}", "cannot be used with the IS_COMPONENTS_V2 flag")
    every = list(walk(components))
    if len(every) > MAX_V2_COMPONENTS:
        yield Violation(
            f"{path}.components",
            f"{len(every)} components counting nested ones, at most {MAX_V2_COMPONENTS}"
            f" (the first one too many is {every[MAX_V2_COMPONENTS][0]})",
        )
    # Discord counts the text of text displays (markdown included) towards this limit.
    text = sum(
        len(_text(item.get("content"))) for _, item in every if item.get("type") == TEXT_DISPLAY
    )
    if text > V2_TEXT_LIMIT:
        yield Violation(
            f"{path}.components",
            f"text displays total {text} characters, at most {V2_TEXT_LIMIT}",
        )


def check_layout(body: dict[str, Any], flags: int, path: str = "$") -> list[Violation]:
    """The rules that depend on IS_COMPONENTS_V2: top-level components and what may go
    with them. An edit that sends no flags keeps the message's, so `Message.apply_edit`
    runs this with them."""
    components = _located(body.get("components"), f"{path}.components")
    if flags & IS_COMPONENTS_V2:
        return list(_check_v2(body, components, path))
    return list(_check_legacy(components))


def check_message(body: Any, path: str = "$", *, edit: bool = False) -> list[Violation]:
    """Check a message create/edit body (`path` is where it sits, e.g. "$.data")."""
    if not isinstance(body, dict):
        return []
    violations = _check_content(body, path)
    if not edit or body.get("flags") is not None:
        violations += check_layout(body, _int(body.get("flags"), 0), path)
    components = _located(body.get("components"), f"{path}.components")
    return violations + list(_check_interactive(components))


# -- modals -------------------------------------------------------------------------------------


def _check_text_input(where: str, item: dict[str, Any]) -> Iterator[Violation]:
    low = _int(item.get("min_length"), 0)
    high = _int(item.get("max_length"), TEXT_INPUT_LIMIT)
    if not 0 <= low <= TEXT_INPUT_LIMIT:
        yield Violation(f"{where}.min_length", f"{low}, must be 0-{TEXT_INPUT_LIMIT}")
    if not 1 <= high <= TEXT_INPUT_LIMIT:
        yield Violation(f"{where}.max_length", f"{high}, must be 1-{TEXT_INPUT_LIMIT}")
    if low > high:
        yield Violation(f"{where}.min_length", f"min_length {low} exceeds max_length {high}")
    yield from _bad_length(item.get("value"), f"{where}.value", TEXT_INPUT_LIMIT)
    yield from _bad_length(item.get("placeholder"), f"{where}.placeholder", 100)
    yield from _bad_length(item.get("label"), f"{where}.label", 45, 1)


def _check_modal_top(where: str, item: dict[str, Any]) -> Iterator[Violation]:
    kind = item.get("type")
    if kind == LABEL:
        yield from _bad_length(item.get("label"), f"{where}.label", 45, 1)
        yield from _bad_length(item.get("description"), f"{where}.description", 100, 1)
        return
    if kind != ACTION_ROW:
        return  # text displays; anything else is the schema check's
    # The legacy form, still accepted: a row holding one text input that has its own label.
    inputs = _located(item.get("components"), f"{where}.components")
    if len(inputs) != 1 or inputs[0][1].get("type") != TEXT_INPUT:
        yield Violation(f"{where}.components", "an action row in a modal holds one text input")
    elif not isinstance(inputs[0][1].get("label"), str):
        yield Violation(f"{inputs[0][0]}.label", "a text input in an action row needs a label")


def check_modal(data: Any, path: str = "$.data") -> list[Violation]:
    """Check the data of a modal callback (type 9)."""
    if not isinstance(data, dict):
        return []
    violations = list(_bad_length(data.get("title"), f"{path}.title", 45, 1))
    violations += _bad_length(data.get("custom_id"), f"{path}.custom_id", CUSTOM_ID_LIMIT, 1)
    components = _located(data.get("components"), f"{path}.components")
    low, high = MODAL_COMPONENTS
    if not low <= len(components) <= high:
        violations.append(
            Violation(f"{path}.components", f"{len(components)} components, must be {low}-{high}")
        )
    for where, item in components:
        violations += _check_modal_top(where, item)
    for where, item in walk(components):
        if item.get("type") == TEXT_INPUT:
            violations += _check_text_input(where, item)
        elif item.get("type") in SELECT_TYPES:
            violations += _check_select(where, item)
    violations += _check_custom_ids(components)
    return violations


def check_callback(body: Any) -> list[Violation]:
    """Check an interaction callback body by its type: a message (4, 7) or a modal (9)."""
    if not isinstance(body, dict):
        return []
    if body.get("type") in (4, 7):
        return check_message(body.get("data"), "$.data", edit=body.get("type") == 7)
    if body.get("type") == 9:
        return check_modal(body.get("data"), "$.data")
    return []
