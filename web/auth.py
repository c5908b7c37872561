"""Who is calling: the actor behind a request's credentials."""

from __future__ import annotations

from aiohttp import web

from models.errors import Unauthorized
from models.i18n import N_
from models.permissions import Actor


async def actor_of(request: web.Request) -> Actor:
    """The authenticated actor, or `Unauthorized`.

    No credential type is accepted yet: accounts and tokens arrive with the accounts
    feature. Until then hub settings change through the bot or `drivershub update-hub`.
    """
    raise Unauthorized(
        N_("This API does not accept logins yet; use the bot or the operator CLI."),
        code="authentication_unavailable",
    )
