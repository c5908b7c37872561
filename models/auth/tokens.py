"""Access tokens: signed JWTs, verified without a database query (revocation: sessions.py)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from models.actor import Actor, configure_reauth_window
from models.errors import Unauthorized
from models.i18n import N_
from models.keys import KeyRing
from models.users import User
from models.validation import parse_id

# Access tokens (JWT)


@dataclass(frozen=True)
class TokenConfig:
    issuer: str
    audience: str
    access_ttl: int
    refresh_ttl: int
    keyring: KeyRing
    reauth_window: int = 600
    # With MFA on, a session whose last login (or code) is older than this cannot be
    # refreshed: the user logs in again with a code.
    mfa_refresh_after: int = 7 * 86400


_config: TokenConfig | None = None


def configure_tokens(config: TokenConfig) -> None:
    global _config
    _config = config
    configure_reauth_window(config.reauth_window)


def token_config() -> TokenConfig:
    if _config is None:
        raise RuntimeError("configure_tokens() was not called")
    return _config


@dataclass(frozen=True)
class Claims:
    user_id: int
    session_id: str | None
    discord_id: int | None
    is_superuser: bool
    issued_at: int
    scopes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


async def hub_permissions(user: User) -> dict[str, list[str]]:
    """The user's permissions per hub, so services see role changes in the next token."""
    from models.hubs import Hub
    from models.members import Member, MemberState
    from models.permissions import grant_of

    result: dict[str, list[str]] = {}
    # Members, and visitors holding roles (roles count whatever the membership state).
    memberships = await Member.filter(user_id=user.id).order_by("id").limit(50)
    for member in memberships:
        hub = await Hub.get_or_none(id=member.hub_id, active=True)
        if hub is not None:
            grant = await grant_of(Actor(user.id, user.discord_id), hub)
            if member.state == MemberState.MEMBER or grant.permissions:
                result[hub.slug] = sorted(grant.permissions)
    return result


async def issue_access_token(user: User, session_id: str) -> str:
    config = token_config()
    key = config.keyring.active
    issued = int(time.time())
    claims = {
        "iss": config.issuer,
        "aud": config.audience,
        "sub": str(user.id),
        "iat": issued,
        "nbf": issued,
        "exp": issued + config.access_ttl,
        "jti": uuid.uuid4().hex,
        "sid": session_id,
        "did": str(user.discord_id) if user.discord_id else None,
        "su": user.is_superuser,
        "hubs": await hub_permissions(user),
    }
    return jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})


# Verified tokens by value: a signature is checked once per process, not once per request.
_verified: dict[str, tuple[Claims, int]] = {}
VERIFIED_CACHE_SIZE = 10_000


def decode_access_token(token: str) -> Claims:
    """Verify signature and every claim; the algorithm comes from our key, never the token."""
    hit = _verified.get(token)
    if hit is not None and hit[1] > time.time():
        return hit[0]
    claims, expires = _verify(token)
    if len(_verified) >= VERIFIED_CACHE_SIZE:
        _verified.clear()
    _verified[token] = (claims, expires)
    return claims


def _verify(token: str) -> tuple[Claims, int]:
    config = token_config()
    invalid = Unauthorized(N_("Your login is invalid or has expired."), code="invalid_token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise invalid from None
    key = config.keyring.get(str(header.get("kid", "")))
    if key is None or header.get("alg") != key.algorithm:
        raise invalid
    try:
        data = jwt.decode(
            token,
            key.public,
            algorithms=[key.algorithm],
            audience=config.audience,
            issuer=config.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti", "sid"]},
        )
    except jwt.PyJWTError:
        raise invalid from None
    if not isinstance(data["sid"], str):
        raise invalid  # every access token belongs to a session, so it can be revoked
    claims = _claims_of(data)
    if claims is None:
        raise invalid
    return claims, int(data["exp"])


def _claims_of(data: dict[str, Any]) -> Claims | None:
    """The claims of a verified payload, or None if one is not the shape we issue.

    A valid signature says who made the token, not that every value is sane: ids must be
    canonical decimals in the BIGINT range (" 1", "-1", "1e3" or 2**70 would otherwise reach
    the database as a 500 or as someone else), flags real booleans.
    """
    user_id, did = parse_id(data["sub"]), data.get("did")
    discord_id = None if did is None else parse_id(did)
    su, hubs = data.get("su", False), data.get("hubs", {})
    if user_id is None or (did is not None and discord_id is None) or not isinstance(su, bool):
        return None
    if not _is_permission_map(hubs):
        return None
    return Claims(
        user_id=user_id,
        session_id=data["sid"],
        discord_id=discord_id,
        is_superuser=su,
        issued_at=int(data["iat"]),
        extra={"hubs": hubs},
    )


def _is_permission_map(value: Any) -> bool:
    """Whether `value` is {hub slug: [permission, ...]}, as `hub_permissions` makes it."""
    return isinstance(value, dict) and all(
        isinstance(slug, str) and isinstance(keys, list) and all(isinstance(k, str) for k in keys)
        for slug, keys in value.items()
    )
