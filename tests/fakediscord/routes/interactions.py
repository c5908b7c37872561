"""Interaction callbacks and the interaction webhook (follow-ups, @original edits)."""

from __future__ import annotations

import logging

from aiohttp import web

from ..scenario import ALLOWED_RESPONSES, Interaction
from ..server import (
    ARRIVED,
    BODY,
    FILES,
    DiscordError,
    emulator_of,
    json_response,
    no_content,
    not_found,
)
from ..state import Message

log = logging.getLogger(__name__)


def _callback_target(request: web.Request) -> Interaction:
    emulator = emulator_of(request)
    interaction = emulator.interactions.by_id.get(int(request.match_info["interaction_id"]))
    if interaction is None or interaction.token != request.match_info["interaction_token"]:
        raise not_found(10062, "interaction")
    if interaction.response_type is not None:
        raise DiscordError(400, 40060, "Interaction has already been acknowledged.", record=True)
    if interaction.age > emulator.interaction_timeout:
        allowed = emulator.interaction_timeout
        detail = f"(answered after {interaction.age:.1f} s; Discord allows {allowed} s)"
        raise DiscordError(404, 10062, "Unknown interaction", record=True, detail=detail)
    return interaction


async def callback(request: web.Request) -> web.Response:
    interaction = _callback_target(request)
    body = request[BODY] or {}
    kind = body.get("type")
    allowed = ALLOWED_RESPONSES[interaction.type]
    if interaction.type == 5 and interaction.message is None:
        allowed = allowed - {6, 7}  # only modals opened from a message may update it
    if kind not in allowed:
        detail = f"(callback type {kind} is not valid for interaction type {interaction.type})"
        raise DiscordError(400, 50035, "Invalid Form Body", record=True, detail=detail)
    message = interaction.respond(kind, body.get("data") or {}, request[FILES], request[ARRIVED])
    summary = {
        "id": str(interaction.id),
        "type": interaction.type,
        "response_message_loading": kind == 5,
        "response_message_ephemeral": bool(message and message.ephemeral),
    }
    if message is not None:
        summary["response_message_id"] = str(message.id)
    answer: dict[str, object] = {"interaction": summary}
    # The spec's resource is a message that was created or updated (or an activity).
    if kind in (4, 7) and message is not None:
        answer["resource"] = {"type": kind, "message": message.payload()}
    return json_response(answer)


def _webhook_target(request: web.Request) -> Interaction:
    emulator = emulator_of(request)
    interaction = emulator.interactions.by_token.get(request.match_info["webhook_token"])
    if interaction is None or int(request.match_info["webhook_id"]) != emulator.application_id:
        raise not_found(10015, "Webhook")
    return interaction


def _webhook_message(request: web.Request, interaction: Interaction) -> Message:
    message_id = request.match_info["message_id"]
    if message_id == "@original":
        message = interaction.original
    else:
        candidates = [interaction.original, *interaction.followups]
        message = next((m for m in candidates if m is not None and m.id == int(message_id)), None)
    if message is None or message.deleted:
        raise not_found(10008, "Message")
    return message


async def followup(request: web.Request) -> web.Response:
    interaction = _webhook_target(request)
    if interaction.response_type is None:
        detail = "(follow-up sent before the interaction was acknowledged)"
        raise DiscordError(404, 10015, "Unknown Webhook", record=True, detail=detail)
    message = interaction.followup(request[BODY] or {}, request[FILES])
    if request.query.get("wait", "").lower() in ("true", "1"):
        return json_response(message.payload())
    return no_content()


async def webhook_message(request: web.Request) -> web.Response:
    interaction = _webhook_target(request)
    message = _webhook_message(request, interaction)
    if request.method == "PATCH":
        interaction.edit(message, request[BODY] or {})
    elif request.method == "DELETE":
        emulator_of(request).delete_message(message)
        return no_content()
    return json_response(message.payload())


WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"
ROUTES = [
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", callback),
    ("POST", WEBHOOK, followup),
    ("GET", WEBHOOK + "/messages/{message_id}", webhook_message),
    ("PATCH", WEBHOOK + "/messages/{message_id}", webhook_message),
    ("DELETE", WEBHOOK + "/messages/{message_id}", webhook_message),
]
