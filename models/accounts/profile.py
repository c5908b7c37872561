"""The profile, deleting and restoring an account, and the superusers' view of accounts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import auth, mfa
from models.accounts.credentials import session_user
from models.accounts.emails import AccountPolicy
from models.accounts.inputs import ProfileUpdate
from models.actor import Actor, require_superuser
from models.auth import now
from models.errors import Conflict, Forbidden, NotFound
from models.i18n import N_
from models.pagination import Page, PageQuery, paginate
from models.text import Name
from models.users import Profile, User, forget_profile, profile_of, refold_name
from models.validation import parse_id

# Profile


async def update_profile(user_id: int, data: ProfileUpdate) -> Profile:
    user = await User.get(id=user_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"privacy"})
    if data.privacy is not None:
        changes["privacy"] = {**user.privacy, **data.privacy.model_dump(exclude_none=True)}
    if changes:
        user.update_from_dict(changes)
        await user.save(update_fields=[*changes, "updated_at"])
        await forget_profile(user_id)
    return profile_of(user)


# Deleting the account


async def request_deletion(actor: Actor, code: str | None, policy: AccountPolicy) -> datetime:
    """Schedule the account's erasure; every login ends. Return when it will be erased."""
    user = await session_user(actor)
    await mfa.ensure_recent(actor, code)
    requested = user.deletion_requested_at or now()
    await User.filter(id=user.id).update(deletion_requested_at=requested)
    for token in await auth.list_app_tokens(user.id):
        await auth.revoke_app_token(user.id, token.id)
    await auth.revoke_all_sessions(user.id)
    await forget_profile(user.id)
    return requested + timedelta(days=policy.deletion_grace_days)


async def restore_account(user_id: int, policy: AccountPolicy) -> Profile:
    """Cancel a deletion within the grace period."""
    user = await User.get(id=user_id)
    if user.deletion_requested_at is None:
        raise Conflict(N_("Your account is not scheduled for deletion."), code="not_deleting")
    if now() >= user.deletion_requested_at + timedelta(days=policy.deletion_grace_days):
        raise Conflict(N_("It is too late to restore this account."), code="deletion_final")
    user.deletion_requested_at = None
    await user.save(update_fields=["deletion_requested_at", "updated_at"])
    await forget_profile(user_id)
    return profile_of(user)


async def purge_deleted_accounts(grace_days: int) -> int:
    """Erase the personal data of accounts whose grace period is over; return how many.

    The row stays (anonymous and disabled) so hub history such as jobs keeps its driver.
    """
    due = await User.filter(deletion_requested_at__lte=now() - timedelta(days=grace_days))
    for user in due:
        await erase_account(user)
    return len(due)


async def erase_account(user: User) -> None:
    """Erase the account's personal data and every credential, now."""
    async with in_transaction():
        await User.filter(id=user.id).update(
            username="Deleted user",
            email=None,
            first_name="",
            last_name="",
            password_hash=None,
            discord_id=None,
            steam_id=None,
            truckersmp_id=None,
            avatar="",
            locale=None,
            timezone=None,
            privacy={},
            mfa_secret=None,
            mfa_enabled=False,
            is_active=False,
            is_superuser=False,  # an erased account keeps no platform power
            is_verified=False,
            deletion_requested_at=None,
        )
        await refold_name(user.id, "Deleted user")
        for model in (auth.Session, auth.AppToken, auth.Ticket, mfa.RecoveryCode):
            await model.filter(user_id=user.id).delete()
    await forget_profile(user.id)


# The platform's view (superusers)


class UserSummary(BaseModel):
    id: int
    username: str
    email: str | None
    discord_id: str | None
    steam_id: str | None
    is_active: bool
    is_verified: bool
    is_superuser: bool
    mfa_enabled: bool
    created_at: datetime
    deletion_requested_at: datetime | None


_IDS = ("discord_id", "steam_id")  # snowflakes and Steam ids pass JavaScript's safe range


def user_summary(user: User) -> UserSummary:
    values = {name: getattr(user, name) for name in UserSummary.model_fields}
    return UserSummary(**values | {k: str(values[k]) if values[k] else None for k in _IDS})


SearchText = Name(254, min_length=0)  # as long as an e-mail address; blank searches all


class UserQuery(PageQuery):
    q: SearchText | None = Field(
        default=None,
        description=(
            "Only users whose username or e-mail address contains this text (any case), or"
            " whose Discord or Steam id it is."
        ),
    )


def _matching(text: str) -> Q:
    found = Q(username__icontains=text) | Q(email__icontains=text)
    number = parse_id(text)
    if number is not None:
        found |= Q(discord_id=number) | Q(steam_id=number)
    return found


async def _require_superuser(actor: Actor) -> None:
    # Checked against the database: a revoked superuser's token may still say otherwise.
    require_superuser(actor)
    if not actor.is_system and not await User.exists(id=actor.user_id, is_superuser=True):
        raise Forbidden()


async def list_users(actor: Actor, query: PageQuery) -> Page[UserSummary]:
    """Every user, or those a `UserQuery` searches for, by id (superusers only)."""
    await _require_superuser(actor)
    search = query.q if isinstance(query, UserQuery) else None
    users = User.filter(_matching(search)) if search else User.all()
    return await paginate(users, query, ("id",), user_summary)


async def user_profile(actor: Actor, user_id: int) -> Profile:
    await _require_superuser(actor)
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound(N_("That user does not exist."), code="user_not_found")
    return profile_of(user)
