"""Modals built from data: a form (application questions, an event's fields) shown in Discord.

A `FormModal` takes a list of `FormField`s (at most five: Discord's limit per modal), wraps
each input in a `ui.Label`, and on submit validates the answers with the same pydantic
schema the API uses, so Discord and the website accept exactly the same input. A refusal
(a domain rule or a field that fails the schema) is answered in the modal's own reply, in the
user's language; the user's answers are lost with the modal, so the reply names every bad field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import discord
from pydantic import BaseModel

from bot.answer import deadline
from bot.context import load_context
from bot.errors import handle_error
from bot.i18n import t
from models.errors import Invalid
from models.validation import field_errors, validate

log = logging.getLogger(__name__)

FieldKind = Literal[
    "short", "paragraph", "select", "multiselect", "radio", "checkboxes", "checkbox"
]
MAX_FIELDS = 5
TITLE_LIMIT = 45
LABEL_LIMIT = 45
DESCRIPTION_LIMIT = 100
TEXT_LIMIT = 4000
# Option counts Discord allows per component kind.
OPTION_RANGES: dict[str, tuple[int, int]] = {
    "select": (1, 25),
    "multiselect": (1, 25),
    "radio": (2, 10),
    "checkboxes": (1, 10),
}


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class FormField:
    """One question; `key` is the schema field its answer fills."""

    key: str
    label: str
    kind: FieldKind = "short"
    required: bool = True
    description: str | None = None
    placeholder: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[Choice, ...] = ()
    default: str | bool | tuple[str, ...] | None = None


def check_form(title: str, fields: Sequence[FormField]) -> list[str]:
    """What Discord would refuse in this form (empty when it can be shown)."""
    problems = []
    if not 1 <= len(fields) <= MAX_FIELDS:
        problems.append(f"a modal holds 1-{MAX_FIELDS} fields, not {len(fields)}")
    keys = [item.key for item in fields]
    if len(set(keys)) != len(keys):
        problems.append(f"field keys must be unique (they are the custom ids): {keys}")
    if not 1 <= len(title) <= TITLE_LIMIT:
        problems.append(f"title must be 1-{TITLE_LIMIT} characters")
    for item in fields:
        problems += _field_problems(item)
    return problems


def _field_problems(item: FormField) -> list[str]:
    problems = []
    if not 1 <= len(item.label) <= LABEL_LIMIT:
        problems.append(f"{item.key}: label must be 1-{LABEL_LIMIT} characters")
    if item.description and len(item.description) > DESCRIPTION_LIMIT:
        problems.append(f"{item.key}: description is longer than {DESCRIPTION_LIMIT}")
    if item.kind in OPTION_RANGES:
        low, high = OPTION_RANGES[item.kind]
        if not low <= len(item.choices) <= high:
            problems.append(f"{item.key}: {item.kind} takes {low}-{high} choices")
        problems += _choice_problems(item)
    if isinstance(item.default, str) and len(item.default) > (item.max_length or TEXT_LIMIT):
        problems.append(f"{item.key}: the default is longer than max_length")
    if item.max_length is not None and not 1 <= item.max_length <= TEXT_LIMIT:
        problems.append(f"{item.key}: max_length must be 1-{TEXT_LIMIT}")
    if item.min_length is not None and not 0 <= item.min_length <= TEXT_LIMIT:
        problems.append(f"{item.key}: min_length must be 0-{TEXT_LIMIT}")
    if (item.min_length or 0) > (item.max_length or TEXT_LIMIT):
        problems.append(f"{item.key}: min_length is above max_length")
    if not 1 <= len(item.key) <= 100:
        problems.append(f"{item.key}: the key is the custom id, 1-100 characters")
    return problems


def _choice_problems(item: FormField) -> list[str]:
    values = [choice.value for choice in item.choices]
    problems = []
    if len(set(values)) != len(values):
        problems.append(f"{item.key}: choice values must be unique")
    for choice in item.choices:
        if not 1 <= len(choice.value) <= 100 or not 1 <= len(choice.label) <= 100:
            problems.append(f"{item.key}: choice {choice.value!r} needs a value and label of 1-100")
        if choice.description and len(choice.description) > 100:
            problems.append(f"{item.key}: choice {choice.value!r} description is longer than 100")
    return problems


Submitted = Callable[[discord.Interaction, Any], Awaitable[None]]


class FormModal(discord.ui.Modal):
    """A modal of `fields`; answers valid under `schema` go to `on_valid(interaction, model)`.

    Each input's custom id is its field key (unique within the modal, which is all Discord
    asks), so a submission maps back to the schema without a lookup table.

    Texts (title, labels, descriptions, choice labels) are shown in the user's language
    when they are catalog messages, and as given otherwise (a hub's own questions).
    """

    def __init__(
        self,
        interaction: discord.Interaction,
        *,
        title: str,
        fields: Sequence[FormField],
        schema: type[BaseModel],
        on_valid: Submitted,
        extra: dict[str, Any] | None = None,
        public: bool = False,
    ) -> None:
        title = t(interaction, title)[:TITLE_LIMIT]
        problems = check_form(title, fields)
        if problems:
            raise ValueError("; ".join(problems))
        super().__init__(title=title, timeout=15 * 60)
        self.schema = schema
        self.on_valid = on_valid
        self.public = public  # whether on_valid answers for everyone (a forced deferral too)
        self.extra = extra or {}  # fixed values merged into the answers (e.g. the event id)
        self.inputs: dict[str, tuple[FormField, discord.ui.Item[Any]]] = {}
        for item in fields:
            component = _component(interaction, item)
            self.inputs[item.key] = (item, component)
            description = t(interaction, item.description) if item.description else None
            self.add_item(
                discord.ui.Label(
                    text=t(interaction, item.label)[:LABEL_LIMIT],
                    description=description[:DESCRIPTION_LIMIT] if description else None,
                    component=component,
                )
            )

    def answers(self) -> dict[str, Any]:
        """What the user entered, by field key; empty optional fields are left out."""
        values: dict[str, Any] = {}
        for key, (item, component) in self.inputs.items():
            value = _value_of(item, component)
            if value not in (None, "", []):
                values[key] = value
        return {**values, **self.extra}

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        async with deadline(interaction, ephemeral=not self.public):
            try:
                await load_context(interaction)  # the user's language for every reply
                try:
                    model = validate(self.schema, self.answers())
                except Invalid as exc:
                    raise self.labelled(interaction, exc) from None
                await self.on_valid(interaction, model)
            except Exception as exc:  # answered in the modal's reply, never only logged
                await handle_error(interaction, exc)

    def labelled(self, interaction: discord.Interaction, error: Invalid) -> Invalid:
        """The schema's refusal naming each field by the label the user saw, not its key."""
        labels = {key: t(interaction, item.label) for key, (item, _) in self.inputs.items()}
        fields = [
            {**entry, "field": labels.get(str(entry["field"]).split(".")[0], entry["field"])}
            for entry in error.params.get("errors", [])
        ]
        return field_errors(fields)

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:
        await handle_error(interaction, error)


def _component(interaction: discord.Interaction, item: FormField) -> discord.ui.Item[Any]:
    if item.kind in ("short", "paragraph"):
        return discord.ui.TextInput(
            custom_id=item.key,
            style=discord.TextStyle.short if item.kind == "short" else discord.TextStyle.paragraph,
            required=item.required,
            placeholder=t(interaction, item.placeholder)[:100] if item.placeholder else None,
            min_length=item.min_length,
            max_length=item.max_length,
            default=item.default if isinstance(item.default, str) else None,
        )
    if item.kind == "checkbox":
        return discord.ui.Checkbox(custom_id=item.key, default=bool(item.default))
    options = [_option(interaction, item, choice) for choice in item.choices]
    if item.kind == "radio":
        return discord.ui.RadioGroup(custom_id=item.key, required=item.required, options=options)  # type: ignore[arg-type]
    if item.kind == "checkboxes":
        return discord.ui.CheckboxGroup(
            custom_id=item.key,
            required=item.required,
            min_values=1 if item.required else 0,
            max_values=len(options),
            options=options,  # type: ignore[arg-type]
        )
    many = item.kind == "multiselect"
    return discord.ui.Select(
        custom_id=item.key,
        options=options,  # type: ignore[arg-type]
        required=item.required,
        min_values=1 if item.required else 0,
        max_values=len(options) if many else 1,
        placeholder=t(interaction, item.placeholder)[:150] if item.placeholder else None,
    )


def _option(interaction: discord.Interaction, item: FormField, choice: Choice) -> Any:
    default = item.default
    chosen = choice.value == default or (isinstance(default, tuple) and choice.value in default)
    text = t(interaction, choice.label)[:100]
    description = t(interaction, choice.description)[:100] if choice.description else None
    if item.kind == "radio":
        return discord.RadioGroupOption(
            label=text, value=choice.value, description=description, default=chosen
        )
    if item.kind == "checkboxes":
        return discord.CheckboxGroupOption(
            label=text, value=choice.value, description=description, default=chosen
        )
    return discord.SelectOption(
        label=text, value=choice.value, description=description, default=chosen
    )


def _value_of(item: FormField, component: discord.ui.Item[Any]) -> Any:
    if isinstance(component, discord.ui.TextInput):
        return component.value.strip()
    if isinstance(component, discord.ui.Checkbox):
        return component.value
    if isinstance(component, discord.ui.RadioGroup):
        return component.value
    values = list(component.values)  # type: ignore[attr-defined]
    if item.kind == "select":
        return values[0] if values else None
    return values
