"""External identities (Discord, Steam): log in or sign up with them, link and unlink them,
and the one-time login links the bot sends in a DM."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import audit, auth, outbox
from models.actor import Actor, require_superuser
from models.auth import LoginResult
from models.errors import Conflict, DomainError, NotFound
from models.i18n import N_
from models.outbox import OutboxItem, OutboxKind
from models.users import User, forget_profile, user_for_discord

LOGIN_TICKET = "login"  # the purpose of tickets exchanged at POST /auth/login-ticket
LOGIN_LINK_DM = "login_link"
# Texts of the DMs this module queues, rendered in the recipient's language at send time.
DM_TEXTS = {
    LOGIN_LINK_DM: N_(
        "Here is your login link for the Drivers Hub website: {url}\n"
        "It works once and expires in {minutes} minutes. Never share it with anyone: "
        "whoever opens it is logged in as you. If you did not ask for it, ignore this message."
    ),
}


class Provider(StrEnum):
    DISCORD = "discord"
    STEAM = "steam"


FIELDS = {Provider.DISCORD: "discord_id", Provider.STEAM: "steam_id"}


class LoginUnavailable(DomainError):
    status = 503
    code = "login_unavailable"
    default_message = N_("Logging in with {provider} is not available right now.")


@dataclass(frozen=True)
class ExternalIdentity:
    """An account at Discord or Steam, as its provider just confirmed it."""

    provider: Provider
    id: int
    username: str = ""
    avatar: str = ""
    email: str | None = None
    email_verified: bool = False


def identity_taken() -> Conflict:
    return Conflict(
        N_("That account is already connected to another Drivers Hub account."),
        code="identity_taken",
    )


# Logging in (and signing up on first login)


async def sign_in(identity: ExternalIdentity) -> User:
    """The user behind an external account, created on first login."""
    if identity.provider is Provider.STEAM:
        return await login_with_steam(identity.id, identity.username)
    return await login_with_discord(identity)


async def login_with_discord(identity: ExternalIdentity) -> User:
    """The user behind a Discord account: the same one the bot knows, created on first login."""
    user = await user_for_discord(identity.id, identity.username, identity.avatar)
    if user.email is None and identity.email and identity.email_verified:
        await _adopt_email(user, identity.email)
    return user


async def _adopt_email(user: User, email: str) -> None:
    """Keep a Discord-verified address for a user who has none, unless another account uses it.

    It is never used to find or merge accounts: that would let whoever controls an address at
    Discord take over an account here.
    """
    if await User.filter(email=email).exists():
        return
    user.email, user.is_verified = email, True
    try:
        await user.save(update_fields=["email", "is_verified", "updated_at"])
    except IntegrityError:  # someone registered it a moment ago
        user.email, user.is_verified = None, False
    await forget_profile(user.id)


async def login_with_steam(steam_id: int, username: str = "") -> User:
    """The user behind a Steam account (how job trackers identify drivers), created if new.

    `username` (the Steam persona name, when known) names a new user only; an existing user
    keeps the name they have (with Discord linked, their Discord name).
    """
    user, _ = await User.get_or_create(
        steam_id=steam_id, defaults={"username": username or f"steam-{steam_id}"}
    )
    return user


# Linking


async def link(actor: Actor, provider: Provider, external_id: int) -> User:
    """Connect an external account to the actor's account (each belongs to one account)."""
    field = FIELDS[provider]
    owner = await User.get_or_none(**{field: external_id})
    if owner is not None and owner.id != actor.user_id:
        raise identity_taken()
    user = await User.get(id=actor.user_id)
    current = getattr(user, field)
    if current == external_id:
        return user
    if current is not None:
        raise Conflict(
            N_("Your account is already connected to another {provider} account. Remove it first."),
            code="identity_already_linked",
            provider=provider.value.title(),
        )
    try:
        async with in_transaction():
            setattr(user, field, external_id)
            await user.save(update_fields=[field, "updated_at"])
            await audit.record(actor, f"user.link_{provider}", target=str(external_id))
    except IntegrityError:  # linked to another account concurrently
        raise identity_taken() from None
    await forget_profile(user.id)
    return user


async def unlink(actor: Actor, provider: Provider) -> User:
    """Disconnect an external account, unless it is the last way to log in."""
    user = await User.get(id=actor.user_id)
    await _unlink(
        actor,
        user,
        provider,
        N_("This is the only way to log in to your account. Add another one first."),
    )
    return user


