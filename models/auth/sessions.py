"""Sessions: one per device, with rotating refresh tokens; every login method ends here."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import sql
from models.actor import Actor, Channel, Scope
from models.auth.common import REFRESH_PREFIX, hash_secret, new_secret, now
from models.auth.tickets import issue_ticket
from models.auth.tokens import Claims, issue_access_token, token_config
from models.cache import CacheUnavailable, cache, went_without
from models.errors import Forbidden, NotFound, Unauthorized
from models.i18n import N_
from models.users import User


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
        # A user's sessions: the list on the website, revoke-all, and the new-place check of
        # every login.
        indexes = (("user_id", "created_at"),)


class RefreshToken(Model):
    id = fields.BigIntField(primary_key=True)
    session = fields.ForeignKeyField("drivershub.Session", related_name="refresh_tokens")
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_tokens"


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
        await _tell_if_new_place(user.id, method, user_agent[:256], ip[:64])
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


# How a login method reads in the security notice ("Signed in with {method} from {ip}").
METHOD_NAMES = {
    "password": N_("a password"),
    "discord": N_("Discord"),
    "steam": N_("Steam"),
    "link": N_("a login link"),
}


async def _tell_if_new_place(user_id: int, method: str, user_agent: str, ip: str) -> None:
    """A security notice for a login from a new place: a browser (user agent) and address
    pair none of the user's earlier sessions had. A refresh is no login and an MFA code
    completes the one login, so neither adds a notice; the first login of an account has
    nothing to compare with (it is its owner signing up) and adds none either."""
    earlier = Session.filter(user_id=user_id)
    if not await earlier.exists() or await earlier.filter(user_agent=user_agent, ip=ip).exists():
        return
    from models.notifications.center import notify

    name = METHOD_NAMES.get(method)
    data = {
        "method": {"t": name} if name else method,  # {"t": ...}: translated for the reader
        "ip": ip or {"t": N_("an unknown address")},
    }
    await notify([user_id], "account.new_login", data)


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
    await remember_revocation(str(session.id))


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
        await remember_revocation(session_id)
    return len(ids)


# Revocation. The session row is the source of truth (`revoked_at`), so a logout survives a
# restart, a cache flush and an outage. The cache keeps each session's state, so most
# requests need no query: "revoked", or the time until which the session counts as live.
# A revocation overwrites the state at once.

REVOKED, LIVE = "revoked", "live"
# How long a process trusts "live" without reading the row. With Redis every process sees a
# revocation at once, so this only bounds one whose cache write failed (Redis was down, yet
# kept the entry). A memory cache is one process's own, and a revocation made by another
# process (a second `drivershub web`, `drivershub promote --revoke`) never reaches it: there
# a live state is trusted 2 s only, the bound on how long such a revocation goes unseen.
# Reading the row on every request instead would halve GET /users/@me on SQLite.
SHARED_LIVE_TTL = 30
LOCAL_LIVE_TTL = 2


def session_state_key(session_id: str) -> str:
    return f"session-state:{session_id}"


async def check_not_revoked(claims: Claims) -> None:
    """Refuse tokens of revoked sessions (logout, log out everywhere, a reused refresh token).

    The cache answers most requests; on a miss (expired, flushed, another process's memory)
    or when the cache is down, the session row decides.
    """
    session_id = claims.session_id or ""
    state = await _cached_state(session_id) or await _look_up_state(session_id)
    if state != LIVE:
        raise Unauthorized(N_("Your login is invalid or has expired."), code="invalid_token")


async def remember_revocation(session_id: str) -> None:
    """Tell every process now (best effort: the row is already revoked and decides)."""
    await _remember_state(session_id, REVOKED)


async def _cached_state(session_id: str) -> str | None:
    try:
        value = await cache().get(session_state_key(session_id))
    except CacheUnavailable as exc:
        went_without("checking revocation", exc)
        return None
    if value == REVOKED:
        return REVOKED
    # The deadline is in the value (not only the entry's TTL) so that it is wall-clock time.
    if isinstance(value, int | float) and value > time.time():
        return LIVE
    return None


# Lookups under way, so that when a busy session's state runs out its concurrent requests
# share one query instead of each reading the row (a burst of queries every few seconds).
_lookups: dict[str, asyncio.Future[str]] = {}


async def _look_up_state(session_id: str) -> str:
    lookup = _lookups.get(session_id)
    if lookup is None:
        lookup = _lookups[session_id] = asyncio.ensure_future(_load_state(session_id))
        lookup.add_done_callback(lambda _: _lookups.pop(session_id, None))
    # Shielded: one request giving up must not cancel the lookup the others wait for.
    return await asyncio.shield(lookup)


async def _load_state(session_id: str) -> str:
    state = await _stored_state(session_id)
    await _remember_state(session_id, state)
    return state


async def _stored_state(session_id: str) -> str:
    """One primary-key lookup; a session that is gone counts as revoked."""
    if not _is_uuid(session_id):
        return REVOKED
    live = await Session.filter(id=session_id, revoked_at__isnull=True).exists()
    return LIVE if live else REVOKED


async def _remember_state(session_id: str, state: str) -> None:
    key = session_state_key(session_id)
    try:
        if state == REVOKED:
            # Kept as long as an access token of the session can still be alive.
            await cache().set(key, REVOKED, ttl=token_config().access_ttl + 60)
        else:
            ttl = SHARED_LIVE_TTL if cache().shared else LOCAL_LIVE_TTL
            # add(), not set(): a revocation written since our query must win.
            await cache().add(key, time.time() + ttl, ttl=ttl)
    except ValueError:
        pass  # the key exists: a revocation was written meanwhile, and it stays
    except CacheUnavailable as exc:
        went_without("remembering a session state", exc)


async def active_sessions(user_id: int) -> list[Session]:
    return await Session.filter(
        user_id=user_id, revoked_at__isnull=True, expires_at__gt=now()
    ).order_by("-last_used_at")


async def mark_reauthenticated(session_id: str) -> None:
    await Session.filter(id=session_id).update(authenticated_at=now())


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def scopes_of(claims: Claims) -> frozenset[str] | None:
    """What the credential may do: None (everything) for a person's session, else the app
    token's scopes. Tokens made before scopes were enforced may hold none: read only."""
    if claims.session_id is not None:
        return None
    scopes = frozenset(s for s in claims.scopes if s in set(Scope))
    return scopes or frozenset({Scope.READ})


async def actor_for(claims: Claims, *, ip: str = "") -> Actor:
    """The actor behind verified claims, from the database: superuser flag and last login.

    The token only says who; whether they are (still) a superuser and when they last logged
    in come from the rows, so a demotion or an old login counts at once.
    """
    invalid = Unauthorized(N_("Your login is invalid or has expired."), code="invalid_token")
    if claims.session_id is None:  # an application token, checked against its row already
        return Actor(
            claims.user_id,
            claims.discord_id,
            scopes=scopes_of(claims),
            channel=Channel.APP_TOKEN,
            ip=ip,
        )
    if not _is_uuid(claims.session_id):
        raise invalid
    # Every request with a session asks this: one hand-written statement (models.sql).
    rows = await sql.fetch(
        "SELECT s.authenticated_at, u.discord_id, u.is_superuser, u.is_active"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = ? AND s.user_id = ? AND s.revoked_at IS NULL",
        [_uuid_param(claims.session_id), claims.user_id],
    )
    if not rows or not rows[0]["is_active"]:
        raise invalid
    row = rows[0]
    return Actor(
        claims.user_id,
        row["discord_id"],
        bool(row["is_superuser"]),
        authenticated_at=sql.as_datetime(row["authenticated_at"]),
        channel=Channel.SESSION,
        ip=ip,
        session_id=str(uuid.UUID(claims.session_id)),
    )


def _uuid_param(value: str) -> uuid.UUID | str:
    """A session id as its column holds it: a uuid on PostgreSQL, text on SQLite."""
    conn = sql.connection()
    return uuid.UUID(value) if sql.is_postgres(conn) else str(uuid.UUID(value))


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
