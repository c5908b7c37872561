"""Administration of the platform: superusers manage accounts and look over every hub.

Each operation starts with the superuser check (the flag comes from the database through the
`Actor`); those that take something away also need a recent login. A superuser acts on other
accounts here: their own goes through the routes every user has, with their own rules.

Changes are audited in their transaction. Sessions end after it commits: ending one also
writes the shared cache, which a rollback could not take back.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from models import accounts, audit, auth, identities, mfa, plugins
from models.accounts import UserSummary, user_summary
from models.actor import Actor, require_recent_login, require_superuser
from models.errors import Conflict, Forbidden, NotFound
from models.hubs import Hub
from models.i18n import N_
from models.identities import Provider
from models.members import MemberState
from models.pagination import Page, PageQuery, paginate
from models.users import User, change_superuser, forget_profile

# Users


def user_not_found() -> NotFound:
    return NotFound(N_("That user does not exist."), code="user_not_found")


async def _target(actor: Actor, user_id: int, *, others_only: bool = True) -> User:
    """The user acted on; with `others_only`, never the actor (who would lock themselves out)."""
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise user_not_found()
    if others_only and user.id == actor.user_id:
        raise Forbidden(N_("Superusers cannot do this to their own account."), code="own_account")
    return user


async def deactivate(actor: Actor, user_id: int) -> UserSummary:
    """Disable an account: no login by any method, and its sessions end at once."""
    require_superuser(actor)
    require_recent_login(actor)
    user = await _target(actor, user_id)
    async with in_transaction():
        # Conditional, so two concurrent deactivations audit one change.
        if not await User.filter(id=user.id, is_active=True).update(is_active=False):
            raise Conflict(N_("This account is already deactivated."), code="already_inactive")
        await audit.record(actor, "user.deactivate", target=str(user.id))
    # Application tokens need nothing: each request reads the row and refuses inactive users.
    await auth.revoke_all_sessions(user.id)
    user.is_active = False
    return user_summary(user)


async def reactivate(actor: Actor, user_id: int) -> UserSummary:
    """Let a deactivated account log in again; its old sessions stay ended."""
    require_superuser(actor)
    user = await _target(actor, user_id, others_only=False)
    if _erased(user):
        raise Conflict(
            N_("This account was deleted: it has no way to log in."), code="account_erased"
        )
    async with in_transaction():
        if not await User.filter(id=user.id, is_active=False).update(is_active=True):
            raise Conflict(N_("This account is not deactivated."), code="already_active")
        await audit.record(actor, "user.reactivate", target=str(user.id))
    user.is_active = True
    return user_summary(user)


def _erased(user: User) -> bool:
    # Every live account keeps a way to log in (unlinking refuses to remove the last one).
    return user.password_hash is None and user.discord_id is None and user.steam_id is None


async def delete_user(actor: Actor, user_id: int) -> None:
    """Erase an account now, as the self-service deletion does after its grace period."""
    require_superuser(actor)
    require_recent_login(actor)
    user = await _target(actor, user_id)
    # Before the erasure, which deletes the session rows this needs to find.
    await auth.revoke_all_sessions(user.id)
    async with in_transaction():
        await accounts.erase_account(user)
        # No name or address in the entry: it would outlive the erasure.
        await audit.record(actor, "user.delete", target=str(user.id))
    await forget_profile(user.id)


async def set_superuser(actor: Actor, user_id: int, value: bool) -> UserSummary:
    """Promote or demote; a demoted superuser's sessions end (see `users.change_superuser`)."""
    require_superuser(actor)
    require_recent_login(actor)
    # Demoting oneself is refused: the last superuser could leave nobody in charge.
    user = await _target(actor, user_id, others_only=not value)
    return user_summary(await change_superuser(actor, user, value))


async def reset_mfa(actor: Actor, user_id: int) -> UserSummary:
    """Turn off two-factor authentication for a user who lost their device and codes."""
    require_superuser(actor)
    require_recent_login(actor)
    # Not their own: a superuser's session alone must not be enough to drop their second factor.
    user = await _target(actor, user_id)
    if not user.mfa_enabled:
        raise Conflict(
            N_("This user has not turned on two-factor authentication."), code="mfa_not_enabled"
        )
    async with in_transaction():
        await mfa.turn_off(user.id)
        await audit.record(actor, "user.mfa_reset", target=str(user.id))
    await forget_profile(user.id)
    user.mfa_enabled, user.mfa_secret = False, None
    return user_summary(user)


async def unlink_identity(actor: Actor, user_id: int, provider: Provider) -> UserSummary:
    """Disconnect a wrongly linked Discord or Steam account; never a user's last way in."""
    require_superuser(actor)
    require_recent_login(actor)
    user = await _target(actor, user_id)
    return user_summary(await identities.unlink_for(actor, user, provider))


# Hubs


class HubState(BaseModel):
    """A hub as the platform's operators see it, inactive and private ones included."""

    id: int
    slug: str
    name: str
    active: bool = Field(description="False once the bot left the hub's Discord server.")
    public: bool
    guild_id: str | None
    members: int = Field(description="Active members.")
    plugins: list[str] = Field(description="The installed plugins turned on, by key.")
    created_at: datetime


def _hub_state(hub: Hub) -> HubState:
    return HubState(
        id=hub.id,
        slug=hub.slug,
        name=hub.name,
        active=hub.active,
        public=hub.public,
        guild_id=str(hub.guild_id) if hub.guild_id else None,
        members=hub.member_total,  # type: ignore[attr-defined]  # annotated below
        plugins=plugins.enabled_plugins(hub),
        created_at=hub.created_at,
    )


async def list_hubs(actor: Actor, query: PageQuery) -> Page[HubState]:
    """Every hub, by id, with its member count (one query a page)."""
    require_superuser(actor)
    active = Q(members__state=MemberState.MEMBER)
    hubs = Hub.annotate(member_total=Count("members", _filter=active)).group_by("id")
    return await paginate(hubs, query, ("id",), _hub_state)
