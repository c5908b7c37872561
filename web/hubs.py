"""Hubs over HTTP: list, show and change one."""

from __future__ import annotations

from aiohttp import web

from models import auth, hubs
from models.hubs import HubUpdate, HubView, SettingsChange
from models.pagination import Page, PageQuery
from web.api import Router, json_response, parse_query, read_json
from web.auth import current_claims

router = Router("hubs")


@router.get("/hubs", query=PageQuery, response=Page[HubView], errors=(422,))
async def list_hubs(request: web.Request) -> web.Response:
    """List active public hubs."""
    page = await hubs.list_public_hubs(parse_query(request, PageQuery))
    return json_response(page)


@router.get("/hubs/{hub}", response=HubView, errors=(404,))
async def get_hub(request: web.Request) -> web.Response:
    """Show a hub."""
    return json_response(await hubs.hub_view(request.match_info["hub"]))


@router.patch(
    "/hubs/{hub}",
    body=HubUpdate,
    response=HubView,
    errors=(400, 401, 403, 404, 413, 415, 422),
    auth=True,
    description=(
        "Needs the manage_hub permission in the hub. Turning plugins off also needs a recent"
        " login (403 reauthentication_required otherwise)."
    ),
)
async def update_hub(request: web.Request) -> web.Response:
    """Change a hub's settings."""
    claims = await current_claims(request)
    hub = await hubs.get_hub(request.match_info["hub"])
    change = await read_json(request, HubUpdate)
    recent = await auth.recently_authenticated(claims)
    hub = await hubs.update_hub(claims.actor, hub, change, recently_authenticated=recent)
    return json_response(await hubs.hub_info(hub))


@router.get(
    "/hubs/{hub}/settings/history",
    query=PageQuery,
    response=Page[SettingsChange],
    errors=(401, 403, 404, 422),
    auth=True,
    description="Needs the view_audit_log permission in the hub.",
)
async def settings_history(request: web.Request) -> web.Response:
    """A hub's settings changes, newest first, with before and after values."""
    claims = await current_claims(request)
    hub = await hubs.get_hub(request.match_info["hub"])
    page = await hubs.settings_history(claims.actor, hub, parse_query(request, PageQuery))
    return json_response(page)


@router.post(
    "/hubs/{hub}/settings/history/{change_id}/revert",
    response=HubView,
    errors=(401, 403, 404),
    auth=True,
    description="Needs manage_hub; turning plugins off again also needs a recent login.",
)
async def revert_settings(request: web.Request) -> web.Response:
    """Put back the values one settings change replaced."""
    claims = await current_claims(request)
    hub = await hubs.get_hub(request.match_info["hub"])
    raw = request.match_info["change_id"]
    recent = await auth.recently_authenticated(claims)
    hub = await hubs.revert_settings(
        claims.actor, hub, int(raw) if raw.isdigit() else -1, recently_authenticated=recent
    )
    return json_response(await hubs.hub_info(hub))
