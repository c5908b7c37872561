"""The OpenAPI document lists every status each operation gave during this test run.

It runs last (pytest collects `tests/web/` last and this file last in it), so it sees what
every API test before it provoked; a status an operation does not document fails it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from core.config import Settings
from tests.web import statuses
from web import system
from web.app import create_app


def _document(settings: Settings) -> dict[str, Any]:
    return json.loads(create_app(settings)[system.OPENAPI])


def undocumented(document: dict[str, Any], seen: Iterable[tuple[str, str, int]]) -> list[str]:
    """`METHOD path -> status` for every answer the document does not list."""
    missing = []
    for method, path, status in seen:
        operation = document["paths"].get(path, {}).get(method.lower())
        if operation is not None and str(status) not in operation["responses"]:
            missing.append(f"{method} {path} -> {status}")
    return sorted(missing)


def test_the_check_catches_an_undocumented_status(settings: Settings) -> None:
    seen = [("GET", "/api/v1/hubs/{hub}", 404), ("GET", "/api/v1/hubs/{hub}", 418)]
    assert undocumented(_document(settings), seen) == ["GET /api/v1/hubs/{hub} -> 418"]


def test_every_status_the_suite_saw_is_documented(settings: Settings) -> None:
    assert undocumented(_document(settings), statuses.SEEN) == []
