"""System routes: health, readiness, request ids, CORS, metrics, the OpenAPI document and docs."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from models.hubs import ensure_hub_for_guild
from tests.web.conftest import ClientFactory, problem_of
from web import system
from web.api import PREFIX

ORIGIN = "https://hub.example.com"


async def test_health_answers_ok(client: TestClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_ready_reports_database_cache_and_a_disabled_gateway(client: TestClient) -> None:
    response = await client.get("/api/v1/ready")
    assert response.status == 200
    assert await response.json() == {
        "status": "ready",
        "database": "ok",
        "cache": "ok",
        "discord": {"state": "disabled"},
    }


async def test_ready_is_503_when_the_database_does_not_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> None:
        raise ConnectionRefusedError("database is down")

    monkeypatch.setattr(system, "ping_database", broken)
    response = await client.get("/api/v1/ready")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "error: ConnectionRefusedError"
    assert body["cache"] == "ok"


# Request ids


async def test_every_response_carries_a_request_id(client: TestClient) -> None:
    first = await client.get("/api/v1/health")
    second = await client.get("/api/v1/nothing-here")
    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)
    assert ids[0] != ids[1]


async def test_a_sane_incoming_request_id_is_echoed(client: TestClient) -> None:
    for given in ("lb-7f3a.42", "0f8fad5b-d9cb-469f-a165-70867728950e", "x" * 64):
        response = await client.get("/api/v1/health", headers={"X-Request-Id": given})
        assert response.headers["X-Request-Id"] == given


async def _raw_get(client: TestClient, path: str, header: bytes) -> tuple[int, dict[str, str]]:
    """GET with one raw header line (aiohttp's client refuses to send control characters)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(
            b"GET "
            + path.encode()
            + b" HTTP/1.1\r\nHost: localhost\r\n"
            + header
            + b"\r\nConnection: close\r\n\r\n"
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, *lines = head.strip().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers


@pytest.mark.parametrize(
    "hostile",
    [
        b"x" * 65,
        b"evil\tid",
        "caf\u00e9".encode(),
        b"<script>alert(1)</script>",
        b"abc 200 GET /admin",
    ],
)
async def test_a_hostile_request_id_is_replaced(client: TestClient, hostile: bytes) -> None:
    status, headers = await _raw_get(client, "/api/v1/health", b"X-Request-Id: " + hostile)
    assert status == 200
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])


async def test_an_unexpected_error_reports_the_request_id_as_reference(
    api_client: ClientFactory,
) -> None:
    async def crash(request: Any) -> Any:
        raise RuntimeError("boom")

    async with api_client(routes=lambda app: app.router.add_get("/api/v1/crash", crash)) as c:
        response = await c.get("/api/v1/crash", headers={"X-Request-Id": "trace-me-1"})
        body = await response.json(content_type=None)
    assert body["reference"] == "trace-me-1"
    assert response.headers["X-Request-Id"] == "trace-me-1"


# CORS


