"""Faults on demand: rate limits, server errors and slow responses for matching routes."""

from __future__ import annotations

import fnmatch
import json
import logging
from dataclasses import dataclass

from aiohttp import web

from . import ratelimits

log = logging.getLogger(__name__)
# Injected 429s name the route's real bucket (hash and limit) under the default configuration.
_DEFAULT_LIMITS = ratelimits.RateLimits()


@dataclass
class Fault:
    """A rule: requests whose route matches `pattern` get this fault `times` times."""

    pattern: str  # "POST /channels/{channel_id}/messages", "/channels/*/messages", "*"
    kind: str  # "rate_limit", "global_rate_limit", "status", "delay"
    times: int | None = 1  # None = until cleared
    status: int = 500
    seconds: float = 0.0
    hits: int = 0

    def matches(self, method: str, template: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        wanted_method, _, wanted_path = self.pattern.rpartition(" ")
        if wanted_method and wanted_method.upper() != method.upper():
            return False
        return wanted_path in (template, path) or any(
            fnmatch.fnmatchcase(candidate, wanted_path) for candidate in (template, path)
        )


def _json(status: int, payload: object, headers: dict[str, str]) -> web.Response:
    headers = {**headers, "Content-Type": "application/json"}
    return web.Response(status=status, body=json.dumps(payload).encode(), headers=headers)


def too_many_requests(fault: Fault, method: str, template: str) -> web.Response:
    """The 429 of a `rate_limit(...)` fault, as Discord would send it for this route."""
    if fault.kind == "global_rate_limit":
        return ratelimits.too_many_requests(fault.seconds, global_=True)
    name, bucket = _DEFAULT_LIMITS.bucket_for(method, template)
    headers = ratelimits.bucket_headers(name, bucket.limit, 0, fault.seconds)
    return ratelimits.too_many_requests(fault.seconds, bucket=headers)


def server_error(fault: Fault) -> web.Response:
    body = {"message": f"{fault.status}: Internal Server Error", "code": 0}
    return _json(fault.status, body, {})
