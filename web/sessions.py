"""Tokens and sessions over HTTP: public keys, refresh, logout, sessions, application tokens."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from models import auth
from models.actor import Scope, require_recent_login
from models.errors import NotFound
from models.i18n import N_
from models.pagination import Page, PageQuery
from models.text import Name
from web.api import Router, json_response, parse_query, path_id, path_uuid, read_json
from web.auth import actor_of, current_claims
from web.clientip import client_ip

router = Router("auth", app_tokens=False)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    session_id: str


def _tokens(pair: auth.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        session_id=pair.session_id,
    )


def token_response(pair: auth.TokenPair) -> web.Response:
    return json_response(_tokens(pair))


class LoginResponse(BaseModel):
    """Tokens, or `mfa_required` with a ticket for `POST /auth/mfa/verify`.

    Fields that do not apply are left out, so a client only looks at `mfa_required`.
    """

    mfa_required: bool = False
    mfa_ticket: str | None = Field(
        default=None, description="Send it with a code to POST /api/v1/auth/mfa/verify."
    )
    access_token: str | None = None
    refresh_token: str | None = None
    token_type: str | None = None
    expires_in: int | None = None
    session_id: str | None = None


def login_response(result: auth.LoginResult) -> web.Response:
    """The answer of every route that completes a login (password, ticket, MFA code)."""
    if result.tokens is None:
        body = LoginResponse(mfa_required=True, mfa_ticket=result.mfa_ticket)
    else:
        body = LoginResponse(**_tokens(result.tokens).model_dump())
    return json_response(body.model_dump(mode="json", exclude_none=True))


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=8, max_length=200)


class SessionView(BaseModel):
    id: str
    method: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str
    ip: str
    current: bool


class SessionList(BaseModel):
    items: list[SessionView]


TokenName = Name(100)


class AppTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: TokenName
    scopes: list[Scope] = Field(
        default_factory=lambda: [Scope.READ],
        min_length=1,
        max_length=2,
        description="read: GET routes; write: every other route (and read).",
    )
    expires_at: datetime | None = None


class AppTokenView(BaseModel):
    id: int
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class AppTokenCreated(AppTokenView):
    token: str = Field(description="Shown once; store it now.")


class Jwks(BaseModel):
    keys: list[dict]


@router.get("/auth/jwks.json", response=Jwks)
async def jwks(request: web.Request) -> web.Response:
    """Public keys that verify access tokens (JWKS)."""
    return json_response(auth.token_config().keyring.jwks())


@router.get("/auth/pub-key", content_type="application/x-pem-file", response=None)
async def public_key(request: web.Request) -> web.Response:
    """The active public key as PEM."""
    pem = auth.token_config().keyring.active.public_pem()
    return web.Response(text=pem, content_type="application/x-pem-file")


@router.post(
    "/auth/refresh",
    body=RefreshRequest,
    response=TokenResponse,
    errors=(400, 401, 422, 429),
    limit="auth",
)
async def refresh(request: web.Request) -> web.Response:
    """Exchange a refresh token for new tokens (the old refresh token stops working)."""
    body = await read_json(request, RefreshRequest)
    return token_response(await auth.refresh_session(body.refresh_token, ip=client_ip(request)))


@router.post("/auth/logout", status=204, errors=(401,), auth=True)
async def logout(request: web.Request) -> web.Response:
    """End the current session."""
    claims = await current_claims(request)
    if claims.session_id:
        await auth.revoke_session_of(claims.user_id, claims.session_id)
    return web.Response(status=204)


@router.post("/auth/logout-everywhere", status=204, errors=(401,), auth=True)
async def logout_everywhere(request: web.Request) -> web.Response:
    """End every session of the current user."""
    await auth.revoke_all_sessions((await current_claims(request)).user_id)
    return web.Response(status=204)


@router.get("/auth/sessions", response=SessionList, errors=(401,), auth=True)
async def list_sessions(request: web.Request) -> web.Response:
    """The current user's active sessions."""
    claims = await current_claims(request)
    sessions = await auth.active_sessions(claims.user_id)
    items = [
        SessionView(
            id=str(s.id),
            method=s.method,
            created_at=s.created_at,
            last_used_at=s.last_used_at,
            user_agent=s.user_agent,
            ip=s.ip,
            current=str(s.id) == claims.session_id,
        )
        for s in sessions
    ]
    return json_response(SessionList(items=items))


@router.delete("/auth/sessions/{session_id}", status=204, errors=(401, 404), auth=True)
async def revoke_session(request: web.Request) -> web.Response:
    """End one of the current user's sessions."""
    claims = await current_claims(request)
    missing = NotFound(N_("That session does not exist."), code="session_not_found")
    await auth.revoke_session_of(claims.user_id, path_uuid(request, "session_id", missing))
    return web.Response(status=204)


def _token_model(token: auth.AppToken) -> AppTokenView:
    return AppTokenView.model_validate(token, from_attributes=True)


def _app_token_view(token: auth.AppToken) -> dict:
    return _token_model(token).model_dump(mode="json")


@router.get(
    "/auth/app-tokens", query=PageQuery, response=Page[AppTokenView], errors=(401, 422), auth=True
)
async def list_app_tokens(request: web.Request) -> web.Response:
    """The current user's application tokens (without their secrets), newest first."""
    user_id = (await current_claims(request)).user_id
    page = await auth.app_token_page(user_id, parse_query(request, PageQuery), _token_model)
    return json_response(page)


@router.post(
    "/auth/app-tokens",
    body=AppTokenCreate,
    response=AppTokenCreated,
    status=201,
    errors=(400, 401, 403, 422, 429),
    auth=True,
    limit="auth",
)
async def create_app_token(request: web.Request) -> web.Response:
    """Create an application token for an integration (needs a recent login)."""
    actor = await actor_of(request)
    body = await read_json(request, AppTokenCreate)
    require_recent_login(actor)
    token, secret = await auth.create_app_token(
        actor.user_id, body.name, sorted(set(body.scopes)), body.expires_at
    )
    return json_response({**_app_token_view(token), "token": secret}, status=201)


@router.delete("/auth/app-tokens/{token_id}", status=204, errors=(401, 404), auth=True)
async def revoke_app_token(request: web.Request) -> web.Response:
    """Revoke an application token."""
    claims = await current_claims(request)
    missing = NotFound(N_("That token does not exist."), code="token_not_found")
    await auth.revoke_app_token(claims.user_id, path_id(request, "token_id", missing))
    return web.Response(status=204)
