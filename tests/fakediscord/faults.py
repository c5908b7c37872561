"""Faults on demand: rate limits, server errors and slow responses for matching routes."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger(__name__)

RATE_LIMIT = 5  # the bucket size advertised on normal responses


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


def bucket_hash(method: str, template: str) -> str:
    return hashlib.blake2b(f"{method} {template}".encode(), digest_size=8).hexdigest()


def rate_limit_headers(
    method: str, template: str, *, remaining: int, reset_after: float
) -> dict[str, str]:
    """The headers Discord sends on every response of a rate-limited route."""
    return {
        "X-RateLimit-Limit": str(RATE_LIMIT),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket_hash(method, template),
    }


def _json(status: int, payload: object, headers: dict[str, str]) -> web.Response:
    headers = {**headers, "Content-Type": "application/json"}
    return web.Response(status=status, body=json.dumps(payload).encode(), headers=headers)


def too_many_requests(fault: Fault, method: str, template: str) -> web.Response:
    is_global = fault.kind == "global_rate_limit"
    # discord.py treats a 429 without `Via` as a Cloudflare ban and gives up.
    headers = {"Via": "1.1 google", "Retry-After": str(math.ceil(fault.seconds))}
    if is_global:
        headers |= {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}
    else:
        headers |= rate_limit_headers(method, template, remaining=0, reset_after=fault.seconds)
        headers["X-RateLimit-Scope"] = "user"
    body = {
        "message": "You are being rate limited.",
        "retry_after": fault.seconds,
        "global": is_global,
    }
    if not is_global:
        body["code"] = 0
    return _json(429, body, headers)


def server_error(fault: Fault) -> web.Response:
    body = {"message": f"{fault.status}: Internal Server Error", "code": 0}
    return _json(fault.status, body, {})
