"""Hub roles: validation, the hierarchy, the last manager role, giving and taking, Discord."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models import hubs, members, users
from models.actor import SYSTEM, Actor
from models.audit import AuditLog
from models.discord_actions import ActionKind, ActionStatus, DiscordAction
from models.errors import Conflict, Forbidden, NotFound
from models.members import Member, MemberRole, MembershipChange, MemberState, Role, lifecycle
from models.members.roles import (
    ROLES_PER_HUB,
    RoleInput,
    RoleUpdate,
    create_role,
    delete_role,
    edit_role,
    give_role,
    take_role,
)

OWNER_DISCORD_ID = 100


@pytest.fixture
async def hub() -> hubs.Hub:
    return await hubs.ensure_hub_for_guild(1, "Road Kings", owner_discord_id=OWNER_DISCORD_ID)


@pytest.fixture
async def owner(hub: hubs.Hub) -> Actor:
    user = await users.user_for_discord(OWNER_DISCORD_ID, "olga")
    await members.ensure_member(hub.id, user)
    return Actor(user.id, OWNER_DISCORD_ID)


async def _person(
    hub: hubs.Hub, discord_id: int, *roles: Role, discord_roles: tuple[int, ...] = ()
) -> tuple[Actor, Member]:
    """Someone in the hub's server holding `roles` (given in the hub) and `discord_roles`."""
    user = await users.user_for_discord(discord_id, f"user{discord_id}")
    member = await members.sync_discord_state(hub.id, user, discord_roles, is_admin=False)
    for role in roles:
        await MemberRole.create(member=member, role=role)
    await member.fetch_related("user")
    return Actor(user.id, discord_id), member


async def _role(hub: hubs.Hub, name: str, position: int, *permissions: str, **extra) -> Role:
    return await Role.create(
        hub=hub, name=name, position=position, permissions=list(permissions), **extra
    )


async def _staff(hub: hubs.Hub, position: int, *permissions: str) -> Actor:
    """A role manager at `position` (a separate top role keeps the hub's last manager safe)."""
    await _role(hub, "Admins", 1000, "administrator")
    role = await _role(hub, "HR", position, "manage_roles", *permissions)
    actor, _ = await _person(hub, 2, role)
    return actor


def _refused(error: pytest.ExceptionInfo, code: str) -> None:
    assert error.value.code == code, (error.value.code, str(error.value))


# Validation


def test_role_input_refuses_an_unknown_permission_naming_it() -> None:
    with pytest.raises(ValidationError) as error:
        RoleInput(name="Staff", position=5, color=0, permissions=["manage_members", "fly"])
    assert "unknown permission: fly" in str(error.value)


def test_role_input_keeps_each_permission_once_in_order() -> None:
    role = RoleInput(
        name="Staff",
        position=5,
        color=0xFF0000,
        permissions=["manage_roles", "manage_members", "manage_roles"],
    )
    assert role.permissions == ["manage_members", "manage_roles"]


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "   "},
        {"name": "x" * 101},
        {"color": 0x1000000},
        {"color": -1},
        {"position": 0},
        {"position": 1_000_001},
        {"discord_role_id": 0},
        {"owner": "me"},
    ],
    ids=repr,
)
def test_role_input_refuses_out_of_range_values(bad: dict) -> None:
    with pytest.raises(ValidationError):
        RoleInput(**({"name": "Staff", "position": 5, "color": 0} | bad))


def test_role_update_refuses_unknown_permissions_and_null_names_but_unlinks() -> None:
    with pytest.raises(ValidationError, match="unknown permission: fly"):
        RoleUpdate(permissions=["fly"])
    with pytest.raises(ValidationError):
        RoleUpdate(name=None)
    unlink = RoleUpdate(discord_role_id=None)
    assert unlink.model_dump(exclude_unset=True) == {"discord_role_id": None}
    assert RoleUpdate(permissions=["manage_roles"]).permissions == ["manage_roles"]


# Creating


async def test_the_owner_creates_a_role_and_the_audit_log_records_it(
    hub: hubs.Hub, owner: Actor
) -> None:
    data = RoleInput(name="Driver", position=5, color=0x00FF00, permissions=["manage_members"])
    role = await create_role(owner, hub, data)
    stored = await Role.get(id=role.id)
    assert (stored.hub_id, stored.name, stored.position, stored.color) == (
        hub.id,
        "Driver",
        5,
        0x00FF00,
    )
    assert stored.permissions == ["manage_members"]
    entry = await AuditLog.get(hub_id=hub.id, action="roles.created")
    assert (entry.actor_id, entry.target) == (owner.user_id, str(role.id))
    assert entry.details["name"] == "Driver"


