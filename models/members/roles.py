"""Hub roles: what they grant, who holds them, and the Discord roles that follow them.

Staff manage only roles strictly below their own highest role (the hub owner and superusers
excepted); the hub keeps at least one role that can manage roles. A role linked to a Discord
role is given and taken in Discord through the Discord-actions outbox, and a linked Discord
role changed by hand in Discord is reconciled (`reconcile_discord_roles`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import audit, discord_actions, plugins
from models.actor import SYSTEM, Actor
from models.errors import Conflict, Forbidden, NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members.lifecycle import KEY, _change, member_in
from models.members.tables import REASON_LENGTH, Member, MemberRole, MemberState, Role
from models.permissions import Permission, authorize, permission_catalog
from models.text import Name, fold
from models.validation import Patch, Problem, field_error

MANAGE_ROLES = "manage_roles"
MAX_POSITION = 1_000_000
ROLES_PER_HUB = 250  # Discord's own limit per server
COLOR_DESCRIPTION = "RGB colour, 0 to 16777215."
POSITION_DESCRIPTION = "Order: higher is more senior (manages what is below)."


def _color(default: int | None) -> Any:
    return Field(default=default, ge=0, le=0xFFFFFF, description=COLOR_DESCRIPTION)


def _position(default: int | None) -> Any:
    return Field(default=default, ge=1, le=MAX_POSITION, description=POSITION_DESCRIPTION)


def _known_permissions(value: list[str]) -> list[str]:
    catalog = permission_catalog()
    unknown = [p for p in value if p not in catalog]
    if unknown:
        raise Problem(N_("unknown permission: {name}"), name=unknown[0])
    return sorted(set(value))


class RoleInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name(100)  # type: ignore[valid-type]
    color: int = _color(0)
    position: int = _position(1)
    permissions: list[str] = Field(default_factory=list, max_length=100)
    discord_role_id: int | None = Field(
        default=None, gt=0, lt=2**63, description="The Discord role that follows this role."
    )

    _permissions = field_validator("permissions")(_known_permissions)


class RoleUpdate(BaseModel):
    """Fields to change; `discord_role_id` may be null (unlinked)."""

    model_config = ConfigDict(extra="forbid")
    name: Patch[Name(100)] = None  # type: ignore[valid-type]
    color: Patch[int] = _color(None)
    position: Patch[int] = _position(None)
    permissions: Patch[list[str]] = Field(default=None, max_length=100)
    discord_role_id: int | None = Field(default=None, gt=0, lt=2**63)

    @field_validator("permissions")
    @classmethod
    def _permissions(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _known_permissions(value)


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=REASON_LENGTH)


async def role_in(hub: Hub, role_id: int) -> Role:
    """A role of this hub; another hub's id is as unknown as a missing one (404)."""
    role = await Role.get_or_none(id=role_id, hub_id=hub.id)
    if role is None:
        raise NotFound(N_("That role does not exist."), code="role_not_found")
    return role


