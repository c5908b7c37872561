"""Validate input against the domain's pydantic models, raising the domain's `Invalid`."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, GetCoreSchemaHandler, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from models.errors import Invalid
from models.i18n import N_

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


def _message(text: str) -> str:
    # Our own validators raise ValueError; pydantic prefixes their text with its class name.
    return text.removeprefix("Value error, ")


def invalid(exc: ValidationError) -> Invalid:
    """One `Invalid` naming every bad field (the web adds the list as `errors`)."""
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or None, "message": _message(e["msg"])}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    details = "; ".join(
        f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
    )
    return Invalid(
        N_("Some fields are not valid: {details}"),
        code="validation_failed",
        details=details,
        errors=errors,
    )


def field_error(loc: tuple[str | int, ...], message: str) -> Invalid:
    """The same 422 `validate` gives, for one field found wrong outside a model."""
    error = InitErrorDetails(type=PydanticCustomError("invalid", message), loc=loc, input=None)
    return invalid(ValidationError.from_exception_data("input", [error]))


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