async def test_staff_create_roles_only_below_their_own(hub: hubs.Hub) -> None:
    staff = await _staff(hub, 10)
    below = await create_role(staff, hub, RoleInput(name="Driver", position=9, color=0))
    assert below.position == 9
    for position in (10, 11, 500):
        with pytest.raises(Forbidden) as refused:
            await create_role(staff, hub, RoleInput(name=f"R{position}", position=position))
        _refused(refused, "role_hierarchy")
    assert not await Role.filter(hub_id=hub.id, name__startswith="R").exists()


async def test_without_manage_roles_nobody_creates_roles(hub: hubs.Hub) -> None:
    helper = await _role(hub, "Helper", 10, "manage_members")
    actor, _ = await _person(hub, 3, helper)
    with pytest.raises(Forbidden) as refused:
        await create_role(actor, hub, RoleInput(name="Driver", position=1))
    _refused(refused, "missing_permission")


async def test_staff_cannot_give_a_role_a_permission_they_do_not_hold(hub: hubs.Hub) -> None:
    staff = await _staff(hub, 10, "manage_members")
    with pytest.raises(Forbidden) as refused:
        await create_role(
            staff, hub, RoleInput(name="Mods", position=5, permissions=["ban_members"])
        )
    _refused(refused, "permission_not_held")
    assert refused.value.params["permission"] == "ban_members"
    made = await create_role(
        staff, hub, RoleInput(name="Mods", position=5, permissions=["manage_members"])
    )
    assert made.permissions == ["manage_members"]


async def test_administrators_hand_out_any_permission_below_them(hub: hubs.Hub) -> None:
    boss = await _role(hub, "Boss", 50, "administrator")
    actor, _ = await _person(hub, 3, boss)
    await _role(hub, "Other admins", 60, "administrator")
    role = await create_role(
        actor, hub, RoleInput(name="Mods", position=49, permissions=["ban_members"])
    )
    assert role.permissions == ["ban_members"]


async def test_superusers_and_the_owner_create_roles_at_any_position(
    hub: hubs.Hub, owner: Actor
) -> None:
    root = await users.User.create(username="root", is_superuser=True)
    superuser = Actor(root.id, is_superuser=True)
    top = await create_role(superuser, hub, RoleInput(name="Top", position=1_000_000))
    assert top.position == 1_000_000
    also = await create_role(
        owner, hub, RoleInput(name="Also top", position=1_000_000, permissions=["administrator"])
    )
    assert also.permissions == ["administrator"]


async def test_a_taken_name_or_discord_role_is_a_conflict(hub: hubs.Hub, owner: Actor) -> None:
    await create_role(owner, hub, RoleInput(name="Driver", position=1, discord_role_id=77))
    with pytest.raises(Conflict) as refused:
        await create_role(owner, hub, RoleInput(name="Driver", position=2))
    _refused(refused, "role_name_taken")
    with pytest.raises(Conflict) as refused:
        await create_role(owner, hub, RoleInput(name="Trucker", position=2, discord_role_id=77))
    _refused(refused, "discord_role_linked")
    # Another hub may use both.
    other = await hubs.ensure_hub_for_guild(2, "Night Owls", owner_discord_id=OWNER_DISCORD_ID)
    await create_role(owner, other, RoleInput(name="Driver", position=1, discord_role_id=77))
    assert await Role.filter(name="Driver").count() == 2


async def test_a_hub_has_a_bounded_number_of_roles(hub: hubs.Hub, owner: Actor) -> None:
    await Role.bulk_create(
        [Role(hub_id=hub.id, name=f"Role {i}", position=1) for i in range(ROLES_PER_HUB)]
    )
    with pytest.raises(Conflict) as refused:
        await create_role(owner, hub, RoleInput(name="One more", position=1))
    _refused(refused, "too_many_roles")


# Editing


async def test_editing_a_role_records_before_and_after(hub: hubs.Hub, owner: Actor) -> None:
    role = await _role(hub, "Driver", 5)
    edited = await edit_role(owner, hub, role.id, RoleUpdate(name="Trucker", color=255))
    assert (edited.name, edited.color, edited.position) == ("Trucker", 255, 5)
    assert (await Role.get(id=role.id)).name == "Trucker"
    entry = await AuditLog.get(hub_id=hub.id, action="roles.edited")
    assert entry.details["before"]["name"] == "Driver"
    assert entry.details["after"]["name"] == "Trucker"
    assert entry.target == str(role.id)


