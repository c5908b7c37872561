"""Steam OpenID 2.0: what a positive assertion must look like before we believe it.

Steam signs nothing we can check ourselves; we check every field we rely on, refuse reused
nonces, and then ask the configured endpoint (never one named in the request) whether it
really issued the assertion (`check_authentication`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from models.cache import cache
from models.errors import Unauthorized
from models.i18n import N_
from models.text import clean_name

OPENID_NS = "http://specs.openid.net/auth/2.0"
IDENTIFIER_SELECT = "http://specs.openid.net/auth/2.0/identifier_select"
CLAIMED_ID = re.compile(r"https://steamcommunity\.com/openid/id/(7656119\d{10})")
REQUIRED_SIGNED = {
    "op_endpoint",
    "claimed_id",
    "identity",
    "return_to",
    "response_nonce",
    "assoc_handle",
}
NONCE_MAX_AGE = timedelta(minutes=5)
NONCE_MAX_SKEW = timedelta(minutes=1)
USERNAME_MAX = 64  # users.username

# Posts the given form to the configured endpoint and returns the response body.
CheckAuthentication = Callable[[dict[str, str]], Awaitable[str]]


def refused(code: str) -> Unauthorized:
    return Unauthorized(N_("Steam did not confirm your login. Please try again."), code=code)


def authorize_url(endpoint: str, return_to: str, realm: str) -> str:
    """Where to send the browser so Steam asks the user to sign in."""
    params = {
        "openid.ns": OPENID_NS,
        "openid.mode": "checkid_setup",
        "openid.return_to": return_to,
        "openid.realm": realm,
        "openid.identity": IDENTIFIER_SELECT,
        "openid.claimed_id": IDENTIFIER_SELECT,
    }
    return f"{endpoint}?{urlencode(params)}"


def check_assertion(
    params: Mapping[str, str], *, endpoint: str, return_to: str, now: datetime
) -> int:
    """The Steam id asserted by `params` if every field is what we expect, else `refused`."""
    field = params.get
    if field("openid.ns") != OPENID_NS or field("openid.mode") != "id_res":
        raise refused("steam_bad_response")
    if field("openid.op_endpoint") != endpoint:
        raise refused("steam_foreign_endpoint")
    if field("openid.return_to") != return_to:
        raise refused("steam_return_to_mismatch")
    claimed = field("openid.claimed_id", "")
    match = CLAIMED_ID.fullmatch(claimed)
    if match is None or field("openid.identity") != claimed:
        raise refused("steam_bad_identity")
    signed = set(field("openid.signed", "").split(","))
    if not signed >= REQUIRED_SIGNED or not field("openid.sig"):
        raise refused("steam_unsigned_fields")
    check_nonce_time(field("openid.response_nonce", ""), now)
    return int(match.group(1))


def check_nonce_time(nonce: str, now: datetime) -> None:
    """A nonce starts with its UTC issue time (`2024-05-01T12:00:00Z...`); old ones are refused."""
    try:
        issued = datetime.strptime(nonce[:20], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise refused("steam_bad_nonce") from None
    if not now - NONCE_MAX_AGE <= issued <= now + NONCE_MAX_SKEW:
        raise refused("steam_stale_nonce")


async def claim_nonce(nonce: str) -> None:
    """Accept each nonce once (shared by every process through the cache)."""
    ttl = int((NONCE_MAX_AGE + NONCE_MAX_SKEW).total_seconds()) * 2
    try:
        await cache().add(f"steam-nonce:{nonce}", 1, ttl=ttl)
    except ValueError:  # aiocache: the key exists, so the nonce was seen
        raise refused("steam_nonce_reused") from None


def check_authentication_form(params: Mapping[str, str]) -> dict[str, str]:
    """The assertion sent back unchanged, except for the mode, as OpenID 2.0 §11.4.2 says."""
    form = {k: v for k, v in params.items() if k.startswith("openid.")}
    form["openid.mode"] = "check_authentication"
    return form


def is_valid_response(body: str) -> bool:
    """Whether a key-value response says `is_valid:true`."""
    pairs = dict(line.split(":", 1) for line in body.splitlines() if ":" in line)
    return pairs.get("ns") == OPENID_NS and pairs.get("is_valid") == "true"


async def verify(
    params: Mapping[str, str],
    *,
    endpoint: str,
    return_to: str,
    check: CheckAuthentication,
    now: datetime | None = None,
) -> int:
    """The Steam id of a callback, after every field, the nonce and Steam itself agree."""
    steam_id = check_assertion(
        params, endpoint=endpoint, return_to=return_to, now=now or datetime.now(UTC)
    )
    await claim_nonce(params["openid.response_nonce"])
    if not is_valid_response(await check(check_authentication_form(params))):
        raise refused("steam_not_confirmed")
    return steam_id


# The Steam Web API (ISteamUser/GetPlayerSummaries): a new user's persona name.


def persona_name(summaries: Any, steam_id: int) -> str | None:
    """The persona name of `steam_id` in a GetPlayerSummaries answer, fit to be a username,
    or None when the answer does not name that player."""
    try:
        players = summaries["response"]["players"]
        name = next(p["personaname"] for p in players if p.get("steamid") == str(steam_id))
    except (KeyError, TypeError, AttributeError, StopIteration):
        return None
    return _as_username(name) if isinstance(name, str) else None


def _as_username(name: str) -> str | None:
    """Steam accepts names we store no other way (control characters, only blanks)."""
    try:
        # Cleaned again after the cut, which may leave a blank at the new end.
        cleaned = clean_name(clean_name(name)[:USERNAME_MAX])
    except ValueError:
        return None
    return cleaned or None
