"""Announcements over HTTP (rules in `models.announcements`).

Anyone reads a hub's public announcements (no login needed); members read the members-only
ones too. Publishers (holders of a type's publisher roles, or of manage_announcements)
publish, change and delete them; manage_announcements manages the types. An id of another
hub is as unknown as a missing one (404).
"""

from __future__ import annotations

from aiohttp import web

from models.actor import Actor
from models.announcements import ops
from models.announcements.schemas import (
    AnnouncementInput,
    AnnouncementQuery,
    AnnouncementTypeInput,
    AnnouncementTypeList,
    AnnouncementTypeUpdate,
    AnnouncementTypeView,
    AnnouncementUpdate,
    AnnouncementView,
)
from models.pagination import Page
from web.api import Router, json_response, parse_query, path_id, read_json
from web.auth import actor_of
from web.gates import hub_of

router = Router("announcements", plugin="announcements")

MANAGE = ops.MANAGE
ANONYMOUS = Actor(user_id=None)


async def _reader(request: web.Request) -> Actor:
    """The caller when a credential came with the request, else an anonymous reader (a bad
    or expired credential is still a 401: the client should know)."""
    if "Authorization" not in request.headers:
        return ANONYMOUS
    return await actor_of(request)


def _announcement(request: web.Request) -> int:
    return path_id(request, "announcement", ops.announcement_not_found())


def _type(request: web.Request) -> int:
    return path_id(request, "type", ops.type_not_found())


# Types


@router.get(
    "/hubs/{hub}/announcements/types",
    response=AnnouncementTypeList,
    errors=(401, 403, 404),
    auth=True,
    description="The hub's announcement types, each saying whether you may publish it.",
)
async def list_announcement_types(request: web.Request) -> web.Response:
    """Announcement types."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(AnnouncementTypeList(items=await ops.list_types(actor, hub)))


@router.post(
    "/hubs/{hub}/announcements/types",
    body=AnnouncementTypeInput,
    response=AnnouncementTypeView,
    status=201,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE,
    description="Needs manage_announcements. 409 type_exists for a key in use.",
)
async def create_announcement_type(request: web.Request) -> web.Response:
    """Add a type."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, AnnouncementTypeInput)
    return json_response(await ops.create_type(actor, hub, body), status=201)


@router.patch(
    "/hubs/{hub}/announcements/types/{type}",
    body=AnnouncementTypeUpdate,
    response=AnnouncementTypeView,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE,
    description="Needs manage_announcements. Fields left out stay.",
)
async def update_announcement_type(request: web.Request) -> web.Response:
    """Change a type."""
    actor, hub = await actor_of(request), await hub_of(request)
    type_id = _type(request)
    body = await read_json(request, AnnouncementTypeUpdate)
    return json_response(await ops.update_type(actor, hub, type_id, body))


@router.delete(
    "/hubs/{hub}/announcements/types/{type}",
    status=204,
    errors=(401, 403, 404, 409),
    auth=True,
    permission=MANAGE,
    description="Needs manage_announcements. 409 type_in_use while announcements have it.",
)
async def delete_announcement_type(request: web.Request) -> web.Response:
    """Remove a type."""
    actor, hub = await actor_of(request), await hub_of(request)
    await ops.delete_type(actor, hub, _type(request))
    return web.Response(status=204)


# Announcements


@router.get(
    "/hubs/{hub}/announcements",
    query=AnnouncementQuery,
    response=Page[AnnouncementView],
    errors=(401, 403, 404, 422),
    description=(
        "No login needed: pinned first, then newest. Members (with a credential) also see the"
        " members-only ones. With `scheduled=true` (a login needed): your own announcements"
        " waiting for their time, or all of them with manage_announcements."
    ),
)
async def list_announcements(request: web.Request) -> web.Response:
    """Announcements."""
    actor, hub = await _reader(request), await hub_of(request)
    query = parse_query(request, AnnouncementQuery)
    page = await ops.list_announcements_json(actor, hub, query)  # the cached JSON, as is
    return web.Response(text=page, content_type="application/json")


@router.post(
    "/hubs/{hub}/announcements",
    body=AnnouncementInput,
    response=AnnouncementView,
    status=201,
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        "Publish now, or at `publish_at`. Needs a publisher role of the type, or"
        " manage_announcements (403 type_not_allowed). Members are told, and the hub's"
        " channels for announcements get a post (members-only ones never a public channel)."
    ),
)
async def publish_announcement(request: web.Request) -> web.Response:
    """Publish an announcement."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, AnnouncementInput)
    return json_response(await ops.publish(actor, hub, body), status=201)


@router.get(
    "/hubs/{hub}/announcements/{announcement}",
    response=AnnouncementView,
    errors=(401, 404),
    description="No login needed for a public one; a members-only one is 404 to others.",
)
async def get_announcement(request: web.Request) -> web.Response:
    """One announcement."""
    actor, hub = await _reader(request), await hub_of(request)
    return json_response(await ops.get(actor, hub, _announcement(request)))


@router.patch(
    "/hubs/{hub}/announcements/{announcement}",
    body=AnnouncementUpdate,
    response=AnnouncementView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    description=(
        "Its author (still a publisher of its type) or manage_announcements. Its Discord"
        " posts are edited. `publish_at` only before it went out (409 already_published)."
    ),
)
async def update_announcement(request: web.Request) -> web.Response:
    """Change an announcement."""
    actor, hub = await actor_of(request), await hub_of(request)
    announcement_id = _announcement(request)
    body = await read_json(request, AnnouncementUpdate)
    return json_response(await ops.update(actor, hub, announcement_id, body))


@router.delete(
    "/hubs/{hub}/announcements/{announcement}",
    status=204,
    errors=(401, 403, 404),
    auth=True,
    description="Its author (still a publisher of its type) or manage_announcements; its"
    " Discord posts are deleted.",
)
async def delete_announcement(request: web.Request) -> web.Response:
    """Delete an announcement."""
    actor, hub = await actor_of(request), await hub_of(request)
    await ops.delete(actor, hub, _announcement(request))
    return web.Response(status=204)