async def test_cors_allows_exactly_the_configured_origin(api_client: ClientFactory) -> None:
    async with api_client(web={"cors_origins": [ORIGIN + "/"]}) as c:
        allowed = await c.get("/api/v1/health", headers={"Origin": ORIGIN})
        other = await c.get("/api/v1/health", headers={"Origin": "https://evil.example.com"})
        prefix = await c.get("/api/v1/health", headers={"Origin": ORIGIN + ".evil.com"})
        error = await c.get("/api/v1/hubs/nope", headers={"Origin": ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in allowed.headers["Vary"]
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Origin" not in prefix.headers
    # A browser can read the error too, not just successes.
    assert error.status == 404
    assert error.headers["Access-Control-Allow-Origin"] == ORIGIN


async def test_cors_preflight_lists_allowed_methods_and_headers(
    api_client: ClientFactory,
) -> None:
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with api_client(web={"cors_origins": [ORIGIN]}) as c:
        allowed = await c.options("/api/v1/hubs/road-kings", headers=preflight)
        refused = await c.options(
            "/api/v1/hubs/road-kings", headers={**preflight, "Origin": "https://evil.example.com"}
        )
    assert allowed.status == 204
    methods = {m.strip() for m in allowed.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "PATCH"} <= methods
    headers = allowed.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in headers
    assert "content-type" in headers
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert refused.status != 204


async def test_without_configured_origins_no_cors_headers_are_sent(client: TestClient) -> None:
    response = await client.get("/api/v1/health", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers


# Metrics on the API port


async def test_metrics_need_the_configured_bearer_token(api_client: ClientFactory) -> None:
    async with api_client(metrics={"token": "m3trics-t0ken"}) as c:
        anonymous = await c.get("/metrics")
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer guess"})
        await problem_of(anonymous, 401, "unauthorized")
        await problem_of(wrong, 401, "unauthorized")
        assert "drivershub_http" not in await wrong.text()


async def test_metrics_count_requests_by_route_template(api_client: ClientFactory) -> None:
    await ensure_hub_for_guild(1, "Metric Movers", None)
    async with api_client(metrics={"token": "m3trics-t0ken"}) as c:
        assert (await c.get("/api/v1/hubs/metric-movers")).status == 200
        response = await c.get("/metrics", headers={"Authorization": "Bearer m3trics-t0ken"})
        text = await response.text()
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert "drivershub_http_requests_total" in text
    assert "drivershub_http_request_duration_seconds_bucket" in text
    line = re.search(
        r'drivershub_http_requests_total\{[^}]*route="/api/v1/hubs/\{hub\}"[^}]*status="200"',
        text,
    )
    assert line is not None, text
    # The slug is not a label value: metrics do not grow with every hub.
    assert "metric-movers" not in text


async def test_metrics_are_not_on_the_api_port_without_a_token(client: TestClient) -> None:
    response = await client.get("/metrics")
    await problem_of(response, 404, "not_found")


async def test_metrics_can_be_turned_off_even_with_a_token(api_client: ClientFactory) -> None:
    async with api_client(metrics={"token": "m3trics-t0ken", "enabled": False}) as c:
        response = await c.get("/metrics", headers={"Authorization": "Bearer m3trics-t0ken"})
    assert response.status == 404


# The OpenAPI document and the docs page


async def _document(client: TestClient) -> dict[str, Any]:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    return await response.json()


async def test_openapi_document_is_valid_openapi_3_1(client: TestClient) -> None:
    document = await _document(client)
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert document["servers"] == [{"url": "http://127.0.0.1"}]


def _api_routes(client: TestClient) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves under /api/v1."""
    routes = set()
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or not path.startswith(PREFIX):
            continue
        if path.startswith(f"{PREFIX}/docs/"):  # the docs page's own assets
            continue
        routes.add((route.method.lower(), path))
    return routes


async def test_openapi_documents_exactly_the_served_routes(client: TestClient) -> None:
    document = await _document(client)
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    served = _api_routes(client)
    assert ("patch", "/api/v1/hubs/{hub}") in served
    assert served == documented


async def test_every_operation_has_an_id_responses_and_known_schemas(client: TestClient) -> None:
    document = await _document(client)
    schemas = document["components"]["schemas"]
    operations = [op for item in document["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in operations]
    assert all(ids)
    assert len(ids) == len(set(ids))
    for operation in operations:
        assert operation["responses"], operation["operationId"]
        assert operation["summary"], operation["operationId"]
        body = operation.get("requestBody")
        if body is not None and "application/octet-stream" in body["content"]:
            # A file upload: the body is the file itself.
            assert body["content"] == {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        elif body is not None:
            ref = body["content"]["application/json"]["schema"]["$ref"]
            assert ref.removeprefix("#/components/schemas/") in schemas
    # Every reference anywhere in the document resolves.
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', str(document).replace("'", '"'))
    assert refs
    assert set(refs) <= set(schemas)


async def test_patch_hub_is_documented_with_its_body_and_security(client: TestClient) -> None:
    document = await _document(client)
    operation = document["paths"]["/api/v1/hubs/{hub}"]["patch"]
    assert operation["security"] == [{"bearerAuth": []}, {"appToken": ["write"]}]
    assert {"401", "404", "422"} <= set(operation["responses"])
    assert operation["parameters"][0] == {
        "name": "hub",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }


async def test_paging_parameters_are_documented_once_and_shared(client: TestClient) -> None:
    document = await _document(client)
    shared = document["components"]["parameters"]
    assert set(shared) == {"limit", "cursor"}
    assert shared["limit"]["schema"]["maximum"] == 100
    assert "next_cursor" in shared["cursor"]["description"]
    refs = [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"}]
    for path in ("/hubs", "/hubs/{hub}/settings/history", "/users"):
        parameters = document["paths"][f"{PREFIX}{path}"]["get"]["parameters"]
        assert [p for p in parameters if "$ref" in p] == refs, path
    every = re.findall(
        r'"\$ref": "#/components/parameters/([^"]+)"', str(document).replace("'", '"')
    )
    assert set(every) <= set(shared)


async def test_docs_page_works_offline_with_its_own_assets(client: TestClient) -> None:
    page = await client.get("/api/v1/docs")
    assert page.status == 200
    assert page.content_type == "text/html"
    html = await page.text()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {a.rsplit("/", 1)[1] for a in assets} == {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "init.js",
    }
    assert not re.search(r"https?://", html)  # nothing fetched from a CDN
    for asset in assets:
        response = await client.get(asset)
        assert response.status == 200, asset
        assert len(await response.read()) > 50, asset
    init = await (await client.get(f"{PREFIX}/docs/init.js")).text()
    spec_url = re.search(r"url: '([^']+)'", init)
    assert spec_url is not None
    assert (await client.get(spec_url.group(1))).status == 200