async def roles(actor: Actor, hub: Hub) -> list[Role]:
    """The hub's roles, most senior first (anyone the hub lets in may read them)."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    return await Role.filter(hub_id=hub.id).order_by("-position", "id")


def _role_details(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "position": role.position,
        "color": role.color,
        "permissions": list(role.permissions),
        "discord_role_id": str(role.discord_role_id) if role.discord_role_id else None,
    }


async def _may_grant(actor: Actor, hub: Hub, position: int, permissions: list[str]) -> None:
    """Staff shape roles below their own and hand out only permissions they hold."""
    grant = await authorize(actor, hub, MANAGE_ROLES, over_rank=position)
    lacking = [p for p in permissions if not grant.has(p)]
    if lacking:
        raise Forbidden(
            N_("You cannot give a role a permission you do not hold: {permission}."),
            code="permission_not_held",
            permission=lacking[0],
        )


async def create_role(actor: Actor, hub: Hub, data: RoleInput) -> Role:
    await plugins.enter(actor, hub, KEY, MANAGE_ROLES, write=True)
    await _may_grant(actor, hub, data.position, data.permissions)
    async with in_transaction():
        if await Role.filter(hub_id=hub.id).count() >= ROLES_PER_HUB:
            raise Conflict(
                N_("A hub has at most {limit} roles."), code="too_many_roles", limit=ROLES_PER_HUB
            )
        await _refuse_duplicates(hub, data.model_dump())
        role = await Role.create(hub_id=hub.id, **data.model_dump())
        await audit.record(
            actor, "roles.created", hub=hub, target=str(role.id), details=_role_details(role)
        )
    return role


async def _refuse_duplicates(hub: Hub, values: dict[str, Any], role_id: int | None = None) -> None:
    """A clear 409 before the unique index would refuse the row."""
    others = Role.filter(hub_id=hub.id).exclude(id=role_id or 0)
    # "Driver" and "driver" would be two roles no one tells apart (a hub has few roles).
    if "name" in values and fold(values["name"]) in {
        fold(name) for name in await others.values_list("name", flat=True)
    }:
        raise Conflict(N_("A role with that name exists."), code="role_name_taken")
    linked = values.get("discord_role_id")
    if linked is not None and await others.filter(discord_role_id=linked).exists():
        raise Conflict(
            N_("Another role is already linked to that Discord role."), code="discord_role_linked"
        )


def _manages(permissions: list[str]) -> bool:
    return MANAGE_ROLES in permissions or Permission.ADMINISTRATOR in permissions


async def _refuse_last_manager(hub: Hub, role: Role) -> None:
    """The hub keeps a role that can manage roles (else only its owner could fix them)."""
    if not _manages(list(role.permissions)):
        return
    # JSON containment differs between SQLite and PostgreSQL: a hub has few roles (at most
    # ROLES_PER_HUB), so the check reads them.
    others = (
        await Role.filter(hub_id=hub.id).exclude(id=role.id).values_list("permissions", flat=True)
    )
    if not any(_manages(list(p)) for p in others):
        raise Conflict(
            N_("This is the hub's last role that can manage roles."), code="last_manager_role"
        )


async def edit_role(actor: Actor, hub: Hub, role_id: int, data: RoleUpdate) -> Role:
    await plugins.enter(actor, hub, KEY, MANAGE_ROLES, write=True)
    changes = data.model_dump(exclude_unset=True)
    async with in_transaction():
        role = await role_in(hub, role_id)
        position = max(role.position, changes.get("position") or 0)
        # Only what the role gains is given: staff may trim permissions they do not hold.
        added = [p for p in changes.get("permissions") or [] if p not in role.permissions]
        await _may_grant(actor, hub, position, added)
        if "permissions" in changes and not _manages(changes["permissions"]):
            await _refuse_last_manager(hub, role)
        await _refuse_duplicates(hub, changes, role.id)
        before = _role_details(role)
        old_link = role.discord_role_id
        role.update_from_dict(changes)
        await role.save()
        await audit.record(
            actor,
            "roles.edited",
            hub=hub,
            target=str(role.id),
            details={"before": before, "after": _role_details(role)},
        )
        if "discord_role_id" in changes and changes["discord_role_id"] != old_link:
            await _relink(hub, role, old_link)
    return role


async def _relink(hub: Hub, role: Role, old_link: int | None) -> None:
    """The role now follows another Discord role (or none): its holders follow the change."""
    holders = await MemberRole.filter(role_id=role.id).select_related("member__user")
    for grant in holders:
        discord_id = grant.member.user.discord_id
        if old_link is not None:
            await discord_actions.follow_role(
                hub, discord_id, old_link, add=False, reason="role unlinked"
            )
        if role.discord_role_id is not None:
            await discord_actions.follow_role(
                hub, discord_id, role.discord_role_id, add=True, reason="role linked"
            )


async def delete_role(actor: Actor, hub: Hub, role_id: int) -> None:
    """Delete a role; its holders lose it (and its Discord role when linked)."""
    await plugins.enter(actor, hub, KEY, MANAGE_ROLES, write=True)
    async with in_transaction():
        role = await role_in(hub, role_id)
        await authorize(actor, hub, MANAGE_ROLES, over_rank=role.position)
        await _refuse_last_manager(hub, role)
        holders = await MemberRole.filter(role_id=role.id).select_related("member__user")
        for grant in holders:
            if role.discord_role_id is not None:
                await discord_actions.follow_role(
                    hub,
                    grant.member.user.discord_id,
                    role.discord_role_id,
                    add=False,
                    reason="role deleted",
                )
        await audit.record(
            actor,
            "roles.deleted",
            hub=hub,
            target=str(role.id),
            details={**_role_details(role), "holders": len(holders)},
        )
        await role.delete()


async def give_role(
    actor: Actor, hub: Hub, member_id: int, role_id: int, reason: str = ""
) -> MemberRole:
    """Give a member a role below the actor's own; its Discord role follows."""
    await plugins.enter(actor, hub, KEY, MANAGE_ROLES, write=True)
    async with in_transaction():
        member = await member_in(hub, member_id)
        role = await role_in(hub, role_id)
        await authorize(actor, hub, MANAGE_ROLES, over_rank=role.position)
        if member.state == MemberState.BANNED:
            raise Conflict(
                N_("{name} is banned from this hub."),
                code="member_banned",
                name=member.user.username,
            )
        grant, created = await MemberRole.get_or_create(member_id=member.id, role_id=role.id)
        if not created:
            raise Conflict(
                N_("{name} already has the role {role}."),
                code="role_already_given",
                name=member.user.username,
                role=role.name,
            )
        await _change(actor, hub, member, "role_given", reason, role=role.id, role_name=role.name)
        if role.discord_role_id is not None:
            await discord_actions.follow_role(
                hub, member.user.discord_id, role.discord_role_id, add=True, reason=reason
            )
    return grant


