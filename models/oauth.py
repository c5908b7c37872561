"""Login flows through another site (Discord OAuth2, Steam OpenID): the state they carry
while the browser is away, PKCE, and where the browser may be sent afterwards."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import asdict, dataclass
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from models.cache import cache
from models.errors import Unauthorized
from models.i18n import N_

STATE_TTL = 600  # the user has ten minutes to approve at Discord or Steam
LOGIN, LINK = "login", "link"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# Redirect targets: never anywhere but the website or the API itself.


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def safe_next(target: str | None, origins: list[str]) -> str | None:
    """`target` resolved to an absolute URL if it stays on one of `origins`, else None.

    Relative paths (a single leading `/`) resolve against the first origin: the website.
    Refused: `//host` and `/\\host` (browsers read both as another host), any scheme but
    http(s), userinfo (`https://good@evil`), backslashes, control characters and their
    percent-encoded forms, and every origin not listed exactly.
    """
    if not target or not origins or len(target) > 2000:
        return None
    decoded = unquote(target)
    if any(ord(c) < 0x21 or c in "\\\x7f" for c in target + decoded):
        return None
    if target.startswith("/"):
        if decoded.startswith("//"):
            return None
        return origins[0].rstrip("/") + target
    parts = urlsplit(target)
    if "@" in parts.netloc or origin_of(target) not in {o.rstrip("/").lower() for o in origins}:
        return None
    return target


def with_fragment(url: str, **params: str) -> str:
    """`url` with `params` added to its fragment (`#ticket=...`), what was there kept.

    A fragment never leaves the browser: it is not sent to the website's server, so it stays
    out of its access logs, and out of the Referer of anything the page loads.
    """
    parts = urlsplit(url)
    fragment = "&".join(part for part in (parts.fragment, urlencode(params)) if part)
    return urlunsplit(parts._replace(fragment=fragment))


# PKCE (RFC 7636): the code is useless to whoever intercepts it without our verifier.


def pkce_pair() -> tuple[str, str]:
    """A random code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# The state of one flow, kept in the shared cache (any API process may get the callback).


@dataclass(frozen=True)
class FlowState:
    provider: str  # "discord" or "steam"
    purpose: str  # LOGIN or LINK
    next: str  # an already validated absolute URL
    browser: str  # hash of the secret in the browser's cookie
    expires_at: float
    user_id: int | None = None  # who is linking
    verifier: str = ""  # PKCE (Discord)


@dataclass(frozen=True)
class StartedFlow:
    state: str  # goes to the provider and comes back
    browser_secret: str  # goes into an HttpOnly cookie


def _key(state: str) -> str:
    return f"login-flow:{_hash(state)}"


async def start_flow(
    provider: str, purpose: str, next_url: str, *, user_id: int | None = None, verifier: str = ""
) -> StartedFlow:
    """Remember a flow until its callback; only the browser holding the secret may finish it."""
    started = StartedFlow(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    flow = FlowState(
        provider=provider,
        purpose=purpose,
        next=next_url,
        browser=_hash(started.browser_secret),
        expires_at=time.time() + STATE_TTL,
        user_id=user_id,
        verifier=verifier,
    )
    await cache().set(_key(started.state), asdict(flow), ttl=STATE_TTL)
    return started


async def take_flow(state: str | None, provider: str) -> FlowState | None:
    """The flow of `state`, removed so it cannot be used twice; None if unknown or expired."""
    if not state or len(state) > 200:
        return None
    key = _key(state)
    data = await cache().get(key)
    # Of two concurrent callbacks with one state only the one that deletes it goes on.
    if data is None or not await cache().delete(key):
        return None
    flow = FlowState(**data)
    if flow.provider != provider or flow.expires_at <= time.time():
        return None
    return flow


def check_browser(flow: FlowState, browser_secret: str | None) -> None:
    """Refuse a callback in another browser than the one that started the flow.

    Without this an attacker could send a victim their own callback link and log the victim
    into the attacker's account (login CSRF), or link the victim's identity to it.
    """
    if not browser_secret or not secrets.compare_digest(_hash(browser_secret), flow.browser):
        raise Unauthorized(
            N_("This login was started in another browser. Please try again."),
            code="invalid_state",
        )
