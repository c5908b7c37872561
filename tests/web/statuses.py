"""Every status the suite sees, per documented operation, to check the OpenAPI document.

`record(app)` hooks an application built by the web fixtures; the last test of the suite
(tests/web/test_zz_documented_statuses.py) compares what was seen with what is documented.
"""

from __future__ import annotations

from aiohttp import web

# (method, path template, status) of every answer given by an app under test.
SEEN: set[tuple[str, str, int]] = set()


async def _remember(request: web.Request, response: web.StreamResponse) -> None:
    route = request.match_info.route
    resource = route.resource
    if resource is not None and route.method != "*":
        SEEN.add((request.method, resource.canonical, response.status))


def record(app: web.Application) -> None:
    app.on_response_prepare.append(_remember)
