"""Login with Discord (OAuth2 authorization code + PKCE), and what every browser login flow
shares: the binding cookie, safe redirects, and the callback's outcome."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from core.config import Settings
from models import identities, oauth
from models.actor import Actor
from models.errors import DomainError, Invalid, Unauthorized
from models.i18n import N_
from models.identities import ExternalIdentity, LoginUnavailable, Provider
from models.oauth import LINK, LOGIN, FlowState, StartedFlow
from web.api import Router, json_response, parse_query, read_json
from web.auth import actor_of
from web.keys import SETTINGS

log = logging.getLogger(__name__)
router = Router("login", app_tokens=False)

HTTP = web.AppKey("http_client", aiohttp.ClientSession)
COOKIE_PATH = "/api/v1/auth/"
CALLBACK_TICKET_TTL = 120  # the website exchanges it right away
SCOPES = "identify email"
# Revoking is a courtesy to the user: a slow Discord must not hold the login up for long.
REVOKE_TIMEOUT = aiohttp.ClientTimeout(total=3)


async def http_client_ctx(app: web.Application) -> AsyncIterator[None]:
    """One client session for calls to Discord and Steam, closed with the app."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout, raise_for_status=False) as session:
        app[HTTP] = session
        yield


class NextQuery(BaseModel):
    next: str | None = Field(default=None, max_length=2000, description="Where to go afterwards")


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    next: str | None = Field(default=None, max_length=2000)


class LinkStarted(BaseModel):
    authorize_url: str = Field(description="Open this in the browser (same cookie jar).")


# Shared by every provider


def settings_of(request: web.Request) -> Settings:
    return request.app[SETTINGS]


def redirect_origins(settings: Settings) -> list[str]:
    """Where login flows may send the browser: the website first, then the API itself."""
    public = oauth.origin_of(settings.web.public_url)
    return [*settings.auth.frontend_origins, *([public] if public else [])]


def next_url(settings: Settings, target: str | None) -> str:
    """The validated `next`, or the website's start page when none was given."""
    safe = oauth.safe_next(target or "/", redirect_origins(settings))
    if safe is None:
        raise Invalid(
            N_("This return address is not allowed: it must be on this site."),
            code="unsafe_redirect",
        )
    return safe


def redirect(url: str) -> web.Response:
    """A 302 response (returned, not raised, so cookies can be set on it)."""
    return web.Response(status=302, headers={"Location": url})


def cookie_name(provider: Provider) -> str:
    return f"dh_login_{provider}"


def bind_browser(
    response: web.StreamResponse, provider: Provider, started: StartedFlow, settings: Settings
) -> None:
    """The cookie that proves the callback comes back to the browser that started the flow."""
    response.set_cookie(
        cookie_name(provider),
        started.browser_secret,
        max_age=oauth.STATE_TTL,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",  # sent on the top-level redirect back from Discord or Steam
        secure=settings.web.public_url.startswith("https://"),
    )


async def finish(
    request: web.Request,
    flow: FlowState | None,
    provider: Provider,
    identify: Callable[[FlowState], Awaitable[ExternalIdentity]],
) -> web.Response:
    """Log in or link after a provider's callback, then send the browser to `next`.

    The outcome travels in the fragment (`#ticket=...`, `#linked=...`, `#error=<code>`), so
    the ticket never reaches a server's logs. Without a valid state there is no trustworthy
    `next`, so the answer is a problem.
    """
    if flow is None:
        raise Unauthorized(
            N_("This login link is invalid or has expired. Please try again."),
            code="invalid_state",
        )
    try:
        oauth.check_browser(flow, request.cookies.get(cookie_name(provider)))
        target = await _outcome(flow, await identify(flow))
    except DomainError as exc:
        log.info("%s login failed: %s", provider, exc.code)
        target = oauth.with_fragment(flow.next, error=exc.code)
    response = redirect(target)
    response.del_cookie(cookie_name(provider), path=COOKIE_PATH)
    return response


async def _outcome(flow: FlowState, identity: ExternalIdentity) -> str:
    if flow.purpose == LINK:
        await identities.link(Actor(flow.user_id), identity.provider, identity.id)
        return oauth.with_fragment(flow.next, linked=identity.provider.value)
    user = await identities.sign_in(identity)
    ticket = await identities.issue_login_ticket(user, identity.provider, CALLBACK_TICKET_TTL)
    return oauth.with_fragment(flow.next, ticket=ticket)


FlowStarter = Callable[[Settings, str, str | None, int | None], Awaitable[tuple[str, StartedFlow]]]


async def start_login(request: web.Request, provider: Provider, start: FlowStarter) -> web.Response:
    """Begin a login: redirect the browser to the provider, bound to it by the cookie."""
    settings = settings_of(request)
    query = parse_query(request, NextQuery)
    url, started = await start(settings, LOGIN, query.next, None)
    response = redirect(url)
    bind_browser(response, provider, started, settings)
    return response


async def start_linking(
    request: web.Request, provider: Provider, start: FlowStarter
) -> web.Response:
    """Begin linking `provider` to the logged-in user: the URL to open, and the cookie."""
    settings = settings_of(request)
    actor = await actor_of(request)
    body = await read_json(request, LinkRequest)
    url, started = await start(settings, LINK, body.next, actor.user_id)
    response = json_response(LinkStarted(authorize_url=url))
    bind_browser(response, provider, started, settings)
    return response


def denied_at_provider(request: web.Request) -> None:
    if "error" in request.query:
        raise Unauthorized(N_("The login was cancelled."), code="access_denied")


# Discord


