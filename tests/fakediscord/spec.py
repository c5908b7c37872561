"""Validation of request bodies against Discord's OpenAPI spec and Discord's documented limits."""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

log = logging.getLogger(__name__)

# tests/fakediscord/spec.py -> /work/main -> /work/shared/discord-api-spec/openapi.json
DEFAULT_SPEC_PATH = Path(__file__).resolve().parents[3] / "shared/discord-api-spec/openapi.json"
SPEC_URI = "urn:discord-openapi"
_METHODS = ("get", "post", "put", "patch", "delete")
SCHEMA_REF = "#/components/schemas/"
# RFC 3339 date-time, which JSON Schema's "date-time" format means (an offset is required).
_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$"
)
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Violation:
    """One way a request body breaks Discord's rules."""

    path: str  # JSON path inside the body, e.g. "$.embeds[0].title"
    message: str
    schema_path: str = ""

    def __str__(self) -> str:
        where = f" (schema: {self.schema_path})" if self.schema_path else ""
        return f"{self.path}: {self.message}{where}"


def spec_path() -> Path:
    return Path(os.environ.get("FAKEDISCORD_OPENAPI", DEFAULT_SPEC_PATH))


def _relax(node: Any) -> Any:
    """Accept what Discord accepts although its spec is stricter.

    The spec's authors say some ids are typed too narrowly. Discord takes snowflakes as ints or
    strings and integer fields (e.g. `default_member_permissions`) as numeric strings, and
    discord.py relies on both.
    """
    if isinstance(node, list):
        return [_relax(item) for item in node]
    if not isinstance(node, dict):
        return node
    # "oneOf" would reject values that fit two branches once integers also accept strings.
    node = {("anyOf" if key == "oneOf" else key): _relax(value) for key, value in node.items()}
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if node.get("format") == "snowflake":
        node["type"] = ["string", "integer"]
    elif "integer" in kinds and "enum" not in node and "const" not in node:
        node["type"] = [*kinds, "string"]
        node["pattern"] = r"^-?[0-9]+$"
    return node


def _type_values(schema: Any) -> list[Any] | None:
    """The values a branch's `type` property may take (its enum or const), if it pins them."""
    prop = schema.get("properties", {}).get("type", {}) if isinstance(schema, dict) else {}
    if "const" in prop:
        return [prop["const"]]
    values = prop.get("enum")
    return list(values) if isinstance(values, list) and values else None


def _by_type(branches: Any, schemas: dict[str, Any]) -> list[tuple[list[Any], str]] | None:
    """[(type values, $ref)] when every branch is a schema pinned to its own `type` values."""
    if not isinstance(branches, list) or len(branches) < 2:
        return None
    pairs: list[tuple[list[Any], str]] = []
    for branch in branches:
        ref = branch.get("$ref", "") if isinstance(branch, dict) and len(branch) == 1 else ""
        values = _type_values(schemas.get(ref.removeprefix(SCHEMA_REF))) if ref else None
        if not ref.startswith(SCHEMA_REF) or values is None:
            return None
        pairs.append((values, ref))
    flat = [value for values, _ in pairs for value in values]
    return pairs if len(flat) == len(set(map(repr, flat))) else None


def _discriminate(node: Any, schemas: dict[str, Any]) -> Any:
    """Validate a union keyed by `type` (callback kinds, components) against its one branch.

    With a plain anyOf, best_match reports `$: ... is not valid under any of the given
    schemas` or an error from the wrong branch; an if/then on `type` names the real field.
    An unknown `type` is reported on `type`; a body without one meets the original anyOf.
    """
    if isinstance(node, list):
        return [_discriminate(item, schemas) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _discriminate(value, schemas) for key, value in node.items()}
    pairs = _by_type(node.get("anyOf"), schemas)
    if pairs is None or {"if", "then", "else"} & node.keys():
        return node
    branches = node.pop("anyOf")
    known = [value for values, _ in pairs for value in values]
    node["if"] = {"type": "object", "required": ["type"]}
    node["then"] = {
        "properties": {"type": {"enum": known}},
        "allOf": [
            {"if": {"properties": {"type": {"enum": values}}}, "then": {"$ref": ref}}
            for values, ref in pairs
        ],
    }
    node["else"] = {"anyOf": branches}
    return node


