"""Authentication state: sessions with rotating refresh tokens, access tokens, app tokens,
one-time tickets. Login methods (password, Discord, Steam, links) end in `start_session`."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.cache import cache
from models.errors import Forbidden, NotFound, Unauthorized, Unavailable
from models.i18n import N_
from models.keys import KeyRing
from models.permissions import Actor
from models.users import User

REFRESH_PREFIX = "dhr_"
APP_TOKEN_PREFIX = "dha_"  # noqa: S105 - a prefix, not a secret


def now() -> datetime:
    return datetime.now(UTC)


def hash_secret(secret: str) -> str:
    """Tokens are stored as SHA-256: they are long random values, so no slow hash is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


class Session(Model):
    """A login on one device, whose refresh tokens form one family."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    user = fields.ForeignKeyField("drivershub.User", related_name="sessions")
    method = fields.CharField(max_length=16)  # password, discord, steam, link
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(auto_now_add=True)
    authenticated_at = fields.DatetimeField()  # last full login or MFA code, for re-auth
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    user_agent = fields.CharField(max_length=256, default="")
    ip = fields.CharField(max_length=64, default="")

    class Meta:
        table = "sessions"


class RefreshToken(Model):
    id = fields.BigIntField(primary_key=True)
    session = fields.ForeignKeyField("drivershub.Session", related_name="refresh_tokens")
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_tokens"


class AppToken(Model):
    """A long-lived token for an integration (a tracker, a bot, a script)."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("drivershub.User", related_name="app_tokens")
    name = fields.CharField(max_length=100)
    token_hash = fields.CharField(max_length=64, unique=True)
    scopes = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "app_tokens"


class Ticket(Model):
    """A single-use, expiring secret: e-mail verification, password reset, login links."""

    id = fields.BigIntField(primary_key=True)
    purpose = fields.CharField(max_length=32)
    token_hash = fields.CharField(max_length=64, unique=True)
    user = fields.ForeignKeyField("drivershub.User", related_name="tickets")
    data = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "tickets"


async def issue_ticket(
    user_id: int, purpose: str, ttl: int, data: dict[str, Any] | None = None
) -> str:
    secret = new_secret()
    await Ticket.create(
        user_id=user_id,
        purpose=purpose,
        token_hash=hash_secret(secret),
        data=data or {},
        expires_at=now() + timedelta(seconds=ttl),
    )
    return secret


async def consume_ticket(secret: str, purpose: str) -> Ticket:
    """Use a ticket once; a used, expired or unknown one is refused the same way."""
    ticket = await Ticket.get_or_none(token_hash=hash_secret(secret), purpose=purpose)
    refused = Unauthorized(N_("This link is invalid or has expired."), code="invalid_ticket")
    if ticket is None or ticket.used_at is not None or ticket.expires_at <= now():
        raise refused
    # A conditional update: of two concurrent uses exactly one wins, on every database.
    won = await Ticket.filter(id=ticket.id, used_at__isnull=True).update(used_at=now())
    if not won:
        raise refused
    return ticket


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

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.discord_id, self.is_superuser)


async def hub_permissions(user: User) -> dict[str, list[str]]:
    """The user's permissions per hub, so services see role changes in the next token."""
    from models.hubs import Hub
    from models.members import Member, MemberStatus
    from models.permissions import grant_of

    result: dict[str, list[str]] = {}
    memberships = await Member.filter(user_id=user.id, status=MemberStatus.ACTIVE).limit(50)
    for member in memberships:
        hub = await Hub.get_or_none(id=member.hub_id, active=True)
        if hub is not None:
            grant = await grant_of(Actor(user.id, user.discord_id), hub)
            result[hub.slug] = sorted(p.value for p in grant.permissions)
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
    try:
        claims = Claims(
            user_id=int(data["sub"]),
            session_id=data["sid"],
            discord_id=int(data["did"]) if data.get("did") else None,
            is_superuser=bool(data.get("su")),
            issued_at=int(data["iat"]),
            extra={"hubs": data.get("hubs", {})},
        )
        return claims, int(data["exp"])
    except (TypeError, ValueError):
        raise invalid from None