async def unlink_for(actor: Actor, user: User, provider: Provider) -> User:
    """A superuser disconnects a wrongly linked account from `user`.

    The rules of `unlink` hold: a superuser must not lock a user out either. Whoever owns the
    external account may have logged in as `user` through it, so those logins end.
    """
    require_superuser(actor)
    await _unlink(
        actor,
        user,
        provider,
        N_("This is the only way this user can log in. They must add another one first."),
    )
    await _end_logins_through(user.id, provider)
    return user


async def _unlink(actor: Actor, user: User, provider: Provider, last_method: str) -> None:
    field = FIELDS[provider]
    external_id = getattr(user, field)
    if external_id is None:
        raise NotFound(
            N_("No {provider} account is connected."),
            code="identity_not_linked",
            provider=provider.value.title(),
        )
    async with in_transaction():
        # The check is part of the update, so two concurrent unlinks cannot remove both of
        # the last two ways in.
        removed = await User.filter(_another_method(provider), id=user.id).update(**{field: None})
        if not removed:
            raise Conflict(last_method, code="last_login_method")
        await audit.record(
            actor,
            f"user.unlink_{provider}",
            target=str(external_id),
            details={"user_id": user.id},
        )
    await forget_profile(user.id)
    setattr(user, field, None)


# The session methods each provider can start: login links are sent as Discord DMs.
LOGIN_METHODS = {Provider.DISCORD: ("discord", "link"), Provider.STEAM: ("steam",)}


async def _end_logins_through(user_id: int, provider: Provider) -> None:
    """End the sessions started through `provider`, and unused login tickets."""
    await auth.Ticket.filter(user_id=user_id, purpose=LOGIN_TICKET, used_at__isnull=True).update(
        used_at=auth.now()
    )
    live = auth.Session.filter(
        user_id=user_id, method__in=LOGIN_METHODS[provider], revoked_at__isnull=True
    )
    for session in await live:
        await auth.revoke_session(session)


def _another_method(provider: Provider) -> Q:
    """Users who can still log in without `provider`."""
    others = [Q(**{f"{field}__isnull": False}) for p, field in FIELDS.items() if p != provider]
    password = Q(password_hash__isnull=False, email__isnull=False)
    return Q(password, *others, join_type=Q.OR)


# One-time login tickets (after OAuth/OpenID callbacks and from the bot's /login DM)


async def issue_login_ticket(user: User, method: str, ttl: int) -> str:
    return await auth.issue_ticket(user.id, LOGIN_TICKET, ttl, {"method": method})


async def exchange_login_ticket(secret: str, *, user_agent: str = "", ip: str = "") -> LoginResult:
    """Tokens for a login ticket (once), or an MFA ticket when the user has MFA on."""
    ticket = await auth.consume_ticket(secret, LOGIN_TICKET)
    user = await User.get(id=ticket.user_id)
    method = str(ticket.data.get("method", "link"))
    return await auth.complete_login(user, method, user_agent=user_agent, ip=ip)


async def login_link(discord_id: int, *, base_url: str, ttl: int) -> tuple[str, datetime]:
    """A one-time link that logs the Discord user into the website, and when it expires.

    Minted when the bot answers /login: it goes into that ephemeral answer only, so no
    outbox row or DM holds it, and it works for users whose DMs are closed.
    """
    user = await User.get_or_none(discord_id=discord_id)
    if user is None:
        raise NotFound(N_("That user does not exist."), code="user_not_found")
    ticket = await auth.issue_ticket(user.id, LOGIN_TICKET, ttl, {"method": "link"})
    url = f"{base_url.rstrip('/')}/login/link?{urlencode({'ticket': ticket})}"
    return url, auth.now() + timedelta(seconds=ttl)


async def send_login_link(
    discord_id: int, *, base_url: str, ttl: int, locale: str | None = None
) -> OutboxItem:
    """Queue a DM with a one-time link that logs the Discord user into the website.

    The ticket is minted when the DM is sent (models.outbox.render_params): the row holds
    none. The link counts its `ttl` from now.
    """
    user = await User.get_or_none(discord_id=discord_id)
    if user is None:
        raise NotFound(N_("That user does not exist."), code="user_not_found")
    url = f"{base_url.rstrip('/')}/login/link"
    link = outbox.one_time_link("url", url, LOGIN_TICKET, ttl, data={"method": "link"})
    return await outbox.enqueue(
        OutboxKind.DISCORD_DM,
        LOGIN_LINK_DM,
        params={**link, "locale": locale},
        user_id=user.id,
        address=str(discord_id),
    )
