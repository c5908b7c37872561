"""Checks of the emulator's own answers against the response schemas in Discord's spec.

discord.py reads only some fields, so an emulator payload can drift from Discord's without any
test noticing; these checks hold REST response bodies and the gateway's objects to the spec.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from .spec import SPEC_URI, OpenAPISpec, Violation, _escape, _violation, format_checker

log = logging.getLogger(__name__)

JSON = "application/json"
SCHEMAS = "#/components/schemas/"
RESPONSES = "#/components/responses/"
# Gateway objects the spec describes as REST responses: (event, where in `d`, schema).
GATEWAY_OBJECTS: dict[str, list[tuple[str, str]]] = {
    "READY": [("user", "UserResponse")],
    "GUILD_CREATE": [("", "GuildResponse"), ("channels[]", "GuildChannelResponse")],
    "GUILD_UPDATE": [("", "GuildResponse")],
    "GUILD_ROLE_CREATE": [("role", "GuildRoleResponse")],
    "GUILD_ROLE_UPDATE": [("role", "GuildRoleResponse")],
    "GUILD_MEMBER_ADD": [("", "GuildMemberResponse")],
    "GUILD_MEMBER_UPDATE": [("", "GuildMemberResponse")],
    "GUILD_MEMBERS_CHUNK": [("members[]", "GuildMemberResponse")],
    "GUILD_BAN_ADD": [("user", "UserResponse")],
    "GUILD_BAN_REMOVE": [("user", "UserResponse")],
    "CHANNEL_CREATE": [("", "GuildChannelResponse")],
    "CHANNEL_UPDATE": [("", "GuildChannelResponse")],
    "MESSAGE_CREATE": [("", "MessageResponse")],
    "MESSAGE_UPDATE": [("", "MessageResponse")],
    "INTERACTION_CREATE": [
        ("user", "UserResponse"),
        ("member", "GuildMemberResponse"),
        ("message", "MessageResponse"),
        ("data.resolved.users{}", "UserResponse"),
        ("data.resolved.roles{}", "GuildRoleResponse"),
        ("data.resolved.attachments{}", "AttachmentResponse"),
    ],
}


class ResponseChecker:
    """Validates JSON bodies against the spec's response schema for (method, template, status)."""

    def __init__(self, spec: OpenAPISpec) -> None:
        self.spec = spec
        self._validators: dict[str, Draft202012Validator] = {}

    def _validator(self, pointer: str) -> Draft202012Validator:
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{SPEC_URI}{pointer}"},
                registry=self.spec._registry,  # the relaxed document, as for request bodies
                format_checker=format_checker(),
            )
        return self._validators[pointer]

    def _check(self, pointer: str, body: Any, where: str) -> Violation | None:
        error = best_match(self._validator(pointer).iter_errors(body))
        if error is None:
            return None
        violation = _violation(error)
        return Violation(f"{where}{violation.path[1:]}", violation.message, violation.schema_path)

    def schema_pointer(self, method: str, template: str, status: int) -> str | None:
        """The schema's JSON pointer (`#/paths/.../responses/200/content/...`), None for no body.

        Raises LookupError when the spec documents neither the route nor the status.
        """
        operation = self.spec.document["paths"].get(template, {}).get(method.lower())
        if operation is None:
            raise LookupError(f"{method} {template} is not in the spec")
        responses = operation.get("responses", {})
        key = next(
            (k for k in (str(status), f"{status // 100}XX", "default") if k in responses), None
        )
        if key is None:
            raise LookupError(f"{method} {template} does not document status {status}")
        response = responses[key]
        base = f"#/paths/{_escape(template)}/{method.lower()}/responses/{key}"
        if "$ref" in response:  # a shared response such as ClientErrorResponse
            name = response["$ref"].removeprefix(RESPONSES)
            response = self.spec.document["components"]["responses"][name]
            base = f"#/components/responses/{_escape(name)}"
        if JSON not in response.get("content", {}):
            return None
        return f"{base}/content/{_escape(JSON)}/schema"

    def check_response(
        self, method: str, template: str, status: int, body: Any
    ) -> Violation | None:
        """The first way `body` differs from what Discord documents for this answer."""
        try:
            pointer = self.schema_pointer(method, template, status)
        except LookupError as exc:
            return Violation("$", str(exc))
        if pointer is None:
            return None if body is None else Violation("$", f"status {status} has no body")
        if body is None:
            return Violation("$", f"status {status} needs a JSON body")
        return self._check(pointer, body, "$")

    def check_schema(self, name: str, payload: Any, where: str = "$") -> Violation | None:
        """Validate `payload` against components/schemas/<name>."""
        return self._check(f"#/components/schemas/{_escape(name)}", payload, where)

    def check_dispatch(self, event: str, data: Any) -> list[Violation]:
        """The gateway objects in a dispatch that the spec describes, checked against it."""
        violations = []
        for path, schema in GATEWAY_OBJECTS.get(event, []):
            for where, payload in _select(data, path, f"{event}.d"):
                violation = self.check_schema(schema, payload, where)
                if violation is not None:
                    violations.append(violation)
        return violations


def _select(data: Any, path: str, where: str) -> Iterator[tuple[str, Any]]:
    """Objects at a dotted path; "name[]" walks a list, "name{}" a dict's values."""
    if not path:
        yield where, data
        return
    head, _, rest = path.partition(".")
    key = head.rstrip("[]{}")
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        return
    if head.endswith("[]") and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _select(item, rest, f"{where}.{key}[{index}]")
    elif head.endswith("{}") and isinstance(value, dict):
        for name, item in value.items():
            yield from _select(item, rest, f"{where}.{key}.{name}")
    else:
        yield from _select(value, rest, f"{where}.{key}")