async def test_staff_edit_only_roles_below_them_and_cannot_lift_one_to_their_level(
    hub: hubs.Hub,
) -> None:
    staff = await _staff(hub, 10)
    peer = await _role(hub, "Peer", 10)
    above = await _role(hub, "Above", 20)
    below = await _role(hub, "Below", 5)
    for role in (peer, above):
        with pytest.raises(Forbidden) as refused:
            await edit_role(staff, hub, role.id, RoleUpdate(color=1))
        _refused(refused, "role_hierarchy")
    with pytest.raises(Forbidden) as refused:
        await edit_role(staff, hub, below.id, RoleUpdate(position=10))
    _refused(refused, "role_hierarchy")
    assert (await Role.get(id=below.id)).position == 5
    assert (await edit_role(staff, hub, below.id, RoleUpdate(position=9))).position == 9


async def test_staff_cannot_add_a_permission_they_do_not_hold(hub: hubs.Hub) -> None:
    staff = await _staff(hub, 10)
    role = await _role(hub, "Driver", 5)
    with pytest.raises(Forbidden) as refused:
        await edit_role(staff, hub, role.id, RoleUpdate(permissions=["ban_members"]))
    _refused(refused, "permission_not_held")
    assert (await Role.get(id=role.id)).permissions == []


async def test_staff_may_take_away_permissions_they_do_not_hold(hub: hubs.Hub) -> None:
    # Keeping what a role already has is not giving it: staff may trim a role's other rights.
    staff = await _staff(hub, 10, "manage_members")
    role = await _role(hub, "Mods", 5, "ban_members", "manage_members")
    edited = await edit_role(staff, hub, role.id, RoleUpdate(permissions=["ban_members"]))
    assert edited.permissions == ["ban_members"]
    assert (await edit_role(staff, hub, role.id, RoleUpdate(permissions=[]))).permissions == []


async def test_the_last_role_that_manages_roles_keeps_that_permission(
    hub: hubs.Hub, owner: Actor
) -> None:
    hr = await _role(hub, "HR", 10, "manage_roles", "manage_members")
    with pytest.raises(Conflict) as refused:
        await edit_role(owner, hub, hr.id, RoleUpdate(permissions=["manage_members"]))
    _refused(refused, "last_manager_role")
    assert "manage_roles" in (await Role.get(id=hr.id)).permissions
    # Other edits of the last manager role are fine.
    assert (await edit_role(owner, hub, hr.id, RoleUpdate(name="People"))).name == "People"
    # Once an administrator role exists, the permission may go.
    await _role(hub, "Admins", 20, "administrator")
    edited = await edit_role(owner, hub, hr.id, RoleUpdate(permissions=["manage_members"]))
    assert edited.permissions == ["manage_members"]


async def test_renaming_to_a_taken_name_is_a_conflict_but_keeping_it_is_not(
    hub: hubs.Hub, owner: Actor
) -> None:
    driver = await _role(hub, "Driver", 1)
    await _role(hub, "Trucker", 2, discord_role_id=88)
    with pytest.raises(Conflict) as refused:
        await edit_role(owner, hub, driver.id, RoleUpdate(name="Trucker"))
    _refused(refused, "role_name_taken")
    with pytest.raises(Conflict) as refused:
        await edit_role(owner, hub, driver.id, RoleUpdate(discord_role_id=88))
    _refused(refused, "discord_role_linked")
    same = await edit_role(owner, hub, driver.id, RoleUpdate(name="Driver", color=7))
    assert (same.name, same.color) == ("Driver", 7)


async def test_roles_of_another_hub_are_unknown(hub: hubs.Hub, owner: Actor) -> None:
    other = await hubs.ensure_hub_for_guild(2, "Night Owls", owner_discord_id=OWNER_DISCORD_ID)
    foreign = await _role(other, "Driver", 1)
    _, member = await _person(hub, 3)
    with pytest.raises(NotFound):
        await edit_role(owner, hub, foreign.id, RoleUpdate(name="Mine"))
    with pytest.raises(NotFound):
        await delete_role(owner, hub, foreign.id)
    with pytest.raises(NotFound) as missing:
        await give_role(owner, hub, member.id, foreign.id)
    _refused(missing, "role_not_found")
    assert (await Role.get(id=foreign.id)).name == "Driver"


