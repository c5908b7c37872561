"""The aiohttp application: one middleware for auth, faults, validation and errors."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import faults, rules
from .spec import Violation, form_errors

if TYPE_CHECKING:
    from .emulator import FakeDiscord

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
EMULATOR: web.AppKey[Any] = web.AppKey("fakediscord")
BODY: web.RequestKey[Any] = web.RequestKey("body")
FILES: web.RequestKey[list[dict[str, Any]]] = web.RequestKey("files")
# When the request reached the emulator (monotonic): an interaction's answer is given then,
# not after the emulator has read and checked its body (this process's work, not the bot's).
ARRIVED: web.RequestKey[float] = web.RequestKey("arrived")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MESSAGE_TEMPLATES = {
    ("POST", "/channels/{channel_id}/messages"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
}
COMMAND_TEMPLATES = {
    ("PUT", "/applications/{application_id}/commands"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),
}
CALLBACK_TEMPLATE = ("POST", "/interactions/{interaction_id}/{interaction_token}/callback")


class DiscordError(Exception):
    """A Discord error response; `record=True` also fails the test (the bot did something wrong)."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        record: bool = False,
        errors: dict[str, Any] | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.record, self.errors, self.detail = record, errors, detail

    def response(self) -> web.Response:
        payload: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            payload["errors"] = self.errors
        return json_response(payload, status=self.status)


def not_found(code: int, what: str) -> DiscordError:
    return DiscordError(404, code, f"Unknown {what}")


def invalid_form(violations: list[Violation], *, where: str) -> DiscordError:
    detail = "; ".join(str(violation) for violation in violations)
    return DiscordError(
        400,
        50035,
        "Invalid Form Body",
        record=True,
        errors=form_errors(violations),
        detail=f"{where}: {detail}",
    )


def json_response(payload: Any, *, status: int = 200) -> web.Response:
    # discord.py decodes JSON only when Content-Type is exactly "application/json".
    body = json.dumps(payload).encode()
    return web.Response(status=status, body=body, headers={"Content-Type": "application/json"})


def no_content() -> web.Response:
    return web.Response(status=204)


@dataclass
class RecordedRequest:
    method: str
    path: str
    template: str
    body: Any
    status: int = 0


def emulator_of(request: web.Request) -> FakeDiscord:
    return request.app[EMULATOR]


