"""The OpenAPI 3.1 document, generated from the routers and the domain's pydantic models."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from models.pagination import PageQuery
from web.api import PREFIX, Endpoint

REF_TEMPLATE = "#/components/schemas/{model}"
# Query models whose parameters are described once under components/parameters and
# referenced by every operation that takes them (or a subclass of them).
SHARED_QUERIES: tuple[type[BaseModel], ...] = (PageQuery,)
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem; `code` is stable and meant for programs.",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def _schemas(endpoints: list[Endpoint]) -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], Any]] = []
    for ep in endpoints:
        for model, mode in ((ep.body, "validation"), (ep.query, "validation")):
            if model is not None:
                wanted.append((model, mode))
        if isinstance(ep.response, type) and issubclass(ep.response, BaseModel):
            wanted.append((ep.response, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF_TEMPLATE)
    return refs, top.get("$defs", {})


def _query_parameter(name: str, schema: dict[str, Any], required: bool) -> dict[str, Any]:
    schema = dict(schema)
    parameter = {"name": name, "in": "query", "required": required}
    if "description" in schema:
        parameter["description"] = schema.pop("description")
    return parameter | {"schema": schema}


def _shared_parameters() -> dict[str, dict[str, Any]]:
    """components/parameters: each shared query field, named after the field."""
    shared = {}
    for model in SHARED_QUERIES:
        schema = model.model_json_schema(ref_template=REF_TEMPLATE)
        required = set(schema.get("required", []))
        for name, field in schema["properties"].items():
            shared[name] = _query_parameter(name, field, name in required)
    return shared


def _shared_names(query: type[BaseModel]) -> set[str]:
    return {
        name for model in SHARED_QUERIES if issubclass(query, model) for name in model.model_fields
    }


def _parameters(ep: Endpoint, query_schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", ep.path)
    ]
    if ep.query is not None and query_schema is not None:
        shared = _shared_names(ep.query)
        required = set(query_schema.get("required", []))
        for name, schema in query_schema.get("properties", {}).items():
            if name in shared:
                params.append({"$ref": f"#/components/parameters/{name}"})
            else:
                params.append(_query_parameter(name, schema, name in required))
    return params


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


# Every operation can meet these: the rate limit, and a database or cache that is down.
EVERY_OPERATION = frozenset({429, 503})
# What reading a body can answer before the handler decides anything.
WITH_A_BODY = frozenset({400, 413, 415, 422})


def _errors(ep: Endpoint) -> list[int]:
    """The declared errors plus those the stack adds on its own (gates, body, limits)."""
    found = set(ep.errors) | EVERY_OPERATION
    if ep.plugin or "{hub}" in ep.path:
        found.add(404)  # no such hub, or the plugin is off
    if ep.auth:
        found |= {401, 403}
    if ep.body is not None:
        found |= WITH_A_BODY
    if ep.upload:
        found |= {413}
    if ep.query is not None:
        found.add(422)
    return sorted(found)


def _operation(ep: Endpoint, refs: dict[Any, dict[str, Any]], defs: dict[str, Any]) -> dict:
    query_schema = None
    if ep.query is not None:
        query_schema = defs.get(refs[(ep.query, "validation")]["$ref"].rsplit("/", 1)[1])
    ok: dict[str, Any] = {"description": HTTPStatus(ep.status).phrase}
    if ep.response is not None:
        ok["content"] = {ep.content_type: {"schema": refs[(ep.response, "serialization")]}}
    operation: dict[str, Any] = {
        "operationId": ep.handler.__name__,
        "summary": ep.summary,
        "tags": [ep.tag],
        "parameters": _parameters(ep, query_schema),
        "responses": {str(ep.status): ok} | {str(s): _problem(s) for s in _errors(ep)},
    }
    if ep.redirect:
        operation["responses"]["302"] = {
            "description": "Found: the address is in the Location header.",
            "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
        }
    if ep.ranges:
        operation["responses"]["206"] = {"description": "Partial Content: the Range asked for."}
    if ep.description:
        operation["description"] = ep.description
    if ep.upload:
        binary = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
        operation["requestBody"] = {"required": True, "content": binary}
    if ep.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(ep.body, "validation")]}},
        }
    if ep.auth:
        # A person's access token may do anything the permission allows; an application
        # token needs the scope named here (read for GET, write otherwise).
        operation["security"] = [{"bearerAuth": []}]
        if ep.app_tokens:
            operation["security"].append({"appToken": [ep.scope.value]})
    if ep.permission:
        operation["x-permission"] = ep.permission
    if ep.plugin:
        operation["x-plugin"] = ep.plugin
    return operation


def build_document(endpoints: list[Endpoint], *, version: str, server_url: str) -> dict:
    """The whole document; every registered endpoint appears in it."""
    refs, defs = _schemas(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        paths.setdefault(PREFIX + ep.path, {})[ep.method.lower()] = _operation(ep, refs, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Drivers Hub API",
            "version": version,
            "description": "The companion API of the Drivers Hub Discord bot.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": {**defs, "Problem": PROBLEM_SCHEMA},
            "parameters": _shared_parameters(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "appToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "An application token (dha_...) with scopes: read (GET routes) and"
                        " write (every other route). A missing scope is 403"
                        " insufficient_scope."
                    ),
                },
            },
        },
    }
