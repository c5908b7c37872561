"""Users: one person across every hub, with the identities they log in with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import audit
from models.actor import Actor, require_superuser
from models.cache import cached, forget
from models.errors import Conflict, NotFound
from models.i18n import N_


class User(Model):
    id = fields.BigIntField(primary_key=True)
    username = fields.CharField(max_length=64)
    email = fields.CharField(max_length=254, null=True, unique=True)
    first_name = fields.CharField(max_length=64, default="")
    last_name = fields.CharField(max_length=64, default="")
    password_hash = fields.CharField(max_length=255, null=True)
    is_superuser = fields.BooleanField(default=False)
    is_active = fields.BooleanField(default=True)
    is_verified = fields.BooleanField(default=False)
    discord_id = fields.BigIntField(null=True, unique=True)
    steam_id = fields.BigIntField(null=True, unique=True)
    truckersmp_id = fields.BigIntField(null=True, unique=True)
    avatar = fields.CharField(max_length=512, default="")
    locale = fields.CharField(max_length=16, null=True)
    timezone = fields.CharField(max_length=64, null=True)
    privacy = fields.JSONField(default=dict)
    # TOTP: the shared secret, sealed (models.encryption), and the last time step accepted
    # (a code works once).
    mfa_secret = fields.CharField(max_length=255, null=True)
    mfa_enabled = fields.BooleanField(default=False)
    mfa_last_step = fields.BigIntField(default=0)
    # Set when the user asks to delete the account; it is erased after a grace period.
    deletion_requested_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"

    def __str__(self) -> str:
        return self.username

    async def save(self, *args: Any, **kwargs: Any) -> None:
        await super().save(*args, **kwargs)
        fields_saved = kwargs.get("update_fields")
        if not kwargs.get("force_create") and (fields_saved is None or "username" in fields_saved):
            await refold_name(self.id, self.username)


async def refold_name(user_id: int, username: str) -> None:
    """Keep the directory's search key of the user's memberships in step with their name."""
    from models.members.tables import Member
    from models.text import fold

    folded = fold(username)[:64]
    await Member.filter(user_id=user_id).exclude(search_name=folded).update(search_name=folded)


async def user_for_discord(discord_id: int, username: str, avatar: str = "") -> User:
    """The user behind a Discord account, created on first sight and kept up to date."""
    user, created = await User.get_or_create(
        discord_id=discord_id, defaults={"username": username, "avatar": avatar}
    )
    if not created and (user.username, user.avatar) != (username, avatar or user.avatar):
        user.username, user.avatar = username, avatar or user.avatar
        await user.save(update_fields=["username", "avatar", "updated_at"])
        await forget_profile(user.id)
    return user


async def find_user(reference: str) -> User:
    """Find a user by id, e-mail, Discord id or username (for operators' commands)."""
    query = User.filter(email=reference) if "@" in reference else None
    if query is None and reference.isdigit():
        value = int(reference)
        user = await User.get_or_none(discord_id=value) or await User.get_or_none(id=value)
        if user is not None:
            return user
    users = await (query or User.filter(username=reference)).limit(2)
    if len(users) != 1:
        raise NotFound(N_("No single user matches {reference}."), reference=reference)
    return users[0]


async def set_superuser(actor: Actor, reference: str, value: bool) -> User:
    """Grant or revoke platform superuser (operators only)."""
    require_superuser(actor)
    return await change_superuser(actor, await find_user(reference), value)


async def change_superuser(actor: Actor, user: User, value: bool) -> User:
    """Grant or revoke platform superuser of `user` (superusers only)."""
    require_superuser(actor)
    demoted = user.is_superuser and not value
    async with in_transaction():
        user.is_superuser = value
        await user.save(update_fields=["is_superuser", "updated_at"])
        await audit.record(
            actor, "user.superuser", target=str(user.id), details={"is_superuser": value}
        )
    await forget_profile(user.id)
    if demoted:
        # Their tokens still name the old power in claims: end every session at once.
        from models.auth import revoke_all_sessions  # models.auth imports this module

        await revoke_all_sessions(user.id)
    return user


async def mark_email_verified(actor: Actor, reference: str) -> User:
    """Mark a user's e-mail address verified without the e-mail link (operators only): the
    first login of a hub without a mail server, or a user whose mail never arrives."""
    require_superuser(actor)
    user = await find_user(reference)
    if not user.email:
        raise Conflict(N_("That user has no e-mail address."), code="no_email")
    async with in_transaction():
        await User.filter(id=user.id).update(is_verified=True)
        await audit.record(actor, "user.email_verified", target=str(user.id))
    user.is_verified = True
    await forget_profile(user.id)
    return user


class Connections(BaseModel):
    discord_id: str | None
    steam_id: str | None
    truckersmp_id: str | None
    email: str | None
    email_verified: bool


class Profile(BaseModel):
    """What a user sees of their own account."""

    id: int
    username: str
    first_name: str
    last_name: str
    avatar: str
    locale: str | None
    timezone: str | None
    privacy: dict[str, Any]
    is_superuser: bool
    mfa_enabled: bool
    connections: Connections
    created_at: datetime
    deletion_requested_at: datetime | None


def profile_of(user: User) -> Profile:
    return Profile(
        id=user.id,
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
        avatar=user.avatar,
        locale=user.locale,
        timezone=user.timezone,
        privacy=user.privacy,
        is_superuser=user.is_superuser,
        mfa_enabled=user.mfa_enabled,
        connections=Connections(
            discord_id=str(user.discord_id) if user.discord_id else None,
            steam_id=str(user.steam_id) if user.steam_id else None,
            truckersmp_id=str(user.truckersmp_id) if user.truckersmp_id else None,
            email=user.email,
            email_verified=user.is_verified,
        ),
        created_at=user.created_at,
        deletion_requested_at=user.deletion_requested_at,
    )


PROFILE_TTL = 300


def _profile_key(user_id: int) -> str:
    return f"profile:{user_id}"


async def cached_profile(user_id: int) -> dict[str, Any]:
    """The user's profile as JSON-ready data, cached; every change calls `forget_profile`."""

    async def load() -> dict[str, Any]:
        user = await User.get_or_none(id=user_id)
        if user is None:
            raise NotFound(N_("That user does not exist."), code="user_not_found")
        return profile_of(user).model_dump(mode="json")

    return await cached(_profile_key(user_id), PROFILE_TTL, load)


async def forget_profile(user_id: int) -> None:
    """Drop the cached profile after a committed change (never fails the change)."""
    await forget(_profile_key(user_id))
