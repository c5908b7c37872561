"""The permission catalog and the one function that decides who may do what in a hub."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from models.errors import Forbidden
from models.i18n import N_

if TYPE_CHECKING:
    from models.hubs import Hub
    from models.members import Member


class Permission(StrEnum):
    ADMINISTRATOR = "administrator"
    MANAGE_HUB = "manage_hub"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_ROLES = "manage_roles"
    VIEW_AUDIT_LOG = "view_audit_log"
    DRIVER = "driver"
    MANAGE_ANNOUNCEMENTS = "manage_announcements"
    MANAGE_APPLICATIONS = "manage_applications"
    MANAGE_BANNERS = "manage_banners"
    MANAGE_CHALLENGES = "manage_challenges"
    MANAGE_DIVISIONS = "manage_divisions"
    MANAGE_DOWNLOADS = "manage_downloads"
    MANAGE_EVENTS = "manage_events"
    MANAGE_DELIVERIES = "manage_deliveries"
    MANAGE_POLLS = "manage_polls"
    MANAGE_TASKS = "manage_tasks"


# Shown next to each permission in role editors; translated at render time.
PERMISSION_LABELS: dict[Permission, str] = {
    Permission.ADMINISTRATOR: N_("Administrator: every permission"),
    Permission.MANAGE_HUB: N_("Manage hub settings"),
    Permission.MANAGE_MEMBERS: N_("Manage members"),
    Permission.MANAGE_ROLES: N_("Manage roles"),
    Permission.VIEW_AUDIT_LOG: N_("View the audit log"),
    Permission.DRIVER: N_("Driver: log jobs and join events"),
    Permission.MANAGE_ANNOUNCEMENTS: N_("Manage announcements"),
    Permission.MANAGE_APPLICATIONS: N_("Manage applications"),
    Permission.MANAGE_BANNERS: N_("Manage banners"),
    Permission.MANAGE_CHALLENGES: N_("Manage challenges"),
    Permission.MANAGE_DIVISIONS: N_("Manage divisions"),
    Permission.MANAGE_DOWNLOADS: N_("Manage downloads"),
    Permission.MANAGE_EVENTS: N_("Manage events"),
    Permission.MANAGE_DELIVERIES: N_("Manage deliveries"),
    Permission.MANAGE_POLLS: N_("Manage polls"),
    Permission.MANAGE_TASKS: N_("Manage tasks"),
}

# Higher than any role position: the rank of a Discord administrator, below only the
# hub owner and superusers (who skip the hierarchy altogether).
DISCORD_ADMIN_RANK = 1 << 30


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a platform user, seen from Discord or from the API."""

    user_id: int | None
    discord_id: int | None = None
    is_superuser: bool = False

    @property
    def is_system(self) -> bool:
        """The operator's CLI and internal jobs act as the system: a superuser without a user."""
        return self.user_id is None and self.is_superuser


SYSTEM = Actor(user_id=None, is_superuser=True)


@dataclass(frozen=True, slots=True)
class Grant:
    """What an actor holds in one hub: its permissions and its rank in the role hierarchy."""

    permissions: frozenset[Permission]
    rank: int
    unrestricted: bool = False  # owner or superuser: every permission, above every rank

    def has(self, permission: Permission) -> bool:
        return (
            self.unrestricted
            or Permission.ADMINISTRATOR in self.permissions
            or permission in self.permissions
        )


async def grant_of(actor: Actor, hub: Hub) -> Grant:
    """Work out what `actor` holds in `hub` from the database alone (no Discord call)."""
    if actor.is_superuser or (
        actor.discord_id is not None and actor.discord_id == hub.owner_discord_id
    ):
        return Grant(frozenset(Permission), DISCORD_ADMIN_RANK + 1, unrestricted=True)
    member = await _member_of(actor, hub)
    if member is None:
        return Grant(frozenset(), -1)
    roles = await member.effective_roles()
    known = {p.value for p in Permission}
    permissions = {Permission(p) for role in roles for p in role.permissions if p in known}
    rank = max((role.position for role in roles), default=0)
    if member.discord_admin:
        permissions.add(Permission.ADMINISTRATOR)
        rank = DISCORD_ADMIN_RANK
    return Grant(frozenset(permissions), rank)


async def authorize(
    actor: Actor, hub: Hub, permission: Permission, *, over_rank: int | None = None
) -> Grant:
    """Raise `Forbidden` unless `actor` holds `permission` in `hub`.

    `over_rank` is the rank of the role or member being managed: staff may only manage what
    is strictly below their own highest role.
    """
    grant = await grant_of(actor, hub)
    if not grant.has(permission):
        raise Forbidden(
            N_("You need the {permission} permission in this hub."),
            code="missing_permission",
            permission=permission.value,
        )
    if over_rank is not None and not grant.unrestricted and over_rank >= grant.rank:
        raise Forbidden(
            N_("You can only manage roles and members below your highest role."),
            code="role_hierarchy",
        )
    return grant


async def _member_of(actor: Actor, hub: Hub) -> Member | None:
    from models.members import Member, MemberStatus

    query = Member.filter(hub_id=hub.id, status=MemberStatus.ACTIVE)
    if actor.user_id is not None:
        return await query.get_or_none(user_id=actor.user_id)
    if actor.discord_id is not None:
        return await query.get_or_none(user__discord_id=actor.discord_id)
    return None
