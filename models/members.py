"""Members (a user in a hub) and roles (per hub, optionally linked to a Discord role)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.functions import Max
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.users import User


class MemberStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"
    BANNED = "banned"


class Role(Model):
    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="roles")
    name = fields.CharField(max_length=100)
    # Higher is more senior; staff manage only what is strictly below their highest role.
    position = fields.IntField(default=1)
    color = fields.IntField(default=0)
    permissions = fields.JSONField(default=list)
    discord_role_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "roles"
        unique_together = (("hub", "name"), ("hub", "discord_role_id"))


class Member(Model):
    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="members")
    user = fields.ForeignKeyField("drivershub.User", related_name="memberships")
    number = fields.IntField()
    status = fields.CharEnumField(MemberStatus, default=MemberStatus.ACTIVE, max_length=16)
    joined_at = fields.DatetimeField(auto_now_add=True)
    points = fields.BigIntField(default=0)
    # Kept in step with Discord by the bot, so the API decides without asking Discord.
    discord_role_ids = fields.JSONField(default=list)
    discord_admin = fields.BooleanField(default=False)

    class Meta:
        table = "members"
        unique_together = (("hub", "user"), ("hub", "number"))

    async def effective_roles(self) -> list[Role]:
        """Roles given in the hub plus hub roles linked to the member's Discord roles."""
        given = MemberRole.filter(member_id=self.id).values_list("role_id", flat=True)
        condition = Q(id__in=Subquery(given))
        if self.discord_role_ids:
            condition |= Q(discord_role_id__in=list(self.discord_role_ids))
        return await Role.filter(condition, hub_id=self.hub_id).order_by("-position")


class MemberRole(Model):
    """A role given to a member in the hub itself (not through a linked Discord role)."""

    id = fields.BigIntField(primary_key=True)
    member = fields.ForeignKeyField("drivershub.Member", related_name="role_grants")
    role = fields.ForeignKeyField("drivershub.Role", related_name="grants")
    granted_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "member_roles"
        unique_together = (("member", "role"),)


async def ensure_member(hub_id: int, user: User) -> Member:
    """The user's membership of the hub, created (with the next member number) or reactivated."""
    member = await Member.get_or_none(hub_id=hub_id, user_id=user.id)
    if member is not None:
        if member.status == MemberStatus.LEFT:
            member.status = MemberStatus.ACTIVE
            await member.save(update_fields=["status"])
        return member
    # Two joins at once may pick the same number; the unique index makes one retry.
    for _ in range(5):
        try:
            async with in_transaction():
                top = await Member.filter(hub_id=hub_id).annotate(n=Max("number")).values("n")
                number = (top[0]["n"] or 0) + 1 if top else 1
                return await Member.create(hub_id=hub_id, user_id=user.id, number=number)
        except IntegrityError:
            existing = await Member.get_or_none(hub_id=hub_id, user_id=user.id)
            if existing is not None:
                return existing
    raise RuntimeError("could not allocate a member number")


async def unchanged_presence(
    guild_id: int,
    discord_id: int,
    *,
    username: str,
    avatar: str,
    guild_name: str,
    owner_discord_id: int | None,
    role_ids: Iterable[int],
    is_admin: bool,
) -> Member | None:
    """The active member (with its user and hub loaded) when the stored state already matches
    what Discord just sent, else None: then the caller records it the slow way.

    One query for the bot's common case (a known member of a known hub), instead of one
    per record; the writes stay in `user_for_discord`, `ensure_hub_for_guild` and
    `sync_discord_state`.
    """
    member = (
        await Member.filter(hub__guild_id=guild_id, user__discord_id=discord_id)
        .select_related("user", "hub")
        .first()
    )
    if member is None:
        return None
    user, hub = member.user, member.hub
    current = (
        member.status == MemberStatus.ACTIVE
        and (sorted(member.discord_role_ids), member.discord_admin)
        == (sorted({int(r) for r in role_ids}), is_admin)
        and (user.username, user.avatar) == (username, avatar or user.avatar)
        and (hub.active, hub.name, hub.owner_discord_id)
        == (True, guild_name[:100], owner_discord_id)
    )
    return member if current else None


async def sync_discord_state(
    hub_id: int, user: User, role_ids: Iterable[int], *, is_admin: bool
) -> Member:
    """Record the member's current Discord roles and Administrator flag."""
    member = await ensure_member(hub_id, user)
    roles = sorted({int(r) for r in role_ids})
    if (sorted(member.discord_role_ids), member.discord_admin) != (roles, is_admin):
        member.discord_role_ids, member.discord_admin = roles, is_admin
        await member.save(update_fields=["discord_role_ids", "discord_admin"])
    return member


async def mark_left(hub_id: int, discord_id: int) -> None:
    """The member left the Discord guild: keep the record, drop what Discord granted."""
    user = await User.get_or_none(discord_id=discord_id)
    if user is not None:
        await Member.filter(hub_id=hub_id, user_id=user.id).update(
            status=MemberStatus.LEFT, discord_role_ids=[], discord_admin=False
        )


async def forget_discord_role(hub_id: int, discord_role_id: int) -> None:
    """A Discord role was deleted: unlink the hub role that pointed at it."""
    await Role.filter(hub_id=hub_id, discord_role_id=discord_role_id).update(discord_role_id=None)
