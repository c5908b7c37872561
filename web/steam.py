"""Login with Steam (OpenID 2.0) and connecting a Steam account, over HTTP."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from core.config import Settings
from models import identities, oauth, steam
from models.identities import ExternalIdentity, LoginUnavailable, Provider
from models.oauth import FlowState, StartedFlow
from web.api import PREFIX, Router
from web.auth import actor_of
from web.oauth import (
    HTTP,
    LinkRequest,
    LinkStarted,
    NextQuery,
    finish,
    next_url,
    settings_of,
    start_linking,
    start_login,
)

log = logging.getLogger(__name__)
router = Router("login", app_tokens=False)
CALLBACK_PATH = "/auth/steam/callback"
SUMMARIES_PATH = "/ISteamUser/GetPlayerSummaries/v2/"
# The persona name only replaces "steam-<id>": a slow Steam must not hold the login up long.
SUMMARIES_TIMEOUT = aiohttp.ClientTimeout(total=5)


def return_to(settings: Settings, state: str) -> str:
    """Our callback URL for one flow; Steam must send back exactly this."""
    base = settings.web.public_url.rstrip("/")
    return f"{base}{PREFIX}{CALLBACK_PATH}?{urlencode({'state': state})}"


async def _start_steam(
    settings: Settings, purpose: str, target: str | None, user_id: int | None = None
) -> tuple[str, StartedFlow]:
    started = await oauth.start_flow(
        Provider.STEAM, purpose, next_url(settings, target), user_id=user_id
    )
    realm = oauth.origin_of(settings.web.public_url) or settings.web.public_url
    url = steam.authorize_url(
        settings.steam.openid_endpoint, return_to(settings, started.state), realm
    )
    return url, started


@router.get("/auth/steam/login", query=NextQuery, status=302, errors=(422,), limit="auth")
async def steam_login(request: web.Request) -> web.Response:
    """Start logging in with Steam: redirects to Steam's sign-in page."""
    return await start_login(request, Provider.STEAM, _start_steam)


@router.post(
    "/auth/steam/link",
    body=LinkRequest,
    response=LinkStarted,
    errors=(401, 422),
    auth=True,
    limit="auth",
)
async def steam_link(request: web.Request) -> web.Response:
    """Start connecting a Steam account to the current user (send the cookie along)."""
    return await start_linking(request, Provider.STEAM, _start_steam)


@router.delete("/auth/steam/link", status=204, errors=(401, 404, 409), auth=True)
async def steam_unlink(request: web.Request) -> web.Response:
    """Disconnect the current user's Steam account (not the last way to log in)."""
    await identities.unlink(await actor_of(request), Provider.STEAM)
    return web.Response(status=204)


@router.get(CALLBACK_PATH, status=302, errors=(401,), limit="auth")
async def steam_callback(request: web.Request) -> web.Response:
    """Where Steam sends the browser back: verifies the assertion, then redirects to `next`."""
    state = request.query.get("state", "")
    flow = await oauth.take_flow(state, Provider.STEAM)

    async def identify(flow: FlowState) -> ExternalIdentity:
        settings = settings_of(request)
        steam_id = await steam.verify(
            dict(request.query),
            endpoint=settings.steam.openid_endpoint,
            return_to=return_to(settings, state),
            check=lambda form: check_authentication(request, form),
        )
        username = await persona_name(request, steam_id)
        return ExternalIdentity(Provider.STEAM, steam_id, username=username)

    return await finish(request, flow, Provider.STEAM, identify)


async def check_authentication(request: web.Request, form: dict[str, str]) -> str:
    """Ask the configured endpoint (never a URL from the request) to confirm an assertion."""
    endpoint = settings_of(request).steam.openid_endpoint
    try:
        async with request.app[HTTP].post(endpoint, data=form) as response:
            if response.status != 200:
                raise LoginUnavailable(provider="Steam")
            return await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("Steam check_authentication failed: %r", exc)
        raise LoginUnavailable(provider="Steam") from None


async def persona_name(request: web.Request, steam_id: int) -> str:
    """The Steam persona name of `steam_id`, or "" without an API key or a usable answer."""
    config = settings_of(request).steam
    if config.api_key is None:
        return ""
    # In a header, not the query: URLs end up in logs, proxies and error reports.
    headers = {"x-webapi-key": config.api_key.get_secret_value()}
    url = f"{config.api_base}{SUMMARIES_PATH}"
    params = {"steamids": str(steam_id)}
    try:
        async with request.app[HTTP].get(
            url, params=params, headers=headers, timeout=SUMMARIES_TIMEOUT
        ) as response:
            if response.status != 200:
                log.warning("Steam GetPlayerSummaries answered HTTP %s", response.status)
                return ""
            summaries = await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("Steam GetPlayerSummaries failed: %s", type(exc).__name__)
        return ""
    return steam.persona_name(summaries, steam_id) or ""
