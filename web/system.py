"""Liveness, readiness, the OpenAPI document and its docs page."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Literal

import swagger_ui
from aiohttp import web
from pydantic import BaseModel

from core.db import ping_database
from models.cache import ping_cache
from web.api import PREFIX, Router, json_response
from web.keys import GATEWAY_STATE
from web.problems import RETRY_AFTER_UNAVAILABLE

log = logging.getLogger(__name__)
router = Router("system")
SWAGGER_ASSETS = Path(swagger_ui.__file__).parent / "static"
OPENAPI = web.AppKey("openapi", bytes)


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    database: str
    cache: str
    discord: dict[str, Any]


@router.get("/health", response=Health)
async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


async def _probe(check: Any) -> str:
    try:
        await asyncio.wait_for(check(), timeout=2)
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        log.warning("readiness check failed: %r", exc)
        return f"error: {type(exc).__name__}"
    return "ok"


@router.get("/ready", response=Readiness, errors=(503,))
async def ready(request: web.Request) -> web.Response:
    """Readiness: database and cache reachable; the Discord gateway state is reported."""
    database, cache = await asyncio.gather(_probe(ping_database), _probe(ping_cache))
    ok = database == cache == "ok"
    body = {
        "status": "ready" if ok else "unavailable",
        "database": database,
        "cache": cache,
        "discord": request.app[GATEWAY_STATE](),
    }
    if ok:
        return json_response(body)
    response = json_response(body, status=503)
    response.headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
    return response


@router.get("/openapi.json", summary="The OpenAPI 3.1 document of this API.")
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drivers Hub API</title>
<link rel="stylesheet" href="{prefix}/docs/assets/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="{prefix}/docs/assets/swagger-ui-bundle.js"></script>
<script src="{prefix}/docs/init.js"></script></body></html>
"""
DOCS_INIT = "SwaggerUIBundle({url: '%s/openapi.json', dom_id: '#docs', deepLinking: true});\n"


@router.get("/docs", summary="Interactive API documentation (works offline).")
async def docs(request: web.Request) -> web.Response:
    return web.Response(text=DOCS_PAGE.format(prefix=PREFIX), content_type="text/html")


async def docs_init(request: web.Request) -> web.Response:
    # A separate script (not inline) so a strict Content-Security-Policy can be used.
    return web.Response(text=DOCS_INIT % PREFIX, content_type="application/javascript")


# Only what the docs page loads (the package also ships editor bundles and source maps).
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
}


async def docs_asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in DOCS_ASSETS:
        raise web.HTTPNotFound()
    return web.FileResponse(
        SWAGGER_ASSETS / name,
        headers={"Content-Type": DOCS_ASSETS[name], "Cache-Control": "public, max-age=86400"},
    )


def install_docs_assets(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/docs/init.js", docs_init)
    app.router.add_get(f"{PREFIX}/docs/assets/{{name}}", docs_asset)
