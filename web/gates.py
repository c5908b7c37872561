"""The gates in front of every route: plugin switched on, credentials, token scope, permission.

They run before a handler reads its body, so a caller who may not act learns nothing from a
422, and a disabled plugin's routes answer 404 `plugin_disabled` to everyone. The decisions
are the domain's (`models.plugins.enter`); this module only finds the hub and the actor.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from models import auth, hubs, plugins
from models.actor import Scope, require_person, require_scopes
from models.hubs import Hub
from web.auth import actor_of, current_claims

if TYPE_CHECKING:
    from web.api import Endpoint

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HUB = web.RequestKey("hub", Hub)


async def hub_of(request: web.Request) -> Hub:
    """The active hub named by the `{hub}` path segment (looked up once per request)."""
    hub = request.get(HUB)
    if hub is None:
        hub = request[HUB] = await hubs.get_hub(request.match_info["hub"])
    return hub


def gated(endpoint: Endpoint) -> Handler:
    """`endpoint.handler` behind the gates it declares (itself when it declares none)."""
    handler = endpoint.handler
    if not (endpoint.auth or endpoint.plugin or endpoint.permission):
        return handler

    @functools.wraps(handler)
    async def gate(request: web.Request) -> web.StreamResponse:
        with plugins.entry_memo():  # the operation's own gate reuses this one's answers
            return await _through(request)

    async def _through(request: web.Request) -> web.StreamResponse:
        if endpoint.plugin is not None:  # before credentials: a plugin that is off is off for all
            plugins.require_enabled(await hub_of(request), endpoint.plugin)
        if endpoint.auth:
            if endpoint.permission is not None:
                await actor_of(request)  # the session row decides revocation (no cache call)
            # The scope is in the credential itself: no query for routes without a permission.
            scopes = auth.scopes_of(await current_claims(request))
            require_scopes(scopes, endpoint.scope)
            if not endpoint.app_tokens:
                require_person(scopes)
            if endpoint.permission is not None:
                await plugins.enter(
                    await actor_of(request),
                    await hub_of(request),
                    endpoint.plugin,
                    endpoint.permission,
                    write=endpoint.scope == Scope.WRITE,
                )
        return await handler(request)

    return gate