async def test_relinking_a_role_moves_its_holders_discord_role(hub: hubs.Hub, owner: Actor) -> None:
    role = await _role(hub, "Driver", 1, discord_role_id=55)
    await _person(hub, 3, role)
    await edit_role(owner, hub, role.id, RoleUpdate(discord_role_id=66))
    actions = await DiscordAction.filter(hub_id=hub.id).order_by("id")
    assert [(a.kind, a.discord_user_id, a.role_id) for a in actions] == [
        (ActionKind.REMOVE_ROLE, 3, 55),
        (ActionKind.ADD_ROLE, 3, 66),
    ]
    await edit_role(owner, hub, role.id, RoleUpdate(discord_role_id=None))
    assert (await Role.get(id=role.id)).discord_role_id is None
    latest = await DiscordAction.filter(hub_id=hub.id, status=ActionStatus.PENDING)
    # The pending add of 66 and its removal cancel out: nothing is left to send for it.
    assert [(a.kind, a.role_id) for a in latest] == [(ActionKind.REMOVE_ROLE, 55)]


# Deleting


async def test_deleting_a_role_takes_it_from_its_holders_in_the_hub_and_discord(
    hub: hubs.Hub, owner: Actor
) -> None:
    role = await _role(hub, "Driver", 1, discord_role_id=55)
    _, alice = await _person(hub, 3, role)
    _, bob = await _person(hub, 4, role)
    await delete_role(owner, hub, role.id)
    assert not await Role.filter(id=role.id).exists()
    assert not await MemberRole.filter(member_id__in=[alice.id, bob.id]).exists()
    removals = await DiscordAction.filter(hub_id=hub.id, kind=ActionKind.REMOVE_ROLE)
    assert sorted(a.discord_user_id for a in removals) == [3, 4]
    assert {a.role_id for a in removals} == {55}
    entry = await AuditLog.get(hub_id=hub.id, action="roles.deleted")
    assert (entry.target, entry.details["name"], entry.details["holders"]) == (
        str(role.id),
        "Driver",
        2,
    )


async def test_the_last_manager_role_cannot_be_deleted(hub: hubs.Hub, owner: Actor) -> None:
    hr = await _role(hub, "HR", 10, "manage_roles")
    with pytest.raises(Conflict) as refused:
        await delete_role(owner, hub, hr.id)
    _refused(refused, "last_manager_role")
    assert await Role.filter(id=hr.id).exists()
    second = await _role(hub, "HR 2", 9, "manage_roles")
    await delete_role(owner, hub, hr.id)
    with pytest.raises(Conflict):
        await delete_role(owner, hub, second.id)


async def test_staff_delete_only_roles_below_them(hub: hubs.Hub) -> None:
    staff = await _staff(hub, 10)
    peer = await _role(hub, "Peer", 10)
    below = await _role(hub, "Below", 9)
    with pytest.raises(Forbidden) as refused:
        await delete_role(staff, hub, peer.id)
    _refused(refused, "role_hierarchy")
    await delete_role(staff, hub, below.id)
    assert not await Role.filter(id=below.id).exists()
    assert await Role.filter(id=peer.id).exists()


# Giving and taking


async def test_giving_a_role_writes_history_audit_and_the_discord_role(
    hub: hubs.Hub, owner: Actor
) -> None:
    role = await _role(hub, "Driver", 1, discord_role_id=55)
    _, member = await _person(hub, 3)
    grant = await give_role(owner, hub, member.id, role.id, reason="passed the test")
    assert (grant.member_id, grant.role_id) == (member.id, role.id)
    change = await MembershipChange.get(member_id=member.id)
    assert (change.action, change.reason, change.actor_id) == (
        "role_given",
        "passed the test",
        owner.user_id,
    )
    assert change.details == {"role": role.id, "role_name": "Driver"}
    entry = await AuditLog.get(hub_id=hub.id, action="members.role_given")
    assert entry.target == str(member.id)
    assert entry.details["reason"] == "passed the test"
    action = await DiscordAction.get(hub_id=hub.id)
    assert (action.kind, action.guild_id, action.discord_user_id, action.role_id) == (
        ActionKind.ADD_ROLE,
        1,
        3,
        55,
    )
    assert action.payload == {"reason": "passed the test"}
    assert [r.id for r in await member.effective_roles()] == [role.id]


async def test_taking_a_role_writes_history_and_removes_the_discord_role(
    hub: hubs.Hub, owner: Actor
) -> None:
    role = await _role(hub, "Driver", 1, discord_role_id=55)
    _, member = await _person(hub, 3, role)
    await take_role(owner, hub, member.id, role.id, reason="inactive")
    assert not await MemberRole.filter(member_id=member.id).exists()
    change = await MembershipChange.get(member_id=member.id)
    assert (change.action, change.reason) == ("role_taken", "inactive")
    assert change.details["role_name"] == "Driver"
    assert await AuditLog.filter(hub_id=hub.id, action="members.role_taken").count() == 1
    action = await DiscordAction.get(hub_id=hub.id)
    assert (action.kind, action.role_id, action.discord_user_id) == (
        ActionKind.REMOVE_ROLE,
        55,
        3,
    )