def _discord_client(settings: Settings) -> tuple[str, str, str]:
    """client id, secret and redirect URI, or `LoginUnavailable` when not configured."""
    config = settings.discord.oauth
    if not (config.client_id and config.client_secret and config.redirect_uri):
        raise LoginUnavailable(provider="Discord")
    return config.client_id, config.client_secret.get_secret_value(), config.redirect_uri


def _authorize_url(settings: Settings, started: StartedFlow, challenge: str) -> str:
    client_id, _, redirect_uri = _discord_client(settings)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": SCOPES,
        "state": started.state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "prompt": "none",  # no second consent screen for users who already approved
    }
    return f"{settings.discord.oauth.authorize_url}?{urlencode(query)}"


async def _start_discord(
    settings: Settings, purpose: str, target: str | None, user_id: int | None = None
) -> tuple[str, StartedFlow]:
    """Remember a new flow; return Discord's authorize URL and the browser's secret."""
    _discord_client(settings)  # refuse before remembering anything
    verifier, challenge = oauth.pkce_pair()
    started = await oauth.start_flow(
        Provider.DISCORD,
        purpose,
        next_url(settings, target),
        user_id=user_id,
        verifier=verifier,
    )
    return _authorize_url(settings, started, challenge), started


@router.get("/auth/discord/login", query=NextQuery, status=302, errors=(422, 503), limit="auth")
async def discord_login(request: web.Request) -> web.Response:
    """Start logging in with Discord: redirects to Discord's consent page."""
    return await start_login(request, Provider.DISCORD, _start_discord)


@router.post(
    "/auth/discord/link",
    body=LinkRequest,
    response=LinkStarted,
    errors=(401, 422, 503),
    auth=True,
    limit="auth",
)
async def discord_link(request: web.Request) -> web.Response:
    """Start connecting a Discord account to the current user (send the cookie along)."""
    return await start_linking(request, Provider.DISCORD, _start_discord)


@router.delete("/auth/discord/link", status=204, errors=(401, 404, 409), auth=True)
async def discord_unlink(request: web.Request) -> web.Response:
    """Disconnect the current user's Discord account (not the last way to log in)."""
    await identities.unlink(await actor_of(request), Provider.DISCORD)
    return web.Response(status=204)


@router.get("/auth/discord/callback", status=302, errors=(401,), limit="auth")
async def discord_callback(request: web.Request) -> web.Response:
    """Where Discord sends the browser back: logs in or links, then redirects to `next`."""
    flow = await oauth.take_flow(request.query.get("state"), Provider.DISCORD)

    async def identify(flow: FlowState) -> ExternalIdentity:
        denied_at_provider(request)
        return await discord_identity(request, flow, request.query.get("code", ""))

    return await finish(request, flow, Provider.DISCORD, identify)


async def discord_identity(request: web.Request, flow: FlowState, code: str) -> ExternalIdentity:
    """Exchange the code (with our secret and the PKCE verifier) and ask who logged in."""
    settings = settings_of(request)
    client_id, secret, redirect_uri = _discord_client(settings)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": flow.verifier,
    }
    api = settings.discord.api_base
    basic = {"Authorization": aiohttp.encode_basic_auth(client_id, secret)}
    token = await _discord_call(request, "POST", f"{api}/oauth2/token", data=form, headers=basic)
    access = str(token.get("access_token") or "") if isinstance(token, dict) else ""
    bearer = {"Authorization": f"Bearer {access}"}
    try:
        me = await _discord_call(request, "GET", f"{api}/users/@me", headers=bearer)
    finally:
        # We needed the token only to ask who logged in: revoked, a leaked copy is worthless.
        await _revoke_discord_token(request, api, access, basic)
    try:
        return _identity_of(me)
    except (KeyError, TypeError, ValueError):
        raise LoginUnavailable(provider="Discord") from None


async def _discord_call(request: web.Request, method: str, url: str, **kwargs: Any) -> Any:
    """One call to Discord: 4xx means the code was refused, anything else is an outage."""
    try:
        async with request.app[HTTP].request(method, url, **kwargs) as response:
            if 400 <= response.status < 500:
                raise Unauthorized(
                    N_("Discord did not confirm your login. Please try again."),
                    code="discord_refused",
                )
            if response.status != 200:
                raise LoginUnavailable(provider="Discord")
            return await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("Discord OAuth call %s %s failed: %r", method, url, exc)
        raise LoginUnavailable(provider="Discord") from None


async def _revoke_discord_token(
    request: web.Request, api: str, access: str, client_auth: dict[str, str]
) -> None:
    """Revoke an access token at Discord; a failure is logged and the login goes on."""
    if not access:
        return
    form = {"token": access, "token_type_hint": "access_token"}
    try:
        async with request.app[HTTP].post(
            f"{api}/oauth2/token/revoke", data=form, headers=client_auth, timeout=REVOKE_TIMEOUT
        ) as response:
            failure = "" if response.status == 200 else f"HTTP {response.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        failure = repr(exc)
    if failure:
        log.warning("Could not revoke a Discord access token (%s); it expires by itself", failure)


def _identity_of(me: dict[str, Any]) -> ExternalIdentity:
    user_id = int(me["id"])
    avatar = f"https://cdn.discordapp.com/avatars/{user_id}/{me['avatar']}.png"
    return ExternalIdentity(
        Provider.DISCORD,
        user_id,
        username=str(me.get("username") or user_id)[:64],
        avatar=avatar if me.get("avatar") else "",
        email=me.get("email") or None,
        email_verified=bool(me.get("verified")),
    )
