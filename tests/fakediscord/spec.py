"""Validation of request bodies against Discord's OpenAPI spec and Discord's documented limits."""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

log = logging.getLogger(__name__)

# tests/fakediscord/spec.py -> /work/main -> /work/shared/discord-api-spec/openapi.json
DEFAULT_SPEC_PATH = Path(__file__).resolve().parents[3] / "shared/discord-api-spec/openapi.json"
SPEC_URI = "urn:discord-openapi"
_METHODS = ("get", "post", "put", "patch", "delete")


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

    @classmethod
    @functools.cache
    def load(cls, path: Path | None = None) -> OpenAPISpec:
        """Load the spec once per process (it is 1.2 MB)."""
        with (path or spec_path()).open(encoding="utf-8") as handle:
            document = json.load(handle)
        document = copy.deepcopy(document)
        document["components"] = _relax(document["components"])
        document["paths"] = _relax(document["paths"])
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
        return Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=self._registry)

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