async def test_giving_twice_or_taking_what_is_not_held_is_a_conflict(
    hub: hubs.Hub, owner: Actor
) -> None:
    role = await _role(hub, "Driver", 1)
    _, member = await _person(hub, 3)
    with pytest.raises(Conflict) as refused:
        await take_role(owner, hub, member.id, role.id)
    _refused(refused, "role_not_given")
    await give_role(owner, hub, member.id, role.id)
    with pytest.raises(Conflict) as refused:
        await give_role(owner, hub, member.id, role.id)
    _refused(refused, "role_already_given")
    assert await MembershipChange.filter(member_id=member.id).count() == 1


async def test_staff_give_and_take_only_roles_below_their_own(hub: hubs.Hub) -> None:
    staff = await _staff(hub, 10)
    peer = await _role(hub, "Peer", 10)
    below = await _role(hub, "Below", 9)
    _, member = await _person(hub, 3)
    with pytest.raises(Forbidden) as refused:
        await give_role(staff, hub, member.id, peer.id)
    _refused(refused, "role_hierarchy")
    await give_role(SYSTEM, hub, member.id, peer.id)
    with pytest.raises(Forbidden) as refused:
        await take_role(staff, hub, member.id, peer.id)
    _refused(refused, "role_hierarchy")
    await give_role(staff, hub, member.id, below.id)
    await take_role(staff, hub, member.id, below.id)
    held = await MemberRole.filter(member_id=member.id).values_list("role_id", flat=True)
    assert held == [peer.id]


async def test_members_without_manage_roles_give_nothing(hub: hubs.Hub) -> None:
    role = await _role(hub, "Driver", 1)
    actor, member = await _person(hub, 3)
    with pytest.raises(Forbidden) as refused:
        await give_role(actor, hub, member.id, role.id)
    _refused(refused, "missing_permission")
    assert not await MemberRole.exists()


async def test_a_banned_member_is_given_no_role(hub: hubs.Hub, owner: Actor) -> None:
    role = await _role(hub, "Driver", 1)
    _, member = await _person(hub, 3)
    await Member.filter(id=member.id).update(state=MemberState.BANNED)
    with pytest.raises(Conflict) as refused:
        await give_role(owner, hub, member.id, role.id)
    _refused(refused, "member_banned")


async def test_members_of_another_hub_are_unknown(hub: hubs.Hub, owner: Actor) -> None:
    other = await hubs.ensure_hub_for_guild(2, "Night Owls", owner_discord_id=5)
    role = await _role(hub, "Driver", 1)
    _, stranger = await _person(other, 3)
    with pytest.raises(NotFound) as missing:
        await give_role(owner, hub, stranger.id, role.id)
    _refused(missing, "member_not_found")


async def test_a_website_hub_changes_roles_without_discord(owner: Actor) -> None:
    site = await hubs.create_hub(SYSTEM, "Web Only")
    role = await _role(site, "Driver", 1, discord_role_id=55)
    _, member = await _person(site, 3)
    await give_role(SYSTEM, site, member.id, role.id)
    await take_role(SYSTEM, site, member.id, role.id)
    assert await MembershipChange.filter(member_id=member.id).count() == 2
    assert not await DiscordAction.exists()


# A membership that ends takes the hub's roles


async def test_dismissing_strips_given_and_linked_roles(hub: hubs.Hub, owner: Actor) -> None:
    given_linked = await _role(hub, "Driver", 1, discord_role_id=55)
    given_plain = await _role(hub, "Trainee", 2)
    held_in_discord = await _role(hub, "Convoy", 3, discord_role_id=66)
    await _role(hub, "Unrelated", 4, discord_role_id=77)
    _, member = await _person(hub, 3, given_linked, given_plain, discord_roles=(66, 999))
    await lifecycle.accept(owner, hub, member.id)
    await lifecycle.dismiss(owner, hub, member.id, "inactive")
    assert not await MemberRole.filter(member_id=member.id).exists()
    removals = await DiscordAction.filter(hub_id=hub.id, kind=ActionKind.REMOVE_ROLE)
    assert sorted(a.role_id for a in removals) == [55, 66]
    assert {a.discord_user_id for a in removals} == {3}
    change = await MembershipChange.get(member_id=member.id, action="dismissed")
    assert sorted(change.details["roles_removed"]) == sorted([given_linked.id, given_plain.id])
    assert held_in_discord.id not in change.details["roles_removed"]
