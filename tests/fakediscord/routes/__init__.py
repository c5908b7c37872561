"""REST routes of the emulator, one module per area of Discord's API."""

from __future__ import annotations

from aiohttp import web

from . import app, channels, guilds, interactions, oauth2, webhooks


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    # The first module to claim a route wins: webhooks.py serves the webhook paths it shares
    # with interaction webhooks and hands those requests on to interactions.py.
    claimed: set[tuple[str, str]] = set()
    for module in (app, channels, guilds, webhooks, interactions, oauth2):
        for method, path, handler in module.ROUTES:
            if (method, path) not in claimed:
                claimed.add((method, path))
                router.add_route(method, prefix + path, handler)
    # Pages a browser visits (discord.com/oauth2/authorize), outside the API prefix.
    for method, path, handler in oauth2.BROWSER_ROUTES:
        router.add_route(method, path, handler)
