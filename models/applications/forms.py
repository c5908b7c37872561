"""Application forms: ordered fields stored as data, checked against what Discord can show
when staff save them, and the one validation of answers the API and the bot share.

How each kind is shown in a Discord modal (`component`):

- short, number, date, url, steam, truckersmp: a one-line text input; paragraph: a
  multi-line one;
- choice: a radio group when it offers 2 to 10 choices, otherwise a string select (1 to 25);
  `display: "select"` asks for the select anyway;
- multi_choice: a checkbox group up to 10 choices, otherwise a multi-select (up to 25);
  `display: "multiselect"` asks for the multi-select anyway. `min_length`/`max_length`
  bound how many may be picked;
- yes_no: a radio group of Yes and No.

A modal holds five inputs, so a form of up to 25 fields is shown in steps of five (`steps`).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from models.i18n import N_, Lazy
from models.text import Name, clean_name, clean_text, unstorable
from models.validation import Problem, field_errors

# Discord's limits for modals (the bot's bot/modals.py has the same numbers; the domain may
# not import the bot, and a form is checked here, when staff save it).
MAX_FIELDS_PER_STEP = 5  # inputs per modal
MAX_FIELDS = 25  # five modals: a longer form is a chore nobody finishes
LABEL_LIMIT = 45
HELP_LIMIT = 100  # a label's description
TEXT_LIMIT = 4000  # a text input's value
CHOICE_LIMIT = 100  # a select option's label and value
RADIO_RANGE = (2, 10)
CHECKBOX_RANGE = (1, 10)
SELECT_RANGE = (1, 25)
URL_LIMIT = 512
KEY_PATTERN = r"^[a-z0-9_]{1,32}$"

FieldKind = Literal[
    "short",
    "paragraph",
    "number",
    "choice",
    "multi_choice",
    "yes_no",
    "date",
    "url",
    "steam",
    "truckersmp",
]
Display = Literal["radio", "select", "checkboxes", "multiselect"]
TEXT_KINDS = frozenset({"short", "paragraph"})
CHOICE_KINDS = frozenset({"choice", "multi_choice"})
DISPLAYS: dict[str, frozenset[str]] = {
    "choice": frozenset({"radio", "select"}),
    "multi_choice": frozenset({"checkboxes", "multiselect"}),
}
ChoiceText = Annotated[str, Field(min_length=1, max_length=CHOICE_LIMIT)]


class FormFieldSpec(BaseModel):
    """One question of a form. Field order matters: later checks read earlier fields."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        pattern=KEY_PATTERN, description="a-z, 0-9 and _, 1-32 characters; unique in the form."
    )
    kind: FieldKind
    label: Name(LABEL_LIMIT) = Field(description=f"1-{LABEL_LIMIT} characters.")  # type: ignore[valid-type]
    help: Name(HELP_LIMIT, min_length=0) = Field(  # type: ignore[valid-type]
        default="", description=f"Shown under the label; at most {HELP_LIMIT} characters."
    )
    required: bool = True
    display: Display | None = Field(
        default=None,
        description=(
            "choice: radio (2-10 choices) or select (1-25); multi_choice: checkboxes (1-10)"
            " or multiselect (1-25). Left out: radio/checkboxes up to 10 choices, else select."
        ),
    )
    choices: list[ChoiceText] = Field(
        default_factory=list,
        # Checked when left out too: a choice field without choices cannot be shown.
        validate_default=True,
        description="choice and multi_choice only; unique.",
    )
    min_length: int | None = Field(
        default=None,
        ge=0,
        le=TEXT_LIMIT,
        description="Text: fewest characters; multi_choice: fewest picks.",
    )
    max_length: int | None = Field(
        default=None,
        ge=1,
        le=TEXT_LIMIT,
        description="Text: most characters; multi_choice: most picks.",
    )
    min_value: float | None = Field(default=None, description="number only.")
    max_value: float | None = Field(default=None, description="number only.")

    @field_validator("display")
    @classmethod
    def _display_fits_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if value is not None and kind is not None and value not in DISPLAYS.get(kind, ()):
            raise Problem(
                N_("{kind} fields cannot be shown as {display}"), kind=kind, display=value
            )
        return value

    @field_validator("choices")
    @classmethod
    def _choices_fit(cls, value: list[str], info: ValidationInfo) -> list[str]:
        kind = info.data.get("kind")
        if kind is None:
            return value
        value = [clean_name(choice) for choice in value]
        if kind not in CHOICE_KINDS:
            if value:
                raise Problem(N_("only choice and multi-choice fields have choices"))
            return value
        if len(set(value)) != len(value):
            raise Problem(N_("each choice may be offered once"))
        low, high = _range(kind, info.data.get("display"), len(value))
        if not low <= len(value) <= high:
            shown = component_of(kind, info.data.get("display"), len(value))
            raise Problem(
                N_("a {component} offers {low} to {high} choices, not {count}"),
                component=shown,
                low=low,
                high=high,
                count=len(value),
            )
        return value

    @field_validator("min_length", "max_length")
    @classmethod
    def _lengths_fit(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("kind")
        if value is None or kind is None:
            return value
        if kind not in TEXT_KINDS and kind != "multi_choice":
            raise Problem(N_("only text and multi-choice fields have a length"))
        if kind == "multi_choice" and value > len(info.data.get("choices") or []):
            raise Problem(N_("more picks than there are choices"))
        low = info.data.get("min_length")
        if info.field_name == "max_length" and low is not None and value < low:
            raise Problem(N_("must not be below min_length"))
        return value

    @field_validator("min_value", "max_value")
    @classmethod
    def _range_fits(cls, value: float | None, info: ValidationInfo) -> float | None:
        kind = info.data.get("kind")
        if value is None or kind is None:
            return value
        if kind != "number":
            raise Problem(N_("only number fields have a range"))
        low = info.data.get("min_value")
        if info.field_name == "max_value" and low is not None and value < low:
            raise Problem(N_("must not be below min_value"))
        return value


def _range(kind: str, display: str | None, count: int) -> tuple[int, int]:
    shown = component_of(kind, display, count)
    return {
        "radio": RADIO_RANGE,
        "checkboxes": CHECKBOX_RANGE,
        "select": SELECT_RANGE,
        "multiselect": SELECT_RANGE,
    }[shown]


def component_of(kind: str, display: str | None, count: int) -> str:
    """The Discord component a choice field is shown as (see the module's docstring)."""
    if display is not None:
        return display
    if kind == "choice":
        return "radio" if RADIO_RANGE[0] <= count <= RADIO_RANGE[1] else "select"
    return "checkboxes" if count <= CHECKBOX_RANGE[1] else "multiselect"


def component(spec: FormFieldSpec) -> str:
    """How the bot shows a field: short, paragraph, radio, select, checkboxes, multiselect."""
    if spec.kind in CHOICE_KINDS:
        return component_of(spec.kind, spec.display, len(spec.choices))
    if spec.kind == "yes_no":
        return "radio"
    return "paragraph" if spec.kind == "paragraph" else "short"


class Form(BaseModel):
    """An application type's questions, in order."""

    model_config = ConfigDict(extra="forbid")
    fields: list[FormFieldSpec] = Field(
        min_length=1,
        max_length=MAX_FIELDS,
        description=f"1-{MAX_FIELDS} fields, shown {MAX_FIELDS_PER_STEP} per Discord modal.",
    )

    @field_validator("fields")
    @classmethod
    def _unique_keys(cls, value: list[FormFieldSpec]) -> list[FormFieldSpec]:
        seen: set[str] = set()
        for spec in value:
            if spec.key in seen:
                raise Problem(N_("the key {key} is used twice"), key=spec.key)
            seen.add(spec.key)
        return value


def steps(form: Form) -> list[list[FormFieldSpec]]:
    """The form in pages of at most five fields: one Discord modal each."""
    size = MAX_FIELDS_PER_STEP
    return [form.fields[i : i + size] for i in range(0, len(form.fields), size)]


# Answers


class _Wrong(Exception):
    """One answer refused: a text in the reader's language (lazy)."""

    def __init__(self, message: str | Lazy, **params: Any) -> None:
        self.lazy = message if isinstance(message, Lazy) else Lazy(message, **params)
        super().__init__(str(self.lazy))


REQUIRED = N_("This field is required.")
STEAM_PROFILE = re.compile(
    r"^(?:https?://)?(?:www\.)?steamcommunity\.com/profiles/(7656119[0-9]{10})/?$", re.IGNORECASE
)
STEAM_ID = re.compile(r"^7656119[0-9]{10}$")
TRUCKERSMP_PROFILE = re.compile(
    r"^(?:https?://)?(?:www\.)?truckersmp\.com/user/([1-9][0-9]{0,11})/?$", re.IGNORECASE
)
TRUCKERSMP_ID = re.compile(r"^[1-9][0-9]{0,11}$")
YES = frozenset({"yes", "y", "true", "1", "ja"})
NO = frozenset({"no", "n", "false", "0", "nein"})


def _blank(value: Any) -> bool:
    return (
        value is None
        or value == ""
        or value == []
        or (isinstance(value, str) and not value.strip())
    )


def validate_answers(
    form: Form, answers: dict[str, Any], *, only: list[str] | None = None
) -> dict[str, Any]:
    """The answers normalised (numbers as numbers, Steam ids as text, choices as offered),
    or `Invalid` naming each wrong field by its key. With `only` (one step's keys), only
    those fields are checked and returned."""
    if not isinstance(answers, dict):
        raise field_errors([{"field": "answers", "message": Lazy(N_("Must be an object."))}])
    fields = [spec for spec in form.fields if only is None or spec.key in only]
    known = {spec.key for spec in fields}
    errors: list[dict[str, Any]] = [
        {"field": str(key), "message": Lazy(N_("This question is not in the form."))}
        for key in answers
        if key not in known
    ]
    clean: dict[str, Any] = {}
    for spec in fields:
        value = answers.get(spec.key)
        if _blank(value):
            if spec.required:
                errors.append({"field": spec.key, "message": Lazy(REQUIRED)})
            continue
        try:
            clean[spec.key] = _answer(spec, value)
        except _Wrong as wrong:
            errors.append({"field": spec.key, "message": wrong.lazy})
    if errors:
        raise field_errors(errors)
    return clean


def _answer(spec: FormFieldSpec, value: Any) -> Any:
    check = _CHECKS[spec.kind]
    return check(spec, value)


def _text(spec: FormFieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise _Wrong(N_("Must be text."))
    if unstorable(value):
        raise _Wrong(N_("Must be text."))
    try:
        text = clean_text(value) if spec.kind == "paragraph" else clean_name(value)
    except ValueError as exc:
        raise _Wrong(getattr(exc, "lazy", None) or N_("Must be text.")) from None
    longest = spec.max_length or TEXT_LIMIT
    if len(text) > longest:
        raise _Wrong(N_("Must be at most {max_length} characters long."), max_length=longest)
    if spec.min_length and len(text) < spec.min_length:
        raise _Wrong(
            N_("Must be at least {min_length} characters long."), min_length=spec.min_length
        )
    return text


def _short_string(value: Any, message: str) -> str:
    if isinstance(value, str) and len(value) <= URL_LIMIT and not unstorable(value):
        return value.strip()
    raise _Wrong(message)


def _number(spec: FormFieldSpec, value: Any) -> int | float:
    if isinstance(value, bool):
        raise _Wrong(N_("Must be a number."))
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        if not re.fullmatch(r"-?[0-9]{1,15}(\.[0-9]{1,6})?", text):
            raise _Wrong(N_("Must be a number."))
        value = float(text)
    if not isinstance(value, int | float) or value != value or abs(value) > 1e15:
        raise _Wrong(N_("Must be a number."))
    number: int | float = int(value) if float(value).is_integer() else float(value)
    if spec.min_value is not None and number < spec.min_value:
        raise _Wrong(N_("Must be at least {ge}."), ge=_plain(spec.min_value))
    if spec.max_value is not None and number > spec.max_value:
        raise _Wrong(N_("Must be at most {le}."), le=_plain(spec.max_value))
    return number


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _choice(spec: FormFieldSpec, value: Any) -> str:
    if not isinstance(value, str) or value not in spec.choices:
        raise _Wrong(N_("Pick one of the choices offered."))
    return value


def _multi_choice(spec: FormFieldSpec, value: Any) -> list[str]:
    picks = [value] if isinstance(value, str) else value
    if not isinstance(picks, list) or not all(isinstance(p, str) for p in picks):
        raise _Wrong(N_("Must be a list."))
    if any(pick not in spec.choices for pick in picks) or len(set(picks)) != len(picks):
        raise _Wrong(N_("Pick only choices offered, each once."))
    if spec.min_length and len(picks) < spec.min_length:
        raise _Wrong(N_("Needs at least {min_length} items."), min_length=spec.min_length)
    if spec.max_length and len(picks) > spec.max_length:
        raise _Wrong(N_("Takes at most {max_length} items."), max_length=spec.max_length)
    return [choice for choice in spec.choices if choice in picks]  # in the form's order


def _yes_no(spec: FormFieldSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().casefold() in YES | NO:
        return value.strip().casefold() in YES
    raise _Wrong(N_("Must be yes or no."))


def _date(spec: FormFieldSpec, value: Any) -> str:
    text = _short_string(value, N_("Must be a date, e.g. 2026-05-01."))
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise _Wrong(N_("Must be a date, e.g. 2026-05-01."))
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise _Wrong(N_("Must be a date, e.g. 2026-05-01.")) from None


def _url(spec: FormFieldSpec, value: Any) -> str:
    text = _short_string(value, N_("Must be a valid URL."))
    try:
        parts = urlsplit(text)
    except ValueError:
        raise _Wrong(N_("Must be a valid URL.")) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in text:
        raise _Wrong(N_("Must be a web address starting with http:// or https://."))
    return text


def _steam(spec: FormFieldSpec, value: Any) -> str:
    text = _short_string(value, N_("Must be a Steam profile link or a 17-digit Steam id."))
    found = STEAM_PROFILE.fullmatch(text)
    if found:
        return found.group(1)
    if STEAM_ID.fullmatch(text):
        return text
    raise _Wrong(
        N_(
            "Must be a Steam profile link (steamcommunity.com/profiles/7656…) or a 17-digit"
            " Steam id."
        )
    )


def _truckersmp(spec: FormFieldSpec, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**12:
        return value
    text = _short_string(value, N_("Must be a TruckersMP profile link or id."))
    found = TRUCKERSMP_PROFILE.fullmatch(text)
    if found:
        return int(found.group(1))
    if TRUCKERSMP_ID.fullmatch(text):
        return int(text)
    raise _Wrong(N_("Must be a TruckersMP profile link (truckersmp.com/user/…) or id."))


_CHECKS = {
    "short": _text,
    "paragraph": _text,
    "number": _number,
    "choice": _choice,
    "multi_choice": _multi_choice,
    "yes_no": _yes_no,
    "date": _date,
    "url": _url,
    "steam": _steam,
    "truckersmp": _truckersmp,
}
