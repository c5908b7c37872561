"""Validate input against the domain's pydantic models, raising the domain's `Invalid`."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, GetCoreSchemaHandler, ValidationError
from pydantic_core import PydanticCustomError, core_schema

from models.errors import Invalid
from models.i18n import N_, Lazy, render

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# Ids are positive BIGINT keys. Only canonical decimals pass (no sign, space, leading zero or
# non-ASCII digit), so each thing has one spelling and no junk reaches the database as a 500.
MAX_ID = 2**63 - 1
_ID = re.compile(r"[1-9][0-9]{0,18}")
Id = Annotated[int, Field(gt=0, le=MAX_ID)]


def parse_id(value: object) -> int | None:
    """The id a canonical decimal string spells, or None for anything else."""
    if isinstance(value, str) and _ID.fullmatch(value) and int(value) <= MAX_ID:
        return int(value)
    return None


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("not_null", "cannot be null: leave the field out to keep it")
    return value


class _NotNull:
    """Turns `X | None` into "X, or left out": the None is only the default, never input."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        schema = handler(source)
        if schema["type"] == "nullable":
            schema = schema["schema"]
        return core_schema.no_info_before_validator_function(_refuse_null, schema)


def _no_default(schema: dict[str, Any]) -> None:
    # The None default only means "left out"; documented, it would be a value of the wrong type.
    schema.pop("default", None)


# A field of a partial update: left out (None in code) keeps the stored value, and an
# explicit null is refused, naming the field, where the setting needs a value. Fields where
# null means "clear it" are plain `X | None` instead.
Patch = Annotated[T | None, _NotNull(), Field(json_schema_extra=_no_default)]


class Problem(ValueError):
    """What our own validators raise: a translatable message and its parameters.

    pydantic keeps the exception, so `invalid` can show it in the reader's language.
    """

    def __init__(self, message: str, /, **params: Any) -> None:
        self.lazy = Lazy(message, **params)
        super().__init__(str(self.lazy))


# pydantic's error types we show in the reader's language; their English texts are pydantic's
# own. Placeholders are filled from the error's context. Any other type keeps pydantic's text.
_FIELD_MESSAGES: dict[str, str] = {
    "missing": N_("This field is required."),
    "not_null": N_("Cannot be null: leave the field out to keep it."),
    "extra_forbidden": N_("This field is not allowed."),
    "string_type": N_("Must be text."),
    "string_too_short": N_("Must be at least {min_length} characters long."),
    "string_too_long": N_("Must be at most {max_length} characters long."),
    "string_pattern_mismatch": N_("Has the wrong format."),
    "too_short": N_("Needs at least {min_length} items."),
    "too_long": N_("Takes at most {max_length} items."),
    "int_type": N_("Must be a whole number."),
    "int_parsing": N_("Must be a whole number."),
    "int_from_float": N_("Must be a whole number."),
    "float_type": N_("Must be a number."),
    "float_parsing": N_("Must be a number."),
    "bool_type": N_("Must be yes or no."),
    "bool_parsing": N_("Must be yes or no."),
    "greater_than": N_("Must be greater than {gt}."),
    "greater_than_equal": N_("Must be at least {ge}."),
    "less_than": N_("Must be less than {lt}."),
    "less_than_equal": N_("Must be at most {le}."),
    "literal_error": N_("Must be one of: {expected}."),
    "enum": N_("Must be one of: {expected}."),
    "url_parsing": N_("Must be a valid URL."),
    "url_type": N_("Must be a valid URL."),
    "url_scheme": N_("Must be a valid URL."),
    "datetime_parsing": N_("Must be a date and time, e.g. 2026-05-01T18:00:00Z."),
    "datetime_type": N_("Must be a date and time, e.g. 2026-05-01T18:00:00Z."),
    "datetime_from_date_parsing": N_("Must be a date and time, e.g. 2026-05-01T18:00:00Z."),
    "date_parsing": N_("Must be a date, e.g. 2026-05-01."),
    "date_type": N_("Must be a date, e.g. 2026-05-01."),
    "dict_type": N_("Must be an object."),
    "list_type": N_("Must be a list."),
    "model_type": N_("Must be an object."),
    "model_attributes_type": N_("Must be an object."),
}


def http_url(value: str | None) -> str | None:
    """A pydantic field validator: empty, or an http(s) address with a host (a link a
    browser follows; never javascript:, data: or a relative path)."""
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in value:
        raise Problem(N_("must be an http(s) address"))
    return value


def _field_message(error: Any) -> Lazy | str:
    """One pydantic error as a text the reader's language can render."""
    context = error.get("ctx") or {}
    cause = context.get("error")
    if isinstance(cause, Problem):
        return cause.lazy
    template = _FIELD_MESSAGES.get(error["type"])
    if template is None:
        # Our own plain ValueErrors; pydantic prefixes their text with its class name.
        return str(error["msg"]).removeprefix("Value error, ")
    return Lazy(template, **{k: str(v) for k, v in context.items() if k != "error"})


def invalid(exc: ValidationError) -> Invalid:
    """One `Invalid` naming every bad field (the web adds the list as `errors`).

    The messages are lazy: an ephemeral reply renders them in the user's language, a
    problem+json in the request's.
    """
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or None, "message": _field_message(e)}
        for e in exc.errors(include_url=False, include_context=True, include_input=False)
    ]
    return field_errors(errors)


def field_errors(errors: list[dict[str, Any]]) -> Invalid:
    """One `Invalid` from `{"field", "message"}` entries (messages may be lazy)."""
    details = [
        Lazy(N_("{field}: {message}"), field=e["field"], message=e["message"])
        if e["field"]
        else e["message"]
        for e in errors
    ]
    return Invalid(
        N_("Some fields are not valid: {details}"),
        code="validation_failed",
        details=Joined(details),
        errors=errors,
    )


class Joined(Lazy):
    """Several lazy texts shown as one, separated by semicolons."""

    def __init__(self, parts: list[Lazy | str]) -> None:
        super().__init__("", parts=parts)

    def render(self, locale: str | None) -> str:
        # "a: Too short; b: Not a number." rather than "a: Too short.; b: Not a number."
        parts = [str(render(part, locale)).rstrip(".") for part in self.params["parts"]]
        return "; ".join(parts) + "."


def field_error(loc: tuple[str | int, ...], message: str) -> Invalid:
    """The same 422 `validate` gives, for one field found wrong outside a model."""
    return field_errors(
        [{"field": ".".join(str(part) for part in loc) or None, "message": message}]
    )


def validate(model: type[M], data: Any) -> M:
    """`model` built from `data`, or `Invalid`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None


def validate_json(model: type[M], raw: str | bytes) -> M:
    """`model` parsed from a JSON document, or `Invalid` (syntax errors included)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid(exc) from None
