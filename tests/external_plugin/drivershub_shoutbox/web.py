"""The shoutbox over HTTP; every route answers 404 plugin_disabled while the hub has it off."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field, RootModel

from drivershub_shoutbox import ops
from drivershub_shoutbox.tables import Shout
from web.api import Router, json_response, read_json
from web.auth import actor_of
from web.gates import hub_of

router = Router("shoutbox", plugin="shoutbox")


class ShoutInput(BaseModel):
    text: str = Field(description="What to say: 1 to 200 characters.")


class ShoutView(BaseModel):
    id: int
    author_id: int | None = Field(description="The user who posted it; null once deleted.")
    text: str
    created_at: datetime


class ShoutList(RootModel[list[ShoutView]]):
    """The newest shouts, newest first."""


def _view(shout: Shout) -> ShoutView:
    return ShoutView(
        id=shout.id, author_id=shout.author_id, text=shout.text, created_at=shout.created_at
    )


@router.get(
    "/hubs/{hub}/shouts",
    response=ShoutList,
    errors=(401, 403, 404),
    auth=True,
    description="The 20 newest shouts; any logged-in caller may read them.",
)
async def list_shouts(request: web.Request) -> web.Response:
    """The hub's newest shouts."""
    actor, hub = await actor_of(request), await hub_of(request)
    shouts = await ops.recent_shouts(actor, hub)
    return json_response(ShoutList([_view(shout) for shout in shouts]))


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
    return json_response(_view(shout), status=201)
