"""Discord's REST rate limits: per-route buckets keyed by major parameter, plus the global limit.

Discord's model (https://discord.com/developers/docs/topics/rate-limits): every route belongs to a
bucket (routes in one bucket share the `X-RateLimit-Bucket` hash); a bucket is counted separately
per *major parameter* (channel, guild, webhook id + token; an interaction callback per interaction
id + token). Each response says how many requests are left in the current window and when it
resets; a request beyond the limit gets a 429 and uses no slot. On top of that a bot token may
make 50 requests per second in all, except to interaction endpoints.

Windows are Discord's, multiplied by `RateLimits.scale` so a test that exhausts a bucket waits a
fraction of a second instead of seconds.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

GLOBAL = "global"
USER = "user"
# The path parameters that split a bucket, in Discord's order of precedence.
MAJOR_PARAMETERS = (
    ("channel_id",),
    ("guild_id",),
    ("webhook_id", "webhook_token"),
    ("webhook_id",),
    ("interaction_id", "interaction_token"),
)
MESSAGE = "/channels/{channel_id}/messages/{message_id}"
MEMBER = "/guilds/{guild_id}/members/{user_id}"
WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"
# Interaction endpoints are exempt from the global limit: callbacks, and the interaction webhook
# (follow-ups, @original), which like any webhook authenticates with its token, not the bot's.
GLOBAL_EXEMPT_PREFIXES = ("/interactions/", WEBHOOK)


@dataclass(frozen=True)
class Bucket:
    """`limit` requests per `window` seconds (Discord's seconds, before scaling)."""

    limit: int
    window: float


# Shapes seen on Discord: 5 messages per 5 s per channel, 1 reaction per 0.25 s, 5 webhook
# executions per 2 s, 10 member changes per 10 s per guild. Everything else gets its own generous
# bucket, so only a test that really bursts on one channel or guild ever waits.
DEFAULT_BUCKETS: dict[str, Bucket] = {
    "message-create": Bucket(5, 5.0),
    "message-edit": Bucket(5, 5.0),
    "message-delete": Bucket(5, 1.0),
    "reaction": Bucket(1, 0.25),
    "pin": Bucket(5, 5.0),
    "typing": Bucket(5, 5.0),
    "dm-create": Bucket(10, 10.0),
    "member-edit": Bucket(10, 10.0),
    "member-role": Bucket(10, 10.0),
    "role-write": Bucket(10, 10.0),
    "event-write": Bucket(5, 5.0),
    "interaction-callback": Bucket(5, 5.0),
    "webhook-execute": Bucket(5, 2.0),
    "webhook-message": Bucket(5, 2.0),
}
DEFAULT_ROUTE_BUCKET = Bucket(50, 1.0)  # a route not listed below: its own bucket
# (method, spec path template) -> bucket name; routes sharing a name share the counter and hash.
ROUTE_BUCKETS: dict[tuple[str, str], str] = {
    ("POST", "/channels/{channel_id}/messages"): "message-create",
    ("PATCH", MESSAGE): "message-edit",
    ("DELETE", MESSAGE): "message-delete",
    ("PUT", MESSAGE + "/reactions/{emoji_name}/@me"): "reaction",
    ("DELETE", MESSAGE + "/reactions/{emoji_name}/@me"): "reaction",
    ("PUT", "/channels/{channel_id}/pins/{message_id}"): "pin",
    ("DELETE", "/channels/{channel_id}/pins/{message_id}"): "pin",
    ("PUT", "/channels/{channel_id}/messages/pins/{message_id}"): "pin",
    ("DELETE", "/channels/{channel_id}/messages/pins/{message_id}"): "pin",
    ("POST", "/channels/{channel_id}/typing"): "typing",
    ("POST", "/users/@me/channels"): "dm-create",
    ("PATCH", MEMBER): "member-edit",
    ("PUT", MEMBER + "/roles/{role_id}"): "member-role",
    ("DELETE", MEMBER + "/roles/{role_id}"): "member-role",
    ("POST", "/guilds/{guild_id}/roles"): "role-write",
    ("PATCH", "/guilds/{guild_id}/roles/{role_id}"): "role-write",
    ("DELETE", "/guilds/{guild_id}/roles/{role_id}"): "role-write",
    ("POST", "/guilds/{guild_id}/scheduled-events"): "event-write",
    ("PATCH", "/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}"): "event-write",
    ("DELETE", "/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}"): "event-write",
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback"): (
        "interaction-callback"
    ),
    ("POST", WEBHOOK): "webhook-execute",
    ("GET", WEBHOOK + "/messages/@original"): "webhook-message",
    ("PATCH", WEBHOOK + "/messages/@original"): "webhook-message",
    ("DELETE", WEBHOOK + "/messages/@original"): "webhook-message",
    ("GET", WEBHOOK + "/messages/{message_id}"): "webhook-message",
    ("PATCH", WEBHOOK + "/messages/{message_id}"): "webhook-message",
    ("DELETE", WEBHOOK + "/messages/{message_id}"): "webhook-message",
}


@dataclass
class RateLimits:
    """Configuration: `FakeDiscord(rate_limits=RateLimits(scale=0.1, global_limit=5))`.

    `buckets` entries override `DEFAULT_BUCKETS` by name; a route without a named bucket can be
    overridden with its own key, e.g. `{"GET /users/@me": Bucket(2, 1.0)}`.
    """

    scale: float = 0.025  # 5 messages per 5 s become 5 per 0.125 s
    global_limit: int = 50
    global_window: float = 1.0  # Discord's seconds, scaled like the buckets
    buckets: dict[str, Bucket] = field(default_factory=dict)
    enabled: bool = True

    def __post_init__(self) -> None:
        self.buckets = {**DEFAULT_BUCKETS, **self.buckets}

    def bucket_for(self, method: str, template: str) -> tuple[str, Bucket]:
        name = ROUTE_BUCKETS.get((method.upper(), template), f"{method.upper()} {template}")
        return name, self.buckets.get(name, DEFAULT_ROUTE_BUCKET)


