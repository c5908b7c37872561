"""Hub posts over HTTP (rules in `models.posts`).

Staff (manage_posts) choose where each trigger is posted: a channel of the hub's server or
a Discord webhook, with a template. A destination of another hub is as unknown as a
missing one (404). Webhook URLs are write-only: a destination shows its webhook's id.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from models.errors import NotFound
from models.i18n import N_
from models.posts import ops
from models.posts.schemas import (
    DestinationInput,
    Destinations,
    DestinationUpdate,
    DestinationView,
    PreviewInput,
    Rendered,
    TestResult,
    Triggers,
)
from models.posts.templates import CONTENT, DESCRIPTION, EMBED_TOTAL, FOOTER, TITLE
from web.api import Router, json_response, parse_query, path_id, read_json
from web.auth import actor_of
from web.gates import hub_of
from web.problems import language

router = Router("posts")

MANAGE = ops.MANAGE
LIMITS = (
    f"Limits (checked with each variable as `[name]`; longer real values are cut with …):"
    f" content {CONTENT}, embed title {TITLE}, description {DESCRIPTION}, footer {FOOTER},"
    f" all embed texts {EMBED_TOTAL}."
)


class DestinationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger: str | None = Field(default=None, max_length=64, description="Only this trigger's.")


def _destination_id(request: web.Request) -> int:
    missing = NotFound(N_("That post destination does not exist."), code="destination_not_found")
    return path_id(request, "destination", missing)


@router.get(
    "/hubs/{hub}/posts/triggers",
    response=Triggers,
    errors=(401, 403, 404),
    auth=True,
    description=(
        "Anyone the hub lets in. Every trigger installed packages declare, with the"
        " variables its templates may use and its default template, in your language."
    ),
)
async def list_triggers(request: web.Request) -> web.Response:
    """What can be posted."""
    actor, hub = await actor_of(request), await hub_of(request)
    items = await ops.triggers(actor, hub, language(request))
    return json_response(Triggers(items=items))


@router.get(
    "/hubs/{hub}/posts/destinations",
    query=DestinationQuery,
    response=Destinations,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE,
    description=(
        f"Needs manage_posts. All of them (at most {ops.MAX_DESTINATIONS}), by trigger."
        " `broken` ones failed for good (channel gone, permission missing): see last_error."
    ),
)
async def list_destinations(request: web.Request) -> web.Response:
    """The hub's post destinations."""
    actor, hub = await actor_of(request), await hub_of(request)
    query = parse_query(request, DestinationQuery)
    rows = await ops.destinations(actor, hub, query.trigger)
    return json_response(Destinations(items=[ops.destination_view(row) for row in rows]))


@router.post(
    "/hubs/{hub}/posts/destinations",
    body=DestinationInput,
    response=DestinationView,
    status=201,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_posts. `channel_id` or `webhook_url` (https://discord.com/api/webhooks/"
        "…), not both. 422 names each bad field: an unknown trigger, an unknown `{variable}`,"
        f" a text over Discord's limits. {LIMITS} 409 too_many_destinations."
    ),
)
async def create_destination(request: web.Request) -> web.Response:
    """Post a trigger somewhere."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, DestinationInput)
    row = await ops.create_destination(actor, hub, body)
    return json_response(ops.destination_view(row), status=201)


@router.get(
    "/hubs/{hub}/posts/destinations/{destination}",
    response=DestinationView,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_posts.",
)
async def get_destination(request: web.Request) -> web.Response:
    """One post destination."""
    actor, hub = await actor_of(request), await hub_of(request)
    row = await ops.destination(actor, hub, _destination_id(request))
    return json_response(ops.destination_view(row))


@router.patch(
    "/hubs/{hub}/posts/destinations/{destination}",
    body=DestinationUpdate,
    response=DestinationView,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_posts. A `channel_id` replaces a webhook and a `webhook_url` a channel"
        f" (and clears last_error); `embed: null` removes the embed. {LIMITS}"
    ),
)
async def update_destination(request: web.Request) -> web.Response:
    """Change a post destination."""
    actor, hub = await actor_of(request), await hub_of(request)
    destination_id = _destination_id(request)
    body = await read_json(request, DestinationUpdate)
    row = await ops.update_destination(actor, hub, destination_id, body)
    return json_response(ops.destination_view(row))


@router.delete(
    "/hubs/{hub}/posts/destinations/{destination}",
    status=204,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_posts. Messages already posted stay in Discord.",
)
async def delete_destination(request: web.Request) -> web.Response:
    """Stop posting there."""
    actor, hub = await actor_of(request), await hub_of(request)
    await ops.delete_destination(actor, hub, _destination_id(request))
    return web.Response(status=204)


@router.post(
    "/hubs/{hub}/posts/preview",
    body=PreviewInput,
    response=Rendered,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_posts. A stored `destination`'s template, or a draft (`trigger`,"
        " `content`, `embed`; neither: the trigger's default), rendered with `variables`"
        " (a variable left out shows as `[name]`). The draft is checked as on create."
    ),
)
async def preview(request: web.Request) -> web.Response:
    """Show a post before it is made."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, PreviewInput)
    return json_response(await ops.preview(actor, hub, body))


@router.post(
    "/hubs/{hub}/posts/destinations/{destination}/test",
    response=TestResult,
    status=202,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_posts. Posts the template with sample values through the bot's queue;"
        " a failure shows on the destination (last_error)."
    ),
)
async def test_destination(request: web.Request) -> web.Response:
    """Send a sample post."""
    actor, hub = await actor_of(request), await hub_of(request)
    result = await ops.test(actor, hub, _destination_id(request))
    return json_response(result, status=202)
