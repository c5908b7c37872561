"""Hubs over HTTP: list, show and change one."""

from __future__ import annotations

from aiohttp import web

from models import auth, hubs
from models.hubs import HubUpdate, HubView
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
    recent = await auth.session_is_recent(claims.session_id, auth.token_config().reauth_window)
    hub = await hubs.update_hub(claims.actor, hub, change, recently_authenticated=recent)
    return json_response(await hubs.hub_info(hub))