def bucket_hash(name: str) -> str:
    """The opaque `X-RateLimit-Bucket` value; the same for every route in the bucket."""
    return hashlib.blake2b(name.encode(), digest_size=8).hexdigest()


def path_parameters(template: str, path: str) -> dict[str, str]:
    """{name: value} for the `{name}` segments of `template` found in `path`."""
    parts, values = template.strip("/").split("/"), path.strip("/").split("/")
    if len(parts) != len(values):
        return {}
    return {
        part[1:-1]: value
        for part, value in zip(parts, values, strict=True)
        if part.startswith("{") and part.endswith("}")
    }


def major_parameter(template: str, path: str) -> str:
    parameters = path_parameters(template, path)
    for names in MAJOR_PARAMETERS:
        if all(name in parameters for name in names):
            return "/".join(parameters[name] for name in names)
    return ""


@dataclass
class _Window:
    """A fixed window that starts with its first request, as Discord's buckets do."""

    count: int = 0
    resets_at: float = 0.0

    def roll(self, now: float, length: float) -> None:
        if now >= self.resets_at:
            self.count, self.resets_at = 0, now + length

    def reset_after(self, now: float) -> float:
        # Rounded up, so a client that waits exactly this long lands in the next window.
        return max(math.ceil((self.resets_at - now) * 1000) / 1000, 0.001)


@dataclass
class Admission:
    """The limiter's answer for one request: a slot (with its headers) or a 429."""

    name: str
    bucket: Bucket
    remaining: int
    reset_after: float
    scope: str | None = None  # GLOBAL or USER when rejected
    retry_after: float = 0.0
    # The windows this request counted in, each with the reset time it counted against.
    slots: list[tuple[_Window, float]] = field(default_factory=list, repr=False)

    @property
    def rejected(self) -> bool:
        return self.scope is not None

    def headers(self) -> dict[str, str]:
        return bucket_headers(self.name, self.bucket.limit, self.remaining, self.reset_after)

    def response(self) -> web.Response:
        if self.scope == GLOBAL:
            return too_many_requests(self.retry_after, global_=True)
        return too_many_requests(self.retry_after, bucket=self.headers())


@dataclass(frozen=True)
class Rejection:
    """A 429 the limiter answered: `scope` is "user" (a bucket) or "global"."""

    scope: str
    method: str
    template: str


class RateLimiter:
    """Counts requests per bucket and major parameter, and per bot token for the global limit."""

    def __init__(
        self, limits: RateLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or RateLimits()
        self.clock = clock
        self.rejections: list[Rejection] = []
        self._windows: dict[tuple[str, str], _Window] = {}
        self._global = _Window()

    def admit(self, method: str, template: str, path: str, *, bot: bool) -> Admission:
        """Take a slot for this request, or say why not. `bot`: it carries the bot's token."""
        name, bucket = self.limits.bucket_for(method, template)
        scale = self.limits.scale
        if not self.limits.enabled:
            return Admission(name, bucket, bucket.limit, bucket.window * scale)
        now = self.clock()
        window = self._windows.setdefault((name, major_parameter(template, path)), _Window())
        window.roll(now, bucket.window * scale)
        admission = Admission(name, bucket, 0, window.reset_after(now))
        counts_globally = bot and not template.startswith(GLOBAL_EXEMPT_PREFIXES)
        if counts_globally:
            self._global.roll(now, self.limits.global_window * scale)
            if self._global.count >= self.limits.global_limit:
                retry_after = self._global.reset_after(now)
                return self._reject(admission, GLOBAL, retry_after, method, template)
        if window.count >= bucket.limit:
            return self._reject(admission, USER, admission.reset_after, method, template)
        window.count += 1
        admission.remaining = bucket.limit - window.count
        admission.slots.append((window, window.resets_at))
        if counts_globally:
            self._global.count += 1
            admission.slots.append((self._global, self._global.resets_at))
        return admission

    def release(self, admission: Admission) -> None:
        """Give the slot back: the request was answered by an injected 429 fault instead."""
        for window, resets_at in admission.slots:
            if window.resets_at == resets_at and window.count > 0:  # still the same window
                window.count -= 1

    def _reject(
        self, admission: Admission, scope: str, retry_after: float, method: str, template: str
    ) -> Admission:
        admission.scope, admission.retry_after = scope, retry_after
        self.rejections.append(Rejection(scope, method.upper(), template))
        return admission


def bucket_headers(name: str, limit: int, remaining: int, reset_after: float) -> dict[str, str]:
    """The headers Discord sends on every response of a rate-limited route."""
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket_hash(name),
    }


def too_many_requests(
    retry_after: float, *, global_: bool = False, bucket: dict[str, str] | None = None
) -> web.Response:
    """Discord's 429: for a bucket (scope user, with its headers) or the global limit."""
    # discord.py treats a 429 without `Via` as a Cloudflare ban and gives up.
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(math.ceil(retry_after)),
        "Content-Type": "application/json",
    }
    body: dict[str, object] = {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": global_,
    }
    if global_:
        headers |= {"X-RateLimit-Global": "true", "X-RateLimit-Scope": GLOBAL}
    else:
        headers |= {**(bucket or {}), "X-RateLimit-Scope": USER}
        body["code"] = 0
    return web.Response(status=429, body=json.dumps(body).encode(), headers=headers)
