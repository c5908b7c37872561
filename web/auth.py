"""Who is calling: bearer access tokens (JWT) and application tokens."""

from __future__ import annotations

from aiohttp import web

from models import auth
from models.actor import Actor
from models.auth import Claims
from models.errors import Unauthorized
from models.i18n import N_
from web.clientip import client_ip

SIGNED = web.RequestKey("signed_claims", Claims)
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


async def signed_claims(request: web.Request) -> Claims:
    """The caller's credential, verified by its signature (an access token: no query) or by
    its row (an application token), but not yet against a revocation of its session. The
    rate limit counts with it; `current_claims` and `actor_of` finish the check."""
    claims = request.get(SIGNED)
    if claims is None:
        token = bearer_token(request)
        if token is None:
            raise Unauthorized()
        if token.startswith(auth.APP_TOKEN_PREFIX):
            claims = await auth.authenticate_app_token(token)
        elif token.startswith(auth.REFRESH_PREFIX):
            raise Unauthorized(N_("Your login is invalid or has expired."), code="invalid_token")
        else:
            claims = auth.decode_access_token(token)
            if not claims.session_id:  # every access token belongs to a session
                raise Unauthorized(
                    N_("Your login is invalid or has expired."), code="invalid_token"
                )
        request[SIGNED] = claims
    return claims


async def current_claims(request: web.Request) -> Claims:
    """The caller's verified claims (checked once per request), or `Unauthorized`.

    Authentication is on demand: public routes never parse credentials, and /metrics keeps
    its own bearer token.
    """
    claims = request.get(CLAIMS)
    if claims is None:
        claims = await signed_claims(request)
        if claims.session_id is not None:  # an application token was checked on its row
            await auth.check_not_revoked(claims)
        request[CLAIMS] = claims
    return claims


async def actor_of(request: web.Request) -> Actor:
    """The authenticated actor (superuser flag and last login from the database), once per
    request, or `Unauthorized`.

    The session row the actor is read from also says whether the session was revoked, so
    this needs no separate revocation check.
    """
    actor = request.get(ACTOR)
    if actor is None:
        claims = request.get(CLAIMS) or await signed_claims(request)
        actor = request[ACTOR] = await auth.actor_for(claims, ip=client_ip(request))
        request[CLAIMS] = claims
    return actor
