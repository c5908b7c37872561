"""The shoutbox over HTTP; every route answers 404 plugin_disabled while the hub has it off."""

from __future__ import annotations

from aiohttp import web

from drivershub_shoutbox import ops
from drivershub_shoutbox.schemas import ShoutInput, ShoutView
from models.pagination import Page, PageQuery
from web.api import Router, json_response, parse_query, read_json
from web.auth import actor_of
from web.gates import hub_of

router = Router("shoutbox", plugin="shoutbox")


@router.get(
    "/hubs/{hub}/shouts",
    query=PageQuery,
    response=Page[ShoutView],
    errors=(401, 403, 404, 422),
    auth=True,
    description="Newest first; members of the hub may read them (403 not_a_member).",
)
async def list_shouts(request: web.Request) -> web.Response:
    """The hub's shouts."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await ops.recent_shouts(actor, hub, parse_query(request, PageQuery)))


@router.post(
    "/hubs/{hub}/shouts",
    body=ShoutInput,
    response=ShoutView,
    status=201,
    errors=(400, 401, 403, 404, 413, 415, 422),
    auth=True,
    permission="post_shouts",
    description="Needs the post_shouts permission in the hub.",
)
async def post_shout(request: web.Request) -> web.Response:
    """Post to the hub's shoutbox."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, ShoutInput)
    shout = await ops.post_shout(actor, hub, body.text)
    return json_response(ShoutView.of(shout), status=201)