async def _read_body(request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
    if not request.can_read_body:
        return None, []
    if request.content_type == "multipart/form-data":
        return await _read_multipart(request)
    if request.content_type == "application/x-www-form-urlencoded":
        return dict(await request.post()), []  # the OAuth2 token endpoints
    text = await request.text()
    if not text:
        return None, []
    if request.content_type != "application/json":
        raise DiscordError(400, 50109, "The request body contains invalid JSON.", record=True)
    return json.loads(text), []


async def _read_multipart(request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
    body, files = None, []
    reader = await request.multipart()
    async for part in reader:
        if part.name == "payload_json":
            body = json.loads(await part.text())
        else:
            data = await part.read()
            files.append(
                {
                    "field": part.name,
                    "filename": part.filename,
                    "size": len(data),
                    "data": bytes(data),
                }
            )
    return body, files


def _rule_violations(method: str, template: str, body: Any) -> list[Violation]:
    if (method, template) in MESSAGE_TEMPLATES:
        return rules.check_message(body, edit=method == "PATCH")
    if (method, template) in COMMAND_TEMPLATES and isinstance(body, list):
        return rules.check_commands(body)
    if (method, template) == CALLBACK_TEMPLATE:
        return rules.check_callback(body)  # messages (4, 7) and modals (9), under $.data
    return []


def _validate(emulator: FakeDiscord, method: str, template: str, body: Any) -> None:
    if body is None or template not in emulator.spec.document["paths"]:
        return  # e.g. /oauth2/token, which the spec does not describe
    # Discord's own rules first: they name the field and the limit, where a schema error in a
    # union could only say which branch came closest.
    violations = _rule_violations(method, template, body)
    if violations:
        raise invalid_form(violations, where=f"{method} {template} breaks Discord's limits")
    violation = emulator.spec.validate(method, template, body)
    if violation is not None:
        raise invalid_form(
            [violation], where=f"{method} {template} violates Discord's OpenAPI spec"
        )


def _check_auth(emulator: FakeDiscord, request: web.Request, template: str) -> None:
    # Interaction callbacks and webhooks authenticate with their token in the path.
    if template.startswith(("/interactions/", "/webhooks/")) or template == "/gateway":
        return
    # OAuth2: the token endpoints check client credentials themselves; users call with Bearer.
    if template in ("/oauth2/token", "/oauth2/token/revoke"):
        return
    if template == "/users/@me" and request.headers.get("Authorization", "").startswith("Bearer "):
        from .routes.oauth2 import bearer_user  # the route modules import this one

        if bearer_user(request) is None:
            raise DiscordError(401, 0, "401: Unauthorized")
        return
    if request.headers.get("Authorization") != f"Bot {emulator.token}":
        raise DiscordError(401, 0, "401: Unauthorized")


async def _apply_faults(
    emulator: FakeDiscord, method: str, template: str, path: str
) -> web.Response | None:
    for fault in emulator.faults:
        if not fault.matches(method, template, path):
            continue
        fault.hits += 1
        log.debug("fault %s on %s %s", fault.kind, method, path)
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        elif fault.kind in ("rate_limit", "global_rate_limit"):
            return faults.too_many_requests(fault, method, template)
        else:
            return faults.server_error(fault)
    return None


@web.middleware
async def discord_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    request[ARRIVED] = time.monotonic()
    emulator = emulator_of(request)
    method, path = request.method, request.path[len(API_PREFIX) :]
    template = emulator.spec.template_for(method, path) or path
    recorded = RecordedRequest(method, path, template, None)
    emulator.requests.append(recorded)
    is_bot = request.headers.get("Authorization") == f"Bot {emulator.token}"
    admission = emulator.rate_limiter.admit(method, template, path, bot=is_bot)
    if admission.rejected:
        # The bot's own pace, which discord.py handles by waiting: not a bot error.
        recorded.status = 429
        return admission.response()
    try:
        response = await _handle(emulator, request, handler, recorded)
    except DiscordError as exc:
        if exc.record:
            emulator.record_error(f"{method} {path}: {exc.message} {exc.detail}".strip())
        response = exc.response()
    recorded.status = response.status
    if response.status == 429:  # an injected rate_limit(...) fault, with its own headers
        emulator.rate_limiter.release(admission)
    else:
        response.headers.update(admission.headers())
    return response


async def _handle(
    emulator: FakeDiscord, request: web.Request, handler: Handler, recorded: RecordedRequest
) -> web.StreamResponse:
    _check_auth(emulator, request, recorded.template)
    faulted = await _apply_faults(emulator, recorded.method, recorded.template, recorded.path)
    if faulted is not None:
        return faulted
    body, files = await _read_body(request)
    recorded.body = body
    request[BODY], request[FILES] = body, files
    _validate(emulator, recorded.method, recorded.template, body)
    return await handler(request)


async def unknown_route(request: web.Request) -> web.Response:
    raise DiscordError(
        404, 0, "404: Not Found", record=True, detail="(route not emulated by fakediscord)"
    )


def create_app(emulator: FakeDiscord) -> web.Application:
    from .routes import add_routes  # the route modules import this one

    app = web.Application(middlewares=[discord_middleware])
    app[EMULATOR] = emulator
    app.router.add_get("/gateway", emulator.gateway.handle)
    add_routes(app.router, API_PREFIX)
    app.router.add_route("*", API_PREFIX + "/{tail:.*}", unknown_route)
    return app
