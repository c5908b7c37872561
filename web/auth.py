"""Who is calling: bearer access tokens (JWT) and application tokens."""

from __future__ import annotations

from aiohttp import web

from models import auth
from models.actor import Actor
from models.auth import Claims
from models.errors import Unauthorized
from models.i18n import N_
from web.clientip import client_ip

CLAIMS = web.RequestKey("claims", Claims)
ACTOR = web.RequestKey("actor", Actor)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            N_("Send credentials as: Authorization: Bearer <token>."), code="bad_authorization"
        )
    return token.strip()


async def claims_of(token: str) -> Claims:
    """Verify an access token (no database query) or an application token."""
    if token.startswith(auth.APP_TOKEN_PREFIX):
        return await auth.authenticate_app_token(token)
    if token.startswith(auth.REFRESH_PREFIX):
        raise Unauthorized(N_("Your login is invalid or has expired."), code="invalid_token")
    claims = auth.decode_access_token(token)
    await auth.check_not_revoked(claims)
    return claims


async def current_claims(request: web.Request) -> Claims:
    """The caller's verified claims (checked once per request), or `Unauthorized`.

    Authentication is on demand: public routes never parse credentials, and /metrics keeps
    its own bearer token.
    """
    claims = request.get(CLAIMS)
    if claims is None:
        token = bearer_token(request)
        if token is None:
            raise Unauthorized()
        claims = request[CLAIMS] = await claims_of(token)
    return claims


async def actor_of(request: web.Request) -> Actor:
    """The authenticated actor (superuser flag and last login from the database), once per
    request, or `Unauthorized`."""
    actor = request.get(ACTOR)
    if actor is None:
        claims = await current_claims(request)
        actor = request[ACTOR] = await auth.actor_for(claims, ip=client_ip(request))
    return actor
