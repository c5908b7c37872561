"""Discord's documented limits that the OpenAPI spec does not express."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from .spec import Violation

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


def _check_named(item: dict[str, Any], path: str, *, chat_input: bool) -> list[Violation]:
    problems = [
        (f"{path}.name", _name_problem(item.get("name"), chat_input=chat_input)),
        (
            f"{path}.description",
            _description_problem(item.get("description"), chat_input=chat_input),
        ),
    ]
    for locale, name in (item.get("name_localizations") or {}).items():
        problems.append(
            (f"{path}.name_localizations.{locale}", _name_problem(name, chat_input=chat_input))
        )
    for locale, text in (item.get("description_localizations") or {}).items():
        problem = _description_problem(text, chat_input=chat_input)
        problems.append((f"{path}.description_localizations.{locale}", problem))
    return [Violation(where, problem) for where, problem in problems if problem]


def _check_options(options: list[dict[str, Any]], path: str) -> list[Violation]:
    violations = []
    if len(options) > MAX_OPTIONS:
        violations.append(Violation(path, f"{len(options)} options, at most {MAX_OPTIONS} allowed"))
    names = [option.get("name") for option in options]
    if len(set(names)) != len(names):
        violations.append(Violation(path, f"duplicate option names in {names}"))
    seen_optional = False
    for index, option in enumerate(options):
        where = f"{path}[{index}]"
        violations += _check_named(option, where, chat_input=True)
        if option.get("type") in SUBCOMMAND_TYPES:
            violations += _check_options(option.get("options") or [], f"{where}.options")
            continue
        if option.get("required") and seen_optional:
            violations.append(Violation(where, "required options must come before optional ones"))
        seen_optional = seen_optional or not option.get("required")
        violations += _check_choices(option, where)
    return violations


def _check_choices(option: dict[str, Any], path: str) -> list[Violation]:
    choices = option.get("choices") or []
    violations = []
    if len(choices) > MAX_CHOICES:
        violations.append(Violation(f"{path}.choices", f"{len(choices)} choices, at most 25"))
    if choices and option.get("autocomplete"):
        violations.append(Violation(path, "an option cannot have both choices and autocomplete"))
    for index, choice in enumerate(choices):
        if not 1 <= len(str(choice.get("name", ""))) <= 100:
            violations.append(
                Violation(f"{path}.choices[{index}].name", "must be 1-100 characters")
            )
    return violations


def check_commands(commands: list[dict[str, Any]]) -> list[Violation]:
    """Check a bulk-overwrite payload (one scope: global or one guild)."""
    violations: list[Violation] = []
    counts: dict[int, int] = {}
    keys = set()
    for index, command in enumerate(commands):
        kind = command.get("type") or CHAT_INPUT
        counts[kind] = counts.get(kind, 0) + 1
        key = (kind, command.get("name"))
        if key in keys:
            violations.append(Violation(f"$[{index}].name", f"duplicate command {key[1]!r}"))
        keys.add(key)
        chat_input = kind == CHAT_INPUT
        violations += _check_named(command, f"$[{index}]", chat_input=chat_input)
        if chat_input:
            violations += _check_options(command.get("options") or [], f"$[{index}].options")
    for kind, count in counts.items():
        if count > COMMAND_LIMITS.get(kind, 100):
            violations.append(
                Violation("$", f"{count} commands of type {kind}, limit {COMMAND_LIMITS[kind]}")
            )
    return violations


def _embed_length(embed: dict[str, Any]) -> int:
    texts = [embed.get("title"), embed.get("description")]
    texts.append((embed.get("footer") or {}).get("text"))
    texts.append((embed.get("author") or {}).get("name"))
    for field in embed.get("fields") or []:
        texts += [field.get("name"), field.get("value")]
    return sum(len(text) for text in texts if isinstance(text, str))


def _check_embed(embed: dict[str, Any], path: str) -> Iterable[Violation]:
    for key, limit in EMBED_LIMITS.items():
        if len(embed.get(key) or "") > limit:
            yield Violation(f"{path}.{key}", f"longer than {limit}")
    if len((embed.get("footer") or {}).get("text") or "") > 2048:
        yield Violation(f"{path}.footer.text", "longer than 2048")
    if len((embed.get("author") or {}).get("name") or "") > 256:
        yield Violation(f"{path}.author.name", "longer than 256")
    fields = embed.get("fields") or []
    if len(fields) > MAX_FIELDS:
        yield Violation(f"{path}.fields", f"{len(fields)} fields, at most {MAX_FIELDS}")
    for index, field in enumerate(fields):
        for key, limit in (("name", 256), ("value", 1024)):
            if not 1 <= len(str(field.get(key) or "")) <= limit:
                yield Violation(f"{path}.fields[{index}].{key}", f"must be 1-{limit} characters")


def check_message(body: Any) -> list[Violation]:
    """Check content and embed limits of a message create/edit body."""
    if not isinstance(body, dict):
        return []
    violations = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_LIMIT:
        violations.append(
            Violation("$.content", f"{len(content)} characters, at most {CONTENT_LIMIT}")
        )
    embeds = body.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        violations.append(Violation("$.embeds", f"{len(embeds)} embeds, at most {MAX_EMBEDS}"))
    for index, embed in enumerate(embeds):
        violations += _check_embed(embed, f"$.embeds[{index}]")
    total = sum(_embed_length(embed) for embed in embeds)
    if total > EMBED_TOTAL:
        violations.append(
            Violation("$.embeds", f"embeds total {total} characters, at most {EMBED_TOTAL}")
        )
    return violations
