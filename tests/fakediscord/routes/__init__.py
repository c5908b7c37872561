"""REST routes of the emulator, one module per area of Discord's API."""

from __future__ import annotations

from aiohttp import web

from . import app, channels, guilds, interactions, oauth2


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    for module in (app, channels, guilds, interactions, oauth2):
        for method, path, handler in module.ROUTES:
            router.add_route(method, prefix + path, handler)
    # Pages a browser visits (discord.com/oauth2/authorize), outside the API prefix.
    for method, path, handler in oauth2.BROWSER_ROUTES:
        router.add_route(method, path, handler)