# Revocation, shared by every process through the cache.


def _revoked_session_key(session_id: str) -> str:
    return f"revoked-session:{session_id}"


async def check_not_revoked(claims: Claims) -> None:
    """Refuse tokens of revoked sessions (logout, log out everywhere, a reused refresh token).

    Fails closed: if the cache cannot be asked, the request is refused (503), never
    accepted unchecked.
    """
    try:
        revoked = await cache().get(_revoked_session_key(claims.session_id or ""))
    except Exception as exc:  # any cache failure: fail closed
        raise Unavailable() from exc
    if revoked:
        raise Unauthorized(N_("Your login is invalid or has expired."), code="invalid_token")


async def _remember_revocation(session_id: str) -> None:
    # Kept as long as an access token of the session can still be alive.
    await cache().set(_revoked_session_key(session_id), 1, ttl=token_config().access_ttl + 60)


# Sessions


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


async def start_session(
    user: User, method: str, *, user_agent: str = "", ip: str = ""
) -> TokenPair:
    """Log `user` in on a new device (after every factor was checked by the caller)."""
    if not user.is_active:
        raise Forbidden(N_("This account is disabled."), code="account_disabled")
    config = token_config()
    refresh = new_secret(REFRESH_PREFIX)
    async with in_transaction():
        session = await Session.create(
            user_id=user.id,
            method=method,
            authenticated_at=now(),
            expires_at=now() + timedelta(seconds=config.refresh_ttl),
            user_agent=user_agent[:256],
            ip=ip[:64],
        )
        await RefreshToken.create(session_id=session.id, token_hash=hash_secret(refresh))
    access = await issue_access_token(user, str(session.id))
    return TokenPair(access, refresh, config.access_ttl, str(session.id))


async def refresh_session(refresh: str, *, ip: str = "") -> TokenPair:
    """Rotate a refresh token; reusing a rotated one revokes the whole family (session)."""
    invalid = Unauthorized(N_("Your login is invalid or has expired."), code="invalid_token")
    token = await RefreshToken.get_or_none(token_hash=hash_secret(refresh)).select_related(
        "session"
    )
    if token is None:
        raise invalid
    session: Session = token.session
    if session.revoked_at is not None or session.expires_at <= now():
        raise invalid
    user = await User.get(id=session.user_id)
    age = (now() - session.authenticated_at).total_seconds()
    if user.mfa_enabled and age > token_config().mfa_refresh_after:
        raise Unauthorized(
            N_("Please log in again with a code from your app."), code="mfa_required"
        )
    won = await RefreshToken.filter(id=token.id, used_at__isnull=True).update(used_at=now())
    if not won:
        await revoke_session(session)  # a stolen token was used: end the family
        raise Unauthorized(
            N_("This login was used twice and has been ended for your safety."),
            code="refresh_token_reused",
        )
    if not user.is_active:
        raise invalid
    new_refresh = new_secret(REFRESH_PREFIX)
    async with in_transaction():
        await RefreshToken.create(session_id=session.id, token_hash=hash_secret(new_refresh))
        await Session.filter(id=session.id).update(last_used_at=now(), ip=ip[:64] or session.ip)
    access = await issue_access_token(user, str(session.id))
    return TokenPair(access, new_refresh, token_config().access_ttl, str(session.id))


async def revoke_session(session: Session) -> None:
    await Session.filter(id=session.id, revoked_at__isnull=True).update(revoked_at=now())
    await _remember_revocation(str(session.id))


async def revoke_session_of(user_id: int, session_id: str) -> None:
    session = await Session.get_or_none(id=session_id, user_id=user_id)
    if session is None:
        raise NotFound(N_("That session does not exist."), code="session_not_found")
    await revoke_session(session)


