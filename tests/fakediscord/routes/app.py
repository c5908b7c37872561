"""Identity, gateway discovery, application commands and DM channels."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..server import BODY, DiscordError, emulator_of, json_response, not_found
from . import oauth2

log = logging.getLogger(__name__)

COMMAND_DEFAULTS: dict[str, Any] = {
    "type": 1,
    "description": "",
    "options": [],
    "default_member_permissions": None,
    "nsfw": False,
    "contexts": None,
    "integration_types": [0],
}


async def get_user(request: web.Request) -> web.Response:
    emulator = emulator_of(request)
    user_id = request.match_info["user_id"]
    if user_id == "@me":
        bearer = oauth2.bearer_user(request)  # a user's OAuth2 token, or the bot itself
        if bearer is not None:
            return json_response(oauth2.me_payload(*bearer))
        return json_response(emulator.bot_user.private_payload())
    user = emulator.users.get(int(user_id))
    if user is None:
        raise not_found(10013, "User")
    return json_response(user.payload())


async def get_application(request: web.Request) -> web.Response:
    emulator = emulator_of(request)
    owner = emulator.owner_user or emulator.bot_user
    return json_response(
        {
            "id": str(emulator.application_id),
            "name": emulator.bot_user.name,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": owner.payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "rpc_origins": [],
            "interactions_endpoint_url": None,
            "bot": emulator.bot_user.payload(),
            "type": None,
            "flags_new": "0",
            "redirect_uris": [],
            "role_connections_verification_url": None,
            "approximate_guild_count": len(emulator.guilds),
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "eligible_oauth2_scopes": ["bot", "applications.commands", "identify", "email"],
        }
    )


async def get_gateway(request: web.Request) -> web.Response:
    return json_response({"url": emulator_of(request).gateway_url})


async def get_bot_gateway(request: web.Request) -> web.Response:
    emulator = emulator_of(request)
    limit = {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
    return json_response(
        {
            "url": emulator.gateway_url,
            "shards": emulator.recommended_shards,
            "session_start_limit": limit,
        }
    )


def _guild_scope(request: web.Request) -> int | None:
    emulator = emulator_of(request)
    if int(request.match_info["application_id"]) != emulator.application_id:
        raise DiscordError(
            403, 50001, "Missing Access", record=True, detail="(wrong application id)"
        )
    guild_id = request.match_info.get("guild_id")
    if guild_id is None:
        return None
    guild = emulator.guilds.get(int(guild_id))
    if guild is None or not guild.bot_present:
        raise DiscordError(403, 50001, "Missing Access")
    return guild.id


def _stored_command(
    request: web.Request, body: dict[str, Any], guild_id: int | None, old: list[dict[str, Any]]
) -> dict[str, Any]:
    emulator = emulator_of(request)
    kind = body.get("type") or 1
    previous = next((c for c in old if c["name"] == body["name"] and c["type"] == kind), None)
    command = {**COMMAND_DEFAULTS, **{k: v for k, v in body.items() if v is not None}, "type": kind}
    command["id"] = previous["id"] if previous else str(emulator.snowflakes.next())
    command["application_id"] = str(emulator.application_id)
    command["version"] = str(emulator.snowflakes.next())
    if command["default_member_permissions"] is not None:
        command["default_member_permissions"] = str(command["default_member_permissions"])
    if guild_id is not None:
        command["guild_id"] = str(guild_id)
    return command


async def put_commands(request: web.Request) -> web.Response:
    emulator = emulator_of(request)
    guild_id = _guild_scope(request)
    old = emulator.commands.scope(guild_id)
    commands = [_stored_command(request, body, guild_id, old) for body in request[BODY] or []]
    if guild_id is None:
        emulator.commands.global_commands = commands
    else:
        emulator.commands.guild_commands[guild_id] = commands
    emulator.commands.overwrite_calls += 1
    return json_response(commands)


async def get_commands(request: web.Request) -> web.Response:
    return json_response(emulator_of(request).commands.scope(_guild_scope(request)))


async def create_dm(request: web.Request) -> web.Response:
    emulator = emulator_of(request)
    user = emulator.users.get(int(request[BODY]["recipient_id"]))
    if user is None:
        raise not_found(10013, "User")
    return json_response(emulator.dm_channel(user).payload())


async def leave_guild(request: web.Request) -> web.Response:
    emulator = emulator_of(request)
    guild = emulator.guilds.get(int(request.match_info["guild_id"]))
    if guild is None or not guild.bot_present:
        raise not_found(10004, "Guild")
    emulator.remove_bot_from(guild)
    return web.Response(status=204)


ROUTES = [
    ("GET", "/users/{user_id}", get_user),
    ("GET", "/oauth2/applications/@me", get_application),
    ("GET", "/applications/@me", get_application),
    ("GET", "/gateway", get_gateway),
    ("GET", "/gateway/bot", get_bot_gateway),
    ("PUT", "/applications/{application_id}/commands", put_commands),
    ("GET", "/applications/{application_id}/commands", get_commands),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", put_commands),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", get_commands),
    ("POST", "/users/@me/channels", create_dm),
    ("DELETE", "/users/@me/guilds/{guild_id}", leave_guild),
]
