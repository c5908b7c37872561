"""The current user over HTTP."""

from __future__ import annotations

from aiohttp import web

from models import auth, users
from models.users import Profile
from web.api import Router, json_response
from web.auth import current_claims

router = Router("users")


class Me(Profile):
    hubs: dict[str, list[str]]


@router.get("/users/@me", response=Me, errors=(401,), auth=True)
async def get_me(request: web.Request) -> web.Response:
    """The current user; hub permissions as of the access token."""
    claims = await current_claims(request)
    profile = await users.cached_profile(claims.user_id)
    return json_response({**profile, "hubs": claims.extra.get("hubs", {})})


@router.get("/users/@me/live", response=Me, errors=(401,), auth=True)
async def get_me_live(request: web.Request) -> web.Response:
    """The current user's state right now (roles and permissions from the database)."""
    claims = await current_claims(request)
    user = await users.User.get(id=claims.user_id)
    hubs = await auth.hub_permissions(user)
    return json_response({**users.profile_of(user).model_dump(mode="json"), "hubs": hubs})
