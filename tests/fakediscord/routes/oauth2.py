"""OAuth2 authorization code grant with PKCE: the consent page, the token endpoint, token
revocation (RFC 7009) and /users/@me with a user's Bearer token."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import BasicAuth, web

from ..server import BODY, emulator_of, json_response

if TYPE_CHECKING:
    from ..state import User

SCOPES = {"identify", "email", "guilds"}


@dataclass
class Grant:
    user: User
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    used: bool = False


@dataclass(frozen=True)
class Revocation:
    """One accepted revocation request; `user` is None for a token we never issued."""

    token: str
    token_type_hint: str
    user: User | None


@dataclass
class OAuth2:
    """The emulator's OAuth2 state; tests choose who approves (`approve_as`) or deny."""

    client_secret: str = "fake-client-secret"
    redirect_uris: set[str] = field(default_factory=set)
    approver: User | None = None
    denied: bool = False
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[User, str]] = field(default_factory=dict)
    revocations: list[Revocation] = field(default_factory=list)

    def approve_as(self, user: User) -> None:
        """The browser is logged in to Discord as `user`, who approves every request."""
        self.approver, self.denied = user, False

    def deny(self) -> None:
        """The user presses "Cancel" on the consent page."""
        self.denied = True


class OAuthError(Exception):
    """An RFC 6749 error response."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def response(self) -> web.Response:
        body = {"error": self.error, "error_description": self.description}
        return json_response(body, status=self.status)


def _redirect(uri: str, **params: str) -> web.Response:
    raise web.HTTPFound(f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}")


async def authorize(request: web.Request) -> web.Response:
    """GET /oauth2/authorize (the consent page): approve at once for the chosen test user."""
    emulator = emulator_of(request)
    oauth, query = emulator.oauth2, request.query
    uri = query.get("redirect_uri", "")
    # Like Discord: a bad client or redirect URI is shown to the user, never redirected to.
    if query.get("client_id") != str(emulator.application_id):
        raise web.HTTPBadRequest(text="Unknown application")
    if uri not in oauth.redirect_uris:
        raise web.HTTPBadRequest(text="Invalid OAuth2 redirect_uri")
    state = {"state": query["state"]} if "state" in query else {}
    scope = query.get("scope", "")
    if query.get("response_type") != "code" or not set(scope.split()) <= SCOPES:
        return _redirect(uri, error="invalid_request", **state)
    if query.get("code_challenge") and query.get("code_challenge_method") != "S256":
        return _redirect(uri, error="invalid_request", **state)
    if oauth.denied:
        return _redirect(uri, error="access_denied", **state)
    if oauth.approver is None:
        raise web.HTTPBadRequest(text="fakediscord: call discord.oauth2.approve_as(user) first")
    code = secrets.token_urlsafe(24)
    oauth.grants[code] = Grant(
        oauth.approver, query["client_id"], uri, scope, query.get("code_challenge")
    )
    return _redirect(uri, code=code, **state)


def _client(request: web.Request, form: dict[str, str]) -> str:
    """The authenticated client id (HTTP Basic or form fields), or `invalid_client`."""
    emulator = emulator_of(request)
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        basic = BasicAuth.decode(header)
        client_id, secret = basic.login, basic.password
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    expected = (str(emulator.application_id), emulator.oauth2.client_secret)
    if (client_id, secret) != expected:
        raise OAuthError("invalid_client", "Invalid client", status=401)
    return client_id


def _redeem(oauth: OAuth2, form: dict[str, str], client_id: str) -> Grant:
    """The grant of a code: single use, same client, same redirect URI, matching verifier."""
    grant = oauth.grants.get(form.get("code", ""))
    if grant is None or grant.used or grant.client_id != client_id:
        raise OAuthError("invalid_grant", 'Invalid "code" in request.')
    grant.used = True
    if form.get("redirect_uri") != grant.redirect_uri:
        raise OAuthError("invalid_grant", 'Invalid "redirect_uri" in request.')
    if grant.challenge is not None:
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            raise OAuthError("invalid_grant", 'Invalid "code_verifier" in request.')
    return grant


async def token(request: web.Request) -> web.Response:
    """POST /oauth2/token: exchange an authorization code for a user's access token."""
    oauth = emulator_of(request).oauth2
    form = request[BODY] if isinstance(request[BODY], dict) else {}
    try:
        client_id = _client(request, form)
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "Unsupported grant type")
        grant = _redeem(oauth, form, client_id)
    except OAuthError as exc:
        return exc.response()
    access = secrets.token_urlsafe(24)
    oauth.tokens[access] = (grant.user, grant.scope)
    return json_response(
        {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 604800,
            "refresh_token": secrets.token_urlsafe(24),
            "scope": grant.scope,
        }
    )


TOKEN_TYPE_HINTS = {"access_token", "refresh_token"}


async def revoke(request: web.Request) -> web.Response:
    """POST /oauth2/token/revoke: the token stops working at once.

    Like RFC 7009 (and Discord) an unknown or already revoked token is still a 200, so a
    client learns nothing about tokens it does not hold; the client must authenticate.
    """
    oauth = emulator_of(request).oauth2
    form = request[BODY] if isinstance(request[BODY], dict) else {}
    try:
        _client(request, form)
        hint = form.get("token_type_hint", "")
        if not form.get("token") or (hint and hint not in TOKEN_TYPE_HINTS):
            raise OAuthError("invalid_request", 'Invalid "token" or "token_type_hint".')
    except OAuthError as exc:
        return exc.response()
    owner = oauth.tokens.pop(form["token"], None)
    oauth.revocations.append(Revocation(form["token"], hint, owner[0] if owner else None))
    return json_response({})


def bearer_user(request: web.Request) -> tuple[User, str] | None:
    """The user and scopes of a Bearer token in the request, if it is one we issued."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer":
        return None
    return emulator_of(request).oauth2.tokens.get(value)


def me_payload(user: User, scope: str) -> dict[str, Any]:
    """/users/@me as the user sees it; `email` needs the email scope, like Discord."""
    payload = user.private_payload()
    if "email" in scope.split():
        payload |= {"email": f"{user.name.lower()}@users.fakediscord.test", "verified": True}
    return payload


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/oauth2/token", token),
    ("POST", "/oauth2/token/revoke", revoke),
]
BROWSER_ROUTES: list[tuple[str, str, Any]] = [("GET", "/oauth2/authorize", authorize)]