async def take_role(actor: Actor, hub: Hub, member_id: int, role_id: int, reason: str = "") -> None:
    """Take a role below the actor's own from a member; its Discord role follows."""
    await plugins.enter(actor, hub, KEY, MANAGE_ROLES, write=True)
    async with in_transaction():
        member = await member_in(hub, member_id)
        role = await role_in(hub, role_id)
        await authorize(actor, hub, MANAGE_ROLES, over_rank=role.position)
        if not await MemberRole.filter(member_id=member.id, role_id=role.id).delete():
            raise Conflict(
                N_("{name} does not have the role {role}."),
                code="role_not_given",
                name=member.user.username,
                role=role.name,
            )
        await _change(actor, hub, member, "role_taken", reason, role=role.id, role_name=role.name)
        if role.discord_role_id is not None:
            await discord_actions.follow_role(
                hub, member.user.discord_id, role.discord_role_id, add=False, reason=reason
            )


async def strip_roles(hub: Hub, member: Member, reason: str) -> list[int]:
    """A membership ended: take every hub role, and every linked Discord role the member
    holds in Discord. Returns the ids of the roles taken."""
    taken = await MemberRole.filter(member_id=member.id).values_list("role_id", flat=True)
    await MemberRole.filter(member_id=member.id).delete()
    linked = Q(id__in=list(taken))
    if member.discord_role_ids:
        linked |= Q(discord_role_id__in=list(member.discord_role_ids))
    for role in await Role.filter(linked, hub_id=hub.id, discord_role_id__isnull=False):
        await discord_actions.follow_role(
            hub, member.user.discord_id, role.discord_role_id, add=False, reason=reason
        )
    return list(taken)


# Seconds during which a role change seen in Discord is taken for the bot's own action.
OWN_ACTION_WINDOW = 120.0


async def reconcile_discord_roles(
    hub: Hub, member: Member, added: set[int], removed: set[int]
) -> int:
    """Linked Discord roles someone gave or took by hand in Discord.

    two_way: the hub role follows (given or taken, with a history row). hub_to_discord: the
    Discord role is put back as the hub has it. The bot's own actions coming back as member
    updates change nothing. Returns how many roles were reconciled.
    """
    if hub.guild_id is None or member.user.discord_id is None or not (added or removed):
        return 0
    linked = await Role.filter(hub_id=hub.id, discord_role_id__in=list(added | removed))
    if not linked:
        return 0
    two_way = plugins.settings_of(hub, KEY).discord_roles == "two_way"
    given = set(await MemberRole.filter(member_id=member.id).values_list("role_id", flat=True))
    count = 0
    for role in linked:
        add = role.discord_role_id in added
        kind = (
            discord_actions.ActionKind.ADD_ROLE if add else discord_actions.ActionKind.REMOVE_ROLE
        )
        key = discord_actions.role_key(member.user.discord_id, role.discord_role_id)
        if (role.id in given) == add or await discord_actions.recently_sent(
            hub.guild_id, key, kind, OWN_ACTION_WINDOW
        ):
            continue  # already as the hub has it, or the bot's own change coming back
        async with in_transaction():
            if two_way:
                if add and member.state != MemberState.BANNED:
                    await MemberRole.get_or_create(member_id=member.id, role_id=role.id)
                    action = "role_given"
                elif not add:
                    await MemberRole.filter(member_id=member.id, role_id=role.id).delete()
                    action = "role_taken"
                else:
                    continue
                await _change(
                    SYSTEM,
                    hub,
                    member,
                    action,
                    "",
                    role=role.id,
                    role_name=role.name,
                    source="discord",
                )
            else:
                await discord_actions.follow_role(
                    hub,
                    member.user.discord_id,
                    role.discord_role_id,
                    add=not add,
                    reason="hub roles decide",
                )
        count += 1
    return count


async def held_role_ids(hub: Hub, user_id: int | None) -> set[int]:
    """The hub roles a user holds (given, or through a linked Discord role)."""
    if user_id is None:
        return set()
    member = await Member.get_or_none(hub_id=hub.id, user_id=user_id)
    if member is None:
        return set()
    return {role.id for role in await member.effective_roles()}


async def check_hub_roles(hub: Hub, fields: Mapping[str, Sequence[int] | None]) -> None:
    """Every role id each field names is a role of this hub: a 422 naming the field and the
    position of the first that is not (another hub's role is as unknown as a missing one)."""
    named = {role for ids in fields.values() for role in ids or []}
    if not named:
        return
    known = set(await Role.filter(hub_id=hub.id, id__in=list(named)).values_list("id", flat=True))
    for name, ids in fields.items():
        for index, role in enumerate(ids or []):
            if role not in known:
                raise field_error((name, index), N_("No role of this hub has that id."))
