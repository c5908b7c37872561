"""Hubs over HTTP: list, show and change one."""

from __future__ import annotations

from aiohttp import web

from models import hubs, plugins
from models.errors import NotFound
from models.hubs import HubSettings, HubUpdate, HubView, SettingsChange
from models.i18n import N_
from models.pagination import Page, PageQuery
from models.permissions import Permission
from web.api import Router, json_response, parse_query, path_id, read_json
from web.auth import actor_of
from web.gates import hub_of
from web.problems import language

router = Router("hubs")


@router.get("/hubs", query=PageQuery, response=Page[HubView], errors=(422,))
async def list_hubs(request: web.Request) -> web.Response:
    """List active public hubs."""
    page = await hubs.list_public_hubs(parse_query(request, PageQuery))
    return json_response(page)


@router.get("/plugins", response=plugins.Catalog)
async def list_plugins(request: web.Request) -> web.Response:
    """The installed packages and every permission, labelled in the caller's language."""
    return json_response(plugins.catalog_view(language(request)))


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
    permission=Permission.MANAGE_HUB,
    description=(
        "Needs the manage_hub permission in the hub. Turning plugins off also needs a recent"
        " login (403 reauthentication_required otherwise)."
    ),
)
async def update_hub(request: web.Request) -> web.Response:
    """Change a hub's settings."""
    actor, hub = await actor_of(request), await hub_of(request)
    change = await read_json(request, HubUpdate)
    hub = await hubs.update_hub(actor, hub, change)
    return json_response(await hubs.hub_info(hub))


@router.get(
    "/hubs/{hub}/settings",
    response=HubSettings,
    auth=True,
    permission=Permission.MANAGE_HUB,
    description="Needs manage_hub. Includes each package's own settings under `plugins`.",
)
async def get_settings(request: web.Request) -> web.Response:
    """Every setting of a hub."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await hubs.hub_settings(actor, hub))


@router.get(
    "/hubs/{hub}/settings/history",
    query=PageQuery,
    response=Page[SettingsChange],
    errors=(401, 403, 404, 422),
    auth=True,
    permission=Permission.VIEW_AUDIT_LOG,
    description="Needs the view_audit_log permission in the hub.",
)
async def settings_history(request: web.Request) -> web.Response:
    """A hub's settings changes, newest first, with before and after values."""
    actor, hub = await actor_of(request), await hub_of(request)
    page = await hubs.settings_history(actor, hub, parse_query(request, PageQuery))
    return json_response(page)


@router.post(
    "/hubs/{hub}/settings/history/{change_id}/revert",
    response=HubView,
    errors=(401, 403, 404),
    auth=True,
    permission=Permission.MANAGE_HUB,
    description="Needs manage_hub; turning plugins off again also needs a recent login.",
)
async def revert_settings(request: web.Request) -> web.Response:
    """Put back the values one settings change replaced."""
    actor, hub = await actor_of(request), await hub_of(request)
    missing = NotFound(N_("That settings change does not exist."), code="change_not_found")
    change_id = path_id(request, "change_id", missing)
    hub = await hubs.revert_settings(actor, hub, change_id)
    return json_response(await hubs.hub_info(hub))