async def revoke_all_sessions(user_id: int, *, keep: str | None = None) -> int:
    """Log out everywhere (but in session `keep`): the sessions and their access tokens."""
    live = Session.filter(user_id=user_id, revoked_at__isnull=True)
    if keep is not None:
        live = live.exclude(id=keep)
    ids = [str(i) for i in await live.values_list("id", flat=True)]
    await Session.filter(id__in=ids).update(revoked_at=now())
    for session_id in ids:
        await _remember_revocation(session_id)
    return len(ids)


async def active_sessions(user_id: int) -> list[Session]:
    return await Session.filter(
        user_id=user_id, revoked_at__isnull=True, expires_at__gt=now()
    ).order_by("-last_used_at")


async def session_is_recent(session_id: str | None, window: int) -> bool:
    """Whether the session's last full authentication is at most `window` seconds old."""
    if session_id is None:
        return False
    session = await Session.get_or_none(id=session_id, revoked_at__isnull=True)
    return session is not None and (now() - session.authenticated_at).total_seconds() <= window


async def mark_reauthenticated(session_id: str) -> None:
    await Session.filter(id=session_id).update(authenticated_at=now())


# Application tokens


async def create_app_token(
    user_id: int, name: str, scopes: list[str], expires_at: datetime | None
) -> tuple[AppToken, str]:
    secret = new_secret(APP_TOKEN_PREFIX)
    token = await AppToken.create(
        user_id=user_id,
        name=name,
        token_hash=hash_secret(secret),
        scopes=scopes,
        expires_at=expires_at,
    )
    return token, secret


async def list_app_tokens(user_id: int) -> list[AppToken]:
    return await AppToken.filter(user_id=user_id, revoked_at__isnull=True).order_by("-id")


async def revoke_app_token(user_id: int, token_id: int) -> None:
    updated = await AppToken.filter(id=token_id, user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=now()
    )
    if not updated:
        raise NotFound(N_("That token does not exist."), code="token_not_found")
    await cache().delete(f"app-token:{token_id}")


async def authenticate_app_token(secret: str) -> Claims:
    """The claims of a valid application token (one indexed query; revocation is immediate)."""
    invalid = Unauthorized(N_("Your login is invalid or has expired."), code="invalid_token")
    token = await AppToken.get_or_none(token_hash=hash_secret(secret)).select_related("user")
    if token is None or token.revoked_at is not None or not token.user.is_active:
        raise invalid
    if token.expires_at is not None and token.expires_at <= now():
        raise invalid
    user: User = token.user
    return Claims(
        user_id=user.id,
        session_id=None,
        discord_id=user.discord_id,
        is_superuser=False,  # integrations never act with platform-wide power
        issued_at=int(token.created_at.timestamp()),
        scopes=tuple(token.scopes),
    )


async def require_recent_login(claims: Claims) -> None:
    """Sensitive actions need a login (or MFA code) in this session within the re-auth window."""
    window = token_config().reauth_window
    if claims.session_id is None or not await session_is_recent(claims.session_id, window):
        raise Forbidden(
            N_("Please confirm it is you: log in again or enter a code from your app."),
            code="reauthentication_required",
        )


# Completing a login: every method (password, Discord, Steam, link) ends here.

MFA_TICKET = "mfa"
MFA_TICKET_TTL = 300


@dataclass(frozen=True)
class LoginResult:
    """Either tokens, or a ticket to exchange with an MFA code for them."""

    tokens: TokenPair | None = None
    mfa_ticket: str | None = None


async def complete_login(
    user: User, method: str, *, user_agent: str = "", ip: str = ""
) -> LoginResult:
    """Start a session, unless the user has MFA on: then the caller must ask for a code."""
    if not user.is_active:
        raise Forbidden(N_("This account is disabled."), code="account_disabled")
    if user.mfa_enabled:
        ticket = await issue_ticket(
            user.id,
            MFA_TICKET,
            MFA_TICKET_TTL,
            {"method": method, "user_agent": user_agent[:256], "ip": ip[:64], "failures": 0},
        )
        return LoginResult(mfa_ticket=ticket)
    return LoginResult(tokens=await start_session(user, method, user_agent=user_agent, ip=ip))
