"""Web fixtures: the real application factory behind aiohttp's test client.

`api_client(**sections, routes=...)` builds `web.app.create_app` from the session `settings`
(each keyword replaces fields of one settings section, e.g. `web={"cors_origins": [...]}`),
lets a test add throwaway routes before the app starts, and yields a started `TestClient`.
"""

from __future__ import annotations

import contextlib
import re
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiocache import RedisCache
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.config import Settings
from models.cache import cache
from tests.conftest import TEST_CACHE_URL
from tests.web import statuses
from web.app import create_app

ClientFactory = Callable[..., contextlib.AbstractAsyncContextManager[TestClient]]


def with_sections(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """`settings` with some fields of some sections replaced (settings are frozen)."""
    update = {}
    for name, values in sections.items():
        section = getattr(settings, name)
        update[name] = type(section).model_validate({**section.model_dump(), **values})
    return settings.model_copy(update=update)


@pytest.fixture
def api_client(settings: Settings) -> ClientFactory:
    @contextlib.asynccontextmanager
    async def start(
        routes: Callable[[web.Application], None] | None = None, **sections: dict[str, Any]
    ) -> AsyncIterator[TestClient]:
        app = create_app(with_sections(settings, **sections))
        statuses.record(app)
        if routes is not None:
            routes(app)
        async with TestClient(TestServer(app)) as client:
            yield client

    return start


@pytest.fixture
async def client(api_client: ClientFactory) -> AsyncIterator[TestClient]:
    """The API with the test settings, started."""
    async with api_client() as started:
        yield started


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once closed: nothing listens there


@pytest.fixture
async def cache_outage(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[[], None]]:
    """`cache_outage()` takes the cache down for the rest of the test, as an outage would.

    With Redis the cache then talks to a port where nothing listens (real refused
    connections); with the memory cache every call fails with ConnectionError.
    """
    unreachable: list[RedisCache] = []

    def take_down() -> None:
        current = cache()
        if TEST_CACHE_URL.startswith("redis"):
            port = _closed_port()
            broken = RedisCache(port=port, namespace=current.namespace, timeout=2)
            unreachable.append(broken)
            monkeypatch.setattr(current, "backend", broken)
            return

        async def refuse(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("cache down")

        for name in ("get", "set", "add", "delete", "increment", "expire", "exists"):
            monkeypatch.setattr(current.backend, name, refuse)

    yield take_down
    for broken in unreachable:
        await broken.client.aclose()


async def problem_of(response: Any, status: int, code: str | None) -> dict[str, Any]:
    """The problem+json body of `response`, after checking its shape, status and code.

    `code=None` accepts any code (for errors whose code a coming feature will refine).
    """
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body = await response.json(content_type=None)
    assert set(body) >= {"type", "title", "status", "code", "detail", "instance"}
    assert body["status"] == status
    assert body["code"] == (code or body["code"])
    assert body["type"] == f"urn:drivershub:problem:{body['code']}"
    assert body["instance"] == response.url.path
    assert body["title"]
    assert body["detail"]
    return body


def fill_path(path: str, hub: str = "road-kings") -> str:
    """A path template with plausible values: the hub's slug, a UUID for session ids, else 1.

    The OpenAPI walks use it: gates must refuse before an id is even looked up.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "hub":
            return hub
        return str(uuid.uuid4()) if "session" in name else "1"

    return re.sub(r"{(\w+)}", value, path)
