"""Who acts: one type for the bot, the API, the CLI and every domain operation.

It imports nothing from the rest of `models`, so any module can take an `Actor` without an
import cycle. Adapters build it once per interaction or request (superuser flag and last
login from the database, never from a token); operations decide with it and never re-derive it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from models.errors import Forbidden, InsufficientScope, ReauthenticationRequired, SessionRequired


class Scope(StrEnum):
    """What an application token may do; people (bot, website) hold every scope."""

    READ = "read"
    WRITE = "write"


class Channel(StrEnum):
    """How the actor reached us: it decides what counts as a recent login."""

    DISCORD = "discord"  # Discord authenticated the user for this very interaction
    SESSION = "session"  # a website session (access token)
    APP_TOKEN = "app_token"  # noqa: S105 - a name; an integration is never a recent login
    SYSTEM = "system"  # the operator's CLI and internal jobs
    INTERNAL = "internal"  # code acting for a user without a credential (e.g. an OAuth flow)


# Seconds a login (or MFA code) counts as recent for sensitive actions; set at start-up from
# `[auth] reauth_window`.
_reauth_window = 600


def configure_reauth_window(seconds: int) -> None:
    global _reauth_window
    _reauth_window = seconds


@dataclass(frozen=True, slots=True)
class Actor:
    """A platform user (or the system) acting through one channel."""

    user_id: int | None
    discord_id: int | None = None
    is_superuser: bool = False
    # None: every scope (a person); an application token carries its own.
    scopes: frozenset[str] | None = None
    # The last full login or MFA code; None when unknown (treated as not recent).
    authenticated_at: datetime | None = None
    channel: Channel = Channel.INTERNAL
    ip: str = ""
    # The website session acting (None for app tokens, Discord and the system): a code or
    # password re-authenticates this session, and a password change keeps it.
    session_id: str | None = None

    @property
    def is_system(self) -> bool:
        """The operator's CLI and internal jobs act as the system: a superuser without a user."""
        return self.user_id is None and self.is_superuser

    def has_scope(self, scope: Scope) -> bool:
        return allows(self.scopes, scope)

    def recently_authenticated(self, now: datetime | None = None) -> bool:
        """A login (or MFA code) within the re-auth window; the system always is."""
        if self.is_system or self.channel == Channel.DISCORD:
            return True
        if self.authenticated_at is None:
            return False
        age = ((now or datetime.now(UTC)) - self.authenticated_at).total_seconds()
        return age <= _reauth_window


SYSTEM = Actor(user_id=None, is_superuser=True, channel=Channel.SYSTEM)


def discord_actor(user_id: int | None, discord_id: int, is_superuser: bool) -> Actor:
    """A user behind a Discord interaction: Discord authenticated them just now."""
    return Actor(
        user_id,
        discord_id,
        is_superuser,
        authenticated_at=datetime.now(UTC),
        channel=Channel.DISCORD,
    )


def require_recent_login(actor: Actor) -> None:
    """Sensitive operations: refuse unless the actor logged in within the re-auth window."""
    if not actor.recently_authenticated():
        raise ReauthenticationRequired()


def require_superuser(actor: Actor) -> None:
    """Platform-wide operations: the flag comes from the database (or is the system's)."""
    if not actor.is_superuser:
        raise Forbidden()


def allows(scopes: frozenset[str] | None, scope: Scope) -> bool:
    """Whether a credential with `scopes` (None: a person, every scope) may `scope`.

    Write implies read.
    """
    if scopes is None:
        return True
    return scope in scopes or (scope == Scope.READ and Scope.WRITE in scopes)


def require_person(scopes: frozenset[str] | None) -> None:
    """Refuse application tokens (they carry scopes; a person's session carries none)."""
    if scopes is not None:
        raise SessionRequired()


def require_scope(actor: Actor, scope: Scope) -> None:
    require_scopes(actor.scopes, scope)


def require_scopes(scopes: frozenset[str] | None, scope: Scope) -> None:
    if not allows(scopes, scope):
        raise InsufficientScope(scope=scope.value)
