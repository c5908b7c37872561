"""The members package's tables: memberships, roles, their history, staff notes and bans."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models import sql

REASON_LENGTH = 500
NOTE_LENGTH = 2000


class MemberState(StrEnum):
    """Where someone stands in a hub. Being in the Discord server is separate (`in_guild`)."""

    VISITOR = "visitor"  # seen (in the server, or on the website), never accepted
    MEMBER = "member"  # accepted: has a member number
    LEFT = "left"  # ended their membership by leaving the server (when the hub says so)
    DISMISSED = "dismissed"  # ended by staff
    RESIGNED = "resigned"  # ended by themselves
    BANNED = "banned"  # ended by a ban; refused everywhere in the hub while it lasts


# States of someone who was a member once: accepting them again may restore their number.
FORMER = frozenset({MemberState.LEFT, MemberState.DISMISSED, MemberState.RESIGNED})


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
    """A user known to a hub: a visitor, a member, or a former member (history is kept)."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="members")
    user = fields.ForeignKeyField("drivershub.User", related_name="memberships")
    state = fields.CharEnumField(MemberState, default=MemberState.VISITOR, max_length=16)
    # Given on acceptance from the hub's counter, never reused; kept by former members.
    number = fields.IntField(null=True)
    in_guild = fields.BooleanField(default=True)
    # The user's name folded (models.text.fold): what the directory searches and sorts by.
    # Kept in step with the user's name by User.save.
    search_name = fields.CharField(max_length=64, default="")
    # When the membership began (staff may set an earlier date carried over from elsewhere).
    joined_at = fields.DatetimeField(null=True)
    ended_at = fields.DatetimeField(null=True)
    first_seen_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)
    # The overall points total, kept by the points package's ledger (models.points).
    points = fields.BigIntField(default=0)
    rank = fields.ForeignKeyField(
        "drivershub.Rank", related_name="members", null=True, on_delete=fields.SET_NULL
    )
    # Kept in step with Discord by the bot, so the API decides without asking Discord.
    discord_role_ids = fields.JSONField(default=list)
    discord_admin = fields.BooleanField(default=False)

    class Meta:
        table = "members"
        unique_together = (("hub", "user"), ("hub", "number"))
        indexes = (
            ("hub_id", "state", "search_name"),
            ("hub_id", "state", "joined_at"),
            ("hub_id", "state", "last_seen_at"),
        )

    async def effective_roles(self) -> list[Role]:
        """Roles given in the hub plus hub roles linked to the member's Discord roles."""
        linked = [int(i) for i in self.discord_role_ids or []]
        query, params = held_roles(self.hub_id, self.id, linked)
        return await sql.instances(
            Role, f"SELECT r.* {query} ORDER BY r.position DESC, r.id", params
        )


def held_roles(hub_id: int, member_id: int, discord_role_ids: list[int]) -> tuple[str, list]:
    """The one definition of the roles a member holds, as SQL (FROM and WHERE, roles as `r`)
    and its parameters: roles given in the hub, and roles linked to their Discord roles. The
    permission check of every request reads it too (models.permissions)."""
    query = (
        "FROM roles r WHERE r.hub_id = ?"
        " AND (r.id IN (SELECT role_id FROM member_roles WHERE member_id = ?)"
    )
    if discord_role_ids:
        query += f" OR r.discord_role_id IN ({', '.join('?' * len(discord_role_ids))})"
    return query + ")", [hub_id, member_id, *discord_role_ids]


class MemberRole(Model):
    """A role given to a member in the hub itself (not through a linked Discord role)."""

    id = fields.BigIntField(primary_key=True)
    member = fields.ForeignKeyField("drivershub.Member", related_name="role_grants")
    role = fields.ForeignKeyField("drivershub.Role", related_name="grants")
    granted_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "member_roles"
        unique_together = (("member", "role"),)


class MembershipChange(Model):
    """One row per change of a membership: who did what, when and why (never edited)."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="membership_changes")
    member = fields.ForeignKeyField("drivershub.Member", related_name="changes")
    actor = fields.ForeignKeyField(
        "drivershub.User", related_name="membership_changes", null=True, on_delete=fields.SET_NULL
    )
    action = fields.CharField(max_length=32)
    reason = fields.CharField(max_length=REASON_LENGTH, default="")
    details = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "membership_changes"
        indexes = (("member_id", "id"),)


class StaffNote(Model):
    """A note staff keep on a member (members never see it)."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="staff_notes")
    member = fields.ForeignKeyField("drivershub.Member", related_name="notes")
    author = fields.ForeignKeyField(
        "drivershub.User", related_name="staff_notes", null=True, on_delete=fields.SET_NULL
    )
    text = fields.CharField(max_length=NOTE_LENGTH)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "staff_notes"
        indexes = (("member_id", "id"),)


class Ban(Model):
    """A ban by identity: whoever has this Discord id, Steam id or e-mail address."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="bans")
    discord_id = fields.BigIntField(null=True, db_index=True)
    steam_id = fields.BigIntField(null=True, db_index=True)
    email = fields.CharField(max_length=254, null=True, db_index=True)
    reason = fields.CharField(max_length=REASON_LENGTH, default="")
    expires_at = fields.DatetimeField(null=True)
    # "hub": made by staff here; "discord": mirrors a ban made in the Discord server, lifted
    # when Discord lifts it.
    source = fields.CharField(max_length=16, default="hub")
    created_by = fields.ForeignKeyField(
        "drivershub.User", related_name="bans_made", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    lifted_at = fields.DatetimeField(null=True)
    lifted_by = fields.ForeignKeyField(
        "drivershub.User", related_name="bans_lifted", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "bans"