def _is_uri(value: object) -> bool:
    # An absolute URI (RFC 3986): a scheme, no whitespace; http(s) also needs a host.
    # Non-ASCII is let through (an IRI), because Discord accepts such links.
    if not isinstance(value, str):
        return True
    if not _URI_SCHEME.match(value) or any(char.isspace() or ord(char) < 32 for char in value):
        return False
    scheme, _, rest = value.partition(":")
    return scheme.lower() not in ("http", "https") or bool(rest.removeprefix("//").split("/")[0])


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.match(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    offset_hours, offset_minutes = (int(part or 0) for part in match.groups()[6:])
    try:  # leap seconds (60) are valid RFC 3339
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return second <= 60 and offset_hours <= 23 and offset_minutes <= 59


def format_checker() -> FormatChecker:
    """Only the formats Discord enforces on request bodies; the spec's int32/snowflake/nonce
    are documentation (and jsonschema's own uri check silently needs an extra package)."""
    checker = FormatChecker(formats=())
    checker.checks("uri")(_is_uri)
    checker.checks("date-time")(_is_date_time)
    return checker


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _template_regex(template: str) -> re.Pattern[str]:
    parts = [
        "[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part)
        for part in template.split("/")
    ]
    return re.compile("/".join(parts) + "$")


def _specificity(template: str) -> tuple[int, int]:
    # Literal segments beat placeholders: /users/@me must win over /users/{user_id}.
    segments = template.split("/")
    literal = sum(1 for part in segments if not part.startswith("{"))
    return (-literal, -len(segments))


class OpenAPISpec:
    """Discord's OpenAPI document: route templates and compiled request-body validators."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(document))
        templates = sorted(document["paths"], key=_specificity)
        self._routes = [(template, _template_regex(template)) for template in templates]
        self._validators: dict[tuple[str, str], Draft202012Validator | None] = {}
        self._formats = format_checker()

    @classmethod
    @functools.cache
    def load(cls, path: Path | None = None) -> OpenAPISpec:
        """Load the spec once per process (it is 1.2 MB)."""
        with (path or spec_path()).open(encoding="utf-8") as handle:
            document = json.load(handle)
        document = copy.deepcopy(document)
        document["components"] = _relax(document["components"])
        document["paths"] = _relax(document["paths"])
        schemas = document["components"]["schemas"]
        document["components"] = _discriminate(document["components"], schemas)
        document["paths"] = _discriminate(document["paths"], schemas)
        log.debug("loaded Discord OpenAPI spec with %d paths", len(document["paths"]))
        return cls(document)

    def template_for(self, method: str, path: str) -> str | None:
        """Return the spec's path template for a concrete path, e.g. /channels/{channel_id}."""
        for template, regex in self._routes:
            if regex.match(path) and method.lower() in self.document["paths"][template]:
                return template
        return None

    def validator(self, method: str, template: str) -> Draft202012Validator | None:
        key = (method.lower(), template)
        if key not in self._validators:
            self._validators[key] = self._compile(*key)
        return self._validators[key]

    def _compile(self, method: str, template: str) -> Draft202012Validator | None:
        operation = self.document["paths"][template].get(method, {})
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            return None
        body = _escape("application/json")
        pointer = f"/paths/{_escape(template)}/{method}/requestBody/content/{body}/schema"
        return Draft202012Validator(
            {"$ref": f"{SPEC_URI}#{pointer}"}, registry=self._registry, format_checker=self._formats
        )

    def validate(self, method: str, template: str, body: Any) -> Violation | None:
        validator = self.validator(method, template)
        if validator is None:
            return None
        error = best_match(validator.iter_errors(body))
        return None if error is None else _violation(error)


def _violation(error: ValidationError) -> Violation:
    message = error.message
    if len(message) > 300:
        message = f"{error.validator} {error.validator_value!r} failed ({message[:200]}...)"
    schema_path = "/".join(str(part) for part in error.absolute_schema_path)
    return Violation(error.json_path, message, schema_path)


def form_errors(violations: list[Violation]) -> dict[str, Any]:
    """Build Discord's nested `errors` object of a 50035 Invalid Form Body response."""
    errors: dict[str, Any] = {}
    for violation in violations:
        node = errors
        for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", violation.path):
            node = node.setdefault(part[0] or part[1], {})
        node.setdefault("_errors", []).append(
            {"code": "BASE_TYPE_INVALID", "message": str(violation)}
        )
    return errors
