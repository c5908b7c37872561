"""Route declarations that also feed the OpenAPI document, and request/response helpers."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from models import json_input
from models.actor import Scope
from models.errors import NotFound
from models.validation import parse_id, validate
from web import gates
from web.keys import SETTINGS

PREFIX = "/api/v1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    description: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    errors: tuple[int, ...] = ()
    auth: bool = False
    content_type: str = "application/json"
    # "auth" puts the route under the smaller budget of sensitive routes (login, reset...).
    limit: str | None = None
    # The package whose route this is: 404 plugin_disabled while the hub has it off.
    plugin: str | None = None
    # A hub permission checked (with the plugin and the token's scope) before the body is read.
    permission: str | None = None
    view: Handler | None = None  # the undecorated handler
    # The body is a file, streamed (application/octet-stream), not JSON.
    upload: bool = False
    # Also answers HEAD (download links: download managers probe before they fetch).
    head: bool = False
    # May answer 302 to another address (its Location header).
    redirect: bool = False
    # Serves files: may answer 206 with the Range asked for.
    ranges: bool = False
    # False: the account's own business (logins, sessions, tokens, MFA): application tokens
    # are refused (403 session_required), so a leaked token cannot take the account over.
    app_tokens: bool = True

    @property
    def scope(self) -> Scope:
        """What an application token needs: read for GET, write for everything else."""
        return Scope.READ if self.method in ("GET", "HEAD") else Scope.WRITE


@dataclass
class Router:
    """The endpoints of one package, each with what the OpenAPI document needs to describe it.

    `plugin` (a registry key) puts every route behind the hub's switch for that plugin.
    """

    tag: str
    plugin: str | None = None
    app_tokens: bool = True  # the default of its endpoints
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(self, method: str, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            summary = meta.pop("summary", None) or (handler.__doc__ or "").strip().split("\n")[0]
            meta.setdefault("plugin", self.plugin)
            meta.setdefault("app_tokens", self.app_tokens)
            endpoint = Endpoint(method, path, handler, summary=summary, tag=self.tag, **meta)
            _check_gates(endpoint)
            gated = gates.gated(endpoint)
            self.endpoints.append(replace(endpoint, handler=gated, view=handler))
            return handler

        return register

    def get(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **meta)

    def post(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **meta)

    def patch(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **meta)

    def put(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **meta)

    def delete(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **meta)

    def install(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, PREFIX + endpoint.path, endpoint.handler)
            if endpoint.head:
                app.router.add_route("HEAD", PREFIX + endpoint.path, endpoint.handler)


def _check_gates(endpoint: Endpoint) -> None:
    """Refuse declarations whose gates could not work, when the module is imported."""
    where = f"{endpoint.method} {endpoint.path}"
    if endpoint.permission is not None and not endpoint.auth:
        raise ValueError(f"{where}: a permission needs auth=True (who would hold it?)")
    if (endpoint.plugin or endpoint.permission) and "{hub}" not in endpoint.path:
        raise ValueError(f"{where}: plugin and permission gates need a {{hub}} in the path")


def json_response(data: Any, status: int = 200) -> web.Response:
    body = data.model_dump_json() if isinstance(data, BaseModel) else json.dumps(data)
    return web.Response(body=body.encode(), status=status, content_type="application/json")


def parse_query(request: web.Request, model: type[M]) -> M:
    query = dict(request.query)
    json_input.check_strings(query)  # "%00" decodes to a NUL no column can store
    return validate(model, query)


async def read_json(request: web.Request, model: type[M]) -> M:
    """Read a JSON body into `model`.

    415 on another content type, 413 over the size limit, 400 with the position of a syntax
    error or for nesting and numbers past the bounds, 422 naming every wrong field.
    """
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            text=json.dumps({"detail": "Send the body as application/json."})
        )
    max_size = request.app[SETTINGS].web.max_body_size
    if request.content_length is not None and request.content_length > max_size:
        raise web.HTTPRequestEntityTooLarge(max_size=max_size, actual_size=request.content_length)
    return validate(model, json_input.load(await request.read()))


async def read_optional_json(request: web.Request, model: type[M]) -> M:
    """`read_json`, where a request without any body means the model's defaults (a body
    whose fields are all optional, such as a cancellation's reason)."""
    if not request.body_exists:
        return validate(model, {})
    return await read_json(request, model)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def path_id(request: web.Request, name: str, missing: NotFound | None = None) -> int:
    """The id in path segment `name`; a malformed one names nothing: `missing` (or a 404)."""
    # Canonical decimals only: each resource has one URL, and no junk reaches the database.
    value = parse_id(request.match_info[name])
    if value is not None:
        return value
    raise missing or NotFound()


def path_uuid(request: web.Request, name: str, missing: NotFound | None = None) -> str:
    """The UUID in path segment `name`, lowercase as stored; otherwise `missing` (or a 404)."""
    raw = request.match_info[name]
    if _UUID.fullmatch(raw):
        return raw.lower()
    raise missing or NotFound()
