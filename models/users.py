"""Users: one person across every hub, with the identities they log in with."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import audit
from models.errors import Forbidden, NotFound
from models.i18n import N_
from models.permissions import Actor


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
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"

    def __str__(self) -> str:
        return self.username


async def user_for_discord(discord_id: int, username: str, avatar: str = "") -> User:
    """The user behind a Discord account, created on first sight and kept up to date."""
    user, created = await User.get_or_create(
        discord_id=discord_id, defaults={"username": username, "avatar": avatar}
    )
    if not created and (user.username, user.avatar) != (username, avatar or user.avatar):
        user.username, user.avatar = username, avatar or user.avatar
        await user.save(update_fields=["username", "avatar", "updated_at"])
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
    if not actor.is_superuser:
        raise Forbidden()
    user = await find_user(reference)
    async with in_transaction():
        user.is_superuser = value
        await user.save(update_fields=["is_superuser", "updated_at"])
        await audit.record(
            actor, "user.superuser", target=str(user.id), details={"is_superuser": value}
        )
    return user
