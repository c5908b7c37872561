"""The permission catalog and the one function that decides who may do what in a hub."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from models import plugins, sql
from models.actor import Actor
from models.errors import Forbidden
from models.i18n import N_, Lazy

if TYPE_CHECKING:
    from models.hubs import Hub
    from models.members import Member


class Permission(StrEnum):
    """The platform's own permissions; packages declare theirs in the registry."""

    ADMINISTRATOR = "administrator"
    MANAGE_HUB = "manage_hub"
    VIEW_AUDIT_LOG = "view_audit_log"


# Shown next to each permission in role editors; translated at render time.
PLATFORM_PERMISSIONS: dict[str, str] = {
    Permission.ADMINISTRATOR: N_("Administrator: every permission"),
    Permission.MANAGE_HUB: N_("Manage hub settings"),
    Permission.VIEW_AUDIT_LOG: N_("View the audit log"),
}


def permission_catalog() -> dict[str, str]:
    """Every permission a role can hold, with its label: the platform's and every package's."""
    return {**PLATFORM_PERMISSIONS, **plugins.package_permissions()}


def permission_label(permission: str) -> Lazy | str:
    """What people read for a permission key: its translated label (the key if unknown)."""
    label = permission_catalog().get(permission)
    return Lazy(label) if label else permission


# Higher than any role position: the rank of a Discord administrator, below only the
# hub owner and superusers (who skip the hierarchy altogether).
DISCORD_ADMIN_RANK = 1 << 30


@dataclass(frozen=True, slots=True)
class Grant:
    """What an actor holds in one hub: its permissions and its rank in the role hierarchy."""

    permissions: frozenset[str]
    rank: int
    unrestricted: bool = False  # owner or superuser: every permission, above every rank

    def has(self, permission: str) -> bool:
        return (
            self.unrestricted
            or Permission.ADMINISTRATOR in self.permissions
            or permission in self.permissions
        )


async def grant_of(actor: Actor, hub: Hub) -> Grant:
    """Work out what `actor` holds in `hub` from the database alone (no Discord call)."""
    return (await _grant_and_member(actor, hub))[0]


async def _grant_and_member(actor: Actor, hub: Hub) -> tuple[Grant, Standing | None]:
    """The actor's grant and their row in the hub (not read for the owner and superusers)."""
    if actor.is_superuser or (
        actor.discord_id is not None and actor.discord_id == hub.owner_discord_id
    ):
        grant = Grant(frozenset(permission_catalog()), DISCORD_ADMIN_RANK + 1, unrestricted=True)
        return grant, None
    member, roles = await _standing(actor, hub)
    if member is None:
        return Grant(frozenset(), -1), None
    # Permissions of packages that are not installed (any more) are kept on the role, unused.
    known = permission_catalog()
    permissions = {p for held, _ in roles for p in held if p in known}
    rank = max((position for _, position in roles), default=0)
    if member.discord_admin:
        permissions.add(Permission.ADMINISTRATOR)
        rank = DISCORD_ADMIN_RANK
    return Grant(frozenset(permissions), rank), member


@dataclass(frozen=True, slots=True)
class Standing:
    """What the permission check reads of an actor's member row."""

    id: int
    state: str
    in_guild: bool
    discord_admin: bool


# Every gated request and command reads these: written out (see models.sql). Roles count
# whatever the membership state: staff who are visitors keep their rights.
_MEMBER_SQL = (
    "SELECT m.id, m.state, m.in_guild, m.discord_admin, m.discord_role_ids"
    " FROM members m WHERE m.hub_id = ? AND {who}"
)


async def _standing(actor: Actor, hub: Hub) -> tuple[Standing | None, list[tuple[list[str], int]]]:
    """The actor's member row in the hub and the (permissions, position) of their roles."""
    from models.members.tables import held_roles

    if actor.user_id is not None:
        query, who = _MEMBER_SQL.format(who="m.user_id = ?"), actor.user_id
    elif actor.discord_id is not None:
        who_sql = "m.user_id = (SELECT id FROM users WHERE discord_id = ?)"
        query, who = _MEMBER_SQL.format(who=who_sql), actor.discord_id
    else:
        return None, []
    rows = await sql.fetch(query, [hub.id, who])
    if not rows:
        return None, []
    row = rows[0]
    member = Standing(
        int(row["id"]), str(row["state"]), bool(row["in_guild"]), bool(row["discord_admin"])
    )
    linked = [int(i) for i in sql.as_json(row["discord_role_ids"]) or []]
    held, params = held_roles(hub.id, member.id, linked)
    found = await sql.fetch(f"SELECT r.permissions, r.position {held}", params)
    return member, [(sql.as_json(r["permissions"]), int(r["position"])) for r in found]


def missing_permission(permission: str) -> Forbidden:
    """The refusal naming the hub permission the caller lacks (in their language)."""
    return Forbidden(
        N_("You need the “{permission_label}” permission in this hub."),
        code="missing_permission",
        permission=str(permission),
        permission_label=permission_label(permission),
    )


async def authorize(
    actor: Actor, hub: Hub, permission: str, *, over_rank: int | None = None
) -> Grant:
    """Raise `Forbidden` unless `actor` holds `permission` in `hub`.

    `over_rank` is the rank of the role or member being managed: staff may only manage what
    is strictly below their own highest role.
    """
    grant = await grant_of(actor, hub)
    if not grant.has(permission):
        raise missing_permission(permission)
    if over_rank is not None and not grant.unrestricted and over_rank >= grant.rank:
        raise Forbidden(
            N_("You can only manage roles and members below your highest role."),
            code="role_hierarchy",
        )
    return grant


async def sees_members_only(actor: Actor, hub: Hub, permission: str) -> bool:
    """Whether `actor` sees a package's members-only items: members of the hub, and holders
    of `permission` (the package's staff; owner and superusers hold every permission)."""
    from models.members.tables import Member, MemberState

    if actor.user_id is None:
        return False
    state = await Member.filter(hub_id=hub.id, user_id=actor.user_id).values_list(
        "state", flat=True
    )
    if state and state[0] == MemberState.MEMBER:
        return True
    return (await grant_of(actor, hub)).has(permission)


async def _member_of(actor: Actor, hub: Hub) -> Member | None:
    from models.members import Member

    # Roles count whatever the membership state: staff who are visitors keep their rights.
    query = Member.filter(hub_id=hub.id)
    if actor.user_id is not None:
        return await query.get_or_none(user_id=actor.user_id)
    if actor.discord_id is not None:
        return await query.get_or_none(user__discord_id=actor.discord_id)
    return None


async def require_member(actor: Actor, hub: Hub, *, self_id: int | None = None) -> Grant:
    """What a hub keeps for its people: members, holders of a hub role, people in its Discord
    server, its owner and superusers may see it (403 not_a_member otherwise). Someone who
    only visited the website is not let in, except to their own row (`self_id`)."""
    from models.members.tables import MemberState

    grant, mine = await _grant_and_member(actor, hub)
    if grant.unrestricted or grant.permissions:
        return grant
    if mine is not None and (
        mine.state == MemberState.MEMBER or mine.in_guild or mine.id == self_id
    ):
        return grant
    raise Forbidden(N_("Only members of this hub can see that."), code="not_a_member")
