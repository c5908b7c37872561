"""Validate input against the domain's pydantic models, raising the domain's `Invalid`."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from models.errors import Invalid
from models.i18n import N_

M = TypeVar("M", bound=BaseModel)


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
